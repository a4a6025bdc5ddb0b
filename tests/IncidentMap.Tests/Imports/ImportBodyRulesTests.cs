using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// An import's rows get the checks a single write's body gets before validation: a member given twice, text that
/// is not valid Unicode or holds a NUL, JSON nested too deep. Imports parsed rows themselves and skipped them: the
/// last of two titles silently won, and a lone surrogate was named "feature" rather than its field (hunter).
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportBodyRulesTests(ImportsFixture api)
{
    private const string Good = """{"type":"Feature","geometry":{"type":"Point","coordinates":[36,34]},"properties":{"title":"a","summary":"\ud83d\udca5 \\ud800 \\\\u0000","event_type":"battles","occurred_at":"2020-01-01","sources":[{"publisher":"p","url":"http://a.example"}],"external_id":"ID"}}""";

    private readonly HttpClient _client = api.CreateClient();

    /// <summary>The bad rows: what in <see cref="Good"/> is replaced, the field a single write names, and words of its reason.</summary>
    public static TheoryData<string, string, string, string> Bad => new()
    {
        { "\"title\":\"a\"", "\"title\":\"a\",\"title\":\"b\"", "properties.title", "appears twice" },
        { "\"title\":\"a\"", "\"title\":\"a\",\"\\u0074itle\":\"b\"", "properties.title", "appears twice" },
        { "\"geometry\"", "\"geometry\":null,\"geometry\"", "geometry", "appears twice" },
        { "\"coordinates\":[36,34]", "\"coordinates\":[36,34],\"coordinates\":[37,35]", "geometry.coordinates", "appears twice" },
        { "\"type\":\"Feature\"", "\"type\":\"Feature\",\"type\":\"Feature\"", "type", "appears twice" },
        { "\"url\":\"http://a.example\"", "\"url\":\"http://a.example\",\"url\":\"http://b.example\"", "properties.sources[0].url", "appears twice" },
        { "\"external_id\":\"ID\"", "\"external_id\":\"ID\",\"external_id\":\"ID2\"", "properties.external_id", "appears twice" },
        { "\"title\":\"a\"", "\"title\":\"a\\ud800\"", "properties.title", "is not valid Unicode" },
        { "\"title\":\"a\"", "\"title\":\"a\\u0000\"", "properties.title", "contains a NUL character" },
        // After an escaped backslash: a lone surrogate, and text that only looks like the first half of a pair.
        { "\"title\":\"a\"", "\"title\":\"a\\\\\\ud800\"", "properties.title", "is not valid Unicode" },
        { "\"title\":\"a\"", "\"title\":\"a\\\\ud83d\\ude00\"", "properties.title", "is not valid Unicode" },
        { "\"title\":\"a\"", "\"title\":\"a\\ud83d\\ud83d\"", "properties.title", "is not valid Unicode" },
        { "\"publisher\":\"p\"", "\"publisher\":\"p\",\"\\udc00\":1", "properties.sources[0]", "has a member name that is not valid Unicode" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task A_row_a_single_write_would_refuse_before_validating_it_is_rejected_naming_the_same_field(
        string good, string bad, string field, string reason)
    {
        var prefix = Unique();
        string Row(string id) => Good.Replace("\"ID", $"\"{id}");
        var badRow = Good.Replace(good, bad).Replace("\"ID", $"\"{prefix}-2");
        Assert.NotEqual(Row($"{prefix}-2"), badRow);

        // A single write of the row names the field (a 400 before any validation).
        var response = await _client.PostAsync("/collections/incidents/items", new StringContent(badRow, new UTF8Encoding(false), "application/geo+json"));
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, problem.ToJsonString());
        Assert.Equal(field, problem["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Contains(reason, problem["detail"]!.GetValue<string>());

        var rows = new[] { Row($"{prefix}-1"), badRow, Row($"{prefix}-3") };
        var bodies = new (string Body, string MediaType, long Line)[]
        {
            (string.Join("\n", rows), "application/x-ndjson", 2),
            (string.Concat(rows.Select(r => "\u001e" + r + "\n")), "application/geo+json-seq", 2),
            ("{\"type\":\"FeatureCollection\",\"features\":[\n" + string.Join(",\n", rows) + "]}", "application/geo+json", 3),
        };
        foreach (var (body, mediaType, line) in bodies)
        {
            var source = Unique();
            var report = await _client.ImportOkAsync(body.Replace(prefix, source), mediaType, "?source=" + source, inserted: 2, updated: 0, unchanged: 0, rejected: 1);
            var rejected = Assert.Single(Problems(report));
            Assert.Equal((line, field), (rejected.Line, rejected.Field));
            Assert.StartsWith(reason, rejected.Reason);
            // Nothing of the bad row was stored.
            Assert.Equal(0L, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE external_id LIKE @k", new { k = $"{source}-2%" }));
        }
    }

    [Fact]
    public async Task A_CSV_sources_cell_with_a_member_given_twice_rejects_its_row_naming_it_and_its_column()
    {
        var prefix = Unique();
        static string Cell(string json) => "\"" + json.Replace("\"", "\"\"") + "\"";
        var csv = "external_id,title,event_type,occurred_at,lon,lat,sources\n"
                  + $"{prefix}-1,One,battles,2020-01-01,36,34,{Cell("""[{"url":"http://a.example","url":"http://b.example"}]""")}\n"
                  + $"{prefix}-2,Two,battles,2020-01-01,36,34,{Cell("""[{"publisher":"p","url":"http://a.example\ud800"}]""")}\n"
                  + $"{prefix}-3,Three,battles,2020-01-01,36,34,{Cell("""[{"publisher":"p","url":"http://a.example"}]""")}\n"
                  + $"{prefix}-4,Four,battles,2020-01-01,36,34,\n";

        var report = await _client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 2);

        var problems = Problems(report);
        Assert.Equal([(2L, "properties.sources[0].url", "sources"), (3L, "properties.sources[0].url", "sources")],
            problems.Select(p => (p.Line, p.Field, p.Column)));
        Assert.Equal("appears twice", problems[0].Reason);
        Assert.StartsWith("is not valid Unicode", problems[1].Reason);
    }

    [Fact]
    public async Task A_line_nested_too_deep_is_said_so_as_a_single_write_and_a_collection_say_it()
    {
        var prefix = Unique();
        string Row(string id, int levels) =>
            Good.Replace("\"ID", $"\"{id}").Replace("\"title\":\"a\"", $"\"title\":\"a\",\"tags\":{new string('[', levels)}\"x\"{new string(']', levels)}");
        var client = _client;

        // A single write of the deep row is a 400 saying how deep it may nest.
        var response = await client.PostAsync("/collections/incidents/items", new StringContent(Row("x", 70), new UTF8Encoding(false), "application/geo+json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("nested more than 64 levels deep", await response.Content.ReadAsStringAsync());

        foreach (var (mediaType, separator) in new[] { ("application/x-ndjson", ""), ("application/geo+json-seq", "\u001e") })
        {
            var source = Unique();
            var body = string.Join("\n", new[] { Row($"{source}-1", 61), Row($"{source}-2", 70), Row($"{source}-3", 1) }.Select(r => separator + r));
            var report = await client.ImportOkAsync(body, mediaType, "?source=" + source, inserted: 1, updated: 0, unchanged: 0, rejected: 2);
            var problems = Problems(report);
            // As deep as a single write may nest: the row's own problem (tags hold strings), not its depth.
            Assert.Equal((1L, "properties.tags[0]"), (problems[0].Line, problems[0].Field));
            Assert.Equal((2L, "feature"), (problems[1].Line, problems[1].Field));
            Assert.Matches(@"^is nested more than 64 levels deep \(byte \d+ of the line\); flatten it$", problems[1].Reason);
        }
    }
}
