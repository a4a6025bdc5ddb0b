using System.Net;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// How long an import batch may take. Its statements ran under the documented 10-minute statement timeout, but
/// passed no command timeout, so Npgsql's default cut a batch off after 30 s (waiting for a row lock, say),
/// breaking the connection: the import answered 503 "database could not be reached" with no report, after
/// committing its earlier batches. Now a batch has <see cref="ImportSettings.BatchTimeout"/> on both sides, and
/// one past it ends the import with a report of how far it got, as a stop does.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportTimeoutTests(ImportsFixture api)
{
    [Fact]
    public async Task A_batch_waiting_for_a_row_lock_longer_than_the_connections_command_timeout_is_not_cut_off()
    {
        var prefix = Unique();
        await api.CreateClient().ImportOkAsync(RowsCsv(prefix, 1, 3, _ => "First"), "text/csv", "?source=" + prefix, inserted: 3, updated: 0, unchanged: 0, rejected: 0);
        // Npgsql's default command timeout (30 s) stands here at 2 s, in the connection string of the importer's data source.
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1 },
            new NpgsqlConnectionStringBuilder(ApiFixture.AppConnectionString) { CommandTimeout = 2 });
        ImportReport report;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-2" }, hold);
            var import = importer.RunAsync(RowsCsv(prefix, 1, 3, _ => "Second"), prefix);
            await importer.WaitForLockAsync(api.Database, import);
            // Twice the command timeout of the connection.
            await Task.Delay(TimeSpan.FromSeconds(4));
            if (import.IsCompleted) Assert.Fail($"the import ended while it waited for the row: {await import}");
            await hold.CommitAsync();
            report = await import;
        }

        Assert.Null(report.Error);
        Assert.Equal((0L, 3L, 0L, 0L), (report.Inserted, report.Updated, report.Unchanged, report.Rejected));
    }

    [Fact]
    public async Task A_batch_past_the_batch_timeout_ends_the_import_with_a_report_of_how_far_it_got_and_the_same_file_completes_it()
    {
        const int batch = 100;
        await using var service = await ImportService.StartAsync(services =>
            services.AddSingleton(new ImportSettings { Writers = 1, BatchRows = batch, BatchTimeout = TimeSpan.FromSeconds(2) }));
        var client = service.CreateClient();
        var prefix = Unique();
        const int rows = 3 * batch + 5;
        // An incident the fourth batch updates; the test holds it, so that batch waits past its timeout.
        const int held = 3 * batch + 2;
        await client.ImportOkAsync(RowsCsv(prefix, held, held, _ => "Before"), "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        var csv = RowsCsv(prefix, 1, rows, _ => "After");

        HttpStatusCode status;
        System.Text.Json.Nodes.JsonObject problem;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-{held}" }, hold);
            (status, problem) = await client.PostImportAsync(csv, "text/csv", "?source=" + prefix);
        }

        Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{(int)status}: {problem}");
        Assert.Equal("Import interrupted", problem["title"]!.GetValue<string>());
        Assert.Equal("import", problem["errors"]![0]!["field"]!.GetValue<string>());
        // The first row of the fourth batch: row n is on line n + 1.
        Assert.Equal(3 * batch + 2, problem["line"]!.GetValue<long>());
        var report = problem["report"]!;
        AssertCounts(report, 3 * batch, 0, 0, 0);
        var reason = report["error"]!["reason"]!.GetValue<string>();
        Assert.Contains("failed because a batch ran past the 2 s a batch may take in the database", reason);
        Assert.Contains($"before line {3 * batch + 2} (row {3 * batch + 1})", reason);
        Assert.Contains($"({3 * batch} rows stored, 0 rejected)", reason);
        Assert.Contains("send the same file again", reason);
        Assert.Equal(3 * batch + 1L, await api.Database.ScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE import_source = @prefix AND deleted_at IS NULL", new { prefix }));

        await client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 4, updated: 1, unchanged: 3 * batch, rejected: 0);
    }
}
