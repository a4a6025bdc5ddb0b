using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

[Collection(ApiCollection.Name)]
public sealed class IncidentListTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>A tag no other test uses: each test lists only the incidents it created.</summary>
    private static string NewTag() => "list-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<long> CreateTaggedAsync(string tag, string occurredAt = "2016-02-21T07:30:00Z")
    {
        var feature = Features.Valid(occurredAt: occurredAt);
        feature["properties"]!["tags"] = new JsonArray(tag);
        return await _client.CreateAsync(feature);
    }

    private static string? Next(JsonNode page) =>
        page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]?.GetValue<string>();

    [Fact]
    public async Task Paging_through_next_links_visits_every_incident_exactly_once()
    {
        // Ties on occurred_at on purpose: the cursor must break them by id.
        var tag = NewTag();
        var created = new HashSet<long>();
        for (var i = 0; i < 23; i++)
            created.Add(await CreateTaggedAsync(tag, new DateTime(2015, 3, 1, 12, 0, 0, DateTimeKind.Utc).AddHours(i / 3).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")));

        var seen = new List<long>();
        var times = new List<DateTimeOffset>();
        var sizes = new List<int>();
        string? url = $"/collections/incidents/items?tags={tag}&limit=7";
        while (url is not null)
        {
            var page = await _client.GetJsonAsync(url);
            var features = page["features"]!.AsArray();
            Assert.Equal(features.Count, page["numberReturned"]!.GetValue<int>());
            sizes.Add(features.Count);
            seen.AddRange(features.Select(f => f!["id"]!.GetValue<long>()));
            times.AddRange(features.Select(f => DateTimeOffset.Parse(f!["properties"]!["occurred_at"]!.GetValue<string>())));
            url = Next(page);
        }

        Assert.Equal([7, 7, 7, 2], sizes); // and no next link after the last page
        Assert.Equal(created.Order(), seen.Order());
        Assert.Equal(times.OrderByDescending(t => t).ToList(), times);
    }

    [Fact]
    public async Task List_is_a_feature_collection_with_self_link_and_newest_first()
    {
        var tag = NewTag();
        var older = await CreateTaggedAsync(tag, "2099-01-01T00:00:00Z");
        var newer = await CreateTaggedAsync(tag, "2099-01-02T00:00:00Z");

        var response = await _client.GetAsync($"/collections/incidents/items?tags={tag}&limit=2");
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType?.MediaType);
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal("FeatureCollection", page["type"]!.GetValue<string>());
        Assert.Equal([newer, older], page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
        Assert.Contains(page["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "self");
    }

    [Fact]
    public async Task Limit_above_the_maximum_is_clamped_to_10000()
    {
        var (query, errors) = QueryParser.Parse(new Dictionary<string, string> { ["limit"] = "50000" }, DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        Assert.Equal(10_000, query!.Limit);

        // Over HTTP the page is served, and its self link keeps what the client asked.
        var tag = NewTag();
        var id = await CreateTaggedAsync(tag);
        var clamped = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&limit=50000");
        Assert.Equal([id], clamped["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
        var self = clamped["links"]!.AsArray().First(l => l!["rel"]!.GetValue<string>() == "self")!["href"]!.GetValue<string>();
        Assert.Contains("limit=50000", self);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=eyJzIjoiaWQiLCJrIjpbMV19", "cursor")]
    [InlineData("limt=5", "limt")]
    [InlineData("f=xml", "f")]
    public async Task Bad_query_parameter_is_a_400_problem_naming_it(string query, string parameter)
    {
        var response = await _client.GetAsync("/collections/incidents/items?" + query);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, parameter);
    }

    [Fact]
    public async Task Deleted_incidents_do_not_appear_in_lists()
    {
        var tag = NewTag();
        var deleted = await CreateTaggedAsync(tag);
        var kept = await CreateTaggedAsync(tag);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteCurrentAsync($"/collections/incidents/items/{deleted}")).StatusCode);

        var page = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}");
        Assert.Equal([kept], page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
    }
}
