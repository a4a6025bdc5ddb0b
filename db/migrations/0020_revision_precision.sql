-- Revisions kept coordinates to ST_AsGeoJSON's default 9 decimals, while the incident keeps every
-- digit it was sent: a revision of a point sent as 36.1234567891 read back as 36.123456789. They now
-- keep what is stored, as the API serves a single incident (IncidentQuery.StoredPrecision): PostGIS
-- prints the shortest text that reads back as the same double. Revisions written before keep their 9.
CREATE OR REPLACE FUNCTION incident_feature_jsonb(r incidents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'Feature', 'id', r.id,
        'geometry', ST_AsGeoJSON(r.geom, 30)::json,
        'properties', json_build_object(
            'title', r.title, 'summary', r.summary, 'event_type', r.event_type, 'sub_event_type', r.sub_event_type,
            'occurred_at', r.occurred_at, 'time_precision', r.time_precision, 'location_name', r.location_name,
            'admin1', r.admin1, 'admin2', r.admin2, 'country', r.country, 'geo_precision', r.geo_precision,
            'fatalities_min', r.fatalities_min, 'fatalities_max', r.fatalities_max,
            'injured_min', r.injured_min, 'injured_max', r.injured_max, 'actors', r.actors, 'claimed_by', r.claimed_by,
            'sources', r.sources, 'status', r.status, 'tags', r.tags, 'external_id', r.external_id,
            'place_id', r.place_id, 'derived_fields', r.derived_fields,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version))::jsonb
$$;
