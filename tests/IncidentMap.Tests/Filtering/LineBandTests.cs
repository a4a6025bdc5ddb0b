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
    [InlineData("MULTILINESTRING((30 30, 30.5 30.5), (31 30, 31.5 30.2), (32 31, 32 31.5), (30 32, 33 33), (33 33, 34 30), (35 31, 35.2 31.1), (36 30, 36.1 30.1), (37 30, 37 30.3), (38 30, 38.2 30), (39 31, 39 31.2), (40 30, 40.1 30), (30 35, 31 35), (32 35, 32.2 35.4), (33 35, 33.3 35), (34 35, 34 35.2), (35 35, 35.1 35.2), (36 35, 36.3 35), (37 35, 37 35.5), (38 35, 38.1 35.1), (39 35, 39.4 35), (40 35, 40 35.2), (30 36, 30.2 36), (31 36, 31 36.3), (32 36, 32.1 36.1), (33 36, 33.4 36), (34 36, 34 36.2), (35 36, 35.3 36.1), (36 36, 36.2 36), (37 36, 37 36.4), (38 36, 38.1 36.2), (39 36, 39.2 36), (40 36, 40.1 36.1), (30 37, 30.3 37), (31 37, 31 37.3), (32 37, 32.2 37.2), (33 37, 33.1 37), (34 37, 34 37.1), (35 37, 35.2 37.2), (36 37, 36.3 37), (37 37, 37 37.2), (38 37, 38.2 37.1), (39 37, 39.1 37), (40 37, 40 37.3), (30 38, 30.1 38.1), (31 38, 31.3 38), (32 38, 32 38.2), (33 38, 33.2 38.2), (34 38, 34.1 38), (35 38, 35 38.4), (36 38, 36.2 38.1), (37 38, 37.1 38), (38 38, 38 38.3), (39 38, 39.2 38.2), (40 38, 40.1 38), (30 39, 30 39.2), (31 39, 31.2 39.1), (32 39, 32.3 39), (33 39, 33 39.3), (34 39, 34.2 39.2), (35 39, 35.1 39), (36 39, 36 39.1), (37 39, 37.3 39.2), (38 39, 38.1 39), (39 39, 39 39.4), (40 39, 40.2 39.1), (30 40, 30.3 40), (31 40, 31 40.2), (32 40, 32.1 40.1), (33 40, 33.4 40), (34 40, 34 40.3), (35 40, 35.2 40.2), (36 40, 36.1 40), (37 40, 37 40.1), (38 40, 38.3 40.2), (39 40, 39.1 40), (40 40, 40 40.2), (30 41, 30.2 41.1), (31 41, 31.1 41), (32 41, 32 41.3), (33 41, 33.2 41.2), (34 41, 34.1 41), (35 41, 35 41.2), (36 41, 36.3 41.1), (37 41, 37.1 41), (38 41, 38 41.4), (39 41, 39.2 41.2), (40 41, 40.1 41), (30 42, 30 42.2), (31 42, 31.3 42.1), (32 42, 32.1 42), (33 42, 33 42.3), (34 42, 34.2 42.2), (35 42, 35.1 42), (36 42, 36 42.1), (37 42, 37.2 42.2), (38 42, 38.1 42), (39 42, 39 42.3), (40 42, 40.3 42.1), (30 43, 30.1 43), (31 43, 31 43.2), (32 43, 32.2 43.2))", 20_000)] // over 100 parts: groups run on across parts
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

        // 5,000 parts of two vertices each (the 10,000 vertices a filter's geometry may have): not a box each.
        var parts = "MULTILINESTRING(" + string.Join(", ", Enumerable.Range(0, 5000).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"({-150 + i * 0.05} 0, {-150 + i * 0.05} 0.01)"))) + ")";
        var boxes = await connection.ExecuteScalarAsync<int>(
            "SELECT cardinality(incident_dwithin_boxes(ST_GeomFromText(@parts, 4326), 100))", new { parts });
        Assert.InRange(boxes, 1, 210);
    }
}
