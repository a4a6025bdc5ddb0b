using System.Net;
using System.Net.Http.Headers;
using System.Text;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// What a shared cache in front of the service needs (Hosting/CacheHeaders.cs). Serial: several tests
/// compare ETags read moments apart, and any write elsewhere moves every list and tile ETag.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class CacheHeaderTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private const string Tile = "/collections/incidents/tiles/WebMercatorQuad/0/0/0";

    private static HttpRequestMessage Get(string url, string? encoding = null, string? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (encoding is not null) request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(encoding));
        if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        return request;
    }

    private static string Vary(HttpResponseMessage response) => string.Join(", ", response.Headers.Vary);

    [Theory]
    [InlineData("/collections/incidents/items?limit=5")]
    [InlineData(Tile)]
    [InlineData("/collections/incidents")]
    public async Task Uncompressed_answers_without_an_origin_still_vary_on_the_coding_and_origin_and_allow_any_origin(string url)
    {
        await _client.CreateAsync(Features.Valid());
        var response = await _client.SendAsync(Get(url));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Equal("*", response.Header("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("/collections/incidents/queryables", "application/schema+json")]
    [InlineData("/collections/incidents/schema", "application/schema+json")]
    [InlineData("/openapi/v1.json", "application/")]
    public async Task Schema_and_OpenAPI_documents_are_compressed_too(string url, string mediaType)
    {
        var response = await _client.SendAsync(Get(url, "gzip"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(mediaType, response.Content.Headers.ContentType!.ToString());
        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task A_compressed_answer_names_its_coding_in_the_ETag_and_revalidates_with_either_spelling(string coding)
    {
        await _client.CreateAsync(Features.Valid());
        var plain = (await _client.SettledETagAsync(Tile)).Tag;

        var compressed = await _client.SendAsync(Get(Tile, coding));
        Assert.Equal(coding, Assert.Single(compressed.Content.Headers.ContentEncoding));
        var tag = compressed.Headers.ETag!.Tag;
        Assert.Equal(plain[..^1] + "-" + coding + "\"", tag);

        // A cache revalidating its compressed copy gets that copy's tag back, and the Vary of the 200.
        var revalidated = await _client.SendAsync(Get(Tile, coding, tag));
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(tag, revalidated.Headers.ETag!.Tag);
        Assert.Contains("Accept-Encoding", revalidated.Headers.Vary);

        // Either spelling revalidates; the 304 names the representation this request would get.
        var uncompressed = await _client.SendAsync(Get(Tile, null, tag));
        Assert.Equal(HttpStatusCode.NotModified, uncompressed.StatusCode);
        Assert.Equal(plain, uncompressed.Headers.ETag!.Tag);
        var plainTagCompressedAnswer = await _client.SendAsync(Get(Tile, coding, plain));
        Assert.Equal(HttpStatusCode.NotModified, plainTagCompressedAnswer.StatusCode);
        Assert.Equal(tag, plainTagCompressedAnswer.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Get(Tile, coding, "\"other-" + coding + "\""))).StatusCode);
    }

    [Theory]
    [InlineData("gzip;q=1.0, br;q=0.5", "gzip")]
    [InlineData("br, gzip", "br")]
    [InlineData("*", "br")]
    [InlineData("identity", null)]
    [InlineData("br;q=0, gzip;q=0", null)]
    // Codings in any case, the first mention of each, "*" for those not named (RFC 9110 §12.5.3): a coding
    // refused by name stays refused ("*" brought br back, as ASP.NET Core's own choice does).
    [InlineData("GZIP", "gzip")]
    [InlineData("*;q=0.1, gzip;q=0.2", "gzip")]
    [InlineData("br;q=0, *", "gzip")]
    [InlineData("*, br;q=0", "gzip")]
    [InlineData("*, br;q=0, gzip;q=0", null)]
    [InlineData("gzip;q=0, *;q=0.5", "br")]
    [InlineData("*;q=0", null)]
    [InlineData("identity, gzip;q=0.5", null)]
    // x-gzip is gzip (RFC 9110 §8.4.1.3), the first mention of either counting.
    [InlineData("x-gzip", "gzip")]
    [InlineData("X-GZIP;q=0.5, br;q=0.4", "gzip")]
    [InlineData("x-gzip;q=0, gzip", null)]
    [InlineData("gzip;q=0.2, x-gzip, br;q=0.5", "br")]
    public async Task A_304_names_the_coding_the_200_for_the_same_request_came_in(string acceptEncoding, string? coding)
    {
        await _client.CreateAsync(Features.Valid());
        var plain = (await _client.SettledETagAsync(Tile)).Tag;
        HttpRequestMessage Request(string? ifNoneMatch)
        {
            var request = Get(Tile, null, ifNoneMatch);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
            return request;
        }

        var full = await _client.SendAsync(Request(null));
        var revalidated = await _client.SendAsync(Request(plain));

        Assert.Equal(coding, full.Content.Headers.ContentEncoding.SingleOrDefault());
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Equal(full.Headers.ETag!.Tag, revalidated.Headers.ETag!.Tag);
    }

    /// <summary>
    /// A GeoJSON page carries the second it was written (timeStamp), so two answers with the same data differ in
    /// their bytes: its tag is weak, the same in every coding, and revalidates (audit: a strong tag stood for
    /// bytes that changed every second). A CSV page has no timeStamp and keeps a strong tag naming its coding.
    /// </summary>
    [Fact]
    public async Task A_geojson_page_has_a_weak_etag_that_revalidates_in_any_coding_and_a_csv_page_a_strong_one()
    {
        await _client.CreateAsync(Features.Valid());
        const string page = "/collections/incidents/items?limit=3";
        var tag = await _client.SettledETagAsync(page);

        Assert.True(tag.IsWeak, $"{tag}");
        Assert.Contains("timeStamp", await (await _client.SendAsync(Get(page))).Content.ReadAsStringAsync());
        foreach (var coding in new[] { "gzip", "br" })
        {
            var compressed = await _client.SendAsync(Get(page, coding));
            Assert.Equal(coding, Assert.Single(compressed.Content.Headers.ContentEncoding));
            Assert.Equal(tag.ToString(), compressed.Headers.ETag!.ToString());
            var revalidated = await _client.SendAsync(Get(page, coding, tag.ToString()));
            Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
            Assert.Equal(tag.ToString(), revalidated.Headers.ETag!.ToString());
        }
        // Sent back without its weak marker, as some clients do, it still revalidates: If-None-Match compares weakly.
        Assert.Equal(HttpStatusCode.NotModified, (await _client.SendAsync(Get(page, null, tag.Tag))).StatusCode);

        var csv = await _client.SendAsync(Get(page + "&f=csv", "gzip"));
        Assert.False(csv.Headers.ETag!.IsWeak);
        Assert.EndsWith("-gzip\"", csv.Headers.ETag.Tag);
    }

    [Fact]
    public async Task An_empty_tile_and_its_304_carry_the_same_ETag()
    {
        // A 204 has no body to compress, yet its 304 named the coding a 200 would have come in.
        const string empty = "/collections/incidents/tiles/WebMercatorQuad/10/620/420?tags=none-of-these-7c1f";
        HttpRequestMessage Request(string? ifNoneMatch)
        {
            var request = Get(empty, null, ifNoneMatch);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br");
            return request;
        }

        var first = await _client.SendAsync(Request(null));
        var again = await _client.SendAsync(Request(first.Headers.ETag!.Tag));

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal(first.Headers.ETag!.Tag, again.Headers.ETag!.Tag);
    }

    [Fact]
    public async Task The_ETag_of_a_compressed_incident_is_accepted_by_If_Match()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var read = await _client.SendAsync(Get($"/collections/incidents/items/{id}", "gzip"));
        var tag = read.Headers.ETag!.Tag;
        Assert.Equal("\"v1-gzip\"", tag);

        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/collections/incidents/items/{id}")
        {
            Content = new StringContent("{\"properties\": {\"title\": \"Corrected\"}}", Encoding.UTF8, "application/merge-patch+json"),
        };
        patch.Headers.TryAddWithoutValidation("If-Match", tag);
        var patched = await _client.SendAsync(patch);
        Assert.True(patched.StatusCode == HttpStatusCode.OK, $"{(int)patched.StatusCode}: {await patched.Content.ReadAsStringAsync()}");

        // Stale, compressed or not, is still stale.
        var stale = new HttpRequestMessage(HttpMethod.Delete, $"/collections/incidents/items/{id}");
        stale.Headers.TryAddWithoutValidation("If-Match", tag);
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(stale), HttpStatusCode.PreconditionFailed, "If-Match");
    }

    [Fact]
    public async Task A_preflight_is_cached_for_an_hour_and_allows_the_headers_of_async_and_compressed_imports()
    {
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/collections/incidents/imports");
        preflight.Headers.Add("Origin", "https://newsroom.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "x-api-key, content-type, prefer, content-encoding");

        var response = await _client.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("3600", response.Header("Access-Control-Max-Age"));
        Assert.Contains("Prefer", response.Header("Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Encoding", response.Header("Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>The service with reads behind a key.</summary>
public sealed class KeyedReadsFactory() : ConfiguredFactory(("Auth:RequireKeyForReads", "true"));

public sealed class KeyedCacheHeaderTests(KeyedReadsFactory api) : IClassFixture<KeyedReadsFactory>
{
    [Fact]
    public async Task When_reads_need_a_key_a_tile_is_not_offered_to_shared_caches()
    {
        var client = api.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/collections/incidents/tiles/WebMercatorQuad/0/0/0")).StatusCode);
        client.DefaultRequestHeaders.Add("X-API-Key", api.Key);

        var tile = await client.GetAsync("/collections/incidents/tiles/WebMercatorQuad/0/0/0");

        Assert.True(tile.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent, $"{(int)tile.StatusCode}");
        Assert.True(tile.Headers.CacheControl!.Private, tile.Headers.CacheControl.ToString());
        Assert.False(tile.Headers.CacheControl.Public);
    }
}
