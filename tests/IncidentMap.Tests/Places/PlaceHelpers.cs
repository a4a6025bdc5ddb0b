using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Places;

public static class PlaceHelpers
{
    /// <summary>A valid incident with a place name and no geometry, for the server to geocode.</summary>
    public static JsonObject Unlocated(string locationName, string? country = null)
    {
        var feature = Features.Valid();
        feature.Remove("geometry");
        feature["properties"]!["location_name"] = locationName;
        if (country is not null) feature["properties"]!["country"] = country;
        return feature;
    }

    /// <summary>Adds an editor's place (the test's own row) and returns its id.</summary>
    public static async Task<long> AddPlaceAsync(this HttpClient client, string name, double lon, double lat, string? country,
        string? admin1, string kind, params string[] alternates)
    {
        var feature = new JsonObject
        {
            ["type"] = "Feature",
            ["geometry"] = Features.Point(lon, lat),
            ["properties"] = new JsonObject
            {
                ["name"] = name, ["country"] = country, ["admin1"] = admin1, ["kind"] = kind,
                ["alternate_names"] = new JsonArray(alternates.Select(a => (JsonNode)a).ToArray()),
            },
        };
        var response = await client.PostAsync("/collections/places/items", Features.Content(feature));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonNode.Parse(body)!["id"]!.GetValue<long>();
    }
}
