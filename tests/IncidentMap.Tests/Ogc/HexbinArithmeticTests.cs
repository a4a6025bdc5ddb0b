using System.Data;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Hexagon bins place each incident by arithmetic on its point (<see cref="HexagonBins.TryPlace"/>) and ask
/// ST_HexagonGrid only for points within a hair of an edge. The bins must be exactly those of the brute force:
/// per incident, the first hexagon by (i, j) of ST_HexagonGrid over its point that holds it. Rows are inserted in
/// a transaction that is rolled back, so other tests never see them.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class HexbinArithmeticTests(ApiFixture api)
{
    private const string BruteForceSql = """
        SELECT h.i || '/' || h.j AS id, count(*)::int AS count
        FROM incidents i
        CROSS JOIN LATERAL (
            SELECT g.i, g.j FROM ST_HexagonGrid(@size, i.point_3857) g
            WHERE ST_Intersects(i.point_3857, g.geom)
            ORDER BY g.i, g.j LIMIT 1
        ) h
        WHERE i.deleted_at IS NULL AND @tag = ANY(i.tags)
          AND ST_Intersects(i.geom, ST_MakeEnvelope(@west, @south, @east, @north, 4326))
        GROUP BY 1
        """;

    [Theory]
    [InlineData(20_000, -3, -3, 3, 3)]       // round the origin: negative and odd columns and rows
    [InlineData(1234.5, 36.6, 34.6, 36.8, 34.8)]
    [InlineData(200_000, -179, -80, -150, 80)]
    [InlineData(3.7, 10.0001, 20.0001, 10.0004, 20.0003)]
    public async Task Bins_are_those_of_ST_HexagonGrid_over_each_point_also_on_edges_and_corners(double size, double west, double south, double east, double north)
    {
        var tag = "hex-" + Guid.NewGuid().ToString("N")[..12];
        var p = new { tag, size, west, south, east, north };
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);

        // 400 random points over the bbox, three of them twice.
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, fatalities_min, fatalities_max, tags)
            SELECT 'hexbin test ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3], '2016-02-21T07:30:00Z',
                   ST_SetSRID(ST_MakePoint(@west + random() * (@east - @west), @south + random() * (@north - @south)), 4326),
                   g % 5, g % 5 + g % 3, ARRAY[@tag]
            FROM generate_series(1, 400) g;
            INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
            SELECT 'hexbin twin', event_type, occurred_at, geom, tags FROM incidents WHERE @tag = ANY(tags) LIMIT 3;
            """, p, tx);
        // Every corner and the middle of every edge of the hexagons over the bbox, taken to longitude and
        // latitude and back (so a hair either side of the line, or on it), and the origin, a corner of none.
        var edgePoints = await connection.ExecuteScalarAsync<int>("""
            WITH hexagons AS (
                SELECT g.geom FROM ST_HexagonGrid(@size, ST_Transform(ST_MakeEnvelope(@west, @south, @east, @north, 4326), 3857)) g
                ORDER BY g.i, g.j LIMIT 60
            ), corners AS (
                SELECT (d).geom AS corner, lead((d).geom) OVER (PARTITION BY h.geom ORDER BY (d).path) AS next
                FROM (SELECT geom, ST_DumpPoints(geom) AS d FROM hexagons) h
            ), points AS (
                SELECT corner AS p FROM corners
                UNION ALL SELECT ST_LineInterpolatePoint(ST_MakeLine(corner, next), 0.5) FROM corners WHERE next IS NOT NULL
                UNION ALL SELECT ST_SetSRID(ST_MakePoint(0, 0), 3857)
            ), inserted AS (
                INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
                SELECT 'hexbin edge', 'battles', '2016-02-21T07:30:00Z', ST_Transform(p, 4326), ARRAY[@tag] FROM points
                RETURNING 1
            )
            SELECT count(*)::int FROM inserted
            """, p, tx);
        // A line crossing in from outside the bbox (counted at its point, in a hexagon of the same grid).
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
            VALUES ('hexbin line', 'riots', '2016-02-21T07:30:00Z',
                    ST_SetSRID(ST_MakeLine(ST_MakePoint(@west - (@east - @west), @south - (@north - @south)),
                                           ST_MakePoint((@west + @east) / 2, (@south + @north) / 2)), 4326), ARRAY[@tag])
            """, p, tx);

        var query = new IncidentQuery { Tags = [tag], Bbox = [new Box(west, south, east, north)] };
        var answer = await HexagonBins.ComputeAsync(connection, query, size, IncidentQuery.DefaultPrecision, byPointsIndex: false,
            CancellationToken.None, tx);
        var bins = answer.Features
            .Select(b => JsonNode.Parse(b)!)
            .ToDictionary(b => b["id"]!.GetValue<string>(), b => b["properties"]!["count"]!.GetValue<int>());
        var expected = (await connection.QueryAsync<(string Id, int Count)>(BruteForceSql, p, tx)).ToDictionary(e => e.Id, e => e.Count);

        Assert.True(expected.Values.Sum() >= 403, $"only {expected.Values.Sum()} incidents in the bbox");
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), bins.OrderBy(e => e.Key, StringComparer.Ordinal));

        // ST_HexagonGrid runs for the points near an edge at most (the 403 random ones are never that near), not for
        // every incident as it once did; and it does run for those (the corners, at least).
        Assert.InRange(answer.PointsOnEdges, 1, expected.Values.Sum() - 403);
        await tx.RollbackAsync();
    }
}
