using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.OpenApi;
using IncidentMap.Tests.Dashboards;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// The OpenAPI document read as OpenAPI 3.0.3 and strict validators read it (Python's
/// openapi-schema-validator, OAS30Validator): <c>nullable</c> only adds null to a <c>type</c> beside it. The
/// document declared "this reference or null" as <c>{"allOf": [{"$ref": …}], "nullable": true}</c>, which has
/// no type, so such validators refused the service's own nulls: every deletion in the change feed
/// (<c>"feature": null</c>), every import report's <c>"error": null</c>, a patch's or a write's null geometry.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class NullableContractTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private readonly DeclaredContract _contract = new(OpenApiSetup.Render(api.Services));

    [Fact]
    public void The_contract_checker_reads_nullable_as_OpenAPI_3_0_3_does()
    {
        var contract = new DeclaredContract("""
            {"openapi": "3.0.4", "paths": {}, "components": {"schemas": {
              "Thing": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
              "Level": {"type": "string", "enum": ["low", "high"]}}}}
            """);
        bool Takes(string schema, string value) => contract.Check(JsonNode.Parse(schema)!, value).Count == 0;

        // nullable acts on the type beside it, and only there: other keywords still apply to null.
        Assert.True(Takes("""{"type": "string", "nullable": true}""", "null"));
        Assert.False(Takes("""{"type": "string"}""", "null"));
        Assert.False(Takes("""{"type": "string", "nullable": true, "enum": ["low"]}""", "null"));
        Assert.False(Takes("""{"allOf": [{"$ref": "#/components/schemas/Thing"}], "nullable": true}""", "null"));
        Assert.False(Takes("""{"allOf": [{"$ref": "#/components/schemas/Level"}], "nullable": true}""", "null"));
        Assert.False(Takes("""{"properties": {"a": {"allOf": [{"$ref": "#/components/schemas/Level"}], "nullable": true}}}""", """{"a": null}"""));

        // What the document says instead: the reference, or the schema only null matches.
        var nullOnly = Serialized(OpenApiSetup.NullOnly());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"object","nullable":true,"enum":[null]}"""), nullOnly), nullOnly.ToJsonString());
        Assert.True(Takes(nullOnly.ToJsonString(), "null"));
        Assert.False(Takes(nullOnly.ToJsonString(), "{}"));
        Assert.False(Takes(nullOnly.ToJsonString(), "\"null\""));
        var thingOrNull = $$"""{"oneOf": [{"$ref": "#/components/schemas/Thing"}, {{nullOnly.ToJsonString()}}]}""";
        Assert.True(Takes(thingOrNull, "null"));
        Assert.True(Takes(thingOrNull, """{"a": "x"}"""));
        Assert.False(Takes(thingOrNull, "{}"));
    }

    private static JsonNode Serialized(Microsoft.OpenApi.OpenApiSchema schema)
    {
        using var writer = new StringWriter();
        schema.SerializeAsV3(new Microsoft.OpenApi.OpenApiJsonWriter(writer));
        return JsonNode.Parse(writer.ToString())!;
    }

    [Fact]
    public void No_schema_of_the_document_says_nullable_without_a_type_for_it_to_act_on()
    {
        var untyped = new List<string>();
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject o:
                    if (o["nullable"]?.GetValueKind() == JsonValueKind.True && o["type"] is null) untyped.Add($"{path}: {o.ToJsonString()}");
                    foreach (var (key, value) in o) Walk(value, $"{path}/{key}");
                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++) Walk(a[i], $"{path}/{i}");
                    break;
            }
        }
        Walk(_contract.Document, "#");
        Assert.True(untyped.Count == 0, "nullable without a type (null is refused there):\n" + string.Join("\n", untyped));

        // The members the service sends null in are declared so that null is valid, and only what they say otherwise.
        foreach (var (schema, member) in new[]
                 {
                     ("ChangeDoc", "feature"), ("ImportReport", "error"), ("IncidentPatchDoc", "geometry"), ("IncidentPatchDoc", "properties"),
                     ("IncidentWriteDoc", "geometry"), ("IncidentPropertiesDoc", "time_precision"), ("IncidentPropertiesDoc", "geo_precision"),
                     ("IncidentPropertiesDoc", "status"),
                 })
        {
            var declared = _contract.Document["components"]!["schemas"]![schema]!["properties"]![member]!;
            Assert.True(_contract.Check(declared, "null").Count == 0, $"{schema}.{member} refuses null: {declared.ToJsonString()}");
            Assert.True(_contract.Check(declared, "12").Count > 0, $"{schema}.{member} takes anything: {declared.ToJsonString()}");
        }
    }

    /// <summary>
    /// Checks <paramref name="response"/>'s body against the schema the document declares for its operation,
    /// status and media type; returns the body.
    /// </summary>
    private async Task<JsonNode> CheckAsync(HttpResponseMessage response, string template, List<string> failures, string what)
    {
        var method = response.RequestMessage!.Method.Method;
        var text = await response.Content.ReadAsStringAsync();
        var mediaType = DeclaredContract.MediaType(response.Content.Headers.ContentType?.ToString());
        var declared = _contract.Response(_contract.Operation(method, template)!, (int)response.StatusCode)?["content"]?[mediaType]?["schema"];
        if (declared is null) failures.Add($"{what}: {method} {template} declares no {mediaType} for {(int)response.StatusCode}");
        else failures.AddRange(_contract.Check(declared, text).Select(p => $"{what}: {p}"));
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task Answers_holding_nulls_are_valid_by_the_document_read_as_OpenAPI_3_0_3_does()
    {
        var tag = QueryHelpers.NewTag();
        var feed = await _client.HeadAsync(tag);
        var id = await _client.CreateAsync(QueryHelpers.Incident(tag).With("summary", "To be cleared").With("sub_event_type", "Shelling/artillery/missile attack"));
        var item = $"{QueryHelpers.Items}/{id}";
        const string itemTemplate = QueryHelpers.Items + "/{featureId}";
        var failures = new List<string>();

        await CheckAsync(await _client.GetAsync(item), itemTemplate, failures, "an incident");
        await CheckAsync(await _client.GetAsync($"{QueryHelpers.Items}?tags={tag}"), QueryHelpers.Items, failures, "a page of items");

        // A merge patch that clears members: the request is valid by the document, and so is the answer.
        const string patch = """{"properties":{"summary":null,"sub_event_type":null,"fatalities_max":null}}""";
        var patchSchema = _contract.Operation("patch", itemTemplate)!["requestBody"]!["content"]!["application/merge-patch+json"]!["schema"]!;
        failures.AddRange(_contract.Check(patchSchema, patch).Select(p => $"the patch: {p}"));
        var patched = await _client.PatchCurrentAsync(item, patch);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        await CheckAsync(patched, itemTemplate, failures, "a patched incident");

        // A deletion is a change whose feature is null.
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteCurrentAsync(item)).StatusCode);
        await _client.PollUntilAsync(tag, feed, 3);
        var changes = await CheckAsync(await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={feed}&limit=1000"),
            "/collections/incidents/changes", failures, "a change feed page holding a deletion");
        Assert.Contains(changes["changes"]!.AsArray(), c => c!["kind"]!.GetValue<string>() == "deleted" && c.AsObject().ContainsKey("feature") && c["feature"] is null);

        // An import's report, answered at once and as a job's: error is null when the import ran to its end.
        const string imports = "/collections/incidents/imports";
        var report = await CheckAsync(await _client.PostAsync($"{imports}?source=nullable-{tag}", RouteSamples.Csv(tag)), imports, failures, "an import report");
        Assert.True(report.AsObject().ContainsKey("error") && report["error"] is null, report.ToJsonString());

        var accepted = await _client.PostAsync($"{imports}?source=nullable-job-{tag}&async=true", RouteSamples.Csv(tag + "j"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var job = await CheckAsync(accepted, imports, failures, "an import job, accepted");
        var jobUrl = $"{imports}/{job["id"]!.GetValue<long>()}";
        for (var waited = 0; job["status"]!.GetValue<string>() is "queued" or "running" && waited < 600; waited++)
        {
            await Task.Delay(100);
            job = JsonNode.Parse(await _client.GetStringAsync(jobUrl))!;
        }
        Assert.Equal("succeeded", job["status"]!.GetValue<string>());
        job = await CheckAsync(await _client.GetAsync(jobUrl), imports + "/{id}", failures, "a finished import job");
        Assert.True(job["report"]!.AsObject().ContainsKey("error") && job["report"]!["error"] is null, job.ToJsonString());

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
