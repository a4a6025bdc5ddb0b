using System.Data;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// A cluster tile below zoom 8 filtered by tolls (fatalities, fatalities_min, fatalities_max; with at most event types and
/// countries) reads every live incident's entry of <c>incidents_occurred_points_idx</c> when the tile holds many incidents,
/// and the tile's incidents from the table when it holds few (<see cref="TileSql.TollsOnly"/>). It read them from the table
/// whatever the tile: a z3 tile over Homs with fatalities=10.. took 3.6-5.7 s on the bench's million.
/// </summary>
public sealed class TollTilePlanTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    [Theory]
    [InlineData(3, 4, 3)]                                // all of the plan database's 200,000 incidents
    [InlineData(0, 0, 0)]
    public async Task A_tolls_tile_over_many_incidents_is_an_index_only_scan(int z, int x, int y)
    {
        var query = new IncidentQuery { FatalitiesAtLeast = 10 };
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("VACUUM incidents");
        var (sql, parameters) = TileSql.Tile(query, z, x, y);
        var plan = await ExplainAnalyzeAsync(connection, sql, parameters);
        var ran = Ran(plan).Where(n => n["Relation Name"]?.GetValue<string>() == "incidents").ToList();
        Assert.Contains(ran, n => n["Node Type"]?.GetValue<string>() == "Index Only Scan" && n["Index Name"]?.GetValue<string>() == "incidents_occurred_points_idx");
        Assert.DoesNotContain(ran, n => n["Node Type"]?.GetValue<string>() is "Bitmap Heap Scan" or "Seq Scan");

        // Under a third of the buffers the table's path reads (every time precision keeps the old SQL).
        var (oldSql, oldParameters) = TileSql.Tile(query with { TimePrecisions = ["exact", "day", "week", "month"] }, z, x, y);
        var slow = Buffers(await ExplainAnalyzeAsync(connection, oldSql, oldParameters));
        Assert.True(Buffers(plan) * 3 < slow, $"{Buffers(plan)} buffers through the index, {slow} from the table");
    }

    [Theory]
    [InlineData(3, 0, 0)]                                // nothing there
    [InlineData(7, 76, 51)]                              // the south-western tail of Homs: about a hundred of 200,000
    public async Task A_tolls_tile_over_few_incidents_reads_the_table(int z, int x, int y)
    {
        var query = new IncidentQuery { FatalitiesAtLeast = 10, EventTypes = ["battles"] };
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (sql, parameters) = TileSql.Tile(query, z, x, y);
        var ran = Ran(await ExplainAnalyzeAsync(connection, sql, parameters)).Where(n => n["Relation Name"]?.GetValue<string>() == "incidents").ToList();
        Assert.DoesNotContain(ran, n => n["Index Name"]?.GetValue<string>() == "incidents_occurred_points_idx");
        Assert.NotEmpty(ran);
    }

    [Fact]
    public void Only_tolls_with_event_types_and_countries_at_most_choose_between_the_index_and_the_table()
    {
        Assert.True(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtLeast = 10 }));
        Assert.True(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtMost = 3, EventTypes = ["riots"], Countries = ["SY"] }));
        Assert.True(TileSql.TollsOnly(new IncidentQuery { FatalitiesMin = [0], FatalitiesMax = [1, 2] }));
        Assert.False(TileSql.TollsOnly(new IncidentQuery()));
        Assert.False(TileSql.TollsOnly(new IncidentQuery { Statuses = ["verified"] }));
        Assert.False(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtLeast = 10, Statuses = ["verified"] }));
        Assert.False(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtLeast = 10, Tags = ["x"] }));
        Assert.False(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtLeast = 10, From = DateTimeOffset.UnixEpoch }));
        Assert.False(TileSql.TollsOnly(new IncidentQuery { FatalitiesAtLeast = 10, Bbox = [new Box(0, 0, 1, 1)] }));
        // A window with tolls reads the window's range of the index, as a window alone does.
        Assert.True(TileSql.WindowOnly(new IncidentQuery { FatalitiesAtLeast = 10, From = DateTimeOffset.UnixEpoch }));
    }

    private static async Task<JsonNode?> ExplainAnalyzeAsync(Npgsql.NpgsqlConnection connection, string sql, DynamicParameters parameters) =>
        JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, parameters) ?? "null");

    private static long Buffers(JsonNode? plan)
    {
        var root = plan![0]!["Plan"]!;
        return root["Shared Hit Blocks"]!.GetValue<long>() + root["Shared Read Blocks"]!.GetValue<long>();
    }

    /// <summary>The plan's nodes that ran (a branch behind a false one-time filter never does: no loops).</summary>
    private static IEnumerable<JsonObject> Ran(JsonNode? node) => node switch
    {
        JsonObject o when o["Actual Loops"]?.GetValue<long>() == 0 => [],
        JsonObject o => [o, .. o.SelectMany(p => Ran(p.Value))],
        JsonArray a => a.SelectMany(Ran),
        _ => [],
    };
}

