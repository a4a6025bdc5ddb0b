using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

/// <summary>OGC API – Features Part 3 over HTTP: queryables, filter and filter-lang on the items.</summary>
[Collection(ApiCollection.Name)]
public sealed class FilterApiTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<(string Tag, long Big, long Small)> CreateTwoAsync()
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        async Task<long> Create(int deaths, double lon)
        {
            var feature = Features.Valid(geometry: Features.Point(lon, 34.7));
            feature["properties"]!["tags"] = new JsonArray(tag);
            feature["properties"]!["fatalities_max"] = deaths;
            return await _client.CreateAsync(feature);
        }
        return (tag, await Create(60, 36.7), await Create(3, 38.1));
    }

    private async Task<List<long>> IdsAsync(string query)
    {
        var page = await _client.GetJsonAsync("/collections/incidents/items?limit=100&" + query);
        return page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).Order().ToList();
    }

    [Fact]
    public async Task A_cql2_text_filter_selects_by_property_and_geometry()
    {
        var (tag, big, small) = await CreateTwoAsync();

        Assert.Equal([big], await IdsAsync($"tags={tag}&filter={Uri.EscapeDataString("fatalities_max > 50")}"));
        Assert.Equal([small], await IdsAsync($"tags={tag}&filter={Uri.EscapeDataString("S_INTERSECTS(geometry, BBOX(38, 34, 39, 35)) AND NOT fatalities_max IS NULL")}"));
        Assert.Equal([big, small], await IdsAsync($"tags={tag}&filter={Uri.EscapeDataString("fatalities_max IN (3, 60) OR title LIKE 'nothing%'")}"));
    }

    [Fact]
    public async Task A_cql2_json_filter_works_the_same()
    {
        var (tag, big, _) = await CreateTwoAsync();
        const string json = """{"op":">","args":[{"property":"fatalities_max"},50]}""";

        Assert.Equal([big], await IdsAsync($"tags={tag}&filter-lang=cql2-json&filter={Uri.EscapeDataString(json)}"));
    }

    [Theory]
    [InlineData("fatalities_max >", "filter")]
    [InlineData("nope = 1", "filter")]
    [InlineData("title = 'x'; DROP TABLE incidents", "filter")]
    public async Task A_malformed_filter_is_a_400_naming_the_position(string filter, string parameter)
    {
        var response = await _client.GetAsync($"/collections/incidents/items?filter={Uri.EscapeDataString(filter)}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, parameter);
        Assert.Contains("position", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_filter_language_is_a_400_naming_filter_lang()
    {
        var response = await _client.GetAsync("/collections/incidents/items?filter=a&filter-lang=ecql");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter-lang");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/incidents/items?filter-lang=ecql"), HttpStatusCode.BadRequest, "filter-lang");
    }

    [Theory]
    [InlineData("cql2-text")]
    [InlineData("cql2-json")]
    public async Task A_known_filter_language_without_a_filter_filters_nothing(string lang)
    {
        var response = await _client.GetAsync($"/collections/incidents/items?limit=1&filter-lang={lang}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Queryables_are_json_schema_linked_from_the_collection()
    {
        var collection = await _client.GetJsonAsync("/collections/incidents");
        var link = collection["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "http://www.opengis.net/def/rel/ogc/1.0/queryables")!;
        Assert.Equal("application/schema+json", link["type"]!.GetValue<string>());

        var response = await _client.GetAsync(new Uri(link["href"]!.GetValue<string>()).PathAndQuery);
        Assert.Equal("application/schema+json", response.Content.Headers.ContentType?.MediaType);
        var schema = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema["$schema"]!.GetValue<string>());
        Assert.NotNull(schema["properties"]!["fatalities_max"]);
        Assert.NotNull(schema["properties"]!["geometry"]);
    }
}
