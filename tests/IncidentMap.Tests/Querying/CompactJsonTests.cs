using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Every answer is written compactly, whether .NET renders it (pages of incidents) or PostgreSQL
/// builds it (clusters, hexbins, places, history, the stats summary): json_build_object wrote
/// <c>{"id" : 1}</c>, json_agg a line break after each element and jsonb <c>{"id": 1}</c>. An earlier
/// version of an incident (stored as jsonb, keys sorted by length) has its members in the order a read
/// of the incident has them.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class CompactJsonTests(ApiFixture api)
{
    [Theory]
    [InlineData("{\"id\" : 1, \"a\" : [1, 2]}", "{\"id\":1,\"a\":[1,2]}")]
    [InlineData("[{\"a\":1}, \n {\"a\":2}]", "[{\"a\":1},{\"a\":2}]")]
    [InlineData("{\"t\" : \"two  words, \\\"quoted : here\\\" \\\\\", \"u\" : \"\\\\\"}", "{\"t\":\"two  words, \\\"quoted : here\\\" \\\\\",\"u\":\"\\\\\"}")]
    [InlineData("{\"ar\": \"حمص ، سوريا\"}", "{\"ar\":\"حمص ، سوريا\"}")]
    [InlineData("{\"a\":1}", "{\"a\":1}")]
    public void Compacts_outside_strings_only(string json, string compact)
    {
        Assert.Equal(compact, JsonText.Compact(json));
        var utf8 = Encoding.UTF8.GetBytes(json);
        Assert.Equal(compact, Encoding.UTF8.GetString(utf8, 0, JsonText.Compact(utf8)));
    }

    [Fact]
    public async Task Answers_built_in_SQL_are_as_compact_as_pages_and_revisions_keep_the_order_of_a_read()
    {
        var client = api.CreateClient();
        // A spot of its own in the South Atlantic, and sources whose text holds what compaction must keep.
        var (lon, lat) = (-17.0 - Random.Shared.NextDouble(), -47.0 - Random.Shared.NextDouble());
        var feature = Features.Valid("Compact JSON check", Features.Point(lon, lat));
        feature["properties"]!["fatalities_min"] = 2;
        feature["properties"]!["fatalities_max"] = 5;
        feature["properties"]!["tags"] = new JsonArray("compact-json");
        feature["properties"]!["sources"] = new JsonArray(new JsonObject { ["publisher"] = "Wire : \"A\",  B", ["url"] = "https://example.org/a b" });
        var id = await client.CreateAsync(feature);
        Assert.Equal(HttpStatusCode.OK, (await client.PatchCurrentAsync($"/collections/incidents/items/{id}", """{"properties":{"fatalities_max":6}}""")).StatusCode);

        var bbox = FormattableString.Invariant($"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}");
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var place = await client.AddPlaceAsync($"Compacta {suffix}", lon, lat, null, null, "site", $"Punta Compacta {suffix}");

        var answers = new Dictionary<string, string>();
        foreach (var path in new[]
        {
            $"/collections/incidents/items/{id}",
            $"/collections/incidents/items?bbox={bbox}",
            $"/collections/incidents/items/{id}/history",
            $"/collections/incidents/items/{id}/history/1",
            $"/collections/incidents/stats/summary?bbox={bbox}",
            $"/collections/incidents/clusters?zoom=5&bbox={bbox}",
            $"/collections/incidents/hexbins?size=10km&bbox={bbox}",
            $"/collections/places/items?q=Punta%20Compacta%20{suffix}",
            $"/collections/places/items/{place}",
        })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
            answers[path] = await response.Content.ReadAsStringAsync();
            Assert.True(JsonText.Compact(answers[path]) == answers[path], $"{path} has white space between tokens: {answers[path]}");
            Assert.NotNull(JsonNode.Parse(answers[path]));
        }

        // What compaction must keep: the spaces inside the sources' strings.
        var revision = JsonNode.Parse(answers[$"/collections/incidents/items/{id}/history/1"])!;
        Assert.Equal("Wire : \"A\",  B", revision["properties"]!["sources"]![0]!["publisher"]!.GetValue<string>());
        Assert.Equal(5, revision["properties"]!["fatalities_max"]!.GetValue<int>());
        var current = JsonNode.Parse(answers[$"/collections/incidents/items/{id}"])!;
        Assert.Equal(["type", "id", "geometry", "properties"], revision.AsObject().Select(m => m.Key));
        Assert.Equal(current["properties"]!.AsObject().Select(m => m.Key), revision["properties"]!.AsObject().Select(m => m.Key));

        var summary = JsonNode.Parse(answers[$"/collections/incidents/stats/summary?bbox={bbox}"])!;
        Assert.Equal(1, summary["count"]!.GetValue<int>());
        var found = JsonNode.Parse(answers[$"/collections/places/items?q=Punta%20Compacta%20{suffix}"])!["features"]!.AsArray();
        Assert.Equal(["name", "alternate_names", "other_names", "country", "admin1", "kind", "population", "source", "geonameid", "match"],
            found.Single()!["properties"]!.AsObject().Select(m => m.Key));
    }
}