/// <summary>
/// A tolls tile is byte for byte the same through the index, through the table and as the grid's count chooses, and the
/// same as the old SQL's (every time precision besides keeps it): at every zoom below 8, over points on the map's edges,
/// corners and beyond, the antimeridian, a line and a polygon, with every kind of toll filter, with event types and
/// countries, and with a window. Rows are inserted in a transaction that is rolled back.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TollTileTests(ApiFixture api)
{
    [Fact]
    public async Task Tolls_tiles_are_the_same_through_the_index_and_the_table()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var when = new DateTimeOffset(1986, 5, 2 + Random.Shared.Next(20), 7, 30, 0, TimeSpan.Zero);
        await connection.ExecuteAsync($"""
            INSERT INTO incidents (title, event_type, country, occurred_at, geom, fatalities_min, fatalities_max)
            SELECT 'toll tile ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3], (ARRAY['FJ', NULL, 'TO'])[1 + g % 3],
                   @when, ST_SetSRID(ST_MakePoint(-179.9 + random() * 359.8, -85 + random() * 170), 4326),
                   CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 END, CASE WHEN g % 5 = 0 THEN NULL ELSE g % 7 + 2 * (g % 3) END
            FROM generate_series(1, 300) g
            UNION ALL
            SELECT 'toll edge ' || e.n, 'riots', 'FJ', @when, ST_GeomFromText(e.wkt, 4326), e.n % 3, 12
            FROM {ClusterTileCases.EdgeShapes}
            """, new { when }, tx);

        var everyPrecision = new[] { "exact", "day", "week", "month" };
        var compared = 0;
        IncidentQuery[] queries =
        [
            new() { FatalitiesAtLeast = 3 },
            new() { FatalitiesAtMost = 2 },
            new() { FatalitiesAtLeast = 2, FatalitiesAtMost = 5, EventTypes = ["riots"] },
            new() { FatalitiesMin = [0, 1], Countries = ["FJ", "TO"] },
            new() { FatalitiesMax = [12], EventTypes = ["riots", "battles"], Countries = ["FJ"] },
            new() { FatalitiesAtLeast = 3, From = when.AddHours(-1), Until = when.AddHours(1) },
        ];
        foreach (var query in queries)
        {
            var old = query with { TimePrecisions = everyPrecision };
            for (var z = 0; z < TileSql.ClusterBelowZoom; z++)
            {
                foreach (var (x, y) in ClusterTileCases.Tiles(z))
                {
                    var (oldSql, oldParameters) = TileSql.Tile(old, z, x, y);
                    Assert.Contains("i.geom &&", oldSql);
                    Assert.DoesNotContain("tile_grid", oldSql);
                    var expected = await connection.ExecuteScalarAsync<byte[]>(oldSql, oldParameters, tx) ?? [];
                    foreach (var byIndex in new bool?[] { true, false, null })
                    {
                        var (sql, parameters) = TileSql.Tile(query, z, x, y, byIndex);
                        var actual = await connection.ExecuteScalarAsync<byte[]>(sql, parameters, tx) ?? [];
                        Assert.True(expected.AsSpan().SequenceEqual(actual), $"tile {z}/{x}/{y} by index {byIndex}: {actual.Length} bytes, {expected.Length} before");
                    }
                    if (expected.Length > 0) compared++;
                }
            }
        }
        Assert.True(compared > 60, $"only {compared} tiles held clusters");
        await tx.RollbackAsync();
    }
}
