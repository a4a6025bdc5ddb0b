namespace IncidentMap.Tests.Ogc;

/// <summary>What the tests that compare two ways of computing cluster tiles (below zoom 8) lay their incidents on and read.</summary>
internal static class ClusterTileCases
{
    /// <summary>
    /// Shapes on the map's edges and corners, beyond them, at the antimeridian, a line and a polygon, as a <c>VALUES</c>
    /// list of (n, wkt) in WGS 84, named <c>e(n, wkt)</c>.
    /// </summary>
    public const string EdgeShapes = """
        (VALUES (1, 'POINT(180 10)'), (2, 'POINT(-180 -10)'), (3, 'POINT(17 85.0511287798)'), (4, 'POINT(-17 -85.0511287798)'),
                (5, 'POINT(18 85.06)'), (6, 'POINT(180 85.0511287798)'), (7, 'POINT(-180 -85.0511287798)'),
                (8, 'POINT(0 0)'), (9, 'POINT(90 0)'), (10, 'POINT(19 85.05112877980659)'), (11, 'POINT(20 -85.0511287799)'),
                (12, 'LINESTRING(-179.5 1, 179.5 2)'), (13, 'POLYGON((100 -5, 101 -5, 101 -4, 100 -4, 100 -5))'),
                (14, 'LINESTRING(10 84, 10 89)')) AS e(n, wkt)
        """;

    /// <summary>Every tile of the map up to zoom 2, then the corners, the middle and the antimeridian's.</summary>
    public static IEnumerable<(int X, int Y)> Tiles(int z)
    {
        var n = 1 << z;
        return z <= 2
            ? Enumerable.Range(0, n).SelectMany(x => Enumerable.Range(0, n).Select(y => (x, y)))
            : [(0, 0), (n - 1, 0), (0, n - 1), (n - 1, n - 1), (n / 2, n / 2), (n / 2 - 1, n / 2 - 1), (0, n / 2), (n - 1, n / 2 - 1)];
    }
}
