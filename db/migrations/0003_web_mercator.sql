-- Web Mercator copies of the geometry for vector tiles (issue 4): transforming a million rows per
-- world tile is what makes naive tile servers slow. Parts beyond ±85.0511° (outside Web Mercator)
-- are clipped away; such incidents do not appear on tiles.
ALTER TABLE incidents
    ADD COLUMN geom_3857 geometry GENERATED ALWAYS AS (
        ST_Transform(ST_ClipByBox2D(geom, 'BOX(-180.000001 -85.0511287798, 180.000001 85.0511287798)'::box2d), 3857)) STORED,
    -- One representative point per incident: what clusters and hexagon bins count.
    ADD COLUMN point_3857 geometry GENERATED ALWAYS AS (
        ST_Transform(ST_PointOnSurface(ST_ClipByBox2D(geom, 'BOX(-180.000001 -85.0511287798, 180.000001 85.0511287798)'::box2d)), 3857)) STORED;

CREATE INDEX incidents_geom_3857_idx  ON incidents USING gist (geom_3857)  WHERE deleted_at IS NULL;
CREATE INDEX incidents_point_3857_idx ON incidents USING gist (point_3857) WHERE deleted_at IS NULL;
