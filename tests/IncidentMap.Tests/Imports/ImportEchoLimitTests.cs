using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// An import sends back a client's text cut as every problem does (README, Errors and limits): a name to 200 characters,
/// a quoted value to 100 with its length, a message to 1,000. The import's answer was built by hand and its report never
/// cut: a CSV column named by 100,000 characters came back whole in the detail, the errors and the report (300 KB), and
/// was stored whole in a job's row; 5,000 unknown columns were listed whole (284 KB a copy); a crs name of 50,000
/// characters came back three times; an NDJSON feature's unknown member was listed whole in rejected_rows; a 20 KB
/// charset came back whole, its second mention unquoted.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportEchoLimitTests(ImportsFixture api)
{
    private const string Header = "external_id,title,event_type,occurred_at,lon,lat";

    /// <summary>Every message in the problem and its report is within the limits, and the whole answer small.</summary>
    private static void AssertCut(string text, JsonObject problem)
    {
        Assert.True(text.Length < 8_000, $"{text.Length} characters: {text[..Math.Min(text.Length, 2_000)]}");
        Assert.True(problem["detail"]!.GetValue<string>().Length <= 1_300, problem["detail"]!.GetValue<string>());
        foreach (var error in problem["errors"]!.AsArray())
        {
            Assert.True(error!["field"]!.GetValue<string>().Length <= 200);
            Assert.True(error["detail"]!.GetValue<string>().Length <= 1_000);
        }
        if (problem["report"]?["error"] is JsonObject reported)
        {
            Assert.True(reported["field"]!.GetValue<string>().Length <= 200);
            Assert.True(reported["reason"]!.GetValue<string>().Length <= 1_000);
        }
    }

    private async Task<(HttpResponseMessage Response, string Text, JsonObject Problem)> PostAsync(string body, string mediaType, string query)
    {
        var response = await api.CreateClient().PostAsync(Url + query, new StringContent(body, new UTF8Encoding(false), mediaType));
        var text = await response.Content.ReadAsStringAsync();
        return (response, text, JsonNode.Parse(text)!.AsObject());
    }

    [Fact]
    public async Task A_CSV_column_of_100000_characters_is_sent_back_quoted_and_cut_with_the_messages_hint()
    {
        var name = new string('q', 100_000);
        var csv = $"{Header},{name}\nk,T,riots,2016-01-01,1,1,x\n";

        var (response, text, problem) = await PostAsync(csv, "text/csv", "?source=" + Unique());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "header");
        AssertCut(text, problem);
        var quoted = $"'{new string('q', 100)}…' (100000 characters)";
        Assert.Contains(quoted, problem["detail"]!.GetValue<string>());
        Assert.Contains(quoted, problem["errors"]![0]!["detail"]!.GetValue<string>());
        var reason = problem["report"]!["error"]!["reason"]!.GetValue<string>();
        Assert.StartsWith($"column(s) {quoted} are neither incident properties nor lon, lat, wkt", reason);
    }

    [Fact]
    public async Task Five_thousand_unknown_CSV_columns_are_listed_to_a_few_and_counted()
    {
        var names = Enumerable.Range(0, 5_000).Select(n => $"unknown_column_{n:D5}_{new string('z', 34)}").ToList();
        var csv = $"{Header},{string.Join(",", names)}\n";

        var (response, text, problem) = await PostAsync(csv, "text/csv", "?source=" + Unique());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "header");
        AssertCut(text, problem);
        var reason = problem["report"]!["error"]!["reason"]!.GetValue<string>();
        Assert.StartsWith($"column(s) '{names[0]}', '{names[1]}'", reason);
        Assert.Matches(@"' and 4,?9\d\d more are neither incident properties nor lon, lat, wkt \(an ACLED export has event_id_cnty\)$", reason);
    }

    [Fact]
    public async Task A_failed_job_stores_the_message_cut()
    {
        var name = new string('j', 100_000);
        var client = api.CreateClient();
        var accepted = await client.PostAsync($"{Url}?async=true&source={Unique()}",
            new StringContent($"{Header},{name}\nk,T,riots,2016-01-01,1,1,x\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        string text = "";
        JsonNode? job = null;
        for (var waited = 0; waited < 600 && job?["status"]?.GetValue<string>() is null or "running"; waited++)
        {
            await Task.Delay(100);
            text = await client.GetStringAsync(accepted.Headers.Location);
            job = JsonNode.Parse(text);
        }

        Assert.Equal("failed", job!["status"]!.GetValue<string>());
        Assert.True(text.Length < 4_000, $"{text.Length} characters");
        Assert.Contains($"'{new string('j', 100)}…' (100000 characters)", job["report"]!["error"]!["reason"]!.GetValue<string>());
    }

    /// <summary>The import command's report is the importer's, made of the same problems.</summary>
    [Fact]
    public async Task The_importers_own_report_is_cut_as_the_answer_is()
    {
        await using var importer = new TestImporter(api.Services, new ImportSettings());

        var report = await importer.RunAsync($"{Header},{new string('c', 100_000)}\n", Unique());

        Assert.Equal("header", report.Error!.Field);
        Assert.True(report.Error.Reason.Length <= 1_000, $"{report.Error.Reason.Length} characters");
        Assert.Contains("(100000 characters) are neither incident properties", report.Error.Reason);
    }

    [Fact]
    public async Task A_crs_name_of_50000_characters_is_quoted_cut()
    {
        var name = new string('r', 50_000);
        var body = $"{{\"type\": \"FeatureCollection\", \"crs\": {{\"type\": \"name\", \"properties\": {{\"name\": \"{name}\"}}}}, \"features\": []}}";

        var (response, text, problem) = await PostAsync(body, "application/geo+json", "?source=" + Unique());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "crs");
        AssertCut(text, problem);
        Assert.StartsWith($"'{new string('r', 100)}…' (50000 characters) is not a coordinate reference system this service takes",
            problem["report"]!["error"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_NDJSON_features_unknown_member_of_50000_characters_is_named_cut_in_rejected_rows()
    {
        var prefix = Unique();
        var member = new string('m', 50_000);
        var ndjson = $$$"""{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{"external_id":"{{{prefix}}}-1","title":"T","event_type":"riots","occurred_at":"2016-01-01","{{{member}}}":1}}""" + "\n";

        var (response, text, report) = await PostAsync(ndjson, "application/x-ndjson", "?source=" + prefix);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertCounts(report, 0, 0, 0, 1);
        Assert.True(text.Length < 4_000, $"{text.Length} characters");
        var (_, field, _, reason) = Assert.Single(Problems(report));
        Assert.Equal(200, field.Length);
        Assert.StartsWith("properties.mmm", field);
        Assert.EndsWith("…", field);
        Assert.True(reason.Length <= 1_000);
    }

    [Fact]
    public async Task A_charset_of_20000_characters_is_a_small_415_naming_Content_Type()
    {
        var charset = new string('s', 20_000);
        var content = new StringContent($"{Header}\n", Encoding.UTF8);
        content.Headers.Remove("Content-Type");
        content.Headers.TryAddWithoutValidation("Content-Type", $"text/csv; charset={charset}");

        var response = await api.CreateClient().PostAsync(Url + "?source=" + Unique(), content);
        var text = await response.Content.ReadAsStringAsync();

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        AssertCut(text, problem);
        Assert.StartsWith($"Content-Type charset '{new string('s', 100)}…' (20000 characters) is not supported", problem["detail"]!.GetValue<string>());
        // A short one is still named in the hint.
        var latin = new StringContent($"{Header}\n", Encoding.Latin1, "text/csv");
        var named = await ProblemAssert.IsProblemAsync(await api.CreateClient().PostAsync(Url + "?source=" + Unique(), latin),
            HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.Contains("iconv -f iso-8859-1 -t UTF-8", named["detail"]!.GetValue<string>());
    }
}
