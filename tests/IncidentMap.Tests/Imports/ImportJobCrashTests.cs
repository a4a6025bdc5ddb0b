using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// An import job whose process is killed outright (kill -9, the OOM killer). Its row counted the rows stored as of
/// its last heartbeat, a second before (a killed job could read "inserted 0" with 10,000 rows stored), and its upload
/// stayed in the temporary folder for good. Each batch now adds its rows to the job's counts in its own transaction,
/// and the service removes the uploads that killed processes left as it starts.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportJobCountTests(ImportsFixture api)
{
    [Fact]
    public async Task A_running_jobs_counts_are_those_of_the_rows_committed_at_every_moment()
    {
        await using var service = await ImportService.StartAsync(services =>
            services.AddSingleton(new ImportSettings { BatchRows = 200 }));
        var prefix = Unique();
        const int rows = 3_000;
        var response = await service.CreateClient().PostAsync($"{Url}?async=true&source={prefix}", Streamed(new GeneratedCsvStream(prefix, rows), "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<long>();

        // The job's row and the incidents, in one snapshot, while the batches commit.
        await using var connection = await api.Database.OpenConnectionAsync();
        var (samples, mismatches) = (0, new List<string>());
        while (true)
        {
            var (status, counted, stored) = await connection.QuerySingleAsync<(string, long, long)>("""
                SELECT status, coalesce((report ->> 'inserted')::bigint, 0),
                       (SELECT count(*) FROM incidents WHERE import_source = @prefix AND deleted_at IS NULL)
                FROM import_jobs WHERE id = @job
                """, new { prefix, job });
            if (status != "running") break;
            if (stored > 0) samples++;
            if (counted != stored) mismatches.Add($"{counted} counted, {stored} stored");
            await Task.Delay(5);
        }

        Assert.True(samples > 0, "the job ended before the test saw a batch stored");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {samples} looks: {string.Join("; ", mismatches.Distinct().Take(5))}");
        var report = JsonNode.Parse(await connection.QuerySingleAsync<string>("SELECT report::text FROM import_jobs WHERE id = @job", new { job }))!;
        AssertCounts(report, rows, 0, 0, 0);
    }
}

/// <summary>A service process killed with SIGKILL during an import job, and started again. Serial: it loads the database.</summary>
[Collection(SerialCollection.Name)]
public sealed class ImportJobCrashTests
{
    private const int SIGKILL = 9;

    [Fact]
    public async Task A_killed_jobs_row_counts_its_committed_rows_and_the_next_start_removes_its_upload()
    {
        var source = Unique();
        var temp = Directory.CreateTempSubdirectory("incidentmap-crash-").FullName;
        await using var database = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        var (key, _) = await new ApiKeys(database).CreateAsync("crash-" + source, [Scopes.Read, Scopes.Write]);
        // Another process's upload, open as long as this test runs: not the service's to remove.
        var other = Path.Combine(temp, $"incidentmap-import-{Guid.NewGuid():N}.upload");
        var environment = new Dictionary<string, string> { ["Gazetteer__Path"] = "", ["TMPDIR"] = temp };
        try
        {
            await using var held = new FileStream(other, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            long job;
            await using (var service = new SignalledProcess(ServiceProcess.StartInfo(environment, "serve")))
            {
                using var http = new HttpClient { BaseAddress = new Uri(await service.ListeningAsync()), Timeout = TimeSpan.FromMinutes(2) };
                http.DefaultRequestHeaders.Add("X-API-Key", key);
                var accepted = await http.PostAsync($"{Url}?async=true&source={source}", Streamed(new GeneratedCsvStream(source, 200_000), "text/csv"));
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
                job = JsonNode.Parse(await accepted.Content.ReadAsStringAsync())!["id"]!.GetValue<long>();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (await StoredAsync(database, source) == 0)
                {
                    Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "no batch stored within a minute");
                    await Task.Delay(10);
                }
                service.Signal(SIGKILL);
                await service.ExitAsync(TimeSpan.FromSeconds(30));
            }

            var uploads = Directory.GetFiles(temp, "incidentmap-import-*.upload");
            Assert.Equal(2, uploads.Length);
            // In one snapshot: a batch the kill caught committing may still commit.
            await using (var connection = await database.OpenConnectionAsync())
            {
                var (status, counted, stored) = await connection.QuerySingleAsync<(string, long, long)>("""
                    SELECT status, (report ->> 'inserted')::bigint,
                           (SELECT count(*) FROM incidents WHERE import_source = @source AND deleted_at IS NULL)
                    FROM import_jobs WHERE id = @job
                    """, new { job, source });
                Assert.Equal(("running", stored), (status, counted));
            }

            await using (var again = new SignalledProcess(ServiceProcess.StartInfo(environment, "serve")))
            {
                await again.ListeningAsync();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (Directory.GetFiles(temp, "incidentmap-import-*.upload").Length > 1 && clock.Elapsed < TimeSpan.FromSeconds(10))
                    await Task.Delay(50);
                Assert.Equal([other], Directory.GetFiles(temp, "incidentmap-import-*.upload"));
                Assert.Contains("Removed 1 upload(s) that import jobs of a stopped process left", again.Output);
            }
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    private static async Task<long> StoredAsync(NpgsqlDataSource database, string source)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @source AND deleted_at IS NULL", new { source });
    }
}
