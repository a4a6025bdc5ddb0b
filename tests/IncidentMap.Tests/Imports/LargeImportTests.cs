using System.Net;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// A large streamed import, alone: its memory check measures this test process, so nothing else may
/// run meanwhile (the hostile suite builds bodies of tens of megabytes).
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LargeImportTests(ApiFixture api)
{
    [Fact]
    public async Task A_large_streamed_CSV_imports_with_flat_memory()
    {
        const int rows = 200_000;
        var prefix = Unique();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            // Live memory (after a full collection), not garbage awaiting collection.
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                await Task.Delay(500);
            }
        });

        var (status, report) = await api.CreateClient().PostImportAsync(Streamed(new GeneratedCsvStream(prefix, rows), "text/csv"), "?source=" + prefix);
        await sampling.CancelAsync();
        await sampler;

        Assert.True(status == HttpStatusCode.OK, report.ToJsonString());
        AssertCounts(report, rows, 0, 0, 0);
        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.Equal(rows, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE external_id LIKE @p AND deleted_at IS NULL", new { p = prefix + "-%" }));
        // The generated file is ~25 MB of text and ~200 MB as drafts; only a few batches may ever be held.
        Assert.True(peak - baseline < 200L * 1024 * 1024, $"live managed memory grew by {(peak - baseline) / 1024 / 1024} MB");
    }
}
