using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;

namespace IncidentMap.Tests.Ogc;

/// <summary>The collections' feature schemas (describedby) say what the features really carry.</summary>
[Collection(ApiCollection.Name)]
public sealed class FeatureSchemaTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<JsonObject> SchemaOfAsync(string collection)
    {
        var links = (await _client.GetJsonAsync($"/collections/{collection}"))["links"]!.AsArray().Select(l => l!.AsObject()).ToList();
        var described = links.Where(l => string.Equals(l["rel"]!.GetValue<string>(), "describedby", StringComparison.OrdinalIgnoreCase)
                                         && l["type"]!.GetValue<string>() == "application/schema+json").ToList();
        // The IANA spelling, and GDAL 3.6's, naming the same document.
        Assert.Equal(["describedby", "describedBy"], described.Select(l => l["rel"]!.GetValue<string>()));
        var href = Assert.Single(described.Select(l => l["href"]!.GetValue<string>()).Distinct());

        var response = await _client.GetAsync(new Uri(href).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/schema+json", response.Content.Headers.ContentType!.MediaType);
        var schema = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema["$schema"]!.GetValue<string>());
        Assert.Equal(href, schema["$id"]!.GetValue<string>());
        return schema;
    }

    private static JsonObject PropertiesOf(JsonObject schema) => schema["properties"]!["properties"]!["properties"]!.AsObject();

    /// <summary>Every value the feature carries has its property's type; null only where the description says it can be.</summary>
    private static void AssertConforms(JsonObject schema, JsonObject feature)
    {
        var properties = PropertiesOf(schema);
        Assert.Equal(schema["properties"]!["id"]!["type"]!.GetValue<string>(), TypeOf(feature["id"]!));
        foreach (var (name, value) in feature["properties"]!.AsObject())
        {
            var property = properties[name] ?? throw new Xunit.Sdk.XunitException($"'{name}' is not in the schema");
            if (value is null)
            {
                Assert.True(property["description"]!.GetValue<string>().Contains("null", StringComparison.OrdinalIgnoreCase),
                    $"{name} is null, and its description does not say it can be");
                continue;
            }
            Assert.True(property["type"]!.GetValue<string>() == TypeOf(value), $"{name}: {value.ToJsonString()} is not a {property["type"]}");
            if (property["enum"] is JsonArray values) Assert.Contains(value.GetValue<string>(), values.Select(v => v!.GetValue<string>()));
            if (property["format"]?.GetValue<string>() == "date-time") Assert.True(DateTimeOffset.TryParse(value.GetValue<string>(), out _), $"{name}: {value}");
            if (value is JsonArray items && property["items"]!["type"] is { } itemType)
                Assert.All(items, item => Assert.Equal(itemType.GetValue<string>(), TypeOf(item!)));
        }
    }

    private static string TypeOf(JsonNode value) => value.GetValueKind() switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => value.GetValue<JsonElement>().TryGetInt64(out _) ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        var kind => kind.ToString(),
    };

    [Fact]
    public async Task The_incident_schema_lists_every_property_of_a_feature_in_its_order_with_the_types_of_its_values()
    {
        var schema = await SchemaOfAsync("incidents");
        var full = Features.Valid();
        var given = full["properties"]!.AsObject();
        given["summary"] = "Two car bombs";
        given["sub_event_type"] = "Suicide bomb";
        given["location_name"] = "Homs";
        given["admin1"] = "Homs";
        given["admin2"] = "Homs";
        given["country"] = "SY";
        given["fatalities_min"] = 46;
        given["fatalities_max"] = 57;
        given["injured_min"] = 100;
        given["injured_max"] = 110;
        given["actors"] = new JsonArray("Islamic State");
        given["claimed_by"] = "Islamic State";
        given["sources"] = new JsonArray(new JsonObject { ["publisher"] = "SANA", ["url"] = "https://sana.sy/en/?p=1", ["published_at"] = "2016-02-21" });
        given["tags"] = new JsonArray("car bomb");
        given["external_id"] = $"schema:{Guid.NewGuid():N}";
        var bare = Features.Valid(geometry: Features.Point(-150.5, -60.5));

        foreach (var created in new[] { full, bare })
        {
            var feature = await _client.GetJsonAsync($"/collections/incidents/items/{await _client.CreateAsync(created)}");
            Assert.Equal(PropertiesOf(schema).Select(p => p.Key), feature["properties"]!.AsObject().Select(p => p.Key));
            AssertConforms(schema, feature);
        }
        Assert.Equal(PropertiesOf(schema).Select(p => p.Key), schema["properties"]!["properties"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public async Task The_place_schema_describes_browsed_searched_and_editors_places()
    {
        var schema = await SchemaOfAsync("places");
        var name = "Schemaville " + Guid.NewGuid().ToString("N")[..6];
        var id = await _client.AddPlaceAsync(name, 36.2, 33.4, null, null, "suburb", "Schema Town");

        var editors = await _client.GetJsonAsync($"/collections/places/items/{id}");
        var searched = (await _client.GetJsonAsync($"/collections/places/items?q={Uri.EscapeDataString(name)}"))["features"]!.AsArray();
        var browsed = (await _client.GetJsonAsync("/collections/places/items?country=SY&limit=5"))["features"]!.AsArray();
        // The name with the Arabic article before it is an "article" match.
        var article = (await _client.GetJsonAsync($"/collections/places/items?q={Uri.EscapeDataString("Al " + name)}"))["features"]!.AsArray();

        Assert.Contains(searched, f => f!["id"]!.GetValue<long>() == id && f["properties"]!["match"]!.GetValue<string>() == "exact");
        Assert.Contains(article, f => f!["id"]!.GetValue<long>() == id && f["properties"]!["match"]!.GetValue<string>() == "article");
        Assert.Equal(5, browsed.Count);
        var required = schema["properties"]!["properties"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        foreach (var feature in searched.Concat(article).Concat(browsed).Append(editors).Select(f => f!.AsObject()))
        {
            AssertConforms(schema, feature);
            Assert.All(required, r => Assert.True(feature["properties"]!.AsObject().ContainsKey(r), $"{r} missing from {feature.ToJsonString()}"));
        }
    }
}
