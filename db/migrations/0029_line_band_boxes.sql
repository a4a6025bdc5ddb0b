-- S_DWITHIN against a line found its candidates with one box round the whole line
-- (incident_dwithin_box), so a diagonal line read everything in the rectangle it spans: within 1 km
-- of a line from (30 30) to (40 35), 100,559 index entries of the bench's million incidents for 775
-- matches, 5.6 s for a page. This function gives one box per piece of the line instead, each the same
-- bound incident_dwithin_box gives for that piece, so `geom && ANY (incident_dwithin_boxes(…))` reads a
-- band along the line: 4,424 entries, 0.65 s (a bitmap scan of the GiST index ORs the boxes).
--
-- Every segment of the line, cut into pieces of at most 10 km on the geodesic as incident_dwithin_box
-- does, falls into exactly one group, and a point within `metres` of the line is within `metres` of some
-- segment, so inside that segment's group's box: the union holds everything the single box held
-- within the distance. A group spans about max(10 km, metres, length / 200) of the line: a point lies in
-- a few boxes at most however far the distance reaches, and a line gives at most about 200 boxes, plus
-- one per part of a multi-line of up to 100 parts (beyond that, groups run on from one part into the
-- next, whose boxes then hold the gaps between them): the planner estimates each box's rows as it plans
-- a statement, about 1 ms a box.
-- IMMUTABLE and given constants (the query's parameters), it is computed once, while planning, and the
-- planner sees the boxes themselves: it then estimates the rows well and chooses the bitmap scan.
CREATE FUNCTION incident_dwithin_boxes(g geometry, metres double precision) RETURNS geometry[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN ARRAY(
    WITH segments AS (
        SELECT d.path[1:cardinality(d.path) - 1] AS part, d.geom,
               sum(ST_Length(d.geom::geography)) OVER (ORDER BY d.path) - ST_Length(d.geom::geography) AS start
        FROM ST_DumpSegments(ST_Segmentize(g::geography, 10000)::geometry) d
    ), piece AS (
        SELECT greatest(10000, metres, coalesce(max(start), 0) / 200) AS length FROM segments
    )
    SELECT incident_dwithin_box(ST_Collect(s.geom), metres)
    FROM segments s, piece
    GROUP BY CASE WHEN ST_NumGeometries(g) <= 100 THEN s.part END, floor(s.start / piece.length)
);
