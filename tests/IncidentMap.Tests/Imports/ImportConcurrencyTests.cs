using System.Text;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Imports of the same rows at once. A batch wrote its rows in the file's order, so two imports of the same keys
/// in different orders took their locks in opposite orders and deadlocked: one of them answered 503 "database could
/// not be reached" with no report. A batch now takes its keys in their order, and a batch that deadlocks anyway
/// (with a writer that locks in another order) is written again.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportConcurrencyTests(ImportsFixture api)
{
    [Fact]
    public async Task A_batch_locks_its_incidents_in_the_order_of_their_keys_whatever_the_files_order()
    {
        var prefix = Unique();
        await api.CreateClient().ImportOkAsync(RowsCsv(prefix, 1, 9, _ => "First"), "text/csv", "?source=" + prefix, inserted: 9, updated: 0, unchanged: 0, rejected: 0);
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1 });

        string unlocked;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-5" }, hold);
            // Every row changed, the file last row first: the batch updates rows until it waits for row 5.
            var import = importer.RunAsync(Reversed(RowsCsv(prefix, 1, 9, _ => "Second")), prefix);
            await importer.WaitForLockAsync(api.Database, import);
            // The rows the batch has not reached are the ones nobody holds.
            await using (var look = await api.Database.OpenConnectionAsync())
            await using (var peek = await look.BeginTransactionAsync())
                unlocked = string.Join(",", await look.QueryAsync<string>("""
                    SELECT split_part(external_id, '-', 2) FROM incidents WHERE external_id LIKE @p AND deleted_at IS NULL
                    ORDER BY external_id FOR UPDATE SKIP LOCKED
                    """, new { p = prefix + "-%" }, peek));
            await hold.CommitAsync();
            var report = await import;
            Assert.Equal((0L, 9L, (ImportProblem?)null), (report.Inserted, report.Updated, report.Error));
        }

        Assert.Equal("6,7,8,9", unlocked);
    }

    [Fact]
    public async Task Two_imports_of_the_same_rows_in_opposite_orders_both_complete()
    {
        const int rows = 4_000;
        var prefix = Unique();
        var forward = RowsCsv(prefix, 1, rows, _ => "Same");
        await using var first = new TestImporter(api.Services, new ImportSettings());
        await using var second = new TestImporter(api.Services, new ImportSettings());

        ImportReport[] reports;
        await using (var holder = await api.Database.OpenConnectionAsync())
        {
            Task<ImportReport[]> imports;
            await using (var hold = await holder.BeginTransactionAsync())
            {
                // Both imports' writers (two each) wait to write their first batches, then start at once.
                await holder.ExecuteAsync("LOCK TABLE incidents IN SHARE MODE", transaction: hold);
                imports = Task.WhenAll(first.RunAsync(forward, prefix), second.RunAsync(Reversed(forward), prefix));
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (await api.Database.ScalarAsync<long>("""
                           SELECT count(*) FROM pg_stat_activity WHERE application_name IN (@a, @b) AND wait_event_type = 'Lock'
                           """, new { a = first.Application, b = second.Application }) < 4)
                {
                    if (imports.IsCompleted) await imports;
                    Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "the imports' writers never all waited");
                    await Task.Delay(20);
                }
            }
            reports = await imports;
        }

        foreach (var report in reports)
        {
            Assert.True(report.Error is null && report.Rejected == 0 && report.Inserted + report.Unchanged == rows,
                System.Text.Json.JsonSerializer.Serialize(report));
        }
        Assert.Equal(rows, reports.Sum(r => r.Inserted));
        Assert.Equal((long)rows, await api.Database.ScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE import_source = @prefix AND deleted_at IS NULL AND version = 1", new { prefix }));
    }

    [Fact]
    public async Task A_batch_that_deadlocks_with_another_writer_is_written_again()
    {
        var prefix = Unique();
        await api.CreateClient().ImportOkAsync(RowsCsv(prefix, 1, 3, _ => "First"), "text/csv", "?source=" + prefix, inserted: 3, updated: 0, unchanged: 0, rejected: 0);
        // The batch's backend looks for a deadlock 3 s after it begins to wait, and the test's only after a minute:
        // the batch is the one PostgreSQL ends, however slowly the test closes the cycle. deadlock_timeout is
        // the superuser's to set: this importer logs in as the superuser, not as the service's own login.
        var settings = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Options = "-c deadlock_timeout=3s" };
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1 }, connection: settings);

        ImportReport report;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SET LOCAL deadlock_timeout = '60s'", transaction: hold);
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-2" }, hold);
            // The batch updates row 1, then waits for row 2; the test then asks for row 1.
            var import = importer.RunAsync(RowsCsv(prefix, 1, 3, _ => "Second"), prefix);
            await importer.WaitForLockAsync(api.Database, import);
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-1" }, hold);
            // PostgreSQL has ended the batch's transaction (the test has row 1); the batch waits for row 2 again.
            if (import.IsCompleted) Assert.Fail($"the import ended at the deadlock rather than writing the batch again: {System.Text.Json.JsonSerializer.Serialize(await import)}");
            await hold.CommitAsync();
            report = await import;
        }

        Assert.True(report.Error is null && (report.Inserted, report.Updated, report.Rejected) == (0, 3, 0), System.Text.Json.JsonSerializer.Serialize(report));
    }

    /// <summary>The CSV with its rows in the opposite order, the header first.</summary>
    private static string Reversed(string csv)
    {
        var lines = csv.TrimEnd('\n').Split('\n');
        return new StringBuilder().AppendJoin('\n', lines.Take(1).Concat(lines.Skip(1).Reverse())).Append('\n').ToString();
    }
}
