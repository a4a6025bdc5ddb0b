namespace IncidentMap.Api.Filtering;

/// <summary>
/// S_DWITHIN of the incidents' geometry and a line or polygon of a filter, decided for most points
/// without the geodesic test. That test (ST_DWithin on geography) costs tens of microseconds a
/// point even against a polygon of nine vertices, and grows with the vertices: 25 µs a point
/// against 1,500. Over an area holding 200,000 incidents, numberMatched spent 5 s of CPU in it
/// alone. A point deep inside the shape, or far outside its reach, is now decided by a planar
/// test against two shapes computed once per statement (GEOS prepares them: a microsecond or two
/// a point); only points near the rim, and lines and polygons, take the geodesic test. The answer
/// is the geodesic test's, row for row: each shortcut is taken only where it cannot differ.
/// </summary>
/// <remarks>
/// Both shapes start from the query shape with its geodesic edges cut into pieces of at most 10 km
/// (ST_Segmentize on geography, as incident_dwithin_box does): its vertices lie on the edges
/// PostGIS measures against, and between two of them the planar chord strays from the geodesic by
/// at most (5 km)² tan φ / 2R, 0.11 km (0.001° of latitude) below 89°.
/// <list type="bullet">
/// <item><b>Inside</b>: the polygons of that shape shrunk by 0.01° (ten times the stray). A point in
/// it is inside the geodesic shape, at distance 0, within any distance.</item>
/// <item><b>Reach</b>: the shape grown by the planar distance that <c>metres + 1 km</c> can cover at
/// most: a path gains at least 110,574 m per degree of latitude, and at least 111,319 m × cos φ per
/// degree of longitude while it stays below latitude φ (the bound of RadiusCells and
/// incident_dwithin_box), and the 1 km covers the stray. A point outside it is farther than
/// <c>metres</c> from the shape.</item>
/// </list>
/// Neither holds for a shape that reaches 89° or crosses the antimeridian (a planar edge of 180° or
/// more of longitude), or for a reach across it, nor for a shape that is not valid in the plane: then
/// that shape is NULL, and every point takes the geodesic test.
/// </remarks>
internal static class NearShape
{
    /// <summary>
    /// SQL: whether <paramref name="geom"/> (a geometry column) is within <paramref name="metres"/> of
    /// <paramref name="shape"/> (a geometry parameter), where <paramref name="exact"/> is the geodesic test.
    /// </summary>
    public static string Within(string geom, string shape, string metres, string exact) => $"""
        CASE WHEN GeometryType({geom}) <> 'POINT' THEN {exact}
             WHEN _ST_Intersects({geom}, {Inside(shape)}) THEN true
             WHEN NOT _ST_Intersects({geom}, {Reach(shape, metres)}) THEN false
             ELSE {exact} END
        """;

    private static string Segmented(string shape) => $"(SELECT ST_Segmentize({shape}::geography, 10000)::geometry AS l) segmented";

    /// <summary>No vertex at or beyond 89°, and no edge across the antimeridian (over it, the plane has the edge go round the world).</summary>
    private const string Planar = """
        ST_YMin(l) > -89 AND ST_YMax(l) < 89
        AND NOT EXISTS (SELECT FROM ST_DumpSegments(l) e WHERE abs(ST_X(ST_StartPoint(e.geom)) - ST_X(ST_EndPoint(e.geom))) >= 180)
        """;

    private static string Inside(string shape) => $"""
        (SELECT CASE WHEN ST_IsValid(area) AND {Planar} THEN ST_Buffer(area, -0.01) END
         FROM {Segmented(shape)}, LATERAL (SELECT ST_CollectionExtract(l, 3) AS area) a)
        """;

    private static string Reach(string shape, string metres) => $"""
        (SELECT CASE WHEN ST_IsValid(l) AND highest < 89 AND ST_XMin(l) - grow > -180 AND ST_XMax(l) + grow < 180 AND {Planar}
                     THEN ST_Buffer(l, grow) END
         FROM {Segmented(shape)},
         LATERAL (SELECT greatest(-ST_YMin(l), ST_YMax(l)) + ({metres} + 1000) / 110574 * 1.01 AS highest) h,
         LATERAL (SELECT CASE WHEN highest < 89 THEN ({metres} + 1000) / least(110574, 111319.49 * cos(radians(highest))) * 1.02 END AS grow) g)
        """;
}
