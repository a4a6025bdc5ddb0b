-- Lines and polygons are geodesic on WGS 84: an edge between two vertices bulges towards the pole,
-- beyond the longitude/latitude box of its vertices. A line from (0 70) to (40 70) reaches 71.1° N
-- at 20° E. Radius searches below 10 km (and those sorted by distance, or near a pole) and CQL2
-- S_DWITHIN found their candidates only with `geom && box`, so they missed such an incident in
-- a circle around its bulge, and missed points near the bulge of a long S_DWITHIN query line.
--
-- 1. Stored shapes: a GiST index on geog for everything that is not a point. The geography index
--    bounds edges on the sphere, bulge included. A point's box is exact, so points stay out of it,
--    and an import of points only tests the predicate. Box searches add the branch
--    `GeometryType(geom) <> 'POINT' AND ST_DWithin(geog, …)`, which matches this predicate.
CREATE INDEX incidents_shape_geog_idx ON incidents USING gist (geog) WHERE GeometryType(geom) <> 'POINT';

-- 2. Query shapes: incident_dwithin_box now bounds a line or polygon through its geodesic edges,
--    cut into pieces of at most 10 km. Between two vertices 10 km apart an edge bulges at most
--    (5 km)² · tan φ / 2R, 0.11 km at 89°; the box is 1 km wider for shapes. From 89° the box
--    spans every longitude and now reaches the pole itself.
CREATE OR REPLACE FUNCTION incident_dwithin_box(g geometry, metres double precision) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN (
    SELECT CASE
        WHEN highest >= 89 OR ST_XMin(s) - dlon < -180 OR ST_XMax(s) + dlon > 180
            THEN ST_MakeEnvelope(-180,
                CASE WHEN ST_YMin(s) - dlat <= -89 THEN -90 ELSE ST_YMin(s) - dlat END,
                180,
                CASE WHEN ST_YMax(s) + dlat >= 89 THEN 90 ELSE ST_YMax(s) + dlat END, 4326)
        ELSE ST_MakeEnvelope(ST_XMin(s) - dlon, ST_YMin(s) - dlat, ST_XMax(s) + dlon, ST_YMax(s) + dlat, 4326)
    END
    FROM (SELECT CASE WHEN GeometryType(g) = 'POINT' THEN g ELSE ST_Segmentize(g::geography, 10000)::geometry END AS s,
                 metres + CASE WHEN GeometryType(g) = 'POINT' THEN 0 ELSE 1000 END AS m) shape,
    LATERAL (SELECT shape.m / 110574 * 1.01 AS dlat) a,
    LATERAL (SELECT greatest(abs(ST_YMin(s)), abs(ST_YMax(s))) + a.dlat AS highest) h,
    LATERAL (SELECT CASE WHEN h.highest >= 89 THEN 360 ELSE shape.m / (111319.49 * cos(radians(h.highest))) * 1.01 END AS dlon) o
);
