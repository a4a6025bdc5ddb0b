-- Reverse geocoding beside an editor's place that has no country (a quarter added by name and point
-- alone): the nearest place still names the incident (location_name, place_id), but country and
-- admin1 now come from the nearest place *with a country* within `radius`, and the border rule
-- (country_undecided) is judged from that place. Before, both came from the nearest place alone, so a
-- point in Homs beside a country-less quarter got no country and no admin1, and no mark saying why.
-- Where the nearest place has a country (every GeoNames place), it is the same place: nothing changes.
-- Ties in distance are broken by id, so the two choices agree. Otherwise as migration 0024's.
CREATE OR REPLACE FUNCTION incident_place_fill(
    g geometry, given_location_name text, given_admin1 text, given_country text, given_place_id bigint,
    given_derived text[], radius float8, factor float8, margin float8)
RETURNS TABLE (location_name text, admin1 text, country text, place_id bigint, derived_fields text[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH point AS (
        SELECT (CASE WHEN GeometryType(g) = 'POINT' THEN g ELSE ST_PointOnSurface(g) END)::geography AS at
    ), nearest AS (
        SELECT p.id, p.name
        FROM point, places p
        WHERE ST_DWithin(p.geog, point.at, radius)
          AND (given_country IS NULL OR p.country = given_country)
        ORDER BY p.geog <-> point.at, p.id
        LIMIT 1
    ), counted AS (
        -- the nearest place with a country: it gives country and admin1
        SELECT p.country::text AS country, p.admin1, ST_Distance(p.geog, point.at) AS metres, point.at
        FROM point, places p
        WHERE ST_DWithin(p.geog, point.at, radius)
          AND p.country IS NOT NULL
          AND (given_country IS NULL OR p.country = given_country)
        ORDER BY p.geog <-> point.at, p.id
        LIMIT 1
    ), judged AS (
        SELECT c.*,
               -- the country is decided when the writer gave it, or no other country's place is about as near
               (given_country IS NOT NULL OR NOT EXISTS (
                   SELECT 1 FROM places o
                   WHERE ST_DWithin(o.geog, c.at, c.metres * factor + margin)
                     AND o.country IS NOT NULL AND o.country::text <> c.country)) AS decided
        FROM counted c
    )
    SELECT
        CASE WHEN n.id IS NOT NULL AND given_location_name IS NULL THEN n.name ELSE given_location_name END,
        CASE WHEN j.decided AND given_admin1 IS NULL THEN j.admin1 ELSE given_admin1 END,
        CASE WHEN j.decided AND given_country IS NULL THEN j.country ELSE given_country END,
        CASE WHEN n.id IS NOT NULL AND given_location_name IS NULL THEN coalesce(given_place_id, n.id) ELSE given_place_id END,
        given_derived || array_remove(ARRAY[
            CASE WHEN n.id IS NOT NULL AND given_location_name IS NULL THEN 'location_name' END,
            CASE WHEN NOT j.decided THEN 'country_undecided' END,
            CASE WHEN j.decided AND given_admin1 IS NULL AND j.admin1 IS NOT NULL THEN 'admin1' END,
            CASE WHEN j.decided AND given_country IS NULL THEN 'country' END], NULL)
    FROM (SELECT 1) one LEFT JOIN nearest n ON true LEFT JOIN judged j ON true
$$;
