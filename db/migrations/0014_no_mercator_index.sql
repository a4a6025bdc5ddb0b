-- The last Web Mercator index goes too (see 0013): cluster tiles and hexagon bins find their
-- incidents through the GiST index on geom, with the tile's or hexagon's box in longitude/latitude,
-- and then decide on point_3857 exactly as before. A representative point lies within its shape,
-- so the shape's box holds it.
DROP INDEX incidents_point_3857_idx;
