using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

/// <summary>The shape OGC API – Features Part 1 clients rely on.</summary>
[Collection(ApiCollection.Name)]
public sealed class OgcCoreTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static JsonObject LinkOf(JsonNode document, string rel) =>
        document["links"]!.AsArray().Select(l => l!.AsObject()).First(l => l["rel"]!.GetValue<string>() == rel);

    [Fact]
    public async Task Landing_page_links_self_service_desc_service_doc_conformance_and_data()
    {
        var landing = await _client.GetJsonAsync("/");

        Assert.Equal("application/json", LinkOf(landing, "self")["type"]!.GetValue<string>());
        Assert.Equal("application/vnd.oai.openapi+json;version=3.0", LinkOf(landing, "service-desc")["type"]!.GetValue<string>());
        Assert.Equal("text/html", LinkOf(landing, "service-doc")["type"]!.GetValue<string>());
        Assert.EndsWith("/conformance", LinkOf(landing, "conformance")["href"]!.GetValue<string>());
        Assert.EndsWith("/collections", LinkOf(landing, "data")["href"]!.GetValue<string>());

        var openApi = await _client.GetAsync(new Uri(LinkOf(landing, "service-desc")["href"]!.GetValue<string>()).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, openApi.StatusCode);
    }

    /// <summary>The documents without an ETag, and an incident (which has one): none takes a parameter but f.</summary>
    public static TheoryData<string> ResourcesWithoutParameters => [.. Platform.UniformReadTests.DocumentsWithoutETag, "/collections/incidents/items/{id}"];

    [Theory]
    [MemberData(nameof(ResourcesWithoutParameters))]
    public async Task Resources_without_parameters_refuse_unknown_ones_and_take_f_json(string template)
    {
        var path = template.Replace("{id}", (await _client.CreateAsync(Features.Valid())).ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(path + "?f=json")).StatusCode);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(path + "?foo=1"), HttpStatusCode.BadRequest, "foo");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(path + "?f=csv"), HttpStatusCode.BadRequest, "f");
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task The_service_desc_link_is_served_with_the_type_it_announces_to_GET_and_HEAD(string method)
    {
        var link = LinkOf(await _client.GetJsonAsync("/"), "service-desc");
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(link["href"]!.GetValue<string>()).PathAndQuery);
        request.Headers.TryAddWithoutValidation("Accept", link["type"]!.GetValue<string>());

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.oai.openapi+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(response.Content.Headers.ContentType.Parameters, p => p.Name == "version" && p.Value == "3.0");
        if (method == "GET") Assert.StartsWith("3.0.", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["openapi"]!.GetValue<string>());
    }

    [Fact]
    public async Task Conformance_declares_core_geojson_oas30_and_tiles()
    {
        var classes = (await _client.GetJsonAsync("/conformance"))["conformsTo"]!.AsArray().Select(c => c!.GetValue<string>()).ToList();

        Assert.Contains("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", classes);
        Assert.Contains("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson", classes);
        Assert.Contains("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30", classes);
        Assert.Contains("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt", classes);
        // Properties and values on either side of comparisons, LIKE, BETWEEN, IN, spatial and array functions (Cql2ExecutionTests).
        Assert.Contains("http://www.opengis.net/spec/cql2/1.0/conf/property-property", classes);
        Assert.Equal(classes.Count, classes.Distinct().Count());
    }

    [Fact]
    public async Task Collection_is_identical_in_the_list_and_alone_with_an_extent_from_the_data()
    {
        await _client.CreateAsync(Features.Valid(geometry: Features.Point(-170.5, -80.25), occurredAt: "1901-05-01T00:00:00Z"));

        // Tests running alongside may widen the extent between two reads: compare a read of the
        // collection alone with the list read just before and just after it, when those two agree.
        async Task<JsonNode> Listed() => (await _client.GetJsonAsync("/collections"))["collections"]!.AsArray()
            .Single(c => c!["id"]!.GetValue<string>() == "incidents")!;
        JsonNode listed, alone;
        var attempts = 0;
        do
        {
            var before = await Listed();
            alone = await _client.GetJsonAsync("/collections/incidents");
            listed = await Listed();
            if (JsonNode.DeepEquals(before, listed)) break;
        } while (++attempts < 10);
        Assert.True(JsonNode.DeepEquals(listed, alone), $"listed {listed.ToJsonString()}\nalone {alone.ToJsonString()}");
        Assert.Equal("feature", alone["itemType"]!.GetValue<string>());
        var bbox = alone["extent"]!["spatial"]!["bbox"]![0]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
        Assert.True(bbox[0] <= -170.5 && bbox[1] <= -80.25, $"extent {string.Join(",", bbox)} misses the incident just created");
        var start = DateTimeOffset.Parse(alone["extent"]!["temporal"]!["interval"]![0]![0]!.GetValue<string>());
        Assert.True(start <= new DateTimeOffset(1901, 5, 1, 0, 0, 0, TimeSpan.Zero));
        var items = alone["links"]!.AsArray().Where(l => l!["rel"]!.GetValue<string>() == "items").Select(l => l!["type"]!.GetValue<string>());
        Assert.Contains("application/geo+json", items);
    }

    [Fact]
    public async Task The_extent_widens_at_once_with_every_incident_written_beyond_it()
    {
        // After the first read the service widens its cached extent with what was written since,
        // instead of reading every incident again: each new, older incident must show at once.
        // An incident in the far north-east, read into the extent, then made to look written long ago:
        // later reads must keep it without reading it again.
        var old = await _client.CreateAsync(Features.Valid(geometry: Features.Point(179.75, 89.5)));
        await _client.GetJsonAsync("/collections/incidents");
        await using (var connection = await api.Database.OpenConnectionAsync())
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE incidents SET updated_at = now() - interval '1 day' WHERE id = @old", new { old });
        for (var year = 1102; year >= 1100; year--)
        {
            var at = new DateTimeOffset(year, 3, 1, 0, 0, 0, TimeSpan.Zero);
            await _client.CreateAsync(Features.Valid(geometry: Features.Point(-179.75, -89.5), occurredAt: $"{year}-03-01T00:00:00Z"));

            var extent = (await _client.GetJsonAsync("/collections/incidents"))["extent"]!;
            Assert.Equal(at, DateTimeOffset.Parse(extent["temporal"]!["interval"]![0]![0]!.GetValue<string>()));
            var bbox = extent["spatial"]!["bbox"]![0]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
            Assert.True(bbox[0] <= -179.75 && bbox[1] <= -89.5 && bbox[2] >= 179.75 && bbox[3] >= 89.5,
                $"extent {string.Join(",", bbox)} misses the incident of {year} or the one before the first read");
        }
    }

    [Fact]
    public async Task Items_and_a_feature_carry_the_required_members_and_links()
    {
        var id = await _client.CreateAsync(Features.Valid());

        var items = await _client.GetJsonAsync("/collections/incidents/items?limit=2");
        Assert.Equal(items["features"]!.AsArray().Count, items["numberReturned"]!.GetValue<int>());
        Assert.NotNull(items["timeStamp"]);
        Assert.Equal("application/geo+json", LinkOf(items, "self")["type"]!.GetValue<string>());

        var feature = await _client.GetJsonAsync($"/collections/incidents/items/{id}");
        Assert.EndsWith($"/collections/incidents/items/{id}", LinkOf(feature, "self")["href"]!.GetValue<string>());
        Assert.EndsWith("/collections/incidents", LinkOf(feature, "collection")["href"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_last_page_has_no_next_link()
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        for (var n = 0; n < 3; n++)
        {
            var feature = Features.Valid();
            feature["properties"]!["tags"] = new JsonArray(tag);
            await _client.CreateAsync(feature);
        }

        var full = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&limit=3");
        var partial = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&limit=2");

        Assert.DoesNotContain(full["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "next");
        Assert.Contains(partial["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "next");
    }

    [Fact]
    public async Task A_page_links_the_same_page_in_every_other_format_it_is_offered_in()
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        var ids = new List<long>();
        for (var n = 0; n < 3; n++)
        {
            var feature = Features.Valid();
            feature["properties"]!["tags"] = new JsonArray(tag);
            ids.Add(await _client.CreateAsync(feature));
        }
        var page = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&limit=2");

        var alternates = page["links"]!.AsArray().Where(l => l!["rel"]!.GetValue<string>() == "alternate")
            .ToDictionary(l => l!["type"]!.GetValue<string>(), l => new Uri(l!["href"]!.GetValue<string>()).PathAndQuery);
        Assert.Equal(["application/geo+json-seq", "application/x-ndjson", "text/csv"], alternates.Keys.Order());
        var pageIds = page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).ToList();
        var ndjson = (await _client.GetStringAsync(alternates["application/x-ndjson"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(pageIds, ndjson.Select(line => JsonNode.Parse(line)!["id"]!.GetValue<long>()));
        var csv = await _client.GetAsync(alternates["text/csv"]);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType!.MediaType);
        Assert.Equal(3, (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length); // header and 2 rows
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/collections")]
    [InlineData("/collections/incidents/items?limit=1")]
    public async Task Any_media_type_gets_json(string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("*/*"));
        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("json", response.Content.Headers.ContentType!.MediaType);
    }

    [Theory]
    [InlineData("/collections/incidents")]
    [InlineData("/collections/incidents/items?limit=1")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/0/0/0")]
    [InlineData("/openapi/v1.json")] // Swashbuckle's, answered before routing: it used to miss CORS but for the origin
    public async Task Read_paths_answer_head_and_cors_exposing_etag_location_and_link(string url)
    {
        var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.True(head.IsSuccessStatusCode, $"HEAD {url}: {(int)head.StatusCode}");

        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("Origin", "https://maps.example.org");
        var response = await _client.SendAsync(request);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var exposed = string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers"));
        foreach (var header in new[] { "ETag", "Location", "Link" }) Assert.Contains(header, exposed);
    }

    [Fact]
    public async Task Options_on_items_lists_the_methods_so_editors_offer_editing()
    {
        var items = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/collections/incidents/items"));
        var id = await _client.CreateAsync(Features.Valid());
        var item = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, $"/collections/incidents/items/{id}"));

        Assert.Contains("POST", items.Content.Headers.Allow);
        Assert.Contains("PUT", item.Content.Headers.Allow);
        Assert.Contains("DELETE", item.Content.Headers.Allow);
        // RFC 5789 §3.1: the patch formats, where PATCH is allowed.
        // Every type PATCH takes, as its 415 names them.
        Assert.Equal("application/merge-patch+json, application/json, application/geo+json", item.Headers.GetValues("Accept-Patch").Single());
    }

    [Fact]
    public async Task A_patch_in_a_format_not_taken_is_a_415_naming_the_formats_that_are()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/collections/incidents/items/{id}") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "text/plain") };
        request.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");

        var response = await _client.SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.Contains("application/merge-patch+json", problem["detail"]!.GetValue<string>());
        Assert.Contains("application/merge-patch+json", response.Headers.GetValues("Accept-Patch").Single());
    }

    [Fact]
    public async Task Qgis_style_requests_work()
    {
        // QGIS asks for everything with the years 0000 and 9999 as bounds, and limit=1 to read numberMatched.
        var tag = "qgis-" + Guid.NewGuid().ToString("N")[..12];
        foreach (var occurredAt in new[] { "1900-01-01T00:00:00Z", "2016-02-21T07:30:00Z", "2090-07-01T00:00:00Z" })
        {
            var feature = Features.Valid(occurredAt: occurredAt);
            feature["properties"]!["tags"] = new JsonArray(tag);
            await _client.CreateAsync(feature);
        }
        var page = await _client.GetJsonAsync(
            $"/collections/incidents/items?tags={tag}&limit=1&datetime=0000-01-01T00:00:00Z/9999-12-31T00:00:00Z");

        Assert.Equal(3, page["numberMatched"]!.GetValue<long>());
        Assert.Equal(1, page["numberReturned"]!.GetValue<int>());
    }

    [Fact]
    public async Task Openapi_shares_the_limit_parameter_with_its_bounds_and_declares_bbox_as_numbers()
    {
        var document = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;
        var limit = document["components"]!["parameters"]!["limit"]!["schema"]!;
        Assert.Equal(1, limit["minimum"]!.GetValue<int>());
        Assert.Equal(10000, limit["maximum"]!.GetValue<int>());
        Assert.Equal(10, limit["default"]!.GetValue<int>());
        var bbox = document["components"]!["parameters"]!["bbox"]!["schema"]!;
        Assert.Equal(4, bbox["minItems"]!.GetValue<int>());
        Assert.Equal(6, bbox["maxItems"]!.GetValue<int>());
        Assert.Equal("number", bbox["items"]!["type"]!.GetValue<string>());
        var items = document["paths"]!["/collections/incidents/items"]!["get"]!["parameters"]!.AsArray();
        Assert.Contains(items, p => p!["$ref"]?.GetValue<string>() == "#/components/parameters/limit");
    }
}
