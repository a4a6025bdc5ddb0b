-- Reverse geocoding, once, for single writes and imports alike: whichever of location_name, admin1
-- and country an incident lacks is filled from the nearest place within `radius` metres of its
-- point (a shape's point on surface), and named in derived_fields.
--   * A country the writer gave rules out a place of another country (nothing is filled).
--   * place_id is set only when the place's name is the one filled in.
--   * Near a border the nearest place may lie across it: when a place of another country lies within
--     `factor` × the nearest's distance + `margin`, country and admin1 stay empty (unless the writer
--     gave the country) and derived_fields says country_undecided.
-- The thresholds are the service's (Gazetteer.ReverseRadiusMetres, BorderFactor, BorderMarginMetres),
-- passed in. An import runs it over its staged rows in one statement, instead of a round trip a row.
CREATE FUNCTION incident_place_fill(
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
        ORDER BY p.geog <-> point.at
        LIMIT 1
    ), judged AS (
        SELECT n.*,
               -- the place applies unless the writer's country is another
               (given_country IS NULL OR given_country = n.country) IS TRUE AS applies,
               -- the country is decided when the writer gave it, or no other country's place is about as near
               (given_country IS NOT NULL OR NOT EXISTS (
                   SELECT 1 FROM places o
                   WHERE ST_DWithin(o.geog, n.at, n.metres * factor + margin)
                     AND o.country IS NOT NULL AND o.country::text IS DISTINCT FROM n.country)) AS decided
        FROM nearest n
    )
    SELECT
        CASE WHEN j.applies AND given_location_name IS NULL THEN j.name ELSE given_location_name END,
        CASE WHEN j.applies AND j.decided AND given_admin1 IS NULL THEN j.admin1 ELSE given_admin1 END,
        CASE WHEN j.applies AND j.decided AND given_country IS NULL THEN j.country ELSE given_country END,
        CASE WHEN j.applies AND given_location_name IS NULL THEN coalesce(given_place_id, j.id) ELSE given_place_id END,
        CASE WHEN j.applies THEN given_derived || array_remove(ARRAY[
                CASE WHEN given_location_name IS NULL THEN 'location_name' END,
                CASE WHEN NOT j.decided THEN 'country_undecided' END,
                CASE WHEN j.decided AND given_admin1 IS NULL AND j.admin1 IS NOT NULL THEN 'admin1' END,
                CASE WHEN j.decided AND given_country IS NULL AND j.country IS NOT NULL THEN 'country' END], NULL)
             ELSE given_derived END
    FROM (SELECT 1) one LEFT JOIN judged j ON true
$$;
