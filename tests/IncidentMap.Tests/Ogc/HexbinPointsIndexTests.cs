using System.Data;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;
using static IncidentMap.Tests.Infrastructure.PlanJson;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Hexagon bins of a bbox with at most a time window, event types and countries read the points well inside the bbox
/// from <c>incidents_occurred_points_idx</c> alone, also over all time, where the bbox holds much of the table: they
/// read every incident of the bbox from the table (1.1 GB at a million; the world's 200 km bins 5-21 s on the bench).
/// </summary>
public sealed class HexbinPointsIndexPlanTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    [Theory]
    [InlineData("bbox=35,32,45,37")]                                        // Homs, Aleppo and Baghdad, all time
    [InlineData("bbox=-180,-85,180,85")]                                    // the map, all time: was a seq scan
    [InlineData("bbox=35,32,45,37&event_type=battles,riots&country=SY")]
    [InlineData("bbox=35,32,45,37&datetime=2012-01-01/2016-01-01")]
    public async Task Bins_of_a_large_bbox_are_an_index_only_scan_of_the_points(string parameters)
    {
        var query = QueryHelpers.ParsedQuery(parameters);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("VACUUM incidents");
        // As the endpoint decides.
        Assert.True(TileSql.WindowIndexEstimate(query, anyTime: true) is var (estimateSql, estimateParameters)
            && TileSql.WindowIndexPays(await connection.ExecuteScalarAsync<string>(estimateSql, estimateParameters)), parameters);

        var (sql, sqlParameters) = TileSql.HexbinPoints(query, byPointsIndex: true);
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, sqlParameters) ?? "null");
        var scans = Nodes(plan).Where(n => n["Relation Name"]?.GetValue<string>() == "incidents").ToList();
        Assert.Contains(scans, n => n["Node Type"]?.GetValue<string>() == "Index Only Scan"
            && n["Index Name"]?.GetValue<string>() == "incidents_occurred_points_idx");
        Assert.All(scans, n => Assert.NotEqual("Seq Scan", n["Node Type"]?.GetValue<string>()));

        // Under a third of the buffers of the table's path (the same bins: HexbinPointsIndexTests).
        var (tableSql, tableParameters) = TileSql.HexbinPoints(query, byPointsIndex: false);
        var fast = await Buffers(connection, sql, sqlParameters);
        var slow = await Buffers(connection, tableSql, tableParameters);
        Assert.True(fast * 3 < slow, $"{parameters}: {fast} buffers through the points' index, {slow} from the table");
    }

    [Theory]
    [InlineData("bbox=36.70,34.70,36.72,34.72")]                            // a small part of Homs
    [InlineData("bbox=10,50,11,51")]                                        // nothing there
    public async Task Bins_of_a_small_bbox_read_the_table(string parameters)
    {
        var query = QueryHelpers.ParsedQuery(parameters);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (estimateSql, estimateParameters) = TileSql.WindowIndexEstimate(query, anyTime: true)!.Value;
        Assert.False(TileSql.WindowIndexPays(await connection.ExecuteScalarAsync<string>(estimateSql, estimateParameters)), parameters);
    }

    [Fact]
    public void Only_a_bbox_with_at_most_a_window_event_types_and_countries_reads_the_points_index()
    {
        var bbox = QueryHelpers.ParsedQuery("bbox=35,32,43,38");
        Assert.NotNull(TileSql.WindowIndexEstimate(bbox, anyTime: true));
        Assert.NotNull(TileSql.WindowIndexEstimate(bbox with { Countries = ["SY"], EventTypes = ["riots"] }, anyTime: true));
        Assert.Null(TileSql.WindowIndexEstimate(bbox, anyTime: false));
        Assert.Null(TileSql.WindowIndexEstimate(bbox with { Statuses = ["verified"] }, anyTime: true));
        Assert.Null(TileSql.WindowIndexEstimate(bbox with { Tags = ["shelling"] }, anyTime: true));
        Assert.DoesNotContain("UNION ALL", TileSql.HexbinPoints(bbox with { Tags = ["shelling"] }, byPointsIndex: true).Sql);
        Assert.Contains("UNION ALL", TileSql.HexbinPoints(bbox, byPointsIndex: true).Sql);
    }
}

