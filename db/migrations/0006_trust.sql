-- Trust (issue 6): API keys, idempotent creates, and the revision history of every incident.

CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The first characters of the key, to recognise it in listings; the key itself is never stored.
    prefix      text        NOT NULL,
    hash        bytea       NOT NULL UNIQUE,
    scopes      text[]      NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin'] AND cardinality(scopes) > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX api_keys_live_name_key ON api_keys (name) WHERE revoked_at IS NULL;

-- A create's Idempotency-Key, written in the same transaction as the incident it created.
CREATE TABLE idempotency_keys (
    api_key_id    bigint      NOT NULL REFERENCES api_keys (id),
    key           text        NOT NULL,
    request_hash  bytea       NOT NULL,
    status        integer     NOT NULL,
    location      text,
    etag          text,
    body          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Every revision of every incident, kept for good (the change feed may be purged, history is not).
CREATE TABLE incident_revisions (
    incident_id     bigint      NOT NULL REFERENCES incidents (id),
    version         integer     NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    changed_by      text,
    changed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_fields  text[]      NOT NULL,
    feature         jsonb       NOT NULL,
    PRIMARY KEY (incident_id, version)
);

-- The incident as a GeoJSON Feature with the stored properties (derived columns left out).
CREATE FUNCTION incident_feature_jsonb(r incidents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('type', 'Feature', 'id', r.id,
        'geometry', ST_AsGeoJSON(r.geom)::jsonb,
        'properties', to_jsonb(r) - ARRAY['id', 'geom', 'geog', 'search', 'geom_3857', 'point_3857', 'occurred_until', 'deleted_at'])
$$;

CREATE OR REPLACE FUNCTION incidents_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change_kind text := CASE WHEN TG_OP = 'INSERT' THEN 'created'
                             WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted'
                             ELSE 'updated' END;
    fields text[];
BEGIN
    INSERT INTO incident_changes (incident_id, kind, version) VALUES (NEW.id, change_kind, NEW.version);

    IF TG_OP = 'INSERT' THEN
        fields := '{}';
    ELSE
        SELECT coalesce(array_agg(key ORDER BY key), '{}') INTO fields
        FROM jsonb_each(to_jsonb(NEW)) AS n(key, value)
        WHERE key NOT IN ('updated_at', 'version', 'geog', 'search', 'geom_3857', 'point_3857', 'occurred_until')
          AND n.value IS DISTINCT FROM to_jsonb(OLD) -> key;
    END IF;
    -- The writer names itself with set_config('incidentmap.actor', <key name>, true).
    INSERT INTO incident_revisions (incident_id, version, kind, changed_by, changed_fields, feature)
    VALUES (NEW.id, NEW.version, change_kind, nullif(current_setting('incidentmap.actor', true), ''), fields,
            incident_feature_jsonb(NEW))
    ON CONFLICT (incident_id, version) DO NOTHING;

    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;
