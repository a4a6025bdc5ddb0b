-- Newest-first radius search without sorting every candidate.
--
-- "The newest 100 within 25 km of Homs" used the GiST index to find all ~30,000 incidents in the
-- circle and sorted them (70-200 ms at one million incidents). Instead, points are filed in a grid
-- of quarter-degree cells, indexed by (cell, occurred_at, id): a radius query reads the few cells
-- that cover its circle, each already in time order, and PostgreSQL merges them (Merge Append),
-- stopping after the page. Shapes other than points share cell -1, also in time order.
-- IncidentSqlBuilder computes the covering cells with the same arithmetic (RadiusCells).
CREATE FUNCTION incident_cell(g geometry) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN CASE WHEN GeometryType(g) = 'POINT'
    THEN least(floor((ST_Y(g) + 90) * 4)::integer, 719) * 1440 + floor((ST_X(g) + 180) * 4)::integer % 1440
    ELSE -1 END;

CREATE INDEX incidents_cell_idx ON incidents (incident_cell(geom), occurred_at, id) WHERE deleted_at IS NULL;
