-- Revisions were built with to_jsonb(row), which serialises the derived columns (geography, two
-- Web Mercator geometries, the search vector) only to drop them: most of an insert's cost in bulk
-- imports. Build the stored properties explicitly instead.
CREATE OR REPLACE FUNCTION incident_feature_jsonb(r incidents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('type', 'Feature', 'id', r.id,
        'geometry', ST_AsGeoJSON(r.geom)::jsonb,
        'properties', jsonb_build_object(
            'title', r.title, 'summary', r.summary, 'event_type', r.event_type, 'sub_event_type', r.sub_event_type,
            'occurred_at', r.occurred_at, 'time_precision', r.time_precision, 'location_name', r.location_name,
            'admin1', r.admin1, 'admin2', r.admin2, 'country', r.country, 'geo_precision', r.geo_precision,
            'fatalities_min', r.fatalities_min, 'fatalities_max', r.fatalities_max,
            'injured_min', r.injured_min, 'injured_max', r.injured_max, 'actors', r.actors, 'claimed_by', r.claimed_by,
            'sources', r.sources, 'status', r.status, 'tags', r.tags, 'external_id', r.external_id,
            'place_id', r.place_id, 'derived_fields', r.derived_fields,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version))
$$;

CREATE OR REPLACE FUNCTION incidents_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change_kind text := CASE WHEN TG_OP = 'INSERT' THEN 'created'
                             WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted'
                             ELSE 'updated' END;
    feature jsonb := incident_feature_jsonb(NEW);
    fields text[] := '{}';
BEGIN
    INSERT INTO incident_changes (incident_id, kind, version) VALUES (NEW.id, change_kind, NEW.version);

    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(key ORDER BY key), '{}') INTO fields
        FROM jsonb_each(feature -> 'properties') AS n(key, value)
        WHERE key NOT IN ('updated_at', 'version')
          AND n.value IS DISTINCT FROM incident_feature_jsonb(OLD) -> 'properties' -> key;
        IF NOT ST_Equals(NEW.geom, OLD.geom) OR ST_AsBinary(NEW.geom) <> ST_AsBinary(OLD.geom) THEN
            fields := array_append(fields, 'geometry');
        END IF;
        IF NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
            fields := array_append(fields, 'deleted_at');
        END IF;
    END IF;
    -- The writer names itself with set_config('incidentmap.actor', <key name>, true).
    INSERT INTO incident_revisions (incident_id, version, kind, changed_by, changed_fields, feature)
    VALUES (NEW.id, NEW.version, change_kind, nullif(current_setting('incidentmap.actor', true), ''), fields, feature)
    ON CONFLICT (incident_id, version) DO NOTHING;

    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;
