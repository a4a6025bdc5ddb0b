using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// A position is two or more numbers (RFC 7946 §3.1.1). [1,2,3,4] was stored as [1,2] while the
/// message, the OpenAPI schema (maxItems 3) and the README said 2 or 3: now every number after the
/// latitude (a height, a measure) is accepted and not stored, and all three say so.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class PositionNumbersTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("""{"type":"Point","coordinates":[36.7236,34.7197,100,5]}""", "[36.7236,34.7197]")]
    [InlineData("""{"type":"Point","coordinates":[36.7236,34.7197,100,5,7]}""", "[36.7236,34.7197]")]
    [InlineData("""{"type":"LineString","coordinates":[[36.7,34.7,1,0],[36.8,34.8,2,12.5]]}""", "[[36.7,34.7],[36.8,34.8]]")]
    public async Task Numbers_after_the_latitude_are_accepted_and_not_stored(string geometry, string stored)
    {
        var (response, body) = await _client.PostAsync(Features.Valid(geometry: Features.Geometry(geometry)));

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal(stored, body!["geometry"]!["coordinates"]!.ToJsonString());
        var read = await _client.GetJsonAsync($"/collections/incidents/items/{body["id"]}");
        Assert.Equal(stored, read["geometry"]!["coordinates"]!.ToJsonString());
    }

    [Fact]
    public async Task An_import_takes_a_measure_as_a_single_write_does()
    {
        var prefix = ImportHelpers.Unique();
        var feature = Features.Valid(geometry: Features.Geometry("""{"type":"Point","coordinates":[36.5,34.5,0,3]}"""));
        feature["properties"]!["external_id"] = $"{prefix}-1";

        await _client.ImportOkAsync(feature.ToJsonString(), "application/x-ndjson", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var page = await _client.GetJsonAsync($"/collections/incidents/items?external_id={prefix}-1");
        Assert.Equal("[36.5,34.5]", page["features"]![0]!["geometry"]!["coordinates"]!.ToJsonString());
    }

    [Fact]
    public async Task One_number_is_refused_with_the_rule_as_it_is()
    {
        var (response, _) = await _client.PostAsync(Features.Valid(geometry: Features.Geometry("""{"type":"Point","coordinates":[1]}""")));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "geometry");
        Assert.Contains("a position is 2 or more numbers", problem["errors"]![0]!["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Openapi_declares_a_position_as_two_or_more_numbers()
    {
        var document = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;

        var point = document["components"]!["schemas"]!["GeoJsonGeometry"]!["oneOf"]![0]!["properties"]!["coordinates"]!;
        Assert.Equal(2, point["minItems"]!.GetValue<int>());
        Assert.Null(point["maxItems"]);
        Assert.Contains("not stored", point["description"]!.GetValue<string>());
    }
}
