-- numberMatched of a large bbox without reading the table (issue 4: map clients ask a count for every
-- view they pan to; GDAL and QGIS ask it first).
--
-- Counting the incidents in a box read every matching row from the table: all of Syria
-- (bbox=35,32,42,37, 201,900 incidents of the bench's million) took 2.3-6.8 s, most of a first page.
-- The quarter-degree grid of 0011 already files every point in a cell, and a cell lying wholly inside
-- the box needs no geometry test: its incidents can be counted from the index (cell, occurred_at, id)
-- alone, with an index-only scan (34 ms for Syria). Only the cells on the box's rim are read from the
-- table and tested (IncidentSqlBuilder.Count, BoxCells).
--
-- 1. PostgreSQL plans an index-only scan only when every column the query names is in the index, and
--    for an index on incident_cell(geom) that includes geom. So the cell becomes a stored column, and
--    the index is built on it. incident_cell is computed once a row as before (for the index then, for
--    the column now); the column takes 4 bytes a row.
--
-- 2. A cell now holds exactly the points of its quarter-degree square, [west, west + 0.25) x
--    [south, south + 0.25), so that "wholly inside the box" is exact. floor((x + 180) * 4) rounds the
--    sum first: a point a few 1e-14 degrees west of a grid line could land in the cell east of it, and
--    a point at longitude 180 wrapped round to the cell at -180. Now the first is moved back a cell
--    and the second stays in the last column, closed on its east side as the last row is on its north.
--    Only such points move; radius pages (RadiusCells) cover a circle's cells with a margin either way.
--
-- Adding a stored column rewrites the table and its indexes once (about a minute at a million rows),
-- holding the table exclusively meanwhile, as every migration here runs before the service serves.
DROP INDEX incidents_cell_idx;

CREATE OR REPLACE FUNCTION incident_cell(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE CALLED ON NULL INPUT
RETURN CASE WHEN GeometryType(g) = 'POINT'
    THEN least(floor((ST_Y(g) + 90) * 4)::integer - (ST_Y(g) < floor((ST_Y(g) + 90) * 4) / 4 - 90)::integer, 719) * 1440
       + least(floor((ST_X(g) + 180) * 4)::integer - (ST_X(g) < floor((ST_X(g) + 180) * 4) / 4 - 180)::integer, 1439)
    ELSE -1 END;

ALTER TABLE incidents ADD COLUMN cell integer GENERATED ALWAYS AS (incident_cell(geom)) STORED;

CREATE INDEX incidents_cell_idx ON incidents (cell, occurred_at, id) WHERE deleted_at IS NULL;
