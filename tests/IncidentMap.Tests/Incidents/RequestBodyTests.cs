using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;
using IncidentMap.Tests.Trust;

namespace IncidentMap.Tests.Incidents;

/// <summary>How every JSON write reads its body: content codings, byte order marks, nesting, the patch formats.</summary>
[Collection(ApiCollection.Name)]
public sealed class RequestBodyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static ByteArrayContent Json(byte[] body, string mediaType, params string[] codings)
    {
        var content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };
        foreach (var coding in codings) content.Headers.ContentEncoding.Add(coding);
        return content;
    }

    private static byte[] Gzip(byte[] data)
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return compressed.ToArray();
    }

    private Task<long> StoredAsync(string title) =>
        api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE title = @title", new { title });

    private static async Task AssertUnsupportedCodingAsync(HttpResponseMessage response)
    {
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Encoding");
        Assert.Contains("gzip", problem["detail"]!.GetValue<string>());
        // RFC 9110 §15.5.16 / RFC 7694: a 415 for a content coding says which codings would do.
        var accepted = response.Headers.GetValues("Accept-Encoding").Single().Split(',', StringSplitOptions.TrimEntries);
        Assert.Equal(["gzip", "br"], accepted);
    }

    /// <summary>
    /// A refused Content-Type is quoted cut, as every client value is: 20,000 characters of it came back twice over,
    /// a 40 KB problem, from every body the framework refuses (found by the message fixer).
    /// </summary>
    [Theory]
    [InlineData("/collections/incidents/items")]
    [InlineData("/collections/places/items")]
    [InlineData("/admin/keys")]
    [InlineData("/collections/incidents/search")]
    public async Task A_long_refused_content_type_comes_back_cut(string url)
    {
        var mediaType = "application/x" + new string('y', 20_000);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent("{}") };
        request.Content.Headers.Remove("Content-Type");
        request.Content.Headers.TryAddWithoutValidation("Content-Type", mediaType);

        var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.True(text.Length < 3_000, $"{text.Length} characters");
        Assert.StartsWith($"Content-Type '{mediaType[..100]}…' (20013 characters) is not accepted here; send ", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("zstd")]
    [InlineData("deflate")]
    [InlineData("compress")]
    public async Task A_create_in_a_coding_not_decoded_is_a_415_and_stores_nothing(string coding)
    {
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();

        var response = await _client.PostAsync("/collections/incidents/items",
            Json(Encoding.UTF8.GetBytes(feature.ToJsonString()), "application/geo+json", coding));

        await AssertUnsupportedCodingAsync(response);
        Assert.Equal(0, await StoredAsync(title));
    }

    [Fact]
    public async Task Gzip_with_identity_after_it_is_a_415_not_a_json_error()
    {
        // Request decompression undoes one coding named alone; "gzip, identity" is left as sent, so
        // the gzip bytes would otherwise reach the JSON reader.
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();

        var response = await _client.PostAsync("/collections/incidents/items",
            Json(Gzip(Encoding.UTF8.GetBytes(feature.ToJsonString())), "application/geo+json", "gzip", "identity"));

        await AssertUnsupportedCodingAsync(response);
        Assert.Equal(0, await StoredAsync(title));
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task A_create_sent_as_is_with_identity_or_gzipped_is_stored(string coding)
    {
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();
        var json = Encoding.UTF8.GetBytes(feature.ToJsonString());

        var response = await _client.PostAsync("/collections/incidents/items",
            Json(coding == "gzip" ? Gzip(json) : json, "application/geo+json", coding));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, await StoredAsync(title));
    }

    [Fact]
    public async Task Every_json_write_refuses_a_coding_it_cannot_decode()
    {
        var id = await _client.CreateAsync(Features.Valid("Coding target"));
        var item = $"/collections/incidents/items/{id}";
        var placeId = await _client.AddPlaceAsync("Codingville " + Guid.NewGuid().ToString("N")[..8], 12.5, 41.9, "IT", null, "town");
        var keyName = "coding-" + Guid.NewGuid().ToString("N")[..8];
        var placeName = "Zstdtown " + Guid.NewGuid().ToString("N")[..8];
        var writes = new (HttpMethod Method, string Url, string Body, string MediaType)[]
        {
            (HttpMethod.Put, item, Features.Valid("Replaced in zstd").ToJsonString(), "application/geo+json"),
            (HttpMethod.Patch, item, """{"properties":{"title":"Patched in zstd"}}""", "application/merge-patch+json"),
            (HttpMethod.Post, "/collections/incidents/search", """{"limit":1}""", "application/json"),
            (HttpMethod.Post, "/admin/keys", $$"""{"name":"{{keyName}}"}""", "application/json"),
            (HttpMethod.Post, "/collections/places/items", $$$"""{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"{{{placeName}}}","kind":"town"}}""", "application/geo+json"),
            (HttpMethod.Patch, $"/collections/places/items/{placeId}", $$$"""{"properties":{"name":"{{{placeName}}}"}}""", "application/merge-patch+json"),
        };
        foreach (var (method, url, body, mediaType) in writes)
        {
            var request = new HttpRequestMessage(method, url) { Content = Json(Encoding.UTF8.GetBytes(body), mediaType, "zstd") };
            request.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");
            await AssertUnsupportedCodingAsync(await _client.SendAsync(request));
        }

        var stored = await _client.GetJsonAsync(item);
        Assert.Equal(("Coding target", 1), (stored["properties"]!["title"]!.GetValue<string>(), stored["properties"]!["version"]!.GetValue<int>()));
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys WHERE name = @keyName", new { keyName }));
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name = @placeName", new { placeName }));
    }

    /// <summary>
    /// JSON is exchanged in UTF-8 (RFC 8259 §8.1), as imports read their files: a body declared in another charset
    /// is a 415 naming Content-Type, as an import's is, on every endpoint that reads a JSON body. A UTF-16 body
    /// was "not valid JSON (line 1, byte 1)".
    /// </summary>
    [Theory]
    [InlineData("utf-16")]
    [InlineData("UTF-16LE")]
    [InlineData("iso-8859-1")]
    public async Task Every_json_write_in_a_charset_other_than_utf8_is_a_415_naming_Content_Type(string charset)
    {
        var id = await _client.CreateAsync(Features.Valid("Charset target"));
        var item = $"/collections/incidents/items/{id}";
        var placeId = await _client.AddPlaceAsync("Charsetville " + Guid.NewGuid().ToString("N")[..8], 12.5, 41.9, "IT", null, "town");
        var keyName = "charset-" + Guid.NewGuid().ToString("N")[..8];
        var placeName = "Utf16town " + Guid.NewGuid().ToString("N")[..8];
        var created = Features.Valid();
        var title = created["properties"]!["title"]!.GetValue<string>();
        var encoding = charset.StartsWith("utf", StringComparison.OrdinalIgnoreCase) ? Encoding.Unicode : Encoding.Latin1;
        var writes = new (HttpMethod Method, string Url, string Body, string MediaType)[]
        {
            (HttpMethod.Post, "/collections/incidents/items", created.ToJsonString(), "application/geo+json"),
            (HttpMethod.Put, item, Features.Valid("Replaced in UTF-16").ToJsonString(), "application/geo+json"),
            (HttpMethod.Patch, item, """{"properties":{"title":"Patched in UTF-16"}}""", "application/merge-patch+json"),
            (HttpMethod.Post, "/collections/incidents/search", """{"limit":1}""", "application/json"),
            (HttpMethod.Post, "/admin/keys", $$"""{"name":"{{keyName}}"}""", "application/json"),
            (HttpMethod.Post, "/collections/places/items", $$$"""{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"name":"{{{placeName}}}","kind":"town"}}""", "application/geo+json"),
            (HttpMethod.Patch, $"/collections/places/items/{placeId}", $$$"""{"properties":{"name":"{{{placeName}}}"}}""", "application/merge-patch+json"),
        };
        foreach (var (method, url, body, mediaType) in writes)
        {
            var content = Json(encoding.GetBytes(body), mediaType);
            content.Headers.ContentType!.CharSet = charset;
            var request = new HttpRequestMessage(method, url) { Content = content };
            // The incident's current version (a change needs one); a POST is evaluated against a target without an ETag,
            // where "v1" would be a 412 before the body is looked at (RFC 9110 §13.1.1).
            if (url == item) request.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");
            var problem = await ProblemAssert.IsProblemAsync(await _client.SendAsync(request), HttpStatusCode.UnsupportedMediaType, "Content-Type");
            Assert.Contains("UTF-8", problem["detail"]!.GetValue<string>());
        }

        var stored = await _client.GetJsonAsync(item);
        Assert.Equal(("Charset target", 1), (stored["properties"]!["title"]!.GetValue<string>(), stored["properties"]!["version"]!.GetValue<int>()));
        Assert.Equal(0, await StoredAsync(title));
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys WHERE name = @keyName", new { keyName }));
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name = @placeName", new { placeName }));
    }

    [Theory]
    [InlineData("utf-8")]
    [InlineData("UTF8")]
    [InlineData("\"utf-8\"")]
    [InlineData("us-ascii")]
    public async Task A_json_write_declared_utf8_or_ascii_is_taken(string charset)
    {
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();
        var content = Json(Encoding.UTF8.GetBytes(feature.ToJsonString()), "application/geo+json");
        content.Headers.ContentType!.CharSet = charset;

        var response = await _client.PostAsync("/collections/incidents/items", content);

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, await StoredAsync(title));
    }

    /// <summary>A UTF-16 or UTF-32 body sent without a charset is said to be one, not "not valid JSON (line 1, byte 1)".</summary>
    [Theory]
    [InlineData("utf-16 with its byte order mark")]
    [InlineData("utf-16BE")]
    [InlineData("utf-16LE")]
    [InlineData("utf-32")]
    public async Task A_json_body_in_utf16_or_utf32_without_a_charset_is_a_415_saying_so(string form)
    {
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();
        var text = feature.ToJsonString();
        var body = form switch
        {
            "utf-16BE" => Encoding.BigEndianUnicode.GetBytes(text),
            "utf-16LE" => Encoding.Unicode.GetBytes(text),
            "utf-32" => [.. Encoding.UTF32.GetPreamble(), .. Encoding.UTF32.GetBytes(text)],
            _ => [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(text)],
        };

        var response = await _client.PostAsync("/collections/incidents/items", Json(body, "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "body");
        Assert.Contains("UTF-8", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await StoredAsync(title));
    }

    [Fact]
    public async Task A_coding_on_a_request_without_a_body_is_no_concern()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/collections/incidents/items?limit=1");
        request.Headers.TryAddWithoutValidation("Content-Encoding", "zstd");

        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(request)).StatusCode);
    }

    [Theory]
    [InlineData("POST", "/collections/nowhere/items", HttpStatusCode.NotFound)]
    [InlineData("POST", "/collections/incidents", HttpStatusCode.MethodNotAllowed)]
    public async Task A_coded_body_to_a_wrong_path_or_method_hears_of_that_first(string method, string url, HttpStatusCode expected)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = Json("{}"u8.ToArray(), "application/json", "zstd") };

        Assert.Equal(expected, (await _client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task A_body_nested_deeper_than_64_levels_is_a_400_that_says_so()
    {
        var deep = new string('[', 65) + new string(']', 65);

        var response = await _client.PostAsync("/collections/incidents/items", Json(Encoding.UTF8.GetBytes(deep), "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Contains("nested more than 64 levels deep", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_syntax_error_inside_deep_nesting_is_still_a_syntax_error()
    {
        // 40 levels and then a stray comma: the reader stops at the comma, not at any depth.
        var broken = new string('[', 40) + "1,]" + new string(']', 39);

        var response = await _client.PostAsync("/collections/incidents/items", Json(Encoding.UTF8.GetBytes(broken), "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Contains("not valid JSON", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_body_that_starts_with_a_utf8_byte_order_mark_is_read_without_it()
    {
        // RFC 8259 §8.1: a parser may ignore a BOM; Windows tools (Notepad, PowerShell 5) write one.
        var feature = Features.Valid();
        var title = feature["properties"]!["title"]!.GetValue<string>();
        byte[] body = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(feature.ToJsonString())];

        var response = await _client.PostAsync("/collections/incidents/items", Json(body, "application/geo+json"));

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, await StoredAsync(title));
    }

    [Fact]
    public async Task A_byte_order_mark_then_nothing_is_still_not_json()
    {
        var response = await _client.PostAsync("/collections/incidents/items", Json([0xEF, 0xBB, 0xBF], "application/geo+json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
    }

    [Theory]
    [InlineData("/collections/incidents/items/{id}")]
    [InlineData("/collections/places/items/{place}")]
    public async Task A_patch_refused_for_its_type_lists_every_type_a_patch_may_be_sent_as(string template)
    {
        var id = await _client.CreateAsync(Features.Valid());
        var place = await _client.AddPlaceAsync("Patchville " + Guid.NewGuid().ToString("N")[..8], 12.5, 41.9, "IT", null, "town");
        var url = template.Replace("{id}", id.ToString()).Replace("{place}", place.ToString());
        var request = new HttpRequestMessage(HttpMethod.Patch, url) { Content = new StringContent("{}", Encoding.UTF8, "text/plain") };
        request.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");

        var response = await _client.SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        var detail = problem["detail"]!.GetValue<string>();
        foreach (var type in new[] { "application/merge-patch+json", "application/json", "application/geo+json" })
        {
            Assert.Contains(type, detail);
            Assert.Contains(type, response.Headers.GetValues("Accept-Patch").Single());
        }

        // And the one the message adds is taken: a GeoJSON Feature as a merge patch.
        var geojson = new HttpRequestMessage(HttpMethod.Patch, url)
        {
            Content = new StringContent("""{"properties":{}}""", Encoding.UTF8, "application/geo+json"),
        };
        geojson.Headers.TryAddWithoutValidation("If-Match", "*");
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(geojson)).StatusCode);
    }

    /// <summary>A Feature's JSON with the string in <paramref name="mark"/>'s place replaced by raw bytes (a string literal, quotes and all).</summary>
    private static byte[] WithRawString(JsonNode body, string mark, byte[] literal)
    {
        var text = body.ToJsonString();
        var at = text.IndexOf("\"" + mark + "\"", StringComparison.Ordinal);
        Assert.True(at >= 0, $"no {mark} in {text}");
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. literal, .. Encoding.UTF8.GetBytes(text[(at + mark.Length + 2)..])];
    }

    public static TheoryData<string, string, string> BadUnicode => new()
    {
        // A lone surrogate escape: valid JSON syntax, no Unicode text.
        { "title", "\"lone \\ud800 high\"", "properties.title" },
        { "title", "\"\\udfff\"", "properties.title" },
        // Bytes that are not UTF-8: a lone continuation byte, an overlong encoding of '/', a byte never in UTF-8.
        { "title", "\"bad \u0080 byte\"", "properties.title" },
        { "title", "\"\u00C0\u00AF\"", "properties.title" },
        { "summary", "\"\u00FF\"", "properties.summary" },
        { "tag", "\"\\ud800\"", "properties.tags[1]" },
        { "publisher", "\"\u0080\"", "properties.sources[0].publisher" },
        { "geometry type", "\"\\ud800\"", "geometry.type" },
    };

    /// <summary>The literal as bytes: \u00XX above (written as C# text) is one raw byte, not UTF-8 of the code point.</summary>
    private static byte[] Latin1(string literal) => Encoding.Latin1.GetBytes(literal);

    private static JsonObject FeatureWith(string where, string mark)
    {
        var feature = Features.Valid();
        var properties = feature["properties"]!.AsObject();
        switch (where)
        {
            case "title": properties["title"] = mark; break;
            case "summary": properties["summary"] = mark; break;
            case "tag": properties["tags"] = new JsonArray("fine", mark); break;
            case "publisher": properties["sources"] = new JsonArray(new JsonObject { ["publisher"] = mark }); break;
            case "geometry type": feature["geometry"]!["type"] = mark; break;
        }
        return feature;
    }

    [Theory]
    [MemberData(nameof(BadUnicode))]
    public async Task A_create_or_replacement_with_text_that_is_not_unicode_is_a_400_naming_the_field(string where, string literal, string field)
    {
        var mark = "MARK" + Guid.NewGuid().ToString("N")[..8];
        var body = WithRawString(FeatureWith(where, mark), mark, Latin1(literal));

        var created = await _client.PostAsync("/collections/incidents/items", Json(body, "application/geo+json"));
        var problem = await ProblemAssert.IsProblemAsync(created, HttpStatusCode.BadRequest, field);
        Assert.Contains("Unicode", problem["detail"]!.GetValue<string>());

        var id = await _client.CreateAsync(Features.Valid());
        var replaced = await _client.PutCurrentAsync($"/collections/incidents/items/{id}", Json(body, "application/geo+json"));
        await ProblemAssert.IsProblemAsync(replaced, HttpStatusCode.BadRequest, field);
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("\"a\u00FFb\"")]
    public async Task A_patch_with_a_title_that_is_not_unicode_is_a_400_naming_it(string literal)
    {
        var id = await _client.CreateAsync(Features.Valid());
        byte[] patch = [.. Encoding.UTF8.GetBytes("{\"properties\":{\"title\":"), .. Latin1(literal), .. Encoding.UTF8.GetBytes("}}")];

        var response = await _client.SendCurrentAsync(HttpMethod.Patch, $"/collections/incidents/items/{id}", Json(patch, "application/merge-patch+json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "properties.title");
    }

    [Fact]
    public async Task A_member_given_twice_is_a_400_naming_it()
    {
        var body = "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[36.7,34.7]},"
                   + "\"properties\":{\"title\":\"once\",\"event_type\":\"riots\",\"occurred_at\":\"2016-02-21T07:30:00Z\",\"title\":\"twice\"}}";

        var response = await _client.PostAsync("/collections/incidents/items", Json(Encoding.UTF8.GetBytes(body), "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "properties.title");
        Assert.Contains("appears twice", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_long_member_name_given_twice_is_named_cut_short()
    {
        // The problem echoed the whole name: a body of one 1 MiB name given twice answered 2 MiB.
        var name = new string('n', 1 << 20);
        var body = "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[36.7,34.7]},"
                   + $"\"properties\":{{\"{name}\":1,\"{name}\":2}}}}";

        var response = await _client.PostAsync("/collections/incidents/items", Json(Encoding.UTF8.GetBytes(body), "application/geo+json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(text.Length < 2_000, $"{text.Length} characters of problem");
        Assert.Contains("properties." + new string('n', 63) + "…", text);
    }

    [Fact]
    public async Task Many_long_unknown_properties_are_answered_with_a_problem_of_bounded_size()
    {
        // 300 unknown properties with 3,000-character names: each was echoed whole, in every error.
        var names = Enumerable.Range(0, 300).Select(i => $"{i:000}" + new string('x', 3000)).ToList();
        var feature = Features.Valid();
        foreach (var name in names) feature["properties"]![name] = 1;

        var response = await _client.PostAsync("/collections/incidents/items", Features.Content(feature));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        var errors = problem["errors"]!.AsArray();
        Assert.StartsWith("properties.000xxx", errors[0]!["field"]!.GetValue<string>());
        Assert.Equal(100, errors.Count);
        Assert.All(errors, e => Assert.True(e!["field"]!.GetValue<string>().Length <= 200));
        Assert.StartsWith("300 problems (the first 100 listed)", problem["detail"]!.GetValue<string>());
        Assert.True(problem.ToJsonString().Length < 50_000, $"{problem.ToJsonString().Length} characters of problem");
    }

    [Fact]
    public async Task A_member_name_that_is_not_unicode_names_the_object_that_holds_it()
    {
        var mark = "MARK" + Guid.NewGuid().ToString("N")[..8];
        var feature = Features.Valid();
        feature["properties"]![mark] = 1;
        var body = WithRawString(feature, mark, Latin1("\"\\ud800\""));

        var response = await _client.PostAsync("/collections/incidents/items", Json(body, "application/geo+json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "properties");
    }
}

/// <summary>Body limits as Kestrel enforces them (the test server enforces none).</summary>
public sealed class KestrelRequestBodyTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    /// <summary>
    /// JSON-looking bytes, one block past the 8 MiB limit, whose length is not said up front: sent
    /// chunked, so only Kestrel's count while reading stops it. (Just past the limit, so what the server
    /// leaves unread fits the socket buffers and the client is not cut off mid-write.)
    /// </summary>
    private sealed class UnsizedContent : HttpContent
    {
        public UnsizedContent() => Headers.ContentType = new MediaTypeHeaderValue("application/geo+json");

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var block = Encoding.ASCII.GetBytes(new string(' ', 64 * 1024));
            await stream.WriteAsync(Encoding.ASCII.GetBytes("{\"type\":\"Feature\""));
            for (var sent = 0; sent <= 8 * 1024 * 1024; sent += block.Length) await stream.WriteAsync(block);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("}"));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task A_chunked_body_over_8_MiB_is_a_413_naming_body_as_one_with_a_Content_Length_is()
    {
        using var client = new HttpClient { BaseAddress = new Uri(api.BaseUrl), Timeout = TimeSpan.FromMinutes(1) };
        client.DefaultRequestHeaders.Add("X-API-Key", api.Key);

        var response = await client.PostAsync("/collections/incidents/items", new UnsizedContent());

        Assert.Null(response.RequestMessage!.Content!.Headers.ContentLength); // sent chunked
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Contains("8388608 bytes", problem["detail"]!.GetValue<string>());
    }
}

/// <summary>What a GIS client may send beside a feature: its CRS, and the feature's id.</summary>
[Collection(ApiCollection.Name)]
public sealed class FeatureEnvelopeTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("<http://www.opengis.net/def/crs/EPSG/0/3857>", HttpStatusCode.BadRequest)]
    [InlineData("<http://www.opengis.net/def/crs/EPSG/0/4326>", HttpStatusCode.BadRequest)] // lat/lon axis order
    [InlineData("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>", HttpStatusCode.Created)]
    [InlineData("http://www.opengis.net/def/crs/OGC/1.3/CRS84", HttpStatusCode.Created)]
    public async Task A_body_in_another_crs_is_refused_naming_Content_Crs(string crs, HttpStatusCode expected)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/collections/incidents/items") { Content = Features.Content(Features.Valid()) };
        request.Headers.TryAddWithoutValidation("Content-Crs", crs);

        var response = await _client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.BadRequest) await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "Content-Crs");
    }

    [Fact]
    public async Task A_replacement_or_patch_whose_id_is_another_incident_is_a_400_and_changes_nothing()
    {
        var first = await _client.CreateAsync(Features.Valid("First"));
        var second = await _client.CreateAsync(Features.Valid("Second"));
        var body = await _client.GetJsonAsync($"/collections/incidents/items/{second}");
        body["properties"]!["title"] = "Meant for the second";

        var put = await _client.PutCurrentAsync($"/collections/incidents/items/{first}", Features.Content(body));
        var patch = await _client.PatchCurrentAsync($"/collections/incidents/items/{first}", "{\"id\": " + second + ", \"properties\": {\"title\": \"x\"}}");

        await ProblemAssert.IsProblemAsync(put, HttpStatusCode.BadRequest, "id");
        await ProblemAssert.IsProblemAsync(patch, HttpStatusCode.BadRequest, "id");
        Assert.Equal("First", (await _client.GetJsonAsync($"/collections/incidents/items/{first}"))["properties"]!["title"]!.GetValue<string>());
        // Its own id, as a number or a string, is fine.
        body = await _client.GetJsonAsync($"/collections/incidents/items/{first}");
        body["id"] = first.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(HttpStatusCode.OK, (await _client.PutCurrentAsync($"/collections/incidents/items/{first}", Features.Content(body))).StatusCode);
    }
}
