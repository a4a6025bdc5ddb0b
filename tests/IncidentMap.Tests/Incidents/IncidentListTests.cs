using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

[Collection(ApiCollection.Name)]
public sealed class IncidentListTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Paging_through_next_links_visits_every_incident_exactly_once()
    {
        // Ties on occurred_at on purpose: the cursor must break them by id.
        var created = new HashSet<long>();
        for (var i = 0; i < 23; i++)
        {
            var when = new DateTime(2015, 3, 1, 12, 0, 0, DateTimeKind.Utc).AddHours(i / 3);
            created.Add(await _client.CreateAsync(Features.Valid(occurredAt: when.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"))));
        }

        var seen = new List<long>();
        var times = new List<DateTimeOffset>();
        string? url = "/collections/incidents/items?limit=7";
        var pages = 0;
        while (url is not null)
        {
            var page = await _client.GetJsonAsync(url);
            var features = page["features"]!.AsArray();
            Assert.Equal(features.Count, page["numberReturned"]!.GetValue<int>());
            Assert.True(features.Count <= 7);
            seen.AddRange(features.Select(f => f!["id"]!.GetValue<long>()));
            times.AddRange(features.Select(f => DateTimeOffset.Parse(f!["properties"]!["occurred_at"]!.GetValue<string>())));
            url = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]?.GetValue<string>();
            pages++;
        }

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(created, seen.ToHashSet());
        Assert.True(pages >= 4);
        Assert.Equal(times.OrderByDescending(t => t).ToList(), times);
    }

    [Fact]
    public async Task List_is_a_feature_collection_with_self_link_and_newest_first()
    {
        var older = await _client.CreateAsync(Features.Valid(occurredAt: "2099-01-01T00:00:00Z"));
        var newer = await _client.CreateAsync(Features.Valid(occurredAt: "2099-01-02T00:00:00Z"));

        var response = await _client.GetAsync("/collections/incidents/items?limit=2");
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType?.MediaType);
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal("FeatureCollection", page["type"]!.GetValue<string>());
        var ids = page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).ToList();
        Assert.Equal(ids.IndexOf(newer) + 1, ids.IndexOf(older));
        Assert.Contains(page["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "self");
    }

    [Fact]
    public async Task Limit_above_the_maximum_is_clamped_to_10000()
    {
        await _client.CreateAsync(Features.Valid());
        await _client.CreateAsync(Features.Valid());

        var page = await _client.GetJsonAsync("/collections/incidents/items?limit=1");
        var next = page["links"]!.AsArray().First(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>();
        var clamped = await _client.GetJsonAsync(next.Replace("limit=1", "limit=50000"));

        Assert.True(clamped["numberReturned"]!.GetValue<int>() is > 0 and <= 10_000);
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
        var id = await _client.CreateAsync(Features.Valid(occurredAt: "2100-06-01T00:00:00Z"));
        await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}");

        var page = await _client.GetJsonAsync("/collections/incidents/items?limit=50");
        Assert.DoesNotContain(page["features"]!.AsArray(), f => f!["id"]!.GetValue<long>() == id);
    }
}
