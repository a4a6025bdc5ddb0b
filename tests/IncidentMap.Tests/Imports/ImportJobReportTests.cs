using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// A job's report is stored as jsonb, which refuses the NUL character; a rejected row's reason quotes the
/// file's own text, and a CSV cell can hold a NUL. The job's last update failed, and it read "running",
/// then "the server stopped", though its rows were stored and the service ran on (fuzzing audit).
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportJobReportTests(ImportsFixture api)
{
    [Fact]
    public async Task A_job_whose_rejected_row_quotes_a_nul_ends_with_its_report()
    {
        var source = Unique();
        var csv = "title,event_type,occurred_at,lon,lat,external_id\n" +
                  $"Good one,battles,2016-02-01,36.7,34.7,{source}-1\nGood two,battles,2016-02-02,36.7,34.7,{source}-2\n" +
                  $"Bad,battles,2016-02-01,36\0.7,34.7,{source}-3\n";
        var response = await api.CreateClient().PostAsync($"{Url}?async=true&source={source}", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<long>();

        await using var connection = await api.Database.OpenConnectionAsync();
        var (status, report) = ("running", "");
        for (var waited = 0; status == "running" && waited < 600; waited++)
        {
            await Task.Delay(100);
            (status, report) = await connection.QuerySingleAsync<(string, string)>("SELECT status, report::text FROM import_jobs WHERE id = @job", new { job });
        }

        Assert.True(status == "succeeded", $"{status}: {report}");
        var stored = JsonNode.Parse(report)!;
        AssertCounts(stored, 2, 0, 0, 1);
        var reason = stored["rejected_rows"]![0]!["reason"]!.GetValue<string>();
        Assert.Contains("36\uFFFD.7", reason);
    }

    [Theory]
    [InlineData("""{"a":"x\u0000y"}""", """{"a":"x\uFFFDy"}""")]
    [InlineData("""{"a":"x\\u0000y"}""", """{"a":"x\\u0000y"}""")]        // an escaped backslash, then text
    [InlineData("""{"a":"x\\\u0000y"}""", """{"a":"x\\\uFFFDy"}""")]      // an escaped backslash, then a NUL
    public void Only_escaped_nuls_are_replaced(string json, string storable) => Assert.Equal(storable, ImportJobs.Storable(json));
}