/// <summary>
/// Hexagon bins read through <c>incidents_occurred_points_idx</c> are byte for byte those read from the table: over
/// random points, points on the bbox's edges and corners and 1e-9°, 1e-6° and 0.01° either side of them, lines and a
/// polygon that cross an edge from a point outside, a polygon round the whole bbox, a multipoint whose point lies far
/// outside, with and without a window, event types and countries, at several edges. Rows are inserted in a transaction
/// that is rolled back; whatever other tests left in the bbox is counted by both alike.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class HexbinPointsIndexTests(ApiFixture api)
{
    [Theory]
    [InlineData(-131, -61, -121, -55, 50_000)]
    [InlineData(-131, -61, -121, -55, 7_500)]
    [InlineData(-131.5, -60.25, -131.25, -60, 300)]
    [InlineData(170, 80, 180, 85.0511287798066, 100_000)]    // up to the map's edges: points there are clamped in
    public async Task Bins_through_the_points_index_are_those_from_the_table(double west, double south, double east, double north, double size)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var p = new { west, south, east, north };
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, country, geom, fatalities_min, fatalities_max)
            SELECT 'hexbin index ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3],
                   timestamptz '2013-01-01Z' + (g % 700) * interval '1 day', (ARRAY['FJ', 'TO', 'NZ'])[1 + g % 3],
                   ST_SetSRID(ST_MakePoint(@west + random() * (@east - @west), @south + random() * (@north - @south)), 4326),
                   g % 5, g % 5 + g % 3
            FROM generate_series(1, 600) g;
            -- Every corner and edge middle, and 1e-9, 1e-6 and 0.01 degrees either side.
            INSERT INTO incidents (title, event_type, occurred_at, country, geom)
            SELECT 'hexbin index edge', 'riots', '2013-06-01Z', 'FJ',
                   ST_SetSRID(ST_MakePoint(least(greatest(x + dx, -180), 180), least(greatest(y + dy, -90), 90)), 4326)
            FROM (VALUES (@west), ((@west + @east) / 2), (@east)) xs(x),
                 (VALUES (@south), ((@south + @north) / 2), (@north)) ys(y),
                 (VALUES (0.0), (1e-9), (-1e-9), (1e-6), (-1e-6), (0.01), (-0.01)) ddx(dx),
                 (VALUES (0.0), (1e-9), (-1e-9), (1e-6), (-1e-6), (0.01), (-0.01)) ddy(dy);
            -- Shapes whose point lies outside the bbox, or that lie round it.
            INSERT INTO incidents (title, event_type, occurred_at, country, geom) VALUES
                ('hexbin index line', 'battles', '2013-06-01Z', 'TO',
                 ST_SetSRID(ST_MakeLine(ARRAY[ST_MakePoint(@west - 3, @south - 1), ST_MakePoint(@west - 2, @south - 1),
                                              ST_MakePoint((@west + @east) / 2, (@south + @north) / 2)]), 4326)),
                ('hexbin index round', 'protests', '2013-06-01Z', 'NZ',
                 ST_Buffer(ST_SetSRID(ST_MakePoint((@west + @east) / 2, (@south + @north) / 2), 4326), (@east - @west) * 2)),
                ('hexbin index multipoint', 'riots', '2013-06-01Z', 'FJ',
                 ST_SetSRID(ST_Collect(ST_MakePoint(@west - 20, @south - 10), ST_MakePoint((@west + @east) / 2, (@south + @north) / 2)), 4326));
            """, p, tx);

        foreach (var filters in new[] { "", "&datetime=2013-03-01/2013-12-31", "&event_type=riots,battles", "&country=FJ&datetime=2013-05-01/.." })
        {
            var query = QueryHelpers.ParsedQuery(FormattableString.Invariant($"bbox={west},{south},{east},{north}{filters}"));
            Assert.Contains("UNION ALL", TileSql.HexbinPoints(query, byPointsIndex: true).Sql);
            var byIndex = await HexagonBins.ComputeAsync(connection, query, size, 7, byPointsIndex: true, CancellationToken.None, tx);
            var byTable = await HexagonBins.ComputeAsync(connection, query, size, 7, byPointsIndex: false, CancellationToken.None, tx);
            Assert.True(byTable.Features.Count > 1, $"{filters}: {byTable.Features.Count} bins");
            Assert.Equal(byTable.Features, byIndex.Features);
        }
        await tx.RollbackAsync();
    }
}
