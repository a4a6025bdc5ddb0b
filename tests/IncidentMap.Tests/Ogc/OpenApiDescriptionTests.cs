using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Descriptions in the OpenAPI document that said otherwise than the service does: time_precision
/// truncated "to the start of that UTC day" (it is the calendar the time was written in), and precision
/// defaulted to 7 for every format (CSV and sequences give coordinates as stored).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiDescriptionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Time_precision_and_precision_are_described_as_they_behave()
    {
        var document = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;

        var timePrecision = document["components"]!["schemas"]!["IncidentPropertiesDoc"]!["properties"]!["time_precision"]!["description"]!.GetValue<string>();
        Assert.DoesNotContain("UTC day", timePrecision);
        Assert.Contains("calendar of the offset it was written in", timePrecision);

        var precision = document["paths"]!["/collections/incidents/items"]!["get"]!["parameters"]!.AsArray()
            .Single(p => p!["name"]?.GetValue<string>() == "precision")!;
        Assert.Null(precision["schema"]!["default"]);
        Assert.Contains("CSV and sequences (f=csv, geojsonseq, ndjson) give coordinates as stored", precision["description"]!.GetValue<string>());
    }
}
