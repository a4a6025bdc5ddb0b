-- Reverse geocoding with a country given: the nearest place *of that country* within `radius`, not
-- nothing. Before, the nearest place of any country decided, and a writer's country other than its
-- country left every place field empty: a point in Rafah, Gaza sent with country PS is 1.1 km from
-- Rafah, Egypt and 2 km from its own Rafah, and got no location_name or admin1. A place with no
-- country (an editor's) no longer hides the places of the given country either. Without a
-- country, nothing changes: the nearest place, and the border rule (country_undecided).
CREATE OR REPLACE FUNCTION incident_place_fill(
    g geometry, given_location_name text, given_admin1 text, given_country text, given_place_id bigint,
    given_derived text[], radius float8, factor float8, margin float8)
RETURNS TABLE (location_name text, admin1 text, country text, place_id bigint, derived_fields text[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH point AS (
        SELECT (CASE WHEN GeometryType(g) = 'POINT' THEN g ELSE ST_PointOnSurface(g) END)::geography AS at
    ), nearest AS (
        SELECT p.id, p.name, p.country::text AS country, p.admin1, ST_Distance(p.geog, point.at) AS metres, point.at
        FROM point, places p
        WHERE ST_DWithin(p.geog, point.at, radius)
          AND (given_country IS NULL OR p.country = given_country)
        ORDER BY p.geog <-> point.at
        LIMIT 1
    ), judged AS (
        SELECT n.*,
               -- the country is decided when the writer gave it, or no other country's place is about as near
               (given_country IS NOT NULL OR NOT EXISTS (
                   SELECT 1 FROM places o
                   WHERE ST_DWithin(o.geog, n.at, n.metres * factor + margin)
                     AND o.country IS NOT NULL AND o.country::text IS DISTINCT FROM n.country)) AS decided
        FROM nearest n
    )
    SELECT
        CASE WHEN j.id IS NOT NULL AND given_location_name IS NULL THEN j.name ELSE given_location_name END,
        CASE WHEN j.decided AND given_admin1 IS NULL THEN j.admin1 ELSE given_admin1 END,
        CASE WHEN j.decided AND given_country IS NULL THEN j.country ELSE given_country END,
        CASE WHEN j.id IS NOT NULL AND given_location_name IS NULL THEN coalesce(given_place_id, j.id) ELSE given_place_id END,
        CASE WHEN j.id IS NOT NULL THEN given_derived || array_remove(ARRAY[
                CASE WHEN given_location_name IS NULL THEN 'location_name' END,
                CASE WHEN NOT j.decided THEN 'country_undecided' END,
                CASE WHEN j.decided AND given_admin1 IS NULL AND j.admin1 IS NOT NULL THEN 'admin1' END,
                CASE WHEN j.decided AND given_country IS NULL AND j.country IS NOT NULL THEN 'country' END], NULL)
             ELSE given_derived END
    FROM (SELECT 1) one LEFT JOIN judged j ON true
$$;
