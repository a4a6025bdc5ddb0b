-- ACLED's exports name three levels of administrative division (admin1–3) beside the location, and
-- an import kept only two: admin3 (a sub-district, such as Homs's "Homs" or Rif Dimashq's "Markaz
-- Rif Dimashq") was dropped, so a file imported and exported again had lost a column of its source.
-- Incidents now keep it, as they keep admin2: written, read, filtered (admin3=) and exported.
ALTER TABLE incidents ADD COLUMN admin3 text CHECK (length(admin3) <= 200);

-- As 0041's admin2 index, for a rare value's filter; only rows that name one are indexed, so rows
-- without it (most single writes, any CSV of our own without the column) cost an import nothing.
-- admin3 = ANY(@values) implies admin3 IS NOT NULL, so the planner uses it.
CREATE INDEX incidents_admin3_idx ON incidents (admin3) WHERE deleted_at IS NULL AND admin3 IS NOT NULL;

-- As in 0020, with admin3: revisions and the change feed's changed_fields name it like any property.
CREATE OR REPLACE FUNCTION incident_feature_jsonb(r incidents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('type', 'Feature', 'id', r.id,
        'geometry', ST_AsGeoJSON(r.geom, 30)::json,
        'properties', json_build_object(
            'title', r.title, 'summary', r.summary, 'event_type', r.event_type, 'sub_event_type', r.sub_event_type,
            'occurred_at', r.occurred_at, 'time_precision', r.time_precision, 'location_name', r.location_name,
            'admin1', r.admin1, 'admin2', r.admin2, 'admin3', r.admin3, 'country', r.country, 'geo_precision', r.geo_precision,
            'fatalities_min', r.fatalities_min, 'fatalities_max', r.fatalities_max,
            'injured_min', r.injured_min, 'injured_max', r.injured_max, 'actors', r.actors, 'claimed_by', r.claimed_by,
            'sources', r.sources, 'status', r.status, 'tags', r.tags, 'external_id', r.external_id,
            'place_id', r.place_id, 'derived_fields', r.derived_fields,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version))::jsonb
$$;
