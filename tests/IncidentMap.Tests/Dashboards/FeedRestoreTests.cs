using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace IncidentMap.Tests.Dashboards;

/// <summary>
/// A database restored from a logical dump into another cluster brings the change feed's positions,
/// which are the old cluster's transaction ids, to a cluster that counts its own from far below (a new
/// one starts near 750). The feed hid every restored change, and would later take a dashboard's old
/// cursor again and skip what came between; the service now shifts the feed's positions past what it
/// stores as it starts (migration 0035). Simulated on a database of its own: its changes are moved up
/// by as many transaction ids as a busier cluster would have used, which is what the dump carries.
/// </summary>
public sealed class FeedRestoreTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("restore");
        // Granting the service's login what it needs, as a release's migrate step does for a service that does not migrate.
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole).MigrateAsync();
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private sealed class RestoredService(string database, bool migrates = true) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            ApiFixture.Configure(builder);
            ApiFixture.UseDatabase(builder, database);
            builder.UseSetting("Gazetteer:Path", "");
            if (!migrates) builder.UseSetting("Database:MigrateOnStartup", "false");
        }
    }

    /// <summary>The database's changes moved up as a dump from a busier cluster brings them; their cursors, in order.</summary>
    private async Task<List<string>> RestoredAsync(Npgsql.NpgsqlConnection connection, long busier)
    {
        await connection.ExecuteAsync("UPDATE incident_changes SET xid = (xid::text::numeric + @busier)::text::xid8", new { busier });
        return (await connection.QueryAsync<(string Xid, long Position)>(
            "SELECT xid::text, position FROM incident_changes ORDER BY xid, position")).Select(c => $"{c.Xid}-{c.Position}").ToList();
    }

    [Fact]
    public async Task A_feed_restored_into_a_cluster_that_counted_fewer_transactions_stays_whole_and_keeps_its_cursors()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        var tag = FeedHelpers.NewTag();
        var written = new[] { await FeedHelpers.InsertAsync(connection, tag), await FeedHelpers.InsertAsync(connection, tag) };
        const long busier = 50_000_000;
        var restored = await RestoredAsync(connection, busier);
        // A dashboard that had read everything holds the last change's cursor, or the horizon past it.
        var lastCursor = restored[^1];
        var horizonCursor = $"{ulong.Parse(lastCursor.Split('-')[0]) + 1}-0";

        await using var service = new RestoredService(_database.Name);
        var client = service.CreateClient();

        var (all, _) = await client.PollAsync(tag, "0-0");
        Assert.Equal(restored, all.Select(c => c.Cursor));
        Assert.Equal(written, all.Select(c => c.Id));

        var later = await FeedHelpers.InsertAsync(connection, tag);
        foreach (var cursor in new[] { lastCursor, horizonCursor })
        {
            var (changes, _) = await client.PollUntilAsync(tag, cursor, 1);
            Assert.Equal([later], changes.Select(c => c.Id));
        }
        var (fromStart, _) = await client.PollUntilAsync(tag, "0-0", 3);
        Assert.Equal([.. written, later], fromStart.Select(c => c.Id));

        // A second start finds the feed in line and leaves the shift as it is.
        var shift = await connection.ExecuteScalarAsync<decimal>("SELECT shift FROM incident_feed_shift");
        Assert.True(shift > busier / 2, $"shift {shift}");
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        Assert.Equal(shift, await connection.ExecuteScalarAsync<decimal>("SELECT shift FROM incident_feed_shift"));
    }

    [Fact]
    public async Task A_service_that_does_not_migrate_still_puts_a_restored_feed_in_line_as_it_starts()
    {
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        var tag = FeedHelpers.NewTag();
        var written = await FeedHelpers.InsertAsync(connection, tag);
        var restored = await RestoredAsync(connection, 7_000_000);

        await using var service = new RestoredService(_database.Name, migrates: false);
        var client = service.CreateClient();

        var (all, _) = await client.PollAsync(tag, "0-0");
        Assert.Equal(restored, all.Select(c => c.Cursor));
        var later = await FeedHelpers.InsertAsync(connection, tag);
        var (changes, _) = await client.PollUntilAsync(tag, restored[^1], 1);
        Assert.Equal([later], changes.Select(c => c.Id));
        Assert.NotEqual(written, later);
    }
}
