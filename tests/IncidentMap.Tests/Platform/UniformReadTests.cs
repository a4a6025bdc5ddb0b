using System.Net;
using System.Net.Http.Headers;
using IncidentMap.Api.OpenApi;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// The paths no handler of ours answers in full (the OpenAPI document, the health probes, OPTIONS) and the
/// reads without an ETag keep the rules every other read path keeps: a 400 naming an unknown parameter,
/// Vary on what the answer depends on, CORS, and If-Match evaluated (audit).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class UniformReadTests(ApiFixture api)
{
    private const string OpenApiType = "application/vnd.oai.openapi+json";

    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData(null, OpenApiType)]
    [InlineData("*/*", OpenApiType)]
    [InlineData("application/*", OpenApiType)]
    [InlineData("application/vnd.oai.openapi+json;version=3.0", OpenApiType)]
    [InlineData("application/vnd.oai.openapi+json;version=3.0, application/json;q=0.9", OpenApiType)]
    [InlineData("text/html", OpenApiType)]
    [InlineData("application/json", "application/json")]
    [InlineData("application/json, */*;q=0.1", "application/json")]
    [InlineData("*/*;q=0.5, application/json", "application/json")]
    public async Task The_openapi_document_is_the_type_its_link_announces_unless_json_is_preferred_and_varies_on_accept(string? accept, string expected)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            var request = new HttpRequestMessage(method, "/openapi/v1.json");
            if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);

            var response = await _client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(expected, response.Content.Headers.ContentType!.MediaType);
            if (expected == OpenApiType) Assert.Contains(response.Content.Headers.ContentType.Parameters, p => p is { Name: "version", Value: "3.0" });
            Assert.Contains("Accept", response.Headers.Vary, StringComparer.OrdinalIgnoreCase);
            Assert.Contains("Accept-Encoding", response.Headers.Vary, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task The_openapi_document_has_an_etag_per_type_and_revalidates_to_a_304()
    {
        HttpRequestMessage Request(string? accept, string? ifNoneMatch)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
            if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
            if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
            return request;
        }

        var first = await _client.SendAsync(Request(null, null));
        var again = await _client.SendAsync(Request(null, null));
        var json = await _client.SendAsync(Request("application/json", null));

        var tag = first.Headers.ETag!.Tag;
        Assert.False(first.Headers.ETag.IsWeak);
        Assert.Equal(tag, again.Headers.ETag!.Tag);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.NotEqual(tag, json.Headers.ETag!.Tag);   // another type: another representation
        var revalidated = await _client.SendAsync(Request(null, tag));
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(tag, revalidated.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Request("application/json", tag))).StatusCode);
    }

    [Theory]
    [InlineData("/openapi/v1.json")]
    public async Task The_openapi_document_refuses_unknown_parameters_and_takes_f_json(string path)
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path + "?f=json")).StatusCode);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(path + "?bogus=1"), HttpStatusCode.BadRequest, "bogus");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(path + "?f=csv"), HttpStatusCode.BadRequest, "f");
        var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path + "?bogus=1"));
        Assert.Equal(HttpStatusCode.BadRequest, head.StatusCode);
    }

    /// <summary>A stray '=' is a query parameter with an empty name: it was called the body's, on GETs that have none.</summary>
    [Theory]
    [InlineData("/collections/incidents/items?limit=2&=")] // the incident query's own check
    [InlineData("/?=1")] // a resource that takes f alone
    [InlineData("/collections/places/items?=x")] // place search's own check
    [InlineData("/collections/incidents/stats?interval=month&=")]
    [InlineData("/openapi/v1.json?=")] // refused outside any handler
    public async Task A_query_parameter_with_an_empty_name_is_named_as_one_not_as_the_body(string url)
    {
        var response = await _client.GetAsync(url);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "");
        var error = problem["errors"]!.AsArray().Single()!;
        Assert.Equal("", error["field"]!.GetValue<string>());
        Assert.Equal(IncidentMap.Api.Problems.Problem.EmptyParameterName, error["detail"]!.GetValue<string>());
        Assert.Equal(IncidentMap.Api.Problems.Problem.EmptyParameterName, problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("body", problem.ToJsonString());
    }

    /// <summary>A monitor's cache-buster must not take a healthy instance out of service.</summary>
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task The_health_probes_answer_whatever_a_load_balancer_appends(string path)
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path + "?_=1733050000")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path + "?bogus=1"))).StatusCode);
    }

    [Fact]
    public async Task Swagger_ui_still_loads_the_document_it_names()
    {
        var initializer = await _client.GetAsync("/swagger/index.js");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/swagger/index.html")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, initializer.StatusCode);
        // Swagger UI asks for the document as configured, with no query of its own.
        Assert.Contains("\"../openapi/v1.json\"", await initializer.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Fact]
    public async Task Options_refuses_a_parameter_its_resource_does_not_take_and_takes_every_one_it_does()
    {
        var contract = new DeclaredContract(OpenApiSetup.Render(api.Services));
        var samples = await RouteSamples.CreateAsync(_client);

        var asked = 0;
        foreach (var (path, operations) in contract.Document["paths"]!.AsObject().Where(p => p.Value!["options"] is not null))
        {
            var url = RouteSamples.Fill(path, samples.Existing);
            // Every parameter the resource's other methods declare, valued or not: OPTIONS does not check values.
            var names = operations!.AsObject().Where(o => o.Key != "options")
                .SelectMany(o => contract.Parameters(o.Value!.AsObject()))
                .Where(p => p["in"]!.GetValue<string>() == "query").Select(p => p["name"]!.GetValue<string>()).Distinct().ToList();
            Assert.NotEmpty(names);
            var all = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, url + "?" + string.Join("&", names.Select(n => n + "=0"))));
            Assert.True(all.StatusCode == HttpStatusCode.NoContent, $"OPTIONS {url} with {string.Join(", ", names)}: {(int)all.StatusCode} {await all.Content.ReadAsStringAsync()}");

            await ProblemAssert.IsProblemAsync(await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, url + "?foo=1")), HttpStatusCode.BadRequest, "foo");
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, url + "?f=json&foo=1")), HttpStatusCode.BadRequest, "foo");
            asked++;
        }
        Assert.True(asked >= 4, $"only {asked} OPTIONS routes");
    }

    [Fact]
    public async Task A_cors_preflight_is_answered_whatever_the_query_as_without_one()
    {
        async Task<HttpResponseMessage> Preflight(string url)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, url);
            request.Headers.Add("Origin", "https://a.example");
            request.Headers.Add("Access-Control-Request-Method", "PUT");
            request.Headers.Add("Access-Control-Request-Headers", "if-match, x-api-key");
            return await _client.SendAsync(request);
        }
        static string Cors(HttpResponseMessage response) => string.Join("\n", response.Headers
            .Where(h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase))
            .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase).Select(h => $"{h.Key}: {string.Join(",", h.Value)}"));

        var plain = await Preflight("/collections/incidents/items/1");
        Assert.Equal(HttpStatusCode.NoContent, plain.StatusCode);
        Assert.Equal("*", plain.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("PUT", plain.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Contains("if-match", plain.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("3600", plain.Headers.GetValues("Access-Control-Max-Age").Single());
        foreach (var url in new[] { "/collections/incidents/items/1?foo=1", "/collections/incidents/items?limit=0&foo=1", "/openapi/v1.json?bogus=1", "/health/live?bogus=1" })
        {
            var asked = await Preflight(url);
            Assert.Equal(HttpStatusCode.NoContent, asked.StatusCode);
            Assert.Equal(Cors(plain), Cors(asked));
        }
    }

    [Fact]
    public async Task Options_does_not_check_the_values_of_parameters_its_resource_takes()
    {
        // limit=0 is GET's 400; OPTIONS answers which methods the resource allows, which no value changes.
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.GetAsync("/collections/incidents/items?limit=0")).StatusCode);
        var options = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/collections/incidents/items?limit=0"));
        Assert.Equal(HttpStatusCode.NoContent, options.StatusCode);
        Assert.Contains("POST", options.Content.Headers.Allow);
    }

    /// <summary>The JSON documents that have no ETag: discovery, schemas, the tiling scheme and the tilesets (the OpenAPI document has one).</summary>
    public static readonly string[] DocumentsWithoutETag =
    [
        "/", "/conformance", "/collections", "/collections/incidents", "/collections/places",
        "/collections/incidents/queryables", "/collections/incidents/schema", "/collections/places/schema",
        "/tileMatrixSets", "/tileMatrixSets/WebMercatorQuad", "/collections/incidents/tiles", "/collections/incidents/tiles/WebMercatorQuad",
    ];

    public static TheoryData<string> DocumentsWithoutETagData => [.. DocumentsWithoutETag];

    [Theory]
    [MemberData(nameof(DocumentsWithoutETagData))]
    public async Task If_match_on_a_read_without_an_etag_fails_unless_it_is_a_star(string path)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            var plain = await _client.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
            Assert.Null(plain.Headers.ETag); // else If-Match would be Conditional.Evaluate's, tested with the reads that have one

            var tagged = await _client.SendAsync(WithIfMatch(method, path, "\"x\""));
            Assert.Equal(HttpStatusCode.PreconditionFailed, tagged.StatusCode);
            Assert.Equal("no-store", tagged.Headers.CacheControl?.ToString());
            Assert.Null(tagged.Headers.ETag);

            var star = await _client.SendAsync(WithIfMatch(method, path, "*"));
            Assert.Equal(HttpStatusCode.OK, star.StatusCode);
        }
        var problem = await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path, "\"x\", \"y\"")),
            HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Contains("no ETag", problem["detail"]!.GetValue<string>());
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path, "x")), HttpStatusCode.BadRequest, "If-Match");
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path, "*, \"x\"")), HttpStatusCode.BadRequest, "If-Match");
        // A misspelt parameter is heard of first, as on reads with an ETag.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path + "?foo=1", "\"x\"")), HttpStatusCode.BadRequest, "foo");
    }

    /// <summary>
    /// The feed, its stream, the API keys and an import job answer without an ETag as well (a feed page is of its
    /// moment; keys and jobs change under their URL): If-Match is evaluated as on the documents above, after the
    /// parameters and the cursor, whose answers a precondition does not change. These answered 200 whatever it named.
    /// </summary>
    [Fact]
    public async Task If_match_on_the_feed_the_keys_and_an_import_job_fails_unless_it_is_a_star()
    {
        var import = new HttpRequestMessage(HttpMethod.Post, "/collections/incidents/imports?async=true")
        {
            Content = new StringContent($"external_id,title,event_type,occurred_at,lon,lat\nifmatch-{Guid.NewGuid():N},Job,riots,2016-01-01,36.5,34.5\n",
                System.Text.Encoding.UTF8, "text/csv"),
        };
        var job = (await _client.SendAsync(import)).Headers.Location!.OriginalString;
        var keyId = System.Text.Json.Nodes.JsonNode.Parse(await _client.GetStringAsync("/admin/keys"))!.AsArray()[0]!["id"]!.GetValue<long>();
        foreach (var path in new[] { "/collections/incidents/changes", "/admin/keys", $"/admin/keys/{keyId}", job })
        {
            Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path)).StatusCode);
            var tagged = await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path, "\"x\"")),
                HttpStatusCode.PreconditionFailed, "If-Match");
            Assert.Contains("no ETag", tagged["detail"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(WithIfMatch(HttpMethod.Get, path, "*"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(WithIfMatch(HttpMethod.Head, path, "*"))).StatusCode);
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, path + "?foo=1", "\"x\"")), HttpStatusCode.BadRequest, "foo");
        }
        // The stream: its 412 before any event.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, "/collections/incidents/stream", "\"x\""),
            HttpCompletionOption.ResponseHeadersRead), HttpStatusCode.PreconditionFailed, "If-Match");
        // A key or a job that does not exist is a 404 whatever the precondition (RFC 9110 §13.2.1).
        foreach (var missing in new[] { $"/admin/keys/{long.MaxValue}", "/admin/keys/no-such-key", $"/collections/incidents/imports/{long.MaxValue}" })
            Assert.Equal(HttpStatusCode.NotFound, (await _client.SendAsync(WithIfMatch(HttpMethod.Get, missing, "\"x\""))).StatusCode);
        // A cursor that is not one is a 400 naming it whatever the precondition.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(WithIfMatch(HttpMethod.Get, "/collections/incidents/changes?cursor=nope", "\"x\"")),
            HttpStatusCode.BadRequest, "cursor");
        var paths = (await _client.GetJsonAsync("/openapi/v1.json"))["paths"]!;
        foreach (var path in new[] { "/collections/incidents/changes", "/collections/incidents/stream", "/admin/keys", "/admin/keys/{idOrName}", "/collections/incidents/imports/{id}" })
        {
            Assert.True(paths[path]!["get"]!["responses"]!["412"] is not null, $"{path}: no 412");
            Assert.Contains("If-Match", paths[path]!["get"]!["parameters"]!.AsArray().Select(p => p!["name"]?.GetValue<string>()));
        }
    }

    /// <summary>The document declares what these answers are: If-Match and its 412 on the reads without an ETag, the 400 of an OPTIONS.</summary>
    [Fact]
    public async Task The_openapi_document_declares_the_412_of_reads_without_an_etag_and_the_400_of_options()
    {
        var paths = (await _client.GetJsonAsync("/openapi/v1.json"))["paths"]!;
        foreach (var path in DocumentsWithoutETag)
        {
            var get = paths[path]!["get"]!;
            Assert.True(get["responses"]!["412"] is not null, $"{path}: no 412");
            Assert.Contains("If-Match", get["parameters"]!.AsArray().Select(p => p!["name"]?.GetValue<string>()));
        }
        foreach (var path in new[] { "/collections/incidents/items", "/collections/incidents/items/{featureId}", "/collections/places/items", "/collections/places/items/{placeId}" })
            Assert.True(paths[path]!["options"]!["responses"]!["400"] is not null, $"OPTIONS {path}: no 400");
    }

    private static HttpRequestMessage WithIfMatch(HttpMethod method, string path, string ifMatch)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return request;
    }
}
