-- Points on the edge of the Web Mercator map were on no tile and in no cluster. The map ends at
-- latitude ±85.05112877980659° (atan(sinh π)), which tools round to ±85.0511287798°; 0003 clipped
-- the Web Mercator copies to a box of exactly ±85.0511287798°, and ST_ClipByBox2D keeps only what
-- lies strictly inside its box (GEOS drops a point on its boundary): a point at 85.0511287798° got an
-- empty geom_3857 and point_3857, which tiles, clusters and hexagon bins all skip.
--
-- The box now reaches 1e-10° past those latitudes, so a point at ±85.0511287798°, or at the exact
-- limit however it is printed (85.0511287798066), lies inside it. One between the limit and the box
-- is stored at most 0.12 mm beyond the map's edge in Web Mercator: less than half a tile unit even at
-- zoom 24 (0.29 mm), so tiles draw it on their edge, and cluster cells clamp it to the first row
-- (TileSql.Members). Anything farther out is polar and still on no tile, as before.
--
-- PostgreSQL 15 cannot change a generated column's expression: both columns are dropped and added
-- again, in one rewrite of the table that also rebuilds its thirteen indexes. For a million synthetic
-- incidents (the bench's) it took 38-54 s on two cores busy with other work, holding the table's
-- exclusive lock throughout: reads and writes wait for it.
ALTER TABLE incidents
    DROP COLUMN geom_3857,
    DROP COLUMN point_3857,
    ADD COLUMN geom_3857 geometry GENERATED ALWAYS AS (
        ST_Transform(ST_ClipByBox2D(geom, 'BOX(-180.000001 -85.0511287799, 180.000001 85.0511287799)'::box2d), 3857)) STORED,
    -- One representative point per incident: what clusters and hexagon bins count.
    ADD COLUMN point_3857 geometry GENERATED ALWAYS AS (
        ST_Transform(ST_PointOnSurface(ST_ClipByBox2D(geom, 'BOX(-180.000001 -85.0511287799, 180.000001 85.0511287799)'::box2d)), 3857)) STORED;
