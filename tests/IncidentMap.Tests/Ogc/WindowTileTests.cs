using System.Data;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Cluster tiles of a time window (with at most event types and countries) are read from
/// <c>incidents_occurred_points_idx</c> alone (migration 0051), without the test on geom that kept them off it:
/// they read every incident of the tile in the window from the table before (a z0 tile of four years, 400,000
/// incidents: 1.3-5.5 s on the bench's million).
/// </summary>
public sealed class WindowTilePlanTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(3, 4, 3)]
    public async Task A_windows_cluster_tile_is_an_index_only_scan(int z, int x, int y)
    {
        // Four years of the ten (a narrow window with a rare event type may rather take that type's index).
        var query = new IncidentQuery { From = new DateTimeOffset(2012, 1, 1, 0, 0, 0, TimeSpan.Zero), Until = new DateTimeOffset(2016, 1, 1, 0, 0, 0, TimeSpan.Zero) };
        Assert.True(TileSql.WindowOnly(query));
        var (sql, parameters) = TileSql.Tile(query, z, x, y);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("VACUUM incidents");
        var plan = await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, parameters) ?? "";
        Assert.Contains("\"Index Only Scan\"", plan);
        Assert.Contains("incidents_occurred_points_idx", plan);
    }

    [Fact]
    public void Only_a_window_with_event_types_and_countries_at_most_goes_without_geom()
    {
        var from = DateTimeOffset.UnixEpoch;
        Assert.True(TileSql.WindowOnly(new IncidentQuery { From = from }));
        Assert.True(TileSql.WindowOnly(new IncidentQuery { Until = from, Countries = ["SY"] }));
        Assert.False(TileSql.WindowOnly(new IncidentQuery()));
        Assert.False(TileSql.WindowOnly(new IncidentQuery { EventTypes = ["battles"] }));
        Assert.False(TileSql.WindowOnly(new IncidentQuery { From = from, Bbox = [new Box(0, 0, 1, 1)] }));
        Assert.False(TileSql.WindowOnly(new IncidentQuery { From = from, Statuses = ["verified"] }));
        Assert.False(TileSql.WindowOnly(new IncidentQuery { From = from, Tags = ["x"] }));
    }
}

/// <summary>
/// A window's cluster tiles, computed without the test on geom, are byte for byte those computed with it (the
/// same window and every status, which keeps the old SQL), at every zoom below 8, over points on the map's
/// edges and corners, beyond them, at the antimeridian, and a line and a polygon. Rows are inserted in a
/// transaction that is rolled back, at a time no other test uses.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class WindowTileTests(ApiFixture api)
{
    [Fact]
    public async Task Window_tiles_without_geom_are_those_with_it()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var when = new DateTimeOffset(1987, 3, 2 + Random.Shared.Next(20), 7, 30, 0, TimeSpan.Zero);
        await connection.ExecuteAsync($"""
            INSERT INTO incidents (title, event_type, country, occurred_at, geom, fatalities_min, fatalities_max)
            SELECT 'window tile ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3], (ARRAY['FJ', NULL, 'TO'])[1 + g % 3],
                   @when, ST_SetSRID(ST_MakePoint(-179.9 + random() * 359.8, -85 + random() * 170), 4326),
                   CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 END, CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 + 2 END
            FROM generate_series(1, 300) g
            UNION ALL
            SELECT 'window edge ' || e.n, 'riots', 'FJ', @when, ST_GeomFromText(e.wkt, 4326), 1, 2
            FROM {ClusterTileCases.EdgeShapes}
            -- A window reaches back a month for incidents that last into it: one that started before and lasts.
            UNION ALL
            SELECT 'window before', 'battles', 'SY', @when - interval '20 days', ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), 3, 3
            """, new { when }, tx);
        await connection.ExecuteAsync("UPDATE incidents SET time_precision = 'month' WHERE title = 'window before' AND occurred_at = @at",
            new { at = when.AddDays(-20) }, tx);

        var window = new IncidentQuery { From = when.AddHours(-1), Until = when.AddHours(1) };
        var compared = 0;
        foreach (var (types, countries) in new (IReadOnlyList<string>?, IReadOnlyList<string>?)[] { (null, null), (["riots"], null), (null, ["FJ", "SY"]) })
        {
            var fast = window with { EventTypes = types, Countries = countries };
            var old = fast with { Statuses = ["reported", "verified", "disputed", "retracted"] };
            Assert.True(TileSql.WindowOnly(fast));
            Assert.False(TileSql.WindowOnly(old));
            for (var z = 0; z < TileSql.ClusterBelowZoom; z++)
            {
                foreach (var (x, y) in ClusterTileCases.Tiles(z))
                {
                    var (fastSql, fastParameters) = TileSql.Tile(fast, z, x, y);
                    var (oldSql, oldParameters) = TileSql.Tile(old, z, x, y);
                    Assert.DoesNotContain("i.geom &&", fastSql);
                    Assert.Contains("i.geom &&", oldSql);
                    var expected = await connection.ExecuteScalarAsync<byte[]>(oldSql, oldParameters, tx) ?? [];
                    var actual = await connection.ExecuteScalarAsync<byte[]>(fastSql, fastParameters, tx) ?? [];
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"tile {z}/{x}/{y} types {types?.Count} countries {countries?.Count}");
                    if (expected.Length > 0) compared++;
                }
            }
        }
        Assert.True(compared > 30, $"only {compared} tiles held clusters");
        await tx.RollbackAsync();
    }
}
