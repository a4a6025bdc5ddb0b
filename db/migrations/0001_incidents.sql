-- Incidents: one row per reported event, soft-deleted so the change feed can see deletions.
CREATE EXTENSION IF NOT EXISTS postgis;

-- to_tsvector over text[] needs an IMMUTABLE wrapper: array_to_string is only STABLE,
-- which a generated column refuses.
CREATE FUNCTION incident_search_document(
    title text, summary text, location_name text, admin1 text, admin2 text,
    actors text[], claimed_by text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN
    setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
    setweight(to_tsvector('english'::regconfig,
        coalesce(location_name, '') || ' ' || coalesce(admin1, '') || ' ' || coalesce(admin2, '')), 'B') ||
    setweight(to_tsvector('english'::regconfig,
        coalesce(array_to_string(actors, ' '), '') || ' ' || coalesce(claimed_by, '')), 'B') ||
    setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'C');

CREATE TABLE incidents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title           text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    summary         text        CHECK (length(summary) <= 20000),
    event_type      text        NOT NULL CHECK (event_type IN (
                        'battles', 'explosions_remote_violence', 'violence_against_civilians',
                        'protests', 'riots', 'strategic_developments')),
    sub_event_type  text        CHECK (length(sub_event_type) <= 200),
    occurred_at     timestamptz NOT NULL,
    time_precision  text        NOT NULL DEFAULT 'exact'
                        CHECK (time_precision IN ('exact', 'day', 'week', 'month')),
    -- End of the interval implied by time_precision (exclusive; equal to occurred_at when exact).
    -- Maintained by a trigger because timestamptz + interval is not IMMUTABLE.
    occurred_until  timestamptz NOT NULL,
    location_name   text        CHECK (length(location_name) <= 500),
    admin1          text        CHECK (length(admin1) <= 200),
    admin2          text        CHECK (length(admin2) <= 200),
    country         char(2)     CHECK (country ~ '^[A-Z]{2}$'),
    geo_precision   text        NOT NULL DEFAULT 'exact'
                        CHECK (geo_precision IN ('exact', 'near', 'town', 'region', 'country')),
    fatalities_min  integer     CHECK (fatalities_min >= 0),
    fatalities_max  integer     CHECK (fatalities_max >= 0),
    injured_min     integer     CHECK (injured_min >= 0),
    injured_max     integer     CHECK (injured_max >= 0),
    actors          text[]      NOT NULL DEFAULT '{}',
    claimed_by      text        CHECK (length(claimed_by) <= 500),
    sources         jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sources) = 'array'),
    status          text        NOT NULL DEFAULT 'reported'
                        CHECK (status IN ('reported', 'verified', 'disputed', 'retracted')),
    tags            text[]      NOT NULL DEFAULT '{}',
    external_id     text        CHECK (length(external_id) <= 200),
    geom            geometry(Geometry, 4326) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    -- Radius searches in metres run on geography; a stored column is ~20 % faster than an
    -- expression index on geom::geography (measured, see docs/DESIGN-NOTES.md).
    geog            geography(Geometry, 4326) GENERATED ALWAYS AS (geom::geography) STORED,
    search          tsvector GENERATED ALWAYS AS (incident_search_document(
                        title, summary, location_name, admin1, admin2, actors, claimed_by)) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    deleted_at      timestamptz,
    CONSTRAINT fatalities_range CHECK (fatalities_min <= fatalities_max),
    CONSTRAINT injured_range    CHECK (injured_min <= injured_max)
);

CREATE FUNCTION incidents_set_occurred_until() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.occurred_until := CASE NEW.time_precision
        WHEN 'exact' THEN NEW.occurred_at
        WHEN 'day'   THEN ((NEW.occurred_at AT TIME ZONE 'UTC') + interval '1 day')   AT TIME ZONE 'UTC'
        WHEN 'week'  THEN ((NEW.occurred_at AT TIME ZONE 'UTC') + interval '7 days')  AT TIME ZONE 'UTC'
        WHEN 'month' THEN ((NEW.occurred_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    END;
    RETURN NEW;
END $$;

CREATE TRIGGER incidents_occurred_until
    BEFORE INSERT OR UPDATE OF occurred_at, time_precision ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_set_occurred_until();

-- Live rows only: deleted incidents never appear in reads.
CREATE INDEX incidents_geog_idx     ON incidents USING gist (geog) WHERE deleted_at IS NULL;
CREATE INDEX incidents_geom_idx     ON incidents USING gist (geom) WHERE deleted_at IS NULL;
CREATE INDEX incidents_occurred_idx ON incidents (occurred_at, id) WHERE deleted_at IS NULL;
CREATE INDEX incidents_search_idx   ON incidents USING gin (search) WHERE deleted_at IS NULL;
CREATE INDEX incidents_event_type_idx ON incidents (event_type, occurred_at) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX incidents_external_id_key ON incidents (external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;
