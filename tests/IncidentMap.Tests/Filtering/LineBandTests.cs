using System.Globalization;
using Dapper;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// S_DWITHIN against a line finds its candidates in a band of boxes along the line (migration 0029,
/// incident_dwithin_boxes) instead of the one box round it. The band must hold every point within the
/// distance on the geodesic, wherever the line runs: checked against PostGIS's own geodesic test on
/// random points spread over the one box, which holds them all (migration 0019).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class LineBandTests(ApiFixture api)
{
    [Theory]
    [InlineData("LINESTRING(30 30, 40 35)", 1_000)]
    [InlineData("LINESTRING(30 30, 40 35)", 300_000)]
    [InlineData("LINESTRING(-80 10, 80 10)", 50_000)] // 160° of longitude: its geodesic leaves the parallel by degrees
    [InlineData("LINESTRING(0 70, 40 70)", 2_000)] // bulges to 71.1° N at 20° E
    [InlineData("LINESTRING(170 10, -170 10)", 100_000)] // across the antimeridian
    [InlineData("LINESTRING(-60 84, 60 86)", 20_000)] // near the pole
    [InlineData("MULTILINESTRING((30 30, 40 35), (36 30, 37 40))", 5_000)]
    [InlineData("LINESTRING(36 34, 36.001 34, 36.002 34.001)", 100)] // shorter than one piece
    public async Task Every_point_within_the_distance_of_the_line_lies_in_one_of_its_boxes(string line, double metres)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        // 20,000 points over the one box (longitudes wrap where it spans them all), and the zigzag's 600 vertices.
        var outside = await connection.QueryAsync<string>("""
            WITH shape AS (SELECT ST_GeomFromText(@line, 4326) AS g),
                 box AS (SELECT incident_dwithin_box(g, @metres) AS b, incident_dwithin_boxes(g, @metres) AS boxes FROM shape),
                 points AS (
                     SELECT ST_SetSRID(ST_MakePoint(ST_XMin(b) + random() * (ST_XMax(b) - ST_XMin(b)),
                                                    ST_YMin(b) + random() * (ST_YMax(b) - ST_YMin(b))), 4326) AS p
                     FROM box, generate_series(1, 20000))
            SELECT ST_AsText(p) FROM points, shape, box
            WHERE ST_DWithin(p::geography, g::geography, @metres) AND NOT p && ANY (boxes)
            LIMIT 5
            """, new { line, metres });
        Assert.Empty(outside);
        // The sample must reach the line's neighbourhood, or the test proves nothing.
        var near = await connection.ExecuteScalarAsync<long>("""
            WITH shape AS (SELECT ST_GeomFromText(@line, 4326) AS g)
            SELECT count(*) FROM shape, LATERAL (
                SELECT ST_Project(ST_LineInterpolatePoint(ST_GeometryN(g, 1), f)::geography, @metres * random(), radians(random() * 360))::geometry AS p
                FROM generate_series(0, 1000) f0, LATERAL (SELECT f0 / 1000.0 AS f) t) n, LATERAL (SELECT incident_dwithin_boxes(g, @metres) AS boxes) b
            WHERE NOT n.p && ANY (b.boxes) AND ST_DWithin(n.p::geography, g::geography, @metres)
            """, new { line, metres });
        Assert.Equal(0, near);
    }

    [Fact]
    public async Task A_diagonal_line_reads_a_band_much_smaller_than_its_box_and_a_long_line_at_most_about_200_boxes()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        var (band, box) = await connection.QuerySingleAsync<(double, double)>("""
            WITH shape AS (SELECT 'SRID=4326;LINESTRING(30 30, 40 35)'::geometry AS g)
            SELECT (SELECT sum(ST_Area(b)) FROM unnest(incident_dwithin_boxes(g, 1000)) b), ST_Area(incident_dwithin_box(g, 1000)) FROM shape
            """);
        Assert.True(band < box / 10, $"the band covers {band.ToString(CultureInfo.InvariantCulture)} square degrees, the box {box.ToString(CultureInfo.InvariantCulture)}");

        // 3,000 vertices zigzagging 20,000 km: at most about 200 pieces, each given a box.
        var zigzag = "LINESTRING(" + string.Join(", ", Enumerable.Range(0, 3000).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{-150 + i * 0.1} {(i % 2 == 0 ? 0 : 1.5)}"))) + ")";
        var count = await connection.ExecuteScalarAsync<int>(
            "SELECT cardinality(incident_dwithin_boxes(ST_GeomFromText(@zigzag, 4326), 100))", new { zigzag });
        Assert.InRange(count, 150, 210);
    }
}
