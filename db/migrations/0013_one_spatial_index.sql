-- One GiST index on geom serves bounding boxes, radii and tiles (issue 7: each GiST index cost a
-- bulk import about 5 µs of PostgreSQL CPU per row, the most expensive kind to maintain).
--
-- Radius searches (below the cell index's 10 km, sorted by distance, or CQL2 S_DWITHIN) now find
-- their candidates with geom && a longitude/latitude box that provably holds the circle, computed by
-- IncidentSqlBuilder (RadiusCells.Bounds) or by incident_dwithin_box below, and then test the
-- geodesic distance on the stored geography as before.
-- Tiles look up geom && the tile's envelope in longitude/latitude: Web Mercator maps longitude and
-- latitude separately and monotonically, so a tile's envelope is exactly a longitude/latitude box.
-- point_3857 keeps its index: cluster tiles and hexagon bins join on it.
DROP INDEX incidents_geog_idx;
DROP INDEX incidents_geom_3857_idx;

-- A box around g holding every point within `metres` of it on WGS 84, the same bound as
-- RadiusCells.Bounds: a path covers at least 110,574 m per degree of latitude, and at least
-- 111,319.49 m × cos(φ) per degree of longitude below latitude φ; 1 % wider against rounding. Near a
-- pole, or across the antimeridian, the box spans every longitude.
CREATE FUNCTION incident_dwithin_box(g geometry, metres double precision) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN (
    SELECT CASE
        WHEN highest >= 89 OR ST_XMin(g) - dlon < -180 OR ST_XMax(g) + dlon > 180
            THEN ST_MakeEnvelope(-180, greatest(ST_YMin(g) - dlat, -90), 180, least(ST_YMax(g) + dlat, 90), 4326)
        ELSE ST_MakeEnvelope(ST_XMin(g) - dlon, ST_YMin(g) - dlat, ST_XMax(g) + dlon, ST_YMax(g) + dlat, 4326)
    END
    FROM (SELECT metres / 110574 * 1.01 AS dlat) a,
    LATERAL (SELECT greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + a.dlat AS highest) h,
    LATERAL (SELECT CASE WHEN h.highest >= 89 THEN 360 ELSE metres / (111319.49 * cos(radians(h.highest))) * 1.01 END AS dlon) o
);
