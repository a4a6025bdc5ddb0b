namespace IncidentMap.Api.Filtering;

/// <summary>
/// S_DWITHIN of the incidents' geometry and a line or polygon of a filter, decided for most points
/// without the geodesic test. That test (ST_DWithin on geography) costs tens of microseconds a point
/// even against a small polygon, and more with the vertices (about 25 µs inside a zigzag of 1,500, 90
/// µs near a line of 3,000): over an area holding 200,000 incidents, numberMatched spent 5 s of CPU
/// in it alone. A point well inside the shape, or far beyond it, is now decided by planar tests,
/// which PostGIS runs against an indexed copy of the shape it keeps for the statement (a point in
/// polygon, a distance to the rim: about what reading the row costs). Only points near the rim, and
/// lines and polygons, take the geodesic test, so the answer is the geodesic test's, row for row.
/// </summary>
/// <remarks>
/// The planar shape is the query shape with its geodesic edges cut into pieces of at most 10 km
/// (ST_Segmentize on geography, as incident_dwithin_box does), computed once per statement: its
/// vertices lie on the edges PostGIS measures against, and between two of them the planar chord
/// strays from the geodesic by at most (5 km)² tan φ / 2R, 0.11 km (0.001° of latitude) below 89°.
/// <list type="bullet">
/// <item><b>Inside</b>: a point in its polygons is within the stray of the geodesic shape, so within
/// any distance of 1 km or more. For a shorter one it must also be 0.01° (ten times the stray) from
/// their rim: then it is inside the geodesic shape, at distance 0. (That distance to the rim costs
/// about 7 µs a point against 1,500 vertices; the point in polygon 1.5 µs.)</item>
/// <item><b>Beyond</b>: a point farther in the plane than <c>metres + 1 km</c> can reach is farther
/// than <c>metres</c> from the shape. A path gains at least 110,574 m per degree of latitude, and at
/// least 111,319 m × cos φ per degree of longitude while it stays below latitude φ (the bound of
/// RadiusCells and incident_dwithin_box); the 1 km covers the stray.</item>
/// </list>
/// Neither holds for a shape that reaches 89° or crosses the antimeridian (a planar edge of 180° or
/// more of longitude), nor the second when the reach crosses it, nor for a shape that is not valid
/// in the plane: then the planar shape is NULL, no shortcut is taken, and every point takes the
/// geodesic test. No shape is buffered: GEOS took 86 s to buffer a zigzag line of 3,000 vertices.
/// </remarks>
internal static class NearShape
{
    /// <summary>
    /// SQL: the index condition for the points near a line <paramref name="shape"/>: one box per piece of
    /// the line (migration 0029's incident_dwithin_boxes), so a bitmap scan of the GiST index on
    /// <paramref name="geom"/> reads the band along the line, not the rectangle round it. The one box round
    /// the whole line stays in front: where the planner walks another index (the time index of a page) and
    /// tests each row, that one comparison rejects most rows before the hundred or so of the band
    /// (the antimeridian line below read 357,000 rows that way at 20 µs each, 7 s, without it).
    /// </summary>
    public static string AlongLine(string geom, string shape, string metres) =>
        $"({geom} && incident_dwithin_box({shape}, {metres}) AND {geom} && ANY (incident_dwithin_boxes({shape}, {metres})))";

    /// <summary>
    /// SQL: whether <paramref name="geom"/> (a geometry column) is within <paramref name="metres"/> of
    /// <paramref name="shape"/> (a geometry parameter), where <paramref name="exact"/> is the geodesic test.
    /// </summary>
    public static string Within(string geom, string shape, string metres, string exact) => $"""
        CASE WHEN GeometryType({geom}) <> 'POINT' THEN {exact}
             WHEN _ST_Intersects({geom}, {Area(shape)}) AND ({metres} >= 1000 OR NOT _ST_DWithin({geom}, {Rim(shape)}, 0.01)) THEN true
             WHEN NOT _ST_DWithin({geom}, {Reachable(shape, metres)}, {Reach(shape, metres)}) THEN false
             ELSE {exact} END
        """;

    private static string Segmented(string shape) => $"(SELECT ST_Segmentize({shape}::geography, 10000)::geometry AS l) segmented";

    /// <summary>Below 89°, and no edge across the antimeridian (the plane has such an edge go round the world).</summary>
    private const string Flat = """
        ST_YMin(l) > -89 AND ST_YMax(l) < 89
        AND NOT EXISTS (SELECT FROM ST_DumpSegments(l) e WHERE abs(ST_X(ST_StartPoint(e.geom)) - ST_X(ST_EndPoint(e.geom))) >= 180)
        """;

    /// <summary>The planar polygons of the shape (empty for a line), or NULL when the plane does not stand for it.</summary>
    private static string Area(string shape) => $"""
        (SELECT CASE WHEN ST_IsValid(area) AND {Flat} THEN area END
         FROM {Segmented(shape)}, LATERAL (SELECT ST_CollectionExtract(l, 3) AS area) a)
        """;

    private static string Rim(string shape) => $"(SELECT ST_Boundary({Area(shape)}))";

    /// <summary>The planar shape, or NULL when the plane does not stand for it as far as <see cref="Reach"/>.</summary>
    private static string Reachable(string shape, string metres) => $"""
        (SELECT CASE WHEN ST_IsValid(l) AND highest < 89 AND ST_XMin(l) - reach > -180 AND ST_XMax(l) + reach < 180 AND {Flat} THEN l END
         FROM {Segmented(shape)}, {Bounds(metres)})
        """;

    /// <summary>The planar distance (degrees) that <c>metres + 1 km</c> can cover at most from the shape.</summary>
    private static string Reach(string shape, string metres) => $"(SELECT reach FROM {Segmented(shape)}, {Bounds(metres)})";

    private static string Bounds(string metres) => $"""
        LATERAL (SELECT greatest(-ST_YMin(l), ST_YMax(l)) + ({metres} + 1000) / 110574 * 1.01 AS highest) h,
        LATERAL (SELECT CASE WHEN highest < 89 THEN ({metres} + 1000) / least(110574, 111319.49 * cos(radians(highest))) * 1.01 END AS reach) r
        """;
}
