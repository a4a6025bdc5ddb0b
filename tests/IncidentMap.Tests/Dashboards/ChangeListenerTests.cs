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
        var listener = new ChangeListener(DataSource, version, new FeedHorizon(), NullLogger<ChangeListener>.Instance);
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

    /// <summary>
    /// The listener looks at the tail below the horizon as the feed's pages take it, never below one the process
    /// read before. On the raw horizon, which can stand lower for a moment (a transaction of another database
    /// committing mid-statement counts as running: <see cref="FeedHorizon"/>), a NOTIFY's change looked not yet
    /// visible and streams waited for the next look. That moment cannot be made on demand, so the test holds the
    /// raw horizon down with an open transaction and stands in the floor an earlier page would have left above it.
    /// </summary>
    [Fact]
    public async Task A_change_below_the_horizon_the_process_has_read_wakes_the_streams_at_its_notify()
    {
        var horizon = new FeedHorizon();
        var listener = new ChangeListener(DataSource, new DataVersion(), horizon, NullLogger<ChangeListener>.Instance);
        await listener.StartAsync(CancellationToken.None);
        await using var holder = await DataSource.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        try
        {
            await Until(() => listener.Listening, "the listener did not connect");
            await holder.ExecuteAsync("SELECT pg_current_xact_id()", transaction: held); // an xid: the raw horizon stays at it
            var woken = listener.NextChangeAsync(CancellationToken.None);

            await using (var writer = await DataSource.OpenConnectionAsync())
            await using (var tx = await writer.BeginTransactionAsync())
            {
                await writer.ExecuteAsync("""
                    INSERT INTO incidents (title, event_type, occurred_at, geom)
                    VALUES ('behind an open transaction', 'battles', now(), ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326))
                    """, transaction: tx);
                var feedXid = await writer.ExecuteScalarAsync<string>("SELECT max(xid)::text FROM incident_changes", transaction: tx);
                typeof(FeedHorizon).GetField("_floor", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
                    .SetValue(horizon, ulong.Parse(feedXid!) + 1);
                await tx.CommitAsync();
            }

            // The NOTIFY wakes the listener at once; the once-a-second look would not pulse either while the tail stands still.
            await woken.WaitAsync(TimeSpan.FromSeconds(5));
            await using var check = await DataSource.OpenConnectionAsync();
            Assert.Equal(0L, await check.ExecuteScalarAsync<long>("SELECT count(*) FROM incident_changes WHERE xid < incident_feed_horizon()"));
        }
        finally
        {
            await held.RollbackAsync();
            await listener.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// A NOTIFY that comes in while the listener's look at the tail runs is read with that query's answer: no wait
    /// reports it. A place written by another process moves no tail, so the data version (the places' ETags, answers
    /// near a place) stayed as before it until some other write. The look is held on a table lock so that the
    /// NOTIFY lands in it.
    /// </summary>
    [Fact]
    public async Task A_place_written_while_the_listener_looks_at_the_tail_still_moves_the_data_version()
    {
        var version = new DataVersion();
        var listener = new ChangeListener(DataSource, version, new FeedHorizon(), NullLogger<ChangeListener>.Instance);
        await listener.StartAsync(CancellationToken.None);
        try
        {
            await Until(() => listener.Listening, "the listener did not connect");
            await using var holder = await DataSource.OpenConnectionAsync();
            await using var held = await holder.BeginTransactionAsync();
            await holder.ExecuteAsync("LOCK TABLE incident_changes IN ACCESS EXCLUSIVE MODE", transaction: held);
            await using var probe = await DataSource.OpenConnectionAsync();
            for (var waited = 0; await probe.ExecuteScalarAsync<long>("""
                     SELECT count(*) FROM pg_stat_activity WHERE application_name = 'incidentmap-listener' AND wait_event_type = 'Lock'
                     """) == 0; waited++)
            {
                Assert.True(waited < 100, "the listener's look at the tail never waited on the lock");
                await Task.Delay(50);
            }
            var before = version.Current;

            await probe.ExecuteAsync("""
                INSERT INTO places (name, kind, geom, source) VALUES ('Written meanwhile', 'suburb', ST_SetSRID(ST_MakePoint(36.34, 33.44), 4326), 'editor')
                """);
            await held.CommitAsync();

            await Until(() => version.Current != before, "the place's NOTIFY, read with the tail's answer, did not move the data version");
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
