using System.Diagnostics;
using System.Net;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// The service with a one-second statement timeout over a database of its own, whose incidents
/// table a test may lock without stalling anyone else's queries.
/// </summary>
public sealed class LockableExportHost : IAsyncLifetime
{
    public OwnDatabase Database { get; private set; } = null!;

    public ConfiguredFactory Service { get; private set; } = null!;

    private sealed class Factory((string Service, string Migrations) logins) : ConfiguredFactory(
        ("ConnectionStrings:Incidents", logins.Service), ("ConnectionStrings:Migrations", logins.Migrations), ("Database:StatementTimeoutSeconds", "1"),
        // Migrated below, without the one-second limit; no gazetteer: these tests geocode nothing.
        ("Database:MigrateOnStartup", "false"), ("Gazetteer:Path", ""));

    public async Task InitializeAsync()
    {
        Database = await OwnDatabase.CreateAsync("export");
        // Granting the service's own role what it needs, as its own migrations would.
        await new Migrator(Database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole).MigrateAsync();
        Service = new Factory(ApiFixture.Logins(Database.Name));
        await Service.InitializeAsync();
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom)
            SELECT 'Export row ' || g, 'battles', timestamptz '2016-02-21 07:30:00+00', ST_SetSRID(ST_MakePoint(36.72, 34.73), 4326)
            FROM generate_series(1, 3) AS g
            """);
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// An export (CSV or a sequence without limit) may stream for 15 minutes, but must find its first row
/// within the statement timeout of every other read: a filtered export that scans without finding one
/// otherwise held its connection for up to 15 minutes before answering anything. Here the first row
/// cannot come because another session holds a lock the export's statement must wait for.
/// </summary>
public sealed class SlowExportTests(LockableExportHost host) : IClassFixture<LockableExportHost>
{
    [Fact]
    public async Task An_export_without_a_first_row_within_the_statement_timeout_is_a_503_problem_and_its_statement_is_stopped()
    {
        using var client = host.Service.CreateClient();
        await using var locker = await host.Database.DataSource.OpenConnectionAsync();
        HttpResponseMessage response;
        TimeSpan waited;
        bool answered;
        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            var clock = Stopwatch.StartNew();
            var export = client.GetAsync("/collections/incidents/items?f=csv");
            answered = await Task.WhenAny(export, Task.Delay(TimeSpan.FromSeconds(20))) == export;
            waited = clock.Elapsed;
            // Without the bound the export waits for this, and then answers 200.
            await lockHeld.RollbackAsync();
            response = await export;
        }
        Assert.True(answered, $"no answer within {waited.TotalSeconds:0.0} s; once the lock went, {(int)response.StatusCode}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Query took too long", problem["title"]!.GetValue<string>());
        Assert.Contains("An export must find its first incident within 1 s", problem["detail"]!.GetValue<string>());
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.True(waited >= TimeSpan.FromSeconds(0.9), $"answered after {waited.TotalSeconds:0.00} s, before the limit");

        // The statement was cancelled on the server, not left running for its 15 minutes.
        await using (var connection = await host.Database.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%FROM incidents i%'
                """));

        // The same export, unhindered, streams its rows.
        var csv = await client.GetStringAsync("/collections/incidents/items?f=csv");
        Assert.Contains("Export row 3", csv);
    }

    [Fact]
    public async Task An_export_whose_first_row_comes_within_the_limit_is_answered_as_before()
    {
        using var client = host.Service.CreateClient();
        await using var locker = await host.Database.DataSource.OpenConnectionAsync();
        Task<HttpResponseMessage> export;
        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            export = client.GetAsync("/collections/incidents/items?f=ndjson");
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await lockHeld.RollbackAsync();
        }
        var response = await export;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        Assert.Equal(3, body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(line => line.Contains("Export row")));
    }
}
