using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.OpenApi;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Platform;

/// <summary>That the OpenAPI document says what the endpoints do: their bodies, their answers, their limits.</summary>
[Collection(ApiCollection.Name)]
public sealed class OpenApiContractTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private readonly JsonNode _document = JsonNode.Parse(OpenApiSetup.Render(api.Services))!;

    private IEnumerable<(string Method, string Path, JsonNode Operation)> Operations() =>
        from path in _document["paths"]!.AsObject()
        from operation in path.Value!.AsObject()
        select (operation.Key, path.Key, operation.Value!);

    private static IEnumerable<JsonObject> Objects(JsonNode? node) => node switch
    {
        JsonObject o => o.Select(m => m.Value).SelectMany(Objects).Prepend(o),
        JsonArray a => a.SelectMany(Objects),
        _ => [],
    };

    [Fact]
    public void Json_answers_are_described_as_json_not_as_the_dotnet_node_classes_that_build_them()
    {
        var schemas = _document["components"]!["schemas"]!.AsObject();
        Assert.DoesNotContain(schemas, s => s.Key.StartsWith("JsonNode", StringComparison.Ordinal) || s.Key is "JsonObject" or "JsonArray");
        var internals = Objects(_document).Where(o => o["properties"] is JsonObject p && (p.ContainsKey("options") || p.ContainsKey("parent") || p.ContainsKey("root")));
        Assert.Empty(internals.Select(o => o.ToJsonString()));

        var landing = _document["paths"]!["/"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        Assert.Equal("object", landing["type"]!.GetValue<string>());
        Assert.Equal("{}", landing["additionalProperties"]!.ToJsonString());
    }

    [Fact]
    public void Operation_summaries_and_descriptions_are_the_endpoints_own_not_their_handlers_code_comments()
    {
        var byId = Operations().ToDictionary(o => o.Operation["operationId"]!.GetValue<string>(), o => o.Operation);
        var endpoints = api.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Where(e => e.Metadata.GetMetadata<IEndpointNameMetadata>() is not null && e.Metadata.GetMetadata<IEndpointSummaryMetadata>() is not null).ToList();
        Assert.NotEmpty(endpoints);
        foreach (var endpoint in endpoints)
        {
            var name = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()!.EndpointName;
            if (!byId.TryGetValue(name, out var operation)) continue; // left out of the document
            Assert.Equal(endpoint.Metadata.GetMetadata<IEndpointSummaryMetadata>()!.Summary, operation["summary"]?.GetValue<string>());
            Assert.Equal(endpoint.Metadata.GetMetadata<IEndpointDescriptionMetadata>()?.Description, operation["description"]?.GetValue<string>());
        }
        Assert.Equal("Create an API key; its secret is shown once", byId["createKey"]["summary"]!.GetValue<string>());
    }

    [Fact]
    public void Every_operation_that_reads_a_body_declares_the_413_of_its_size_limit_and_the_408_of_its_clock()
    {
        var withBody = Operations().Where(o => o.Operation["requestBody"] is not null).ToList();
        Assert.Contains(withBody, o => o.Path == "/admin/keys");
        Assert.Contains(withBody, o => o.Path == "/collections/places/items");
        Assert.Contains(withBody, o => o.Path == "/collections/incidents/imports");
        foreach (var (method, path, operation) in withBody)
        {
            Assert.True(operation["responses"]!["413"] is not null, $"{method} {path} takes a body but does not declare 413");
            // Kestrel's minimum body rate and a JSON body's deadline (Requests__BodySeconds): tests in SlowBodyTests and RequestHoldTests.
            Assert.True(operation["responses"]!["408"] is not null, $"{method} {path} takes a body but does not declare 408");
        }
    }

    [Theory]
    [InlineData("/admin/keys", "application/json")]
    [InlineData("/collections/incidents/search", "application/json")]
    [InlineData("/collections/places/items", "application/geo+json")]
    [InlineData("/collections/incidents/items", "application/geo+json")]
    public async Task A_body_over_8_MiB_is_a_413_worded_for_any_endpoint(string url, string mediaType)
    {
        var body = "{\"name\":\"" + new string('x', 9 * 1024 * 1024) + "\"}";

        var response = await _client.PostAsync(url, new StringContent(body, Encoding.UTF8, mediaType));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Equal("The body exceeds the limit of 8388608 bytes.", problem["detail"]!.GetValue<string>());
    }

    private JsonNode SearchSchema()
    {
        var body = _document["paths"]!["/collections/incidents/search"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!;
        return Resolve(body);
    }

    private JsonNode Resolve(JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference ? _document["components"]!["schemas"]![reference.Split('/')[^1]]! : schema;

    [Fact]
    public void The_search_body_schema_lists_every_member_the_search_takes_and_only_those()
    {
        var schema = SearchSchema();

        var members = schema["properties"]!.AsObject().Select(p => p.Key).Order();
        Assert.Equal(QueryParser.Parameters.Keys.Append("intersects").Order(), members);
        // Any other member is a 400, which the schema may say.
        Assert.False(schema["additionalProperties"]!.GetValue<bool>());
    }

    /// <summary>
    /// Whether <paramref name="value"/> has a JSON type the (OpenAPI 3.0) schema allows: types,
    /// nullable, anyOf, allOf and references, items and properties. What a client checking its
    /// request against the document would look at first.
    /// </summary>
    private bool Allows(JsonNode schema, JsonNode? value)
    {
        schema = Resolve(schema);
        if (schema["anyOf"] is JsonArray anyOf && !anyOf.Any(s => Allows(s!, value))) return false;
        if (schema["oneOf"] is JsonArray oneOf && !oneOf.Any(s => Allows(s!, value))) return false;
        if (schema["allOf"] is JsonArray allOf && !allOf.All(s => Allows(s!, value))) return false;
        if (schema["type"]?.GetValue<string>() is not { } type) return true;
        if (value is null) return schema["nullable"]?.GetValue<bool>() == true;
        var kind = value.GetValueKind();
        var matches = type switch
        {
            "string" => kind == JsonValueKind.String,
            "number" => kind == JsonValueKind.Number,
            "integer" => kind == JsonValueKind.Number && value.GetValue<double>() % 1 == 0,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "array" => kind == JsonValueKind.Array,
            "object" => kind == JsonValueKind.Object,
            _ => false,
        };
        if (!matches) return false;
        if (kind == JsonValueKind.Array && schema["items"] is { } items && !value.AsArray().All(i => Allows(items, i))) return false;
        if (kind == JsonValueKind.Object && schema["properties"] is JsonObject properties)
            foreach (var (name, member) in value.AsObject())
            {
                if (properties[name] is { } property ? !Allows(property, member) : schema["additionalProperties"]?.GetValueKind() == JsonValueKind.False)
                    return false;
            }
        return true;
    }

    [Fact]
    public async Task A_search_body_of_every_json_form_the_schema_offers_is_valid_by_it_and_answered()
    {
        var body = JsonNode.Parse("""
            {
              "intersects": {"type": "Polygon", "coordinates": [[[35, 33], [38, 33], [38, 36], [35, 36], [35, 33]]]},
              "bbox": [34, 32, 39, 37],
              "lat": 34.7, "lon": 36.7, "radius": 500000,
              "datetime": "2000-01-01/..",
              "q": "bomb",
              "event_type": ["explosions_remote_violence", "battles"],
              "country": "SY",
              "tags": ["a tag no incident has", "another"],
              "fatalities": 1,
              "fatalities_max": [1, 2, 3],
              "filter-lang": "cql2-json",
              "filter": {"op": ">=", "args": [{"property": "fatalities_max"}, 0]},
              "properties": ["title", "occurred_at"],
              "sortby": ["-occurred_at", "id"],
              "precision": 5,
              "limit": 5,
              "count": true,
              "cursor": null
            }
            """)!;
        var schema = SearchSchema();
        foreach (var (name, value) in body.AsObject())
            Assert.True(Allows(schema["properties"]![name]!, value), $"the schema refuses {name}: {value?.ToJsonString() ?? "null"}");
        Assert.True(Allows(schema, body));
        Assert.False(Allows(schema, new JsonObject { ["colour"] = "red" }));

        var page = await _client.SearchJsonAsync(body);

        Assert.Equal(0, page["numberMatched"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.SearchAsync(new JsonObject { ["colour"] = "red" })).StatusCode);
    }

    /// <summary>The document as the service renders it, with the probe's answers from the service beside it.</summary>
    private async Task<(DeclaredContract Contract, IReadOnlyList<Exchange> Exchanges)> ProbeAsync()
    {
        var contract = new DeclaredContract(OpenApiSetup.Render(api.Services));
        var probe = new ContractProbe(_client, contract);
        await probe.RunAsync();
        return (contract, probe.Exchanges);
    }

    [Fact]
    public async Task Every_answer_has_a_declared_status_and_media_type_and_is_valid_by_the_schema_declared_for_it()
    {
        var (contract, exchanges) = await ProbeAsync();

        var failures = new List<string>();
        foreach (var exchange in exchanges)
        {
            var operation = contract.Operation(exchange.Method, exchange.Template);
            var response = operation is null ? null : contract.Response(operation, exchange.Status);
            if (response is null)
            {
                failures.Add($"{exchange}: the document declares no {exchange.Status} for {exchange.Method} {exchange.Template}");
                continue;
            }
            if (exchange.Body.Length == 0) continue;
            if (response["content"]?[exchange.MediaType]?["schema"] is not { } schema)
            {
                failures.Add($"{exchange}: {exchange.MediaType} is not declared for its {exchange.Status}");
                continue;
            }
            var text = DeclaredContract.Text(exchange.Body);
            var declared = contract.Resolve(schema)!;
            IEnumerable<string> problems = exchange.MediaType switch
            {
                // One Feature per record: OpenAPI 3.0 cannot declare a sequence, so the schema is a record's.
                "application/geo+json-seq" or "application/x-ndjson" => DeclaredContract.Records(text).SelectMany(r => contract.Check(schema, r)),
                var json when json.EndsWith("json", StringComparison.Ordinal) => contract.Check(schema, text),
                // CSV, an event stream, a tile: declared as text or bytes, nothing more to hold them to.
                _ => declared["type"]?.GetValue<string>() == "string" ? [] : [$"declared as {declared.ToJsonString()}, not as a string"],
            };
            failures.AddRange(problems.Distinct().Take(5).Select(p => $"{exchange} ({exchange.MediaType}): {p}"));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // Every operation was answered with success at least once, so none went unchecked.
        var unanswered = contract.Operations()
            .Where(o => !exchanges.Any(e => e.Method.Equals(o.Method, StringComparison.OrdinalIgnoreCase) && e.Template == o.Path && e.Status is >= 200 and < 300))
            .Select(o => $"{o.Method} {o.Path}");
        Assert.Empty(unanswered);
    }

    /// <summary>Response headers a client acts on: a validator, where to go, when to retry, what else is allowed.</summary>
    private static readonly string[] ActedOn = ["ETag", "Location", "Retry-After", "Allow", "Accept-Patch", "Idempotent-Replayed"];

    [Fact]
    public async Task Response_headers_clients_act_on_are_declared_where_the_service_sends_them()
    {
        var (contract, exchanges) = await ProbeAsync();

        var undeclared = new List<string>();
        foreach (var exchange in exchanges)
        {
            if (contract.Operation(exchange.Method, exchange.Template) is not { } operation || contract.Response(operation, exchange.Status) is not { } response) continue;
            foreach (var header in ActedOn.Where(h => exchange.Headers.ContainsKey(h)))
                if (DeclaredContract.ResponseHeader(response, header) is null) undeclared.Add($"{exchange}: {header}");
        }
        Assert.True(undeclared.Count == 0, "sent but not declared:\n" + string.Join("\n", undeclared.Distinct()));

        // Any operation can meet a rate limit or an unavailable database: their answers say when to retry.
        foreach (var (method, path, operation) in contract.Operations())
            foreach (var status in new[] { 429, 503 })
                Assert.True(contract.Response(operation, status) is { } refusal && DeclaredContract.ResponseHeader(refusal, "Retry-After") is not null,
                    $"{method} {path}: its {status} does not declare Retry-After");
        // 201 and 202 say where the new resource is; OPTIONS and 405 which methods are allowed.
        foreach (var (method, path, operation) in contract.Operations())
        {
            foreach (var status in new[] { 201, 202 })
                if (contract.Response(operation, status) is { } created)
                    Assert.True(DeclaredContract.ResponseHeader(created, "Location") is not null, $"{method} {path}: its {status} does not declare Location");
            if (contract.Response(operation, 405) is { } refused)
                Assert.True(DeclaredContract.ResponseHeader(refused, "Allow") is not null, $"{method} {path}: its 405 does not declare Allow");
            if (method == "options")
                Assert.True(DeclaredContract.ResponseHeader(contract.Response(operation, 204)!, "Allow") is not null, $"OPTIONS {path}: its 204 does not declare Allow");
        }
    }

    [Fact]
    public async Task Request_headers_the_service_reads_are_declared_where_it_reads_them_and_the_api_key_as_a_security_scheme()
    {
        var (contract, exchanges) = await ProbeAsync();

        var missing = new List<string>();
        void Expect(Exchange exchange, string header, bool? required = null)
        {
            var declared = contract.Header(contract.Operation(exchange.Method, exchange.Template)!, header);
            if (declared is null) missing.Add($"{exchange.Method} {exchange.Template}: {header} is not declared");
            else if (required is { } r && (declared["required"]?.GetValue<bool>() ?? false) != r)
                missing.Add($"{exchange.Method} {exchange.Template}: {header} is declared {(r ? "optional" : "required")}");
        }
        static bool Names(Exchange exchange, string field) =>
            exchange.MediaType == "application/problem+json"
            && JsonNode.Parse(exchange.Body)!["errors"]?.AsArray().Any(e => e!["field"]?.GetValue<string>() == field) == true;

        foreach (var exchange in exchanges)
        {
            // Writes.RequireIfMatch is on (the default): a change without If-Match is a 428.
            if (exchange.Status == 428) Expect(exchange, "If-Match", required: true);
            if (exchange.Status == 412) Expect(exchange, "If-Match");
            if (exchange.Headers.ContainsKey("Idempotent-Replayed")) Expect(exchange, "Idempotency-Key");
            if (exchange.Status == 400 && Names(exchange, "Content-Crs")) Expect(exchange, "Content-Crs");
            if (exchange.Status == 202 && exchange.RequestHeaders.Contains("Prefer")) Expect(exchange, "Prefer");
        }
        Assert.Contains(exchanges, e => e.Status == 428);
        Assert.Contains(exchanges, e => e.Headers.ContainsKey("Idempotent-Replayed"));
        Assert.Contains(exchanges, e => e.Status == 400 && Names(e, "Content-Crs"));
        Assert.Contains(exchanges, e => e.Status == 202 && e.RequestHeaders.Contains("Prefer"));

        // Any body may come compressed (gzip or br: request decompression), within the same limits.
        foreach (var (method, path, operation) in contract.Operations().Where(o => o.Operation["requestBody"] is not null))
            if (contract.Header(operation, "Content-Encoding") is null) missing.Add($"{method} {path}: takes a body but does not declare Content-Encoding");
        Assert.True(missing.Count == 0, string.Join("\n", missing.Distinct()));

        // The key is a security scheme, which clients send for themselves: never also a header parameter.
        Assert.DoesNotContain(contract.Operations(), o => contract.Header(o.Operation, "X-API-Key") is not null);
        var scheme = contract.Document["components"]!["securitySchemes"]![OpenApiSetup.ApiKeyScheme]!;
        Assert.Equal(("apiKey", "header", "X-API-Key"),
            (scheme["type"]!.GetValue<string>(), scheme["in"]!.GetValue<string>(), scheme["name"]!.GetValue<string>()));
    }
}
