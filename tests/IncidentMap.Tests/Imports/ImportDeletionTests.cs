using System.Net;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// An import keeps an incident of its source that an editor deleted deleted, also when the deletion comes while
/// the import runs. It used to bring such incidents back: each writer asked once, as it opened, whether the source
/// had deletions at all (a later one went unseen), and the check and the write were separate statements (a deletion
/// committed in between, or during the write, freed the key in the unique index of live incidents).
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportDeletionTests(ImportsFixture api)
{
    [Fact]
    public async Task An_incident_deleted_between_two_batches_of_an_import_stays_deleted()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(RowsCsv(prefix, 1, 4, _ => "First"), "text/csv", "?source=" + prefix, inserted: 4, updated: 0, unchanged: 0, rejected: 0);
        var deleted = await IdAsync($"{prefix}-4");
        // Two batches: rows 1 and 2, then rows 3 and 4. The first waits for row 1, which the test holds, while an editor
        // deletes row 4's incident: the writer has opened by then, and the source had no deletion when it did.
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1, BatchRows = 2 });

        ImportReport report;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-1" }, hold);
            var import = importer.RunAsync(RowsCsv(prefix, 1, 4, _ => "Second"), prefix);
            await importer.WaitForLockAsync(api.Database, import);
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteCurrentAsync($"/collections/incidents/items/{deleted}")).StatusCode);
            await hold.CommitAsync();
            report = await import;
        }

        await AssertKeptDeletedAsync(report, prefix, 4, deleted, updated: 3);
    }

    [Fact]
    public async Task An_incident_deleted_while_a_batch_writes_stays_deleted()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        await client.ImportOkAsync(RowsCsv(prefix, 1, 3, _ => "First"), "text/csv", "?source=" + prefix, inserted: 3, updated: 0, unchanged: 0, rejected: 0);
        var deleted = await IdAsync($"{prefix}-3");
        // One batch, whose write statement (its snapshot taken, row 3 live in it) waits for row 1, which the test holds,
        // while an editor deletes row 3's incident; the statement then meets no live row 3.
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1 });

        ImportReport report;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            await holder.ExecuteAsync("SELECT FROM incidents WHERE external_id = @k FOR UPDATE", new { k = $"{prefix}-1" }, hold);
            var import = importer.RunAsync(RowsCsv(prefix, 1, 3, _ => "Second"), prefix);
            await importer.WaitForLockAsync(api.Database, import);
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteCurrentAsync($"/collections/incidents/items/{deleted}")).StatusCode);
            await hold.CommitAsync();
            report = await import;
        }

        await AssertKeptDeletedAsync(report, prefix, 3, deleted, updated: 2);
    }

    /// <summary>Row <paramref name="row"/> (line row + 1) was rejected naming its deleted incident, which stays the only one of its key.</summary>
    private async Task AssertKeptDeletedAsync(ImportReport report, string prefix, int row, long deleted, long updated)
    {
        Assert.True(report.Error is null && (report.Inserted, report.Updated, report.Unchanged, report.Rejected) == (0, updated, 0, 1),
            System.Text.Json.JsonSerializer.Serialize(report));
        var problem = Assert.Single(report.RejectedRows);
        Assert.Equal((row + 1L, "properties.external_id"), (problem.Line, problem.Field));
        Assert.Contains($"was incident {deleted}, deleted at", problem.Reason);
        Assert.Equal(0L, await api.Database.ScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE external_id = @k AND deleted_at IS NULL", new { k = $"{prefix}-{row}" }));
        Assert.Equal(HttpStatusCode.NotFound, (await api.CreateClient().GetAsync($"/collections/incidents/items/{deleted}")).StatusCode);
    }

    private Task<long> IdAsync(string externalId) =>
        api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @externalId AND deleted_at IS NULL", new { externalId });
}
