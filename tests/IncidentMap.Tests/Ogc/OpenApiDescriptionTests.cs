using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.OpenApi;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Dashboards;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Platform;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Descriptions in the OpenAPI document that said otherwise than the service does: time_precision
/// truncated "to the start of that UTC day" (it is the calendar the time was written in), and precision
/// defaulted to 7 for every format (CSV and sequences give coordinates as stored); distance_m was served
/// but not declared; the write bodies required nothing; comma lists and repeatable parameters were one
/// value; the search took GeoJSON without saying so.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiDescriptionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private readonly DeclaredContract _contract = new(OpenApiSetup.Render(api.Services));

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

    private JsonObject Operation(string path, string method) => _contract.Operation(method, path)!;

    private JsonNode ResponseSchema(string path, string method, string mediaType) =>
        _contract.Response(Operation(path, method), method == "post" && path == QueryHelpers.Items ? 201 : 200)!["content"]![mediaType]!["schema"]!;

    private JsonNode RequestSchema(string path, string method, string mediaType) =>
        Operation(path, method)["requestBody"]!["content"]![mediaType]!["schema"]!;

    private void AssertValid(JsonNode schema, JsonNode body, string what)
    {
        var problems = _contract.Check(schema, body.ToJsonString());
        Assert.True(problems.Count == 0, $"{what} is not valid by the document: {string.Join("\n", problems)}\n{body.ToJsonString()}");
    }

    [Fact]
    public async Task Every_property_a_read_adds_is_declared_so_radius_answers_are_valid_by_the_document()
    {
        var tag = QueryHelpers.NewTag();
        var feed = await _client.HeadAsync(tag);
        var id = await _client.CreateAsync(QueryHelpers.Incident(tag));
        var near = $"tags={tag}&lat=34.73&lon=36.71";
        var features = QueryHelpers.Items;

        var answers = new List<(string What, JsonNode Schema, JsonNode Body)>
        {
            ("a radius page", ResponseSchema(features, "get", "application/geo+json"), await _client.GetJsonAsync($"{features}?{near}&radius=25km")),
            ("a page sorted by distance", ResponseSchema(features, "get", "application/geo+json"), await _client.GetJsonAsync($"{features}?{near}&sortby=distance")),
            ("a radius search", ResponseSchema(QueryHelpers.Search, "post", "application/geo+json"),
                await _client.SearchJsonAsync(new JsonObject { ["tags"] = tag, ["lat"] = 34.73, ["lon"] = 36.71, ["radius"] = "25km" })),
        };
        var (changes, _) = await _client.PollUntilAsync(tag, feed, 1);
        Assert.Single(changes);
        answers.Add(("the change feed with a radius", ResponseSchema("/collections/incidents/changes", "get", "application/json"),
            await _client.GetJsonAsync($"/collections/incidents/changes?{near}&radius=25km&cursor={feed}")));
        var sequence = await _client.GetStringAsync($"{features}?{near}&radius=25km&f=geojsonseq");
        answers.Add(("a radius export's record", ResponseSchema(features, "get", "application/geo+json-seq"), JsonNode.Parse(DeclaredContract.Records(sequence).Single())!));

        foreach (var (what, schema, body) in answers)
        {
            // Each answer holds the incident, measured from the point: otherwise it would prove nothing.
            Assert.Contains("\"distance_m\":", body.ToJsonString());
            AssertValid(schema, body, what);
        }

        // Read-only, optional, a number: a write may send it back (it is ignored), no answer without a point has it.
        var distance = _contract.Document["components"]!["schemas"]!["IncidentPropertiesDoc"]!["properties"]!["distance_m"]!;
        Assert.Equal("number", distance["type"]!.GetValue<string>());
        Assert.True(distance["readOnly"]!.GetValue<bool>());
        Assert.DoesNotContain("distance_m", _contract.Document["components"]!["schemas"]!["IncidentPropertiesDoc"]!["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? []);
        Assert.DoesNotContain("distance_m", (await _client.GetJsonAsync($"{features}/{id}"))["properties"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Post_and_put_bodies_declare_the_properties_a_write_requires_and_a_merge_patch_requires_none()
    {
        var item = QueryHelpers.Items + "/{featureId}";
        var post = RequestSchema(QueryHelpers.Items, "post", "application/geo+json");
        Assert.Equal(post.ToJsonString(), RequestSchema(item, "put", "application/geo+json").ToJsonString());
        Assert.Equal(post.ToJsonString(), RequestSchema(QueryHelpers.Items, "post", "application/json").ToJsonString());

        // What the server refuses without them, the schema requires.
        foreach (var required in IncidentWriteDoc.RequiredProperties)
        {
            var lacking = Features.Valid();
            lacking["properties"]!.AsObject().Remove(required);
            Assert.NotEmpty(_contract.Check(post, lacking.ToJsonString()));
            var (response, _) = await _client.PostAsync(lacking);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, $"properties.{required}");
        }
        AssertValid(post, Features.Valid(), "a valid Feature");
        // No geometry but a place to geocode, and an incident sent back as read (links, created_at, version …).
        var geocoded = Features.Valid().With("location_name", "Homs").With("country", "SY");
        geocoded["geometry"] = null;
        AssertValid(post, geocoded, "a Feature to geocode");
        var id = await _client.CreateAsync(Features.Valid());
        var read = await _client.GetJsonAsync($"{QueryHelpers.Items}/{id}");
        AssertValid(post, read, "an incident as read");
        Assert.Equal(HttpStatusCode.OK, (await _client.PutCurrentAsync($"{QueryHelpers.Items}/{id}", Features.Content(read))).StatusCode);

        // A merge patch sends only what changes: nothing is required.
        foreach (var type in new[] { "application/merge-patch+json", "application/json", "application/geo+json" })
            AssertValid(RequestSchema(item, "patch", type), JsonNode.Parse("""{"properties":{"fatalities_max":62}}""")!, $"a merge patch as {type}");
        // Answers need not hold what a write needs: properties= picks some.
        AssertValid(ResponseSchema(QueryHelpers.Items, "get", "application/geo+json"),
            await _client.GetJsonAsync($"{QueryHelpers.Items}?limit=1&properties=summary"), "a page of one property");
    }

    private JsonObject Parameter(string path, string name) =>
        _contract.Parameters(Operation(path, "get")).Single(p => p["in"]!.GetValue<string>() == "query" && p["name"]!.GetValue<string>() == name);

    [Fact]
    public async Task List_parameters_are_declared_as_the_lists_they_are_and_the_service_takes_them_so()
    {
        var tag = QueryHelpers.NewTag();
        var five = await _client.CreateAsync(QueryHelpers.Incident(tag).With("fatalities_min", 5).With("admin1", "Homs"));
        var ten = await _client.CreateAsync(QueryHelpers.Incident(tag).With("fatalities_min", 10).With("admin1", "Idlib, north"));
        await _client.CreateAsync(QueryHelpers.Incident(tag).With("fatalities_min", 7).With("admin1", "Hama"));

        foreach (var path in new[] { QueryHelpers.Items, "/collections/incidents/changes", "/collections/incidents/stats" })
        {
            // A comma list of whole numbers: form style, not exploded (5,10), as bbox.
            foreach (var name in new[] { "fatalities_min", "fatalities_max" })
            {
                var counts = Parameter(path, name);
                Assert.Equal("array", counts["schema"]!["type"]!.GetValue<string>());
                Assert.Equal("integer", counts["schema"]!["items"]!["type"]!.GetValue<string>());
                Assert.Equal(QueryParser.MaxListValues, counts["schema"]!["maxItems"]!.GetValue<int>());
                Assert.False(counts["explode"]!.GetValue<bool>());
                Assert.Equal("form", counts["style"]?.GetValue<string>() ?? "form");
            }
            // A whole value, commas and all: several are the parameter repeated (form style, exploded: the defaults).
            foreach (var name in QueryParser.WholeValues)
            {
                var repeated = Parameter(path, name);
                Assert.Equal("array", repeated["schema"]!["type"]!.GetValue<string>());
                Assert.Equal("string", repeated["schema"]!["items"]!["type"]!.GetValue<string>());
                Assert.Equal(QueryParser.MaxListValues, repeated["schema"]!["maxItems"]!.GetValue<int>());
                Assert.True(repeated["explode"]?.GetValue<bool>() ?? true, name);
                Assert.Equal("form", repeated["style"]?.GetValue<string>() ?? "form");
            }
        }
        Assert.Equal(["actors", "admin1", "admin2", "admin3", "claimed_by", "external_id", "location_name", "sub_event_type", "tags"], QueryParser.WholeValues.Order(StringComparer.Ordinal));

        // Sent as declared, they mean any of.
        await _client.AssertMatchesAsync($"tags={tag}&fatalities_min=5,10", five, ten);
        await _client.AssertMatchesAsync($"tags={tag}&admin1=Homs&admin1={Uri.EscapeDataString("Idlib, north")}", five, ten);
    }

    [Fact]
    public async Task The_search_declares_both_body_types_it_takes()
    {
        var content = Operation(QueryHelpers.Search, "post")["requestBody"]!["content"]!.AsObject();

        Assert.Equal(["application/geo+json", "application/json"], content.Select(c => c.Key).Order());
        Assert.Equal(content["application/json"]!.ToJsonString(), content["application/geo+json"]!.ToJsonString());
        foreach (var type in content.Select(c => c.Key))
        {
            var response = await _client.PostAsync(QueryHelpers.Search, new StringContent("""{"limit":1}""", Encoding.UTF8, type));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        // And a type it does not take is refused naming both.
        var refused = await _client.PostAsync(QueryHelpers.Search, new StringContent("""{"limit":1}""", Encoding.UTF8, "text/plain"));
        var detail = (await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.UnsupportedMediaType, "Content-Type"))["detail"]!.GetValue<string>();
        Assert.Contains("application/json", detail);
        Assert.Contains("application/geo+json", detail);
    }

    [Fact]
    public void A_new_keys_name_is_required_and_its_scopes_may_be_null()
    {
        var schema = _contract.Document["components"]!["schemas"]!["NewApiKeyRequest"]!;

        Assert.Equal(["name"], schema["required"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.True(schema["properties"]!["scopes"]!["nullable"]!.GetValue<bool>());
        Assert.Empty(_contract.Check(RequestSchema("/admin/keys", "post", "application/json"), """{"name":"x","scopes":null}"""));
        Assert.NotEmpty(_contract.Check(RequestSchema("/admin/keys", "post", "application/json"), """{"scopes":["read"]}"""));
    }
}
