-- Places (issue 7): a gazetteer of populated places (GeoNames, db/gazetteer/) plus editors' own
-- places, searched by accent-, case- and spelling-tolerant names; incidents may point at one.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- unaccent() is only STABLE (its dictionary could change); pinning the dictionary makes the
-- normalisation usable in generated columns and indexes.
CREATE FUNCTION place_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN btrim(regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, name)), '[''’‘ʿʾ`´\-_.,()]+', ' ', 'g'));

CREATE TABLE places (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    geonameid        bigint UNIQUE,
    name             text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    alternate_names  text[]      NOT NULL DEFAULT '{}',
    country          char(2)     CHECK (country ~ '^[A-Z]{2}$'),
    admin1           text,
    -- GeoNames feature code (PPLC capital, PPLA seat of a first-level division, PPL …) or an
    -- editor's kind (town, suburb, village, district, site).
    kind             text        NOT NULL,
    population       integer     CHECK (population >= 0),
    geom             geometry(Point, 4326) NOT NULL,
    geog             geography(Point, 4326) GENERATED ALWAYS AS (geom::geography) STORED,
    source           text        NOT NULL DEFAULT 'geonames' CHECK (source IN ('geonames', 'editor')),
    created_by       text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX places_geog_idx ON places USING gist (geog);
CREATE INDEX places_geom_idx ON places USING gist (geom);
CREATE INDEX places_country_idx ON places (country);

-- One row per spelling, so every name and alternate name is searched the same way.
CREATE TABLE place_names (
    place_id  bigint NOT NULL REFERENCES places (id) ON DELETE CASCADE,
    name      text   NOT NULL,
    key       text   GENERATED ALWAYS AS (place_key(name)) STORED,
    PRIMARY KEY (place_id, name)
);
CREATE INDEX place_names_key_trgm_idx ON place_names USING gin (key gin_trgm_ops);
CREATE INDEX place_names_key_idx ON place_names (key);

-- Inserts (a gazetteer load is a COPY of 100k+ rows) fill place_names once per statement.
CREATE FUNCTION places_names_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO place_names (place_id, name)
    SELECT DISTINCT r.id, n FROM new_rows r, unnest(array_prepend(r.name, r.alternate_names)) AS n
    WHERE btrim(n) <> '';
    RETURN NULL;
END $$;

CREATE TRIGGER places_names_insert
    AFTER INSERT ON places REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION places_names_inserted();

CREATE FUNCTION places_names_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM place_names WHERE place_id = NEW.id;
    INSERT INTO place_names (place_id, name)
    SELECT DISTINCT NEW.id, n FROM unnest(array_prepend(NEW.name, NEW.alternate_names)) AS n
    WHERE btrim(n) <> '';
    RETURN NULL;
END $$;

CREATE TRIGGER places_names_update
    AFTER UPDATE OF name, alternate_names ON places
    FOR EACH ROW EXECUTE FUNCTION places_names_updated();

-- Geocoded incidents remember the place; derived_fields says which properties the server filled in.
ALTER TABLE incidents
    ADD COLUMN place_id bigint REFERENCES places (id),
    ADD COLUMN derived_fields text[] NOT NULL DEFAULT '{}';

-- A LIKE pattern for "names starting with this", with LIKE's own wildcards escaped.
CREATE FUNCTION place_key_prefix(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN replace(replace(replace(place_key(name), '\', '\\'), '%', '\%'), '_', '\_') || '%';
