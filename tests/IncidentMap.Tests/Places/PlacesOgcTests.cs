using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Places;

/// <summary>
/// What OGC API – Features clients (GDAL, QGIS) read from the places collection to open it as a layer:
/// its extent, the pages' numberMatched, what OPTIONS allows, and link types as written.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class PlacesOgcTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static string Suffix() => Guid.NewGuid().ToString("N")[..6];

    private async Task<T> ScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    private static List<double> Bbox(JsonNode collection) =>
        collection["extent"]!["spatial"]!["bbox"]![0]!.AsArray().Select(v => v!.GetValue<double>()).ToList();

    private async Task<long> GeoNamesPlaceAsync() =>
        await ScalarAsync<long>("SELECT id FROM places WHERE source = 'geonames' AND name = 'Homs' AND country = 'SY'");

    [Fact]
    public async Task The_places_collection_has_the_spatial_extent_of_every_place_in_the_list_and_alone()
    {
        var gazetteer = await ScalarAsync<string>(
            "SELECT concat_ws(',', ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) FROM (SELECT ST_Extent(geom)::geometry AS e FROM places WHERE source = 'geonames') s");
        var expected = gazetteer.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();

        var alone = await _client.GetJsonAsync("/collections/places");
        var listed = (await _client.GetJsonAsync("/collections"))["collections"]!.AsArray().Single(c => c!["id"]!.GetValue<string>() == "places")!;

        Assert.True(JsonNode.DeepEquals(listed, alone), $"listed {listed.ToJsonString()}\nalone {alone.ToJsonString()}");
        Assert.Equal("http://www.opengis.net/def/crs/OGC/1.3/CRS84", alone["extent"]!["spatial"]!["crs"]!.GetValue<string>());
        var bbox = Bbox(alone);
        // Every GeoNames place, and editors' places (the tests' own, all inside the gazetteer's box).
        Assert.True(expected.Count == 4 && expected[0] < -170 && expected[2] > 170, $"gazetteer extent {gazetteer}");
        Assert.Equal(expected, bbox);
    }

    [Fact]
    public async Task The_extent_follows_an_editor_place_added_and_deleted_at_once()
    {
        await _client.GetJsonAsync("/collections/places");   // cached before the place is added
        var id = await _client.AddPlaceAsync($"Far North Test {Suffix()}", 179.95, 86.5, null, null, "site");

        var widened = Bbox(await _client.GetJsonAsync("/collections/places"));
        Assert.True(widened[2] >= 179.95 && widened[3] >= 86.5, $"extent {string.Join(",", widened)} misses the place just added");

        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/collections/places/items/{id}")).StatusCode);
        var shrunk = Bbox(await _client.GetJsonAsync("/collections/places"));
        Assert.True(shrunk[2] < 179.95 && shrunk[3] < 86.5, $"extent {string.Join(",", shrunk)} still has the place just deleted");
    }

    [Theory]
    [InlineData("country=NO", "country = 'NO'")]
    [InlineData("bbox=4,57,31,71", "geom && ST_MakeEnvelope(4, 57, 31, 71, 4326)")]
    [InlineData("bbox=170,-50,-170,-10", "(geom && ST_MakeEnvelope(170, -50, 180, -10, 4326) OR geom && ST_MakeEnvelope(-180, -50, -170, -10, 4326))")]
    [InlineData("country=NZ&bbox=170,-50,180,-30", "country = 'NZ' AND geom && ST_MakeEnvelope(170, -50, 180, -30, 4326)")]
    public async Task The_first_page_says_how_many_places_the_filters_select(string query, string where)
    {
        // Places of tests running alongside are far from these boxes and countries (but NZ: those are in the Southern Ocean).
        var expected = await ScalarAsync<long>($"SELECT count(*) FROM places WHERE {where}");

        var page = await _client.GetJsonAsync($"/collections/places/items?{query}&limit=3");

        Assert.True(expected > 3, $"{expected} places");
        Assert.Equal(expected, page["numberMatched"]!.GetValue<long>());
        Assert.Equal(3, page["numberReturned"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_first_page_of_the_whole_collection_says_how_many_places_there_are()
    {
        // Tests running alongside add and delete their own places: compare when the count held still around the page.
        long before, after, matched;
        var attempts = 0;
        do
        {
            before = await ScalarAsync<long>("SELECT count(*) FROM places");
            matched = (await _client.GetJsonAsync("/collections/places/items"))["numberMatched"]!.GetValue<long>();
            after = await ScalarAsync<long>("SELECT count(*) FROM places");
        } while (before != after && ++attempts < 10);

        Assert.Equal(before, matched);
        Assert.True(matched >= 135_233, $"{matched} places");
    }

    [Fact]
    public async Task Browsing_pages_go_by_population_then_id_without_a_place_lost_or_repeated()
    {
        // Pages of a country no test writes to, followed by their next links, against the order the README gives.
        await using var connection = await api.Database.OpenConnectionAsync();
        var expected = (await connection.QueryAsync<long>(
            "SELECT id FROM places WHERE country = 'FI' ORDER BY coalesce(population, -1) DESC, id")).ToList();
        Assert.True(expected.Count > 150, $"{expected.Count} places in FI");

        var seen = new List<long>();
        var url = "/collections/places/items?country=FI&limit=97";
        while (url is not null)
        {
            var page = await _client.GetJsonAsync(url);
            seen.AddRange(page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
            url = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]!.GetValue<string>() is { } next
                ? new Uri(next).PathAndQuery : null;
        }

        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task A_browsed_page_reads_its_keys_from_the_browse_index()
    {
        // Every place was sorted with its feature built, about a second a page (migration 0049).
        await using var connection = await api.Database.OpenConnectionAsync();
        var plan = await connection.ExecuteScalarAsync<string>("""
            EXPLAIN (FORMAT JSON) SELECT p.id FROM places p WHERE (-(coalesce(p.population, -1)::bigint), p.id) > (-5000::bigint, 7)
            ORDER BY (-(coalesce(p.population, -1)::bigint)), p.id LIMIT 10
            """);
        Assert.Contains("places_browse_idx", plan);
    }

    [Fact]
    public async Task NumberMatched_is_on_the_first_page_by_default_on_every_page_with_count_true_and_never_with_false()
    {
        var first = await _client.GetJsonAsync("/collections/places/items?country=NO&limit=50");
        var total = first["numberMatched"]!.GetValue<long>();
        var next = first["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>();

        var second = await _client.GetJsonAsync(new Uri(next).PathAndQuery);
        var counted = await _client.GetJsonAsync(new Uri(next).PathAndQuery + "&count=true");
        var uncounted = await _client.GetJsonAsync("/collections/places/items?country=NO&limit=50&count=false");

        Assert.Null(second["numberMatched"]);
        Assert.Equal(total, counted["numberMatched"]!.GetValue<long>());
        Assert.Null(uncounted["numberMatched"]);
        Assert.Equal(50, uncounted["numberReturned"]!.GetValue<int>());
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/places/items?count=yes"), HttpStatusCode.BadRequest, "count");
    }

    [Fact]
    public async Task With_q_numberMatched_counts_the_ranked_matches_which_stop_at_100()
    {
        // Homs has fewer than 100 matches: all of them come at limit=100, and numberMatched says how many at any limit.
        var all = await _client.GetJsonAsync("/collections/places/items?q=Homs&limit=100");
        var few = await _client.GetJsonAsync("/collections/places/items?q=Homs&limit=3");
        var inSyria = await _client.GetJsonAsync("/collections/places/items?q=Homs&country=SY&limit=100");
        // "San" matches thousands of places by prefix: the ranked result is the best 100.
        var many = await _client.GetJsonAsync("/collections/places/items?q=San");
        var none = await _client.GetJsonAsync("/collections/places/items?q=Xqzxqzxqz");
        var uncounted = await _client.GetJsonAsync("/collections/places/items?q=Homs&count=false");

        var homs = all["numberReturned"]!.GetValue<int>();
        Assert.InRange(homs, 4, 99);
        Assert.Equal(homs, all["numberMatched"]!.GetValue<int>());
        Assert.Equal(homs, few["numberMatched"]!.GetValue<int>());
        Assert.Equal(3, few["numberReturned"]!.GetValue<int>());
        Assert.Equal(inSyria["numberReturned"]!.GetValue<int>(), inSyria["numberMatched"]!.GetValue<int>());
        Assert.True(inSyria["numberMatched"]!.GetValue<int>() < homs);
        Assert.Equal(100, many["numberMatched"]!.GetValue<int>());
        Assert.Equal(10, many["numberReturned"]!.GetValue<int>());
        Assert.Equal(0, none["numberMatched"]!.GetValue<int>());
        Assert.Null(uncounted["numberMatched"]);
    }

    private async Task<List<long>> PagedAsync(string url)
    {
        var seen = new List<long>();
        for (string? next = url; next is not null;)
        {
            var page = await _client.GetJsonAsync(next);
            var ids = page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).ToList();
            Assert.NotEmpty(ids);
            seen.AddRange(ids);
            next = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]!.GetValue<string>() is { } href
                ? new Uri(href).PathAndQuery : null;
        }
        return seen;
    }

    /// <summary>
    /// A search with q pages its ranked matches (at most 100) by next links, keyset on the rank and id: q=homs&amp;limit=7 said
    /// numberMatched 31 with no next link, so 24 of them no request could reach but one with a larger limit.
    /// </summary>
    [Fact]
    public async Task A_search_with_q_pages_through_its_ranked_matches_by_next_links()
    {
        // Places of one rank (one name, no population) are ordered by id; prefixes by population.
        var name = $"Pagetest {Suffix()}";
        var tied = new List<long>();
        for (var i = 0; i < 5; i++) tied.Add(await _client.AddPlaceAsync(name, -115.0 - i * 0.1, -55.0, null, null, "village"));
        var prefixes = new List<long>();
        foreach (var (suffix, people) in new[] { ("North", 5_000), ("South", 50_000), ("East", 500) })
        {
            var feature = new JsonObject
            {
                ["type"] = "Feature", ["geometry"] = Features.Point(-116.0, -55.5 - prefixes.Count * 0.1),
                ["properties"] = new JsonObject { ["name"] = $"{name} {suffix}", ["kind"] = "village", ["population"] = people },
            };
            var created = await _client.PostAsync("/collections/places/items", Features.Content(feature));
            prefixes.Add(JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<long>());
        }
        var q = Uri.EscapeDataString(name);

        var paged = await PagedAsync($"/collections/places/items?q={q}&limit=2");

        Assert.Equal([.. tied, prefixes[1], prefixes[0], prefixes[2]], paged);
        var first = await _client.GetJsonAsync($"/collections/places/items?q={q}&limit=2");
        Assert.Equal(8, first["numberMatched"]!.GetValue<int>());
        // The gazetteer's own: every page of a long list, in the order one page of them all gives.
        foreach (var (term, limit) in new[] { ("homs", 7), ("Dam", 30) })
        {
            var all = (await _client.GetJsonAsync($"/collections/places/items?q={term}&limit=100"))["features"]!.AsArray()
                .Select(f => f!["id"]!.GetValue<long>()).ToList();
            Assert.Equal(all, await PagedAsync($"/collections/places/items?q={term}&limit={limit}"));
        }
        // A page past the last still counts them, when asked.
        var last = (await _client.GetJsonAsync($"/collections/places/items?q={q}&limit=7"))["links"]!.AsArray()
            .Single(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>();
        var end = await _client.GetJsonAsync(new Uri(last).PathAndQuery + "&count=true");
        Assert.Equal(1, end["numberReturned"]!.GetValue<int>());
        Assert.Equal(8, end["numberMatched"]!.GetValue<int>());
        Assert.DoesNotContain(end["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "next");
    }

    /// <summary>
    /// A method no endpoint of a place takes (PUT, POST) was routing's own 405, whose Allow named every method of the path
    /// (a GeoNames place's PATCH and DELETE too, unlike its OPTIONS and its own 405) and which answered a place that does not
    /// exist. It answers as the place's OPTIONS does now (RFC 9110 §15.5.6: Allow lists the resource's methods).
    /// </summary>
    [Fact]
    public async Task Any_other_method_on_a_place_is_a_405_naming_that_places_methods_or_a_404()
    {
        var own = await _client.AddPlaceAsync($"Put Test {Suffix()}", 36.32, 33.53, "SY", null, "suburb");
        var gazetteer = await GeoNamesPlaceAsync();
        var body = """{"type":"Feature","geometry":null,"properties":{}}""";
        Task<HttpResponseMessage> Send(string method, string id) => _client.SendAsync(
            new HttpRequestMessage(new HttpMethod(method), $"/collections/places/items/{id}") { Content = new StringContent(body, Encoding.UTF8, "application/geo+json") });

        foreach (var method in new[] { "PUT", "POST" })
        {
            var readOnly = await Send(method, $"{gazetteer}");
            await ProblemAssert.IsProblemAsync(readOnly, HttpStatusCode.MethodNotAllowed);
            Assert.Equal(["GET", "HEAD", "OPTIONS"], readOnly.Content.Headers.Allow);
            var editors = await Send(method, $"{own}");
            await ProblemAssert.IsProblemAsync(editors, HttpStatusCode.MethodNotAllowed);
            Assert.Equal(["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"], editors.Content.Headers.Allow);
            await ProblemAssert.IsProblemAsync(await Send(method, "999999999999"), HttpStatusCode.NotFound);
            await ProblemAssert.IsProblemAsync(await Send(method, "abc"), HttpStatusCode.NotFound);
        }
        // The place is as it was.
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/places/items/{own}")).StatusCode);
    }

    [Fact]
    public async Task Options_on_the_places_lists_the_methods_so_editors_offer_adding_places()
    {
        foreach (var client in new[] { _client, api.CreateAnonymousClient() })
        {
            var items = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/collections/places/items"));

            Assert.Equal(HttpStatusCode.NoContent, items.StatusCode);
            Assert.Equal(["GET", "HEAD", "POST", "OPTIONS"], items.Content.Headers.Allow);
        }
    }

    [Fact]
    public async Task Options_on_a_place_lists_what_that_place_allows()
    {
        var own = await _client.AddPlaceAsync($"Options Test {Suffix()}", 36.31, 33.52, "SY", null, "suburb");
        var gazetteer = await GeoNamesPlaceAsync();

        var editors = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, $"/collections/places/items/{own}"));
        var readOnly = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, $"/collections/places/items/{gazetteer}"));
        var unknown = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/collections/places/items/999999999999"));

        Assert.Equal(HttpStatusCode.NoContent, editors.StatusCode);
        Assert.Equal(["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"], editors.Content.Headers.Allow);
        // Every type PATCH takes, as its 415 names them.
        Assert.Equal("application/merge-patch+json, application/json, application/geo+json", editors.Headers.GetValues("Accept-Patch").Single());
        Assert.Equal(HttpStatusCode.NoContent, readOnly.StatusCode);
        Assert.Equal(["GET", "HEAD", "OPTIONS"], readOnly.Content.Headers.Allow);
        Assert.False(readOnly.Headers.Contains("Accept-Patch"));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.NotFound);

        // What a GeoNames place refuses names the same methods as its OPTIONS.
        var patched = await _client.PatchAsync($"/collections/places/items/{gazetteer}",
            new StringContent("""{"properties":{"name":"Homz"}}""", Encoding.UTF8, "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, patched.StatusCode);
        Assert.Equal(readOnly.Content.Headers.Allow, patched.Content.Headers.Allow);
        // And what OPTIONS allows an editor's place works.
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/collections/places/items/{own}")).StatusCode);
    }

    [Theory]
    [InlineData("/collections/places/items?country=SY&limit=2")]
    [InlineData("/collections/places/items?q=Homs&limit=2")]
    public async Task Pages_write_link_types_and_hrefs_unescaped_as_the_incidents_do(string url)
    {
        var body = await _client.GetStringAsync(url);

        Assert.Contains("\"type\":\"application/geo+json\"", body);
        Assert.DoesNotContain("\\u002B", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\\u0026", body, StringComparison.OrdinalIgnoreCase);
        // Still JSON, with hrefs that work.
        var page = JsonNode.Parse(body)!;
        var self = page["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "self")!["href"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(new Uri(self).PathAndQuery)).StatusCode);
        if (!url.Contains("q="))
            Assert.Contains("&cursor=", page["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>());
    }
}
