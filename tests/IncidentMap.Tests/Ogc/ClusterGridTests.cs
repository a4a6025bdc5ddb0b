using System.Data;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// The grid of cluster sums (migrations 0040 and 0056) that answers cluster tiles and /clusters without filters
/// other than event_type, country and status: it always holds exactly the sums over the stored incidents, and what is
/// computed from it is byte for byte what the incidents give. On the shared test database, compared
/// within one snapshot, so other tests' writes change both sides alike.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ClusterGridTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>
    /// A query the grid cannot serve that matches what the unfiltered one does: every time precision. (Every status was
    /// this query until migration 0056 keyed the grid by status.)
    /// </summary>
    internal static readonly IncidentQuery EveryTimePrecision = new() { TimePrecisions = ["exact", "day", "week", "month"] };

    /// <summary>
    /// Rows where the grid (folded and deltas) and a sum over the stored incidents disagree, either way.
    /// The cell functions are the trigger's own; the tile comparisons check them against TileSql's.
    /// </summary>
    internal const string GridDifferencesSql = """
        WITH grid AS (
            SELECT cy, cx, event_type, country, status, sum(incidents) AS incidents, sum(fatalities_min_sum) AS fmin, sum(fatalities_max_sum) AS fmax,
                   sum(x_mm_sum) AS x, sum(y_mm_sum) AS y
            FROM (SELECT * FROM incident_grid UNION ALL SELECT * FROM incident_grid_changes) g
            GROUP BY 1, 2, 3, 4, 5
            HAVING sum(incidents) <> 0 OR sum(fatalities_min_sum) <> 0 OR sum(fatalities_max_sum) <> 0 OR sum(x_mm_sum) <> 0 OR sum(y_mm_sum) <> 0
        ), stored AS (
            SELECT incident_grid_cy(point_3857) AS cy, incident_grid_cx(point_3857) AS cx, event_type, coalesce(country, '')::text AS country,
                   status, count(*)::numeric AS incidents,
                   coalesce(sum(fatalities_min), 0)::numeric AS fmin, coalesce(sum(fatalities_max), 0)::numeric AS fmax,
                   sum(round(ST_X(point_3857) * 1000)::bigint) AS x, sum(round(ST_Y(point_3857) * 1000)::bigint) AS y
            FROM incidents
            WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
            GROUP BY 1, 2, 3, 4, 5
        )
        SELECT count(*)::int FROM ((TABLE grid EXCEPT TABLE stored) UNION ALL (TABLE stored EXCEPT TABLE grid)) differences
        """;

    /// <summary>Incidents in a random patch of the empty South Pacific: a few per cell, with ties between event types, and none of
    /// them, some or all tolls unknown, of every status. Returns their ids.</summary>
    private static async Task<List<long>> InsertPatchAsync(NpgsqlConnection connection, double lon, double lat)
    {
        return (await connection.QueryAsync<long>("""
            INSERT INTO incidents (title, event_type, country, occurred_at, geom, fatalities_min, fatalities_max, status)
            SELECT 'grid test ' || g,
                   (ARRAY['battles', 'riots', 'protests'])[1 + g % 3],
                   (ARRAY['FJ', NULL, 'TO', 'FJ'])[1 + g % 4],
                   '2016-02-21T07:30:00Z'::timestamptz,
                   ST_SetSRID(ST_MakePoint(@lon + (g % 5) * 0.37, @lat + (g / 5) * 0.29), 4326),
                   CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 END,
                   CASE WHEN g % 4 = 0 THEN NULL WHEN g % 4 = 1 THEN g % 7 ELSE g % 7 + 3 END,
                   (ARRAY['reported', 'verified', 'reported', 'disputed', 'retracted'])[1 + (g / 2) % 5]
            FROM generate_series(0, 39) AS g
            UNION ALL
            -- On the edges of the map and beyond, on both sides of the antimeridian, and a line and a polygon.
            SELECT 'grid edge ' || e.n, 'riots', 'FJ', '2016-02-21T07:30:00Z'::timestamptz, ST_GeomFromText(e.wkt, 4326), 1, 2,
                   CASE WHEN e.n % 2 = 0 THEN 'verified' ELSE 'reported' END
            FROM (VALUES (1, 'POINT(180 10)'), (2, 'POINT(-180 -10)'), (3, 'POINT(17 85.0511287798)'), (4, 'POINT(-17 -85.0511287798)'),
                         (5, 'POINT(18 85.06)'), (6, 'LINESTRING(-179.5 1, 179.5 2)'),
                         (7, 'POLYGON((100 -5, 101 -5, 101 -4, 100 -4, 100 -5))'),
                         -- Parts far apart: its point is in one of the first two, and a bbox round the third holds it.
                         (8, 'MULTIPOINT((-100 -30), (-99.5 -30.2), (60 -31))')) AS e(n, wkt)
            RETURNING id
            """, new { lon, lat })).AsList();
    }

    private static (double Lon, double Lat) RandomPatch() => (-150 + Random.Shared.NextDouble() * 30, -45 + Random.Shared.NextDouble() * 20);

    /// <summary>The tile of zoom z holding a point.</summary>
    private static (int X, int Y) TileOf(double lon, double lat, int z)
    {
        var (x, y) = TileSql.Mercator(lon, lat);
        var n = 1 << z;
        return ((int)Math.Floor((x + TileSql.WorldHalf) / TileSql.WorldSize * n), (int)Math.Floor((TileSql.WorldHalf - y) / TileSql.WorldSize * n));
    }

    /// <summary>Runs <paramref name="compare"/> in one REPEATABLE READ snapshot, as the superuser.</summary>
    private async Task InOneSnapshotAsync(Func<NpgsqlConnection, NpgsqlTransaction, Task> compare)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        await compare(connection, tx);
        await tx.RollbackAsync();
    }

    private static async Task<byte[]> TileAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IncidentQuery query, int z, int x, int y)
    {
        var (sql, parameters) = TileSql.Tile(query, z, x, y);
        return await connection.ExecuteScalarAsync<byte[]>(sql, parameters, tx) ?? [];
    }

    private static async Task<List<string>> ClustersAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IncidentQuery query, int zoom)
    {
        var (sql, parameters) = TileSql.Clusters(query, zoom, IncidentQuery.DefaultPrecision, 50_000);
        return (await connection.QueryAsync<string>(sql, parameters, tx)).AsList();
    }

    private async Task AssertGridMatchesIncidentsAsync()
    {
        await InOneSnapshotAsync(async (connection, tx) =>
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>(GridDifferencesSql, transaction: tx)));
    }

    [Fact]
    public void The_grid_serves_no_filter_or_event_types_countries_and_statuses_only()
    {
        Assert.True(TileSql.GridServes(new IncidentQuery()));
        Assert.True(TileSql.GridServes(new IncidentQuery { EventTypes = ["battles"], Limit = 100, Count = true, Precision = 5 }));
        Assert.True(TileSql.GridServes(new IncidentQuery { Countries = ["SY"], EventTypes = ["battles"] }));
        Assert.True(TileSql.GridServes(new IncidentQuery { Statuses = ["verified"] }));
        Assert.True(TileSql.GridServes(new IncidentQuery { Statuses = ["reported", "disputed"], Countries = ["SY"], EventTypes = ["battles"] }));
        Assert.False(TileSql.GridServes(EveryTimePrecision));
        Assert.False(TileSql.GridServes(new IncidentQuery { FatalitiesAtLeast = 10 }));
        Assert.False(TileSql.GridServes(new IncidentQuery { Bbox = [new Box(0, 0, 1, 1)] }));
        Assert.False(TileSql.GridServes(new IncidentQuery { From = DateTimeOffset.UnixEpoch }));
        Assert.False(TileSql.GridServes(new IncidentQuery { Tags = ["x"] }));
        Assert.False(TileSql.GridServes(new IncidentQuery { IncludeDeleted = true }));
        Assert.True(TileSql.GridServesClusters(new IncidentQuery(), TileSql.ClusterBelowZoom - 1));
        Assert.False(TileSql.GridServesClusters(new IncidentQuery(), TileSql.ClusterBelowZoom));
    }

    [Fact]
    public async Task Grid_tiles_and_clusters_are_byte_for_byte_those_computed_from_the_incidents()
    {
        var (lon, lat) = RandomPatch();
        await using (var connection = await api.Database.OpenConnectionAsync())
            await InsertPatchAsync(connection, lon, lat);

        await InOneSnapshotAsync(async (connection, tx) =>
        {
            var compared = 0;
            foreach (var (types, countries, statuses) in new (IReadOnlyList<string>?, IReadOnlyList<string>?, IReadOnlyList<string>?)[]
                         {
                             (null, null, null), (["riots"], null, null), (["battles", "protests"], null, null), (null, ["FJ"], null),
                             (["battles"], ["TO", "FJ"], null), (null, null, ["verified"]), (null, null, ["reported", "disputed", "retracted"]),
                             (["riots"], ["FJ"], ["verified", "disputed"]),
                         })
            {
                var grid = new IncidentQuery { EventTypes = types, Countries = countries, Statuses = statuses };
                var incidents = EveryTimePrecision with { EventTypes = types, Countries = countries, Statuses = statuses };
                var tiles = new HashSet<(int Z, int X, int Y)> { (0, 0, 0), (1, 1, 0), (1, 0, 1), (2, 3, 1) };
                for (var z = 0; z < TileSql.ClusterBelowZoom; z++)
                {
                    tiles.Add((z, TileOf(lon, lat, z).X, TileOf(lon, lat, z).Y));
                    // The edge points, the line and the polygon of the patch at every zoom.
                    foreach (var (edgeLon, edgeLat) in new[] { (180.0, 10.0), (-180.0, -10.0), (17.0, 85.0511287798), (-17.0, -85.0511287798), (-179.5, 1.0), (100.5, -4.5), (-99.5, -30.2) })
                        tiles.Add((z, Math.Min(TileOf(edgeLon, edgeLat, z).X, (1 << z) - 1), Math.Min(TileOf(edgeLon, edgeLat, z).Y, (1 << z) - 1)));
                }
                foreach (var (z, x, y) in tiles)
                {
                    var fromGrid = await TileAsync(connection, tx, grid, z, x, y);
                    var fromIncidents = await TileAsync(connection, tx, incidents, z, x, y);
                    Assert.True(fromGrid.AsSpan().SequenceEqual(fromIncidents), $"tile {z}/{y}/{x} (event types {string.Join(",", types ?? [])}, countries {string.Join(",", countries ?? [])}, statuses {string.Join(",", statuses ?? [])}): {fromGrid.Length} bytes from the grid, {fromIncidents.Length} from the incidents");
                    if (fromGrid.Length > 0) compared++;
                }
                for (var zoom = 0; zoom <= 3; zoom++)
                    Assert.Equal(await ClustersAsync(connection, tx, incidents, zoom), await ClustersAsync(connection, tx, grid, zoom));
                // Over a bbox: the cells inside it from the grid, the rest from the incidents.
                IReadOnlyList<Box>[] bboxes =
                [
                    [new Box(lon - 0.5, lat - 0.5, lon + 1.2, lat + 1.0)],           // cutting through the patch
                    [new Box(lon + 0.1, lat + 0.1, lon + 0.2, lat + 0.2)],           // inside one cell: no cell inside it
                    [new Box(-180, -90, 180, 90)],
                    [new Box(-170, -80, 170, 80)],
                    [new Box(170, -60, 180, 60), new Box(-180, -60, -150, 60)],   // across the antimeridian
                    [new Box(50, -40, 70, -20)],                                    // one part of the multipoint
                    [new Box(99, -6, 100.5, -3), new Box(16, 80, 18.5, 85.06)],     // half the polygon; the map's edge
                ];
                foreach (var bbox in bboxes)
                    for (var zoom = 0; zoom < TileSql.ClusterBelowZoom; zoom++)
                    {
                        Assert.True(TileSql.GridServesClusters(grid with { Bbox = bbox }, zoom));
                        var expected = await ClustersAsync(connection, tx, incidents with { Bbox = bbox }, zoom);
                        Assert.Equal(expected, await ClustersAsync(connection, tx, grid with { Bbox = bbox }, zoom));
                        // The count that refuses too many clusters before computing them.
                        if (TileSql.GridClusterCount(grid with { Bbox = bbox }, zoom) is var (countSql, countParameters))
                            Assert.Equal(expected.Count, await connection.ExecuteScalarAsync<long>(countSql, countParameters, tx));
                        else Assert.True(bbox[0].MaxLon - bbox[0].MinLon < 0.5, "a bbox with cells inside it is counted from the grid");
                    }
            }
            Assert.True(compared > 20, $"only {compared} tiles held clusters");
        });
    }

    [Fact]
    public async Task The_grid_holds_exactly_the_stored_incidents_after_creates_edits_moves_deletes_and_folds()
    {
        var (lon, lat) = RandomPatch();
        List<long> ids;
        await using (var connection = await api.Database.OpenConnectionAsync())
            ids = await InsertPatchAsync(connection, lon, lat);
        await AssertGridMatchesIncidentsAsync();

        // Through the API: an edit of the summed fields, a move, a change of type, of country, a soft delete.
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[1]}", """{"properties":{"fatalities_min":40,"fatalities_max":null}}""")).EnsureSuccessStatusCode();
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[2]}", $$$"""{"geometry":{"type":"Point","coordinates":[{{{lon + 3}}},{{{lat}}}]}}""")).EnsureSuccessStatusCode();
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[3]}", """{"properties":{"event_type":"strategic_developments"}}""")).EnsureSuccessStatusCode();
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[17]}", """{"properties":{"country":"TO"}}""")).EnsureSuccessStatusCode();
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[18]}", """{"properties":{"country":null}}""")).EnsureSuccessStatusCode();
        (await _client.PatchCurrentAsync($"/collections/incidents/items/{ids[19]}", """{"properties":{"status":"verified"}}""")).EnsureSuccessStatusCode();
        (await _client.DeleteCurrentAsync($"/collections/incidents/items/{ids[4]}")).EnsureSuccessStatusCode();
        await AssertGridMatchesIncidentsAsync();

        await using (var connection = await api.Database.OpenConnectionAsync())
        {
            // A deleted incident brought back, a hard delete, and several rows moved in one statement.
            await connection.ExecuteAsync("UPDATE incidents SET deleted_at = NULL WHERE id = @id", new { id = ids[4] });
            await connection.ExecuteAsync("DELETE FROM incidents WHERE id = @id", new { id = ids[5] });
            await connection.ExecuteAsync("UPDATE incidents SET geom = ST_Translate(geom, 0.5, 0.5) WHERE id = ANY(@moved)", new { moved = ids.Skip(6).Take(10).ToArray() });
            await AssertGridMatchesIncidentsAsync();
            // Statuses changed in one statement, some to the one they had.
            await connection.ExecuteAsync("UPDATE incidents SET status = 'disputed' WHERE id = ANY(@changed)", new { changed = ids.Skip(21).Take(8).ToArray() });
            await AssertGridMatchesIncidentsAsync();

            await AssertGridMatchesIncidentsAsync();
        }

        // Folded as the service folds, with its own role's privileges (a missing grant would only be logged).
        await using (var service = new NpgsqlConnection(ApiFixture.AppConnectionString))
        {
            await service.OpenAsync();
            // The folds' lock, held so that the service's own pass (every 2 s) cannot fold this write first.
            await service.ExecuteAsync("SELECT pg_advisory_lock(7215529004736301163)");
            await service.ExecuteAsync("UPDATE incidents SET fatalities_max = coalesce(fatalities_max, 0) + 1 WHERE id = @id", new { id = ids[20] });
            Assert.True(await service.ExecuteScalarAsync<long>("SELECT incident_grid_compact()") > 0);
            await service.ExecuteAsync("SELECT pg_advisory_unlock(7215529004736301163)");
        }
        await using (var connection = await api.Database.OpenConnectionAsync())
        {
            await AssertGridMatchesIncidentsAsync();
            // Folding keeps no cell that has lost all its incidents.
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*)::int FROM incident_grid WHERE incidents <= 0"));
        }
    }

    [Fact]
    public async Task An_edit_that_changes_nothing_the_grid_sums_writes_no_delta()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        var id = (await InsertPatchAsync(connection, RandomPatch().Lon, RandomPatch().Lat))[1];
        const string Written = "SELECT count(*)::int FROM incident_grid_changes WHERE xmin = pg_current_xact_id()::xid";

        await using (var tx = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync("UPDATE incidents SET title = title || ' (edited)', summary = 'more' WHERE id = @id", new { id }, tx);
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>(Written, transaction: tx));
            await connection.ExecuteAsync("UPDATE incidents SET fatalities_max = coalesce(fatalities_max, 0) + 1 WHERE id = @id", new { id }, tx);
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>(Written, transaction: tx));
            // A change of status moves the incident from one key of the grid to another: minus under the old, plus under the new.
            await connection.ExecuteAsync("UPDATE incidents SET status = CASE status WHEN 'verified' THEN 'reported' ELSE 'verified' END WHERE id = @id", new { id }, tx);
            Assert.Equal(3, await connection.ExecuteScalarAsync<int>(Written, transaction: tx));
            await tx.RollbackAsync();
        }
    }

    [Fact]
    public async Task Concurrent_writers_and_folds_keep_the_sums_exact()
    {
        var (lon, lat) = RandomPatch();
        var writing = 3;
        async Task WriteAsync(int writer)
        {
            try
            {
            await using var connection = await api.Database.OpenConnectionAsync();
            for (var round = 0; round < 12; round++)
            {
                // Every writer on the same few cells, so their deltas share keys.
                var ids = await InsertPatchAsync(connection, lon, lat);
                await connection.ExecuteAsync("UPDATE incidents SET fatalities_min = @round, fatalities_max = @round + 2, event_type = 'battles', country = 'TO', status = 'verified' WHERE id = ANY(@some)",
                    new { round = round % 5, some = ids.Where((_, n) => n % 3 == writer).ToArray() });
                await connection.ExecuteAsync("UPDATE incidents SET deleted_at = now() WHERE id = ANY(@some)", new { some = ids.Take(5 + writer).ToArray() });
            }
            }
            finally
            {
                Interlocked.Decrement(ref writing);
            }
        }
        async Task FoldAsync()
        {
            await using var connection = await api.Database.OpenConnectionAsync();
            while (Volatile.Read(ref writing) > 0)
            {
                await connection.ExecuteScalarAsync<long>("SELECT incident_grid_compact()");
                await Task.Delay(20);
            }
        }

        await Task.WhenAll(WriteAsync(0), WriteAsync(1), WriteAsync(2), FoldAsync());

        await AssertGridMatchesIncidentsAsync();
    }
}

/// <summary>Migration 0040 sums the incidents stored before it, and TRUNCATE empties the grid with the incidents. A database of its own.</summary>
public sealed class ClusterGridMigrationTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public async Task InitializeAsync() => _database = await OwnDatabase.CreateAsync("grid");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_migration_sums_the_incidents_already_stored_and_truncate_empties_the_grid()
    {
        var migrator = new IncidentMap.Api.Database.Migrator(_database.DataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<IncidentMap.Api.Database.Migrator>.Instance);
        await migrator.MigrateAsync([.. IncidentMap.Api.Database.Migrator.Embedded.Where(m => string.CompareOrdinal(m.Version, "0040") < 0)]);
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        const string Insert = """
            INSERT INTO incidents (title, event_type, occurred_at, geom, fatalities_min, fatalities_max, deleted_at)
            SELECT 'before ' || g, (ARRAY['battles', 'riots'])[1 + g % 2], '2016-01-01',
                   ST_SetSRID(ST_MakePoint(-170 + g * 0.83, -80 + g * 0.41), 4326), nullif(g % 3, 0), g % 3 + 1,
                   CASE WHEN g % 10 = 9 THEN now() END
            FROM generate_series(0, 399) AS g
            """;
        await connection.ExecuteAsync(Insert);

        await migrator.MigrateAsync();

        Assert.Equal(360, await connection.ExecuteScalarAsync<long>("SELECT sum(incidents) FROM incident_grid"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(ClusterGridTests.GridDifferencesSql));

        await connection.ExecuteAsync(Insert);
        // TRUNCATE waits for a fold running (its uncommitted rows would survive the trigger's DELETEs).
        await using (var folding = await _database.DataSource.OpenConnectionAsync())
        {
            await folding.ExecuteAsync("SELECT pg_advisory_lock(7215529004736301163)");
            var truncate = connection.ExecuteAsync("TRUNCATE incidents CASCADE");
            await Task.Delay(300);
            Assert.False(truncate.IsCompleted);
            await folding.ExecuteAsync("SELECT pg_advisory_unlock(7215529004736301163)");
            await truncate;
        }
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT (SELECT count(*) FROM incident_grid) + (SELECT count(*) FROM incident_grid_changes)"));
        await connection.ExecuteAsync(Insert);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(ClusterGridTests.GridDifferencesSql));
        Assert.Equal(360, await connection.ExecuteScalarAsync<long>("SELECT sum(incidents) FROM incident_grid_changes"));
    }
}
