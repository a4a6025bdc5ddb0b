using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;

using static IncidentMap.Tests.Places.PlaceHelpers;

namespace IncidentMap.Tests.Places;

/// <summary>The places collection as an OGC API – Features collection, and editors correcting their places.</summary>
[Collection(ApiCollection.Name)]
public sealed class PlacesCollectionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static string Suffix() => Guid.NewGuid().ToString("N")[..6];

    private static JsonObject Place(string name, double lon = 36.3408, double lat = 33.4436) => new()
    {
        ["type"] = "Feature",
        ["geometry"] = Features.Point(lon, lat),
        ["properties"] = new JsonObject { ["name"] = name, ["country"] = "SY", ["admin1"] = "Rif Dimashq", ["kind"] = "suburb" },
    };

    private async Task<long> AddAsync(JsonObject place)
    {
        var response = await _client.PostAsync("/collections/places/items", Features.Content(place));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<long>();
    }

    private Task<HttpResponseMessage> PatchAsync(long id, string patch, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, $"/collections/places/items/{id}")
        {
            Content = new StringContent(patch, Encoding.UTF8, "application/merge-patch+json"),
        };
        if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return _client.SendAsync(request);
    }

    private async Task<long> GeoNamesPlaceAsync() =>
        await api.Database.ScalarAsync<long>("SELECT id FROM places WHERE source = 'geonames' AND name = 'Homs' AND country = 'SY'", new { });

    [Theory]
    [InlineData("datetime=2016-02-21T00:00:00Z")]
    [InlineData("datetime=2016-01-01/..")]
    [InlineData("datetime=../2016-02-21&q=Homs")]
    public async Task Datetime_is_accepted_and_selects_every_place(string query)
    {
        var page = await _client.GetJsonAsync($"/collections/places/items?country=SY&limit=5&{query}");
        var without = await _client.GetJsonAsync($"/collections/places/items?country=SY&limit=5{(query.Contains("q=") ? "&q=Homs" : "")}");

        Assert.Equal(without["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()),
            page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
    }

    private async Task<HttpResponseMessage> GetAsync(string url, string header, string value)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation(header, value);
        return await _client.SendAsync(request);
    }

    /// <summary>
    /// A place's ETag is a digest of the place (places have no version number): it revalidates with a 304 until the
    /// place itself changes, whatever else is written, and an editor's change may send it as If-Match.
    /// </summary>
    /// <summary>A population is a whole number as written, as an incident's counts are: 1000.0 and 2e3 were a 422.</summary>
    [Theory]
    [InlineData("1000.0", 1000)]
    [InlineData("2e3", 2000)]
    [InlineData("150000e-2", 1500)]
    [InlineData("0.0", 0)]
    public async Task A_population_written_with_a_point_or_an_exponent_is_its_whole_number(string written, int population)
    {
        var place = Place($"Whole {Suffix()}");
        place["properties"]!["population"] = JsonNode.Parse(written);
        var id = await AddAsync(place);
        Assert.Equal(population, (await _client.GetJsonAsync($"/collections/places/items/{id}"))["properties"]!["population"]!.GetValue<long>());

        var patched = await PatchAsync(id, "{\"properties\": {\"population\": " + written.Replace("e", "E") + "}}");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(population, (await _client.GetJsonAsync($"/collections/places/items/{id}"))["properties"]!["population"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_place_revalidates_with_304_until_it_changes_and_its_etag_guards_a_patch_and_a_delete()
    {
        var id = await AddAsync(Place($"Conditional {Suffix()}"));
        var item = $"/collections/places/items/{id}";
        var read = await _client.GetAsync(item);
        var tag = read.Headers.ETag!;
        Assert.False(tag.IsWeak);

        await AddAsync(Place($"Another {Suffix()}")); // other data changes; the place does not
        Assert.Equal(HttpStatusCode.NotModified, (await GetAsync(item, "If-None-Match", tag.ToString())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(item, "If-Match", tag.ToString())).StatusCode);

        var patched = await PatchAsync(id, """{"properties": {"population": 1234}}""", tag.ToString());
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var newTag = patched.Headers.ETag!;
        Assert.NotEqual(tag, newTag);
        Assert.Equal(newTag, (await _client.GetAsync(item)).Headers.ETag);
        var changed = await GetAsync(item, "If-None-Match", tag.ToString());
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(1234, JsonNode.Parse(await changed.Content.ReadAsStringAsync())!["properties"]!["population"]!.GetValue<long>());

        // The tag read before the patch is stale now: a second editor's patch and delete are refused, naming the current tag.
        var stale = await PatchAsync(id, """{"properties": {"population": 99}}""", tag.ToString());
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Equal(newTag, stale.Headers.ETag);
        await ProblemAssert.IsProblemAsync(await DeleteAsync(item, tag.ToString()), HttpStatusCode.PreconditionFailed, "If-Match");
        await ProblemAssert.IsProblemAsync(await DeleteAsync(item, "W/" + newTag), HttpStatusCode.PreconditionFailed, "If-Match");
        await ProblemAssert.IsProblemAsync(await DeleteAsync(item, "nope"), HttpStatusCode.BadRequest, "If-Match");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(item)).StatusCode);
        Assert.Equal(1234, (await _client.GetJsonAsync(item))["properties"]!["population"]!.GetValue<long>());

        Assert.Equal(HttpStatusCode.NoContent, (await DeleteAsync(item, newTag.ToString())).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync(item)).StatusCode);
        // Gone, it is a 404 whatever the conditions, a change's too.
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(item, "If-Match", "\"d0\"")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await DeleteAsync(item, newTag.ToString())).StatusCode);
    }

    /// <summary>
    /// A place is served as stored, every digit: it was rounded to six decimals while incidents geocoded to it got
    /// all of them, and a move of 1e-7° kept its ETag.
    /// </summary>
    [Fact]
    public async Task A_place_is_served_to_every_stored_digit_and_a_tiny_move_changes_its_etag()
    {
        var id = await AddAsync(Place($"Precise {Suffix()}", 36.31234567, 1.2345678901234567)); // 16 decimals
        var item = $"/collections/places/items/{id}";
        var read = await _client.GetAsync(item);
        var coordinates = JsonNode.Parse(await read.Content.ReadAsStringAsync())!["geometry"]!["coordinates"]!.AsArray();
        Assert.Equal([36.31234567, 1.2345678901234567], coordinates.Select(c => c!.GetValue<double>()));

        var moved = await PatchAsync(id, """{"geometry": {"type": "Point", "coordinates": [36.31234577, 1.2345678901234567]}}""", read.Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.NotEqual(read.Headers.ETag, moved.Headers.ETag);
        Assert.Equal(36.31234577, (await _client.GetJsonAsync(item))["geometry"]!["coordinates"]![0]!.GetValue<double>());
    }

    [Fact]
    public async Task If_Match_is_evaluated_on_a_place_and_on_a_search_page_after_their_parameters()
    {
        var id = await AddAsync(Place($"Preconditions {Suffix()}"));
        var item = $"/collections/places/items/{id}";

        await ProblemAssert.IsProblemAsync(await GetAsync(item, "If-Match", "\"d0\""), HttpStatusCode.PreconditionFailed, "If-Match");
        await ProblemAssert.IsProblemAsync(await GetAsync("/collections/places/items?q=Homs", "If-Match", "\"d0\""), HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(item, "If-Match", "*")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/collections/places/items?q=Homs", "If-Match", "*")).StatusCode);
        // A misspelt parameter hears of that first; a GeoNames place is read-only whatever If-Match says.
        await ProblemAssert.IsProblemAsync(await GetAsync("/collections/places/items?qq=Homs", "If-Match", "\"d0\""), HttpStatusCode.BadRequest, "qq");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await DeleteAsync($"/collections/places/items/{await GeoNamesPlaceAsync()}", "\"d0\"")).StatusCode);
    }

    private Task<HttpResponseMessage> DeleteAsync(string url, string ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, url);
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return _client.SendAsync(request);
    }

    [Fact]
    public async Task An_invalid_datetime_is_still_a_400_naming_it()
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/places/items?datetime=yesterday"), HttpStatusCode.BadRequest, "datetime");
    }

    [Fact]
    public async Task Head_answers_the_items_and_a_place_like_get_without_a_body()
    {
        var id = await GeoNamesPlaceAsync();
        foreach (var url in new[] { "/collections/places/items?q=Homs", $"/collections/places/items/{id}" })
        {
            var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal("application/geo+json", head.Content.Headers.ContentType?.MediaType);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/collections/places/items/999999999999"))).StatusCode);
    }

    [Fact]
    public async Task A_place_links_to_itself_and_its_collection()
    {
        var id = await GeoNamesPlaceAsync();
        var place = await _client.GetJsonAsync($"/collections/places/items/{id}");

        var links = place["links"]!.AsArray().ToDictionary(l => l!["rel"]!.GetValue<string>(), l => l!["href"]!.GetValue<string>());
        Assert.EndsWith($"/collections/places/items/{id}", links["self"]);
        Assert.EndsWith("/collections/places", links["collection"]);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(links["self"])).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(links["collection"])).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_declares_place_search_bbox_limit_and_datetime_as_the_incident_query_does()
    {
        var document = JsonNode.Parse(await _client.GetStringAsync("/openapi/v1.json"))!;
        var items = document["paths"]!["/collections/places/items"]!;
        var parameters = items["get"]!["parameters"]!.AsArray().ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!);

        var bbox = parameters["bbox"];
        Assert.Equal("array", bbox["schema"]!["type"]!.GetValue<string>());
        Assert.Equal("number", bbox["schema"]!["items"]!["type"]!.GetValue<string>());
        Assert.Equal((4, 6), (bbox["schema"]!["minItems"]!.GetValue<int>(), bbox["schema"]!["maxItems"]!.GetValue<int>()));
        Assert.Equal("form", bbox["style"]?.GetValue<string>() ?? "form");   // form is a query parameter's default style
        Assert.False(bbox["explode"]!.GetValue<bool>());
        Assert.Equal(10, parameters["limit"]["schema"]!["default"]!.GetValue<int>());
        Assert.True(parameters.ContainsKey("datetime"));
        Assert.NotNull(items["head"]);
        Assert.NotNull(document["paths"]!["/collections/places/items/{placeId}"]!["head"]);
    }

    [Theory]
    [InlineData("""{"properties":{"name":"N","bogus":1}}""", "properties.bogus")]
    [InlineData("""{"properties":{"name":"N","admin1":5}}""", "properties.admin1")]
    [InlineData("""{"properties":{"name":"N","admin1":"   "}}""", "properties.admin1")]
    [InlineData("""{"properties":{"name":"N","admin1":"LONG"}}""", "properties.admin1")]
    [InlineData("""{"properties":{"name":"   "}}""", "properties.name")]
    [InlineData("""{"properties":{"name":"‘-’"}}""", "properties.name")]
    [InlineData("""{"properties":{"name":"LONG"}}""", "properties.name")]
    [InlineData("""{"properties":{"name":7}}""", "properties.name")]
    [InlineData("""{"properties":{"name":"N","alternate_names":["ok", "  "]}}""", "properties.alternate_names[1]")]
    [InlineData("""{"properties":{"name":"N","alternate_names":["--"]}}""", "properties.alternate_names[0]")]
    [InlineData("""{"properties":{"name":"N","alternate_names":"Alt"}}""", "properties.alternate_names")]
    [InlineData("""{"properties":{"name":"N","country":7}}""", "properties.country")]
    [InlineData("""{"properties":{"name":"N","country":"XX"}}""", "properties.country")]
    [InlineData("""{"properties":{"name":"N","kind":"city"}}""", "properties.kind")]
    [InlineData("""{"properties":{"name":"N","population":-5}}""", "properties.population")]
    [InlineData("""{"properties":{"name":"N","population":"many"}}""", "properties.population")]
    [InlineData("""{"properties":{"name":"N","population":1.5}}""", "properties.population")]
    [InlineData("""{"properties":{"name":"N","population":3000000000}}""", "properties.population")]
    [InlineData("""{"properties":{"name":"N","population":1e-400}}""", "properties.population")]
    [InlineData("""{"properties":{"name":"N","population":1000.0000000000000000000000000001}}""", "properties.population")]
    [InlineData("""{"type":"FeatureCollection","properties":{"name":"N"}}""", "type")]
    [InlineData("""{"geometry":null,"properties":{"name":"N"}}""", "geometry")]
    [InlineData("""{"geometry":{"type":"LineString","coordinates":[[1,2],[3,4]]},"properties":{"name":"N"}}""", "geometry.type")]
    public async Task An_invalid_place_is_a_422_naming_the_field_whether_added_or_patched(string change, string field)
    {
        change = change.Replace("LONG", new string('a', 201));
        var name = "Ghouta Test " + Suffix();
        var body = Place(name);
        var patch = JsonNode.Parse(change)!.AsObject();
        patch["properties"]!["name"] ??= name;
        var merged = Merge(body, patch);

        await ProblemAssert.IsProblemAsync(await _client.PostAsync("/collections/places/items", Features.Content(merged)),
            HttpStatusCode.UnprocessableEntity, field);
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name = @name", new { name }));

        var id = await AddAsync(Place(name));
        await ProblemAssert.IsProblemAsync(await PatchAsync(id, change), HttpStatusCode.UnprocessableEntity, field);
        var stored = await _client.GetJsonAsync($"/collections/places/items/{id}");
        Assert.Equal(name, stored["properties"]!["name"]!.GetValue<string>());
    }

    private static JsonObject Merge(JsonObject target, JsonObject patch)
    {
        var result = (JsonObject)target.DeepClone();
        foreach (var (key, value) in patch)
        {
            if (value is JsonObject inner && result[key] is JsonObject existing) result[key] = Merge(existing, inner);
            else result[key] = value?.DeepClone();
        }
        return result;
    }

    [Fact]
    public async Task A_place_read_and_sent_back_is_accepted_with_what_the_server_owns()
    {
        var id = await AddAsync(Place("Echo Test " + Suffix()));
        var read = await _client.GetJsonAsync($"/collections/places/items/{id}");
        read.Remove("links");
        read.Remove("id");
        read["properties"]!["name"] = "Echo Test " + Suffix();
        read["geometry"] = Features.Point(36.9, 34.9);

        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync("/collections/places/items", Features.Content(read))).StatusCode);
    }

    /// <summary>
    /// An editor's place may say how many people live there, which search ranks places that start with q by:
    /// it was silently dropped, as if the server owned it (audit). A PATCH changes it or clears it with null.
    /// </summary>
    [Fact]
    public async Task An_editors_population_is_stored_ranks_the_place_and_can_be_corrected()
    {
        var suffix = Suffix();
        var small = await AddAsync(Place($"Qaryat {suffix} Saghira"));
        var big = Place($"Qaryat {suffix} Kabira");
        big["properties"]!["population"] = 136_000;
        var bigId = await AddAsync(big);

        Assert.Equal(136_000, (await _client.GetJsonAsync($"/collections/places/items/{bigId}"))["properties"]!["population"]!.GetValue<long>());
        var found = (await _client.GetJsonAsync($"/collections/places/items?q={Uri.EscapeDataString($"Qaryat {suffix}")}"))["features"]!.AsArray();
        Assert.Equal([bigId, small], found.Take(2).Select(f => f!["id"]!.GetValue<long>()));

        // The largest population taken still ranks (its logarithm overflowed an integer: every search naming it was a 500).
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(bigId, $$$"""{"properties":{"population":{{{int.MaxValue}}}}}""")).StatusCode);
        found = (await _client.GetJsonAsync($"/collections/places/items?q={Uri.EscapeDataString($"Qaryat {suffix}")}"))["features"]!.AsArray();
        Assert.Equal(bigId, found[0]!["id"]!.GetValue<long>());

        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(bigId, """{"properties":{"population":null}}""")).StatusCode);
        Assert.Null((await _client.GetJsonAsync($"/collections/places/items/{bigId}"))["properties"]!["population"]);
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(small, """{"properties":{"population":2500}}""")).StatusCode);
        Assert.Equal(2500, await api.Database.ScalarAsync<long>("SELECT population FROM places WHERE id = @small", new { small }));
    }

    [Fact]
    public async Task An_editor_corrects_a_place_and_geocoding_follows_but_incidents_keep_their_point()
    {
        var suffix = Suffix();
        var id = await AddAsync(Place($"Zamalka Wrong {suffix}", 36.0, 33.0));
        var (_, incident) = await _client.PostAsync(Unlocated($"Zamalka Wrong {suffix}"));
        Assert.Equal(id, incident!["properties"]!["place_id"]!.GetValue<long>());

        var response = await PatchAsync(id, $$$"""
            {"geometry":{"type":"Point","coordinates":[36.36,33.53]},
             "properties":{"name":"Zamalka {{{suffix}}}","alternate_names":["Zamalka Wrong {{{suffix}}}","Zamalkā {{{suffix}}}"],"admin1":null}}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var corrected = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal($"Zamalka {suffix}", corrected["properties"]!["name"]!.GetValue<string>());
        Assert.Null(corrected["properties"]!["admin1"]);
        Assert.Equal("SY", corrected["properties"]!["country"]!.GetValue<string>());
        Assert.Contains(corrected["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "self");
        // Every name, old and new, now geocodes to the corrected point.
        foreach (var name in new[] { $"Zamalka {suffix}", $"Zamalka Wrong {suffix}", $"Zamalka {suffix}".Replace("a ", "ā ") })
        {
            var (_, body) = await _client.PostAsync(Unlocated(name));
            Assert.Equal(36.36, body!["geometry"]!["coordinates"]![0]!.GetValue<double>(), 5);
        }
        // The incident geocoded before keeps the point it was given.
        var before = await _client.GetJsonAsync($"/collections/incidents/items/{incident["id"]!.GetValue<long>()}");
        Assert.Equal(36.0, before["geometry"]!["coordinates"]![0]!.GetValue<double>(), 5);
    }

    [Fact]
    public async Task A_correction_that_makes_a_place_a_copy_of_another_is_a_409()
    {
        var suffix = Suffix();
        var first = await AddAsync(Place($"Arbin {suffix}", 36.39, 33.54));
        var second = await AddAsync(Place($"Irbin {suffix}", 36.40, 33.54));

        var problem = await ProblemAssert.IsProblemAsync(await PatchAsync(second, $$$"""{"properties":{"name":"Arbin {{{suffix}}}"}}"""),
            HttpStatusCode.Conflict, "properties.name");
        Assert.EndsWith($"/collections/places/items/{first}", problem["existing"]!.GetValue<string>());
        // Patching a place with its own name is no conflict with itself.
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(first, """{"properties":{"kind":"town"}}""")).StatusCode);
    }

    [Fact]
    public async Task An_editor_deletes_a_place_and_incidents_geocoded_to_it_keep_point_and_place_id()
    {
        var suffix = Suffix();
        var id = await AddAsync(Place($"Hazzeh Test {suffix}", 36.36, 33.50));
        var (_, incident) = await _client.PostAsync(Unlocated($"Hazzeh Test {suffix}"));

        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/collections/places/items/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/collections/places/items/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.DeleteAsync($"/collections/places/items/{id}")).StatusCode);
        var (unknown, _) = await _client.PostAsync(Unlocated($"Hazzeh Test {suffix}"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown.StatusCode);
        var kept = await _client.GetJsonAsync($"/collections/incidents/items/{incident!["id"]!.GetValue<long>()}");
        Assert.Equal(36.36, kept["geometry"]!["coordinates"]![0]!.GetValue<double>(), 5);
        Assert.Equal(id, kept["properties"]!["place_id"]!.GetValue<long>());
    }

    [Fact]
    public async Task Gazetteer_places_are_read_only_and_writes_need_the_write_scope()
    {
        var homs = await GeoNamesPlaceAsync();

        var patched = await ProblemAssert.IsProblemAsync(await PatchAsync(homs, """{"properties":{"name":"Homz"}}"""), HttpStatusCode.MethodNotAllowed);
        Assert.Contains("GeoNames", patched["detail"]!.GetValue<string>());
        var deleted = await _client.DeleteAsync($"/collections/places/items/{homs}");
        await ProblemAssert.IsProblemAsync(deleted, HttpStatusCode.MethodNotAllowed);
        Assert.Equal("GET, HEAD, OPTIONS", string.Join(", ", deleted.Content.Headers.Allow));
        Assert.Equal("Homs", (await _client.GetJsonAsync($"/collections/places/items/{homs}"))["properties"]!["name"]!.GetValue<string>());

        var id = await AddAsync(Place("Scope Test " + Suffix()));
        var anonymous = api.CreateAnonymousClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.DeleteAsync($"/collections/places/items/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PatchAsync($"/collections/places/items/{id}",
            new StringContent("{}", Encoding.UTF8, "application/merge-patch+json"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await PatchAsync(999_999_999_999, "{}")).StatusCode);
    }
}
