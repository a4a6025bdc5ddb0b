using Dapper;
using IncidentMap.Api.Changes;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Dashboards;

/// <summary>
/// The data version (every list's and tile's ETag) moves when the change feed's tail moves, and only
/// then. A database of its own, so no other test's writes move it.
/// </summary>
public sealed class ChangeListenerTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    private NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("listen");
        await new Migrator(DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_data_version_moves_once_at_connect_and_then_only_with_a_change()
    {
        await using (var connection = await DataSource.OpenConnectionAsync())
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, occurred_at, geom)
                VALUES ('before the listener', 'battles', now(), ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326))
                """);
        // The feed shows a change once no older transaction anywhere in the cluster can still commit
        // before it. Wait for that, or the tail could move during the quiet stretch below.
        for (var waited = 0; ; waited++)
        {
            await using var connection = await DataSource.OpenConnectionAsync();
            if (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incident_changes WHERE xid < incident_feed_horizon()") == 1) break;
            Assert.True(waited < 600, "the first change never came below the feed's horizon");
            await Task.Delay(50);
        }
        var version = new DataVersion();
        var start = version.Current;
        var listener = new ChangeListener(DataSource, version, NullLogger<ChangeListener>.Instance);
        await listener.StartAsync(CancellationToken.None);
        try
        {
            await Until(() => listener.Listening && version.Current != start, "the listener did not connect and pulse");
            var connected = version.Current;
            Assert.Equal(start + 1, connected);

            // Three of the listener's one-second looks at a tail that has not moved.
            await Task.Delay(TimeSpan.FromSeconds(3.5));
            Assert.Equal(connected, version.Current);

            await using (var connection = await DataSource.OpenConnectionAsync())
                await connection.ExecuteAsync("""
                    INSERT INTO incidents (title, event_type, occurred_at, geom)
                    VALUES ('after', 'battles', now(), ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326))
                    """);
            await Until(() => version.Current != connected, "a committed change did not move the data version");
        }
        finally
        {
            await listener.StopAsync(CancellationToken.None);
        }
    }

    private static async Task Until(Func<bool> condition, string failure)
    {
        for (var waited = 0; !condition(); waited++)
        {
            Assert.True(waited < 200, failure);
            await Task.Delay(50);
        }
    }
}
