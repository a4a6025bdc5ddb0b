using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Places;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;

using static IncidentMap.Tests.Places.PlaceHelpers;

namespace IncidentMap.Tests.Places;

/// <summary>The gazetteer shipped in db/gazetteer (GeoNames) and editors' places.</summary>
[Collection(ApiCollection.Name)]
public sealed class PlacesTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<List<JsonNode>> SearchAsync(string query)
    {
        var page = await _client.GetJsonAsync("/collections/places/items?" + query);
        return page["features"]!.AsArray().Select(f => f!).ToList();
    }

    private static (string Name, string Country) NameOf(JsonNode place) =>
        (place["properties"]!["name"]!.GetValue<string>(), place["properties"]!["country"]!.GetValue<string>());

    [Theory]
    [InlineData("Homs", "Homs", "SY")]
    [InlineData("homs", "Homs", "SY")]
    [InlineData("Hims", "Homs", "SY")]
    [InlineData("Ḥimṣ", "Homs", "SY")]
    [InlineData("حمص", "Homs", "SY")]
    [InlineData("Damascus", "Damascus", "SY")]
    [InlineData("Dimashq", "Damascus", "SY")]
    [InlineData("Aleppo", "Aleppo", "SY")]
    [InlineData("Halab", "Aleppo", "SY")]
    [InlineData("Al Khums", "Al Khums", "LY")]
    [InlineData("Mosul", "Mosul", "IQ")]
    public async Task The_best_match_for_a_spelling_is_the_place_meant(string q, string name, string country)
    {
        var results = await SearchAsync($"q={Uri.EscapeDataString(q)}");
        Assert.Equal((name, country), NameOf(results[0]));
        Assert.Equal("exact", results[0]["properties"]!["match"]!.GetValue<string>());
    }

    /// <summary>
    /// The Arabic article is often left out (Bab for Al Bāb, Kut for Al Kūt) or added: the name with or
    /// without it ranks right after exact names, above names that merely start with the query (Babu,
    /// Kuta) and similar ones. Al Bāb, a city of 130,000, was 80th for q=Bab.
    /// </summary>
    [Fact]
    public async Task A_name_with_or_without_the_arabic_article_ranks_above_prefixes_and_similar_names()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        // In an empty stretch of the South Pacific, so no test's point finds them nearest.
        Task<long> Add(string name, double lon) => _client.AddPlaceAsync(name, lon, -52.5, null, null, "village");
        var withArticle = await Add($"Al-Zorbat {suffix}", -110.1);
        await Add($"Zorbat {suffix} Junction", -110.3);
        var without = await Add($"Qantar {suffix}", -110.5);
        await Add($"Al Qantar {suffix} Heights", -110.7);

        var bab = await SearchAsync($"q={Uri.EscapeDataString($"Zorbat {suffix}")}");
        Assert.Equal(withArticle, bab[0]["id"]!.GetValue<long>());
        Assert.Equal("article", bab[0]["properties"]!["match"]!.GetValue<string>());
        Assert.Equal("prefix", bab[1]["properties"]!["match"]!.GetValue<string>());

        var qantar = await SearchAsync($"q={Uri.EscapeDataString($"el Qantar {suffix}")}");
        Assert.Equal(without, qantar[0]["id"]!.GetValue<long>());
        Assert.Equal("article", qantar[0]["properties"]!["match"]!.GetValue<string>());

        // The gazetteer's own: each city is the first answer for its name without the article.
        Assert.Equal(("Al Bāb", "SY"), NameOf((await SearchAsync("q=Bab"))[0]));
        Assert.Equal(("Al Kūt", "IQ"), NameOf((await SearchAsync("q=Kut"))[0]));
        // An exact name still comes first: Salt, Spain before As Salţ, Jordan.
        var salt = await SearchAsync("q=Salt");
        Assert.Equal("exact", salt[0]["properties"]!["match"]!.GetValue<string>());
        Assert.Contains(salt.TakeWhile(p => p["properties"]!["match"]!.GetValue<string>() is "exact" or "article"), p => NameOf(p) == ("As Salţ", "JO"));
    }

    [Fact]
    public async Task Fuzzy_matches_rank_below_exact_ones_and_homs_is_never_al_khums()
    {
        var homs = await SearchAsync("q=Homs&limit=10");
        var khums = homs.FindIndex(p => NameOf(p).Name == "Al Khums");
        Assert.True(khums is -1 or > 0);
        Assert.Equal(("Homs", "SY"), NameOf(homs[0]));

        var typo = await SearchAsync("q=Homz");
        Assert.Equal(("Homs", "SY"), NameOf(typo[0]));
        Assert.Equal("similar", typo[0]["properties"]!["match"]!.GetValue<string>());
    }

    /// <summary>
    /// Names that start with q rank by importance as well as spelling: q=Alep put Alépé, Côte d'Ivoire (no
    /// population given), above Aleppo, whose name is longer, and q=Dam put Damascus 41st (audit). Own names rank
    /// before GeoNames' other names (migration 0046), an exact other name too: Alep and Damas are French names of the
    /// cities, Dam an other name of Dome, Ghana, and Homo of Qom (900,000 people; review).
    /// </summary>
    [Theory]
    [InlineData("Alep", "Aleppo", "SY", "prefix")]
    [InlineData("Damas", "Damascus", "SY", "prefix")]
    [InlineData("Dam", "Damascus", "SY", "prefix")]
    [InlineData("Mosu", "Mosul", "IQ", "prefix")]
    [InlineData("Hom", "Homs", "SY", "prefix")]
    public async Task The_start_of_a_citys_name_finds_the_city_before_small_places_spelled_closer(string q, string name, string country, string match)
    {
        var results = await SearchAsync($"q={q}");

        Assert.Equal((name, country), NameOf(results[0]));
        Assert.Equal(match, results[0]["properties"]!["match"]!.GetValue<string>());
        var dam = await SearchAsync("q=Dam&limit=10");
        Assert.Contains(dam, p => NameOf(p) == ("Damascus", "SY"));
    }

    /// <summary>
    /// Among names that start with q, importance comes before spelling: q=Dam listed Dam Dam (122,719),
    /// Dammam and Damoh before Damascus (1.6 million, a capital), and Dambam (population 0) before Damme
    /// (16,024), because a tenth per tenfold population let a closer spelling win (audit). A place ten
    /// times as populous ranks first; spelling decides between places of about one size.
    /// </summary>
    [Fact]
    public async Task A_name_that_starts_with_q_ranks_a_more_populous_place_first_whatever_its_spelling()
    {
        var prefix = "Zv" + Guid.NewGuid().ToString("N")[..8];
        // In an empty stretch of the South Pacific, so no test's point finds them nearest.
        async Task<long> Add(string name, int? population, double lon)
        {
            var feature = new JsonObject
            {
                ["type"] = "Feature", ["geometry"] = Features.Point(lon, -53.5),
                ["properties"] = new JsonObject { ["name"] = name, ["kind"] = "town", ["population"] = population },
            };
            var response = await _client.PostAsync("/collections/places/items", Features.Content(feature));
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        }
        // Spelled closest first, as the old rule ranked them: Dam Dam, Dambam, Damme, Damascus.
        var near = await Add($"{prefix} a", 122_719, -111.1);
        var zero = await Add($"{prefix}b", 0, -111.3);
        var town = await Add($"{prefix}me", 16_024, -111.5);
        var capital = await Add($"{prefix}ascus Capital", 1_569_394, -111.7);
        var unknown = await Add($"{prefix}bc", null, -111.9);

        var found = await SearchAsync($"q={prefix}&limit=20");

        Assert.All(found, p => Assert.Equal("prefix", p["properties"]!["match"]!.GetValue<string>()));
        // The two of no known size count as 1,000 alike: the closer spelling first.
        Assert.Equal([capital, near, town, zero, unknown], found.Select(p => p["id"]!.GetValue<long>()));
    }

    [Fact]
    public async Task Country_and_bbox_narrow_the_search()
    {
        var damascusUs = await SearchAsync("q=Damascus&country=US");
        Assert.All(damascusUs, p => Assert.Equal("US", NameOf(p).Country));
        Assert.NotEmpty(damascusUs);

        var inSyria = await SearchAsync("q=Damascus&bbox=35,32,42,37");
        Assert.All(inSyria, p => Assert.Equal("SY", NameOf(p).Country));
        Assert.NotEmpty(inSyria);
    }

    [Fact]
    public async Task The_browsed_collection_pages_through_every_place_in_order_of_population_once()
    {
        // OGC API – Features clients (GDAL, QGIS) read a collection by following next links.
        // Tests of other collections add Syrian places meanwhile: the pages must hold every place there was
        // when paging began (places added since may show too, being later ids).
        var last = await api.Database.ScalarAsync<long>("SELECT max(id) FROM places", new { });
        var expected = await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE country = 'SY' AND id <= @last", new { last });
        var url = "/collections/places/items?country=SY&limit=97";
        var seen = new List<(long Id, long Population)>();
        while (url is not null)
        {
            var page = await _client.GetJsonAsync(url);
            var features = page["features"]!.AsArray();
            Assert.Equal(features.Count, page["numberReturned"]!.GetValue<int>());
            Assert.Contains(page["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "self");
            seen.AddRange(features.Select(f => (f!["id"]!.GetValue<long>(), f["properties"]!["population"]?.GetValue<long>() ?? -1)));
            url = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next")?["href"]!.GetValue<string>();
            Assert.True(url is null || features.Count == 97, "a next link only after a full page");
        }

        Assert.True(expected > 200, $"the gazetteer has {expected} places in Syria");
        Assert.Equal(expected, seen.Count(p => p.Id <= last));
        Assert.Equal(seen.Count, seen.Select(p => p.Id).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(p => p.Population).ThenBy(p => p.Id), seen);
    }

        [Fact]
    public async Task A_limit_too_large_for_a_number_is_clamped_like_any_large_limit()
    {
        var page = await SearchAsync("q=Homs&limit=99999999999");

        Assert.NotEmpty(page);
        Assert.Equal((await SearchAsync("q=Homs&limit=100")).Select(NameOf), page.Select(NameOf));
    }

[Theory]
    [InlineData("cursor=abc", "cursor")]
    [InlineData("q=-", "q")]
    [InlineData("q=%27%20()", "q")]
    [InlineData("q=Homs&cursor=1.2", "cursor")]
    [InlineData("cursor=s1_4_0.5_100_7", "cursor")]
    // Beyond any population: the key's negation overflowed, a 400 that named nothing.
    [InlineData("cursor=-9223372036854775808.5", "cursor")]
    [InlineData("cursor=2147483648.5", "cursor")]
    [InlineData("cursor=-2.5", "cursor")]
    [InlineData("q=Homs&cursor=s1_4_0.5_-9223372036854775808_7", "cursor")]
    [InlineData("q=Homs&cursor=s1_4_NaN_100_7", "cursor")]
    [InlineData("q=Homs&cursor=s1_9_0.5_100_7", "cursor")]
    [InlineData("q=Homs&cursor=s1_4_0.5_100", "cursor")]
    [InlineData("limit=0", "limit")]
    [InlineData("country=XX", "country")]
    [InlineData("bbox=1,2,3", "bbox")]
    [InlineData("nope=1", "nope")]
    public async Task Bad_place_search_parameters_are_400_problems(string query, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/places/items?" + query), HttpStatusCode.BadRequest, parameter);
    }

    /// <summary>
    /// q's 200 characters are counted composed (NFC), as names are compared: 200 é typed decomposed (400 code units) were
    /// a 400, where the same q typed composed was searched.
    /// </summary>
    [Theory]
    [InlineData(200, HttpStatusCode.OK)]
    [InlineData(201, HttpStatusCode.BadRequest)]
    public async Task A_q_is_counted_in_composed_characters(int letters, HttpStatusCode expected)
    {
        foreach (var e in new[] { "\u00e9", "e\u0301" })
        {
            var q = string.Concat(Enumerable.Repeat(e, letters));
            var response = await _client.GetAsync("/collections/places/items?q=" + Uri.EscapeDataString(q));
            Assert.True(expected == response.StatusCode, $"{letters} × {(e.Length == 1 ? "composed" : "decomposed")}: {(int)response.StatusCode}");
        }
    }

    /// <summary>
    /// Letters that place_key drops (ayn and hamza marks, primes, tatweel): a q of only these has an empty
    /// key, which is a prefix of every name, so it "matched" every place (Shanghai first, as a prefix match).
    /// </summary>
    [Theory]
    [InlineData("ʿ")]
    [InlineData("ʾʿ")]
    [InlineData("ʻ")]
    [InlineData("ʼ")]
    [InlineData("ʹ")]
    [InlineData("ʽ")]
    [InlineData("ˈ")]
    [InlineData("ˋ")]
    [InlineData("ـ")]
    [InlineData("ʿ - ʾ")]
    // The Greek numeral sign is a letter, but its NFC is ʹ (U+02B9), and place_key composes first (migration 0052).
    [InlineData("\u0374")]
    public async Task A_q_of_only_marks_the_name_key_drops_is_a_400_not_every_place(string q)
    {
        Assert.Equal("", await api.Database.ScalarAsync<string>("SELECT place_key(@q)", new { q }));

        var response = await _client.GetAsync("/collections/places/items?q=" + Uri.EscapeDataString(q));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "q");
    }

    /// <summary>A place named only by such marks would have an empty key: every such name would be it.</summary>
    [Theory]
    [InlineData("ʿ", "properties.name")]
    [InlineData("ـ", "properties.alternate_names[0]")]
    public async Task A_place_name_of_only_marks_the_name_key_drops_is_refused(string mark, string field)
    {
        var feature = new JsonObject
        {
            ["type"] = "Feature",
            ["geometry"] = Features.Point(36.5, 34.5),
            ["properties"] = new JsonObject
            {
                ["name"] = field == "properties.name" ? mark : $"Marks {Guid.NewGuid():N}",
                ["alternate_names"] = new JsonArray(field == "properties.name" ? [] : [(JsonNode)mark]),
                ["country"] = "SY", ["kind"] = "village",
            },
        };

        var response = await _client.PostAsync("/collections/places/items", Features.Content(feature));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, field);
    }

    private Task<long> AddPlaceAsync(string name, double lon, double lat, params string[] alternates) =>
        _client.AddPlaceAsync(name, lon, lat, "SY", "Rif Dimashq", "suburb", alternates);

    [Fact]
    public async Task Editors_add_a_suburb_the_gazetteer_lacks_and_find_it_by_any_spelling()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var id = await AddPlaceAsync($"Sayeda Zeinab {suffix}", 36.3408, 33.4436, $"Sayyida Zaynab {suffix}", $"As Sayyidah Zaynab {suffix}");

        foreach (var spelling in new[] { $"Sayeda Zeinab {suffix}", $"sayyida zaynab {suffix}", $"As-Sayyidah Zaynab {suffix}" })
        {
            var results = await SearchAsync($"q={Uri.EscapeDataString(spelling)}");
            Assert.Equal(id, results[0]["id"]!.GetValue<long>());
        }
        var anonymous = api.CreateAnonymousClient();
        var refused = await anonymous.PostAsync("/collections/places/items", Features.Content(new JsonObject()));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task An_incident_with_only_a_place_name_is_geocoded_and_says_so()
    {
        var (response, body) = await _client.PostAsync(Unlocated("Homs", "SY"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var coordinates = body!["geometry"]!["coordinates"]!.AsArray().Select(c => c!.GetValue<double>()).ToArray();
        Assert.Equal(36.72339, coordinates[0], 4);
        Assert.Equal(34.72682, coordinates[1], 4);
        var properties = body["properties"]!;
        Assert.Equal("town", properties["geo_precision"]!.GetValue<string>());
        Assert.Contains("geometry", properties["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
        var place = await _client.GetJsonAsync($"/collections/places/items/{properties["place_id"]!.GetValue<long>()}");
        Assert.Equal(("Homs", "SY"), NameOf(place));
    }

    [Fact]
    public async Task Homs_alone_resolves_to_syria_never_to_al_khums()
    {
        var (response, body) = await _client.PostAsync(Unlocated("Homs"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("SY", body!["properties"]!["country"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_ambiguous_name_is_a_422_listing_the_candidates_until_country_decides()
    {
        var (response, _) = await _client.PostAsync(Unlocated("Damascus"));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.location_name");
        var countries = problem["candidates"]!.AsArray().Select(c => c!["country"]!.GetValue<string>()).ToList();
        Assert.Contains("SY", countries);
        Assert.Contains("US", countries);

        var (decided, body) = await _client.PostAsync(Unlocated("Damascus", "SY"));
        Assert.Equal(HttpStatusCode.Created, decided.StatusCode);
        Assert.Equal(36.29128, body!["geometry"]!["coordinates"]![0]!.GetValue<double>(), 4);
    }

    [Fact]
    public async Task Admin1_decides_between_places_of_one_name_and_one_that_fits_none_lists_them()
    {
        async Task<(HttpStatusCode Status, JsonNode? Body)> Post(string country, string admin1)
        {
            var feature = Unlocated("Damascus", country);
            feature["properties"]!["admin1"] = admin1;
            var (response, body) = await _client.PostAsync(feature);
            return (response.StatusCode, body);
        }

        // The gazetteer says "Damascus Governorate"; reports say "Damascus".
        var (status, body) = await Post("SY", "Damascus");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(36.29128, body!["geometry"]!["coordinates"]![0]!.GetValue<double>(), 4);
        // Two Damascuses in the US: admin1 picks one; an admin1 that fits neither is a 422 listing both.
        (status, body) = await Post("US", "Oregon");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True(body!["geometry"]!["coordinates"]![0]!.GetValue<double>() < -120, "Damascus, Oregon");
        (status, body) = await Post("US", "Texas");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal(2, body!["candidates"]!.AsArray().Count);
    }

    /// <summary>
    /// q typed decomposed (NFD) finds what it finds composed (migration 0052): "Київ" typed NFD found nothing, "دبئی" ranked
    /// Dubai a similar spelling instead of exact.
    /// </summary>
    [Theory]
    [InlineData("Київ", "Kyiv", "UA")]
    [InlineData("دبئی", "Dubai", "AE")]
    [InlineData("القائم", "Al Qā’im", "IQ")]
    public async Task A_q_typed_decomposed_finds_the_place_exactly_as_composed(string q, string name, string country)
    {
        var decomposed = q.Normalize(System.Text.NormalizationForm.FormD);
        Assert.NotEqual(q, decomposed);

        var results = await SearchAsync($"q={Uri.EscapeDataString(decomposed)}");

        Assert.Equal((name, country), NameOf(results[0]));
        Assert.Equal("exact", results[0]["properties"]!["match"]!.GetValue<string>());
        Assert.Equal((await SearchAsync($"q={Uri.EscapeDataString(q)}")).Select(p => p["id"]!.GetValue<long>()),
            results.Select(p => p["id"]!.GetValue<long>()));
    }

    /// <summary>An editor's copy of a place typed decomposed is the same name, so the same place (it was added beside the first).</summary>
    [Fact]
    public async Task The_same_place_typed_decomposed_is_a_409_too()
    {
        var name = "Qaryat Al-Qāʾim Ẓāhir " + Guid.NewGuid().ToString("N")[..6] + " ئ";
        var first = await AddPlaceAsync(name.Normalize(System.Text.NormalizationForm.FormC), 36.3305, 33.4337);

        var feature = new JsonObject
        {
            ["type"] = "Feature", ["geometry"] = Features.Point(36.3340, 33.4350),
            ["properties"] = new JsonObject { ["name"] = name.Normalize(System.Text.NormalizationForm.FormD), ["country"] = "SY", ["kind"] = "suburb" },
        };
        var again = await ProblemAssert.IsProblemAsync(await _client.PostAsync("/collections/places/items", Features.Content(feature)), HttpStatusCode.Conflict, "properties.name");

        Assert.EndsWith($"/collections/places/items/{first}", again["existing"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_same_place_added_twice_is_a_409_naming_the_first_so_its_name_stays_unambiguous()
    {
        var name = "Zaynabiyya " + Guid.NewGuid().ToString("N")[..6];
        var first = await AddPlaceAsync(name, 36.3405, 33.4437);

        var feature = new JsonObject
        {
            ["type"] = "Feature", ["geometry"] = Features.Point(36.3440, 33.4450), // 350 m away
            ["properties"] = new JsonObject { ["name"] = name.ToUpperInvariant(), ["country"] = "SY", ["kind"] = "suburb" },
        };
        var again = await ProblemAssert.IsProblemAsync(await _client.PostAsync("/collections/places/items", Features.Content(feature)), HttpStatusCode.Conflict, "properties.name");
        Assert.EndsWith($"/collections/places/items/{first}", again["existing"]!.GetValue<string>());

        // An alternate name counts as much: it would make the first place's name ambiguous too.
        feature["properties"]!["name"] = name + " North";
        feature["properties"]!["alternate_names"] = new JsonArray(name);
        var alias = await ProblemAssert.IsProblemAsync(await _client.PostAsync("/collections/places/items", Features.Content(feature)), HttpStatusCode.Conflict, "properties.alternate_names");
        Assert.EndsWith($"/collections/places/items/{first}", alias["existing"]!.GetValue<string>());
        feature["properties"]!.AsObject().Remove("alternate_names");
        feature["properties"]!["name"] = name.ToUpperInvariant();

        // Elsewhere, the same name is another place.
        feature["geometry"] = Features.Point(36.9, 34.9);
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync("/collections/places/items", Features.Content(feature))).StatusCode);
    }

    [Fact]
    public async Task A_patch_works_out_again_what_the_server_derived_from_what_it_replaces()
    {
        async Task<JsonNode> Patch(long id, string patch)
        {
            var response = await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", patch);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }
        List<string> Derived(JsonNode feature) => feature["properties"]!["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();

        // Place names reverse-geocoded from a point follow the point.
        var (_, atHoms) = await _client.PostAsync(Features.Valid(geometry: Features.Point(36.7234, 34.7268)));
        Assert.Equal("Homs", atHoms!["properties"]!["location_name"]!.GetValue<string>());
        var moved = await Patch(atHoms["id"]!.GetValue<long>(), """{"geometry": {"type": "Point", "coordinates": [36.2913, 33.5102]}}""");
        Assert.Equal(("Damascus", "SY"), (moved["properties"]!["location_name"]!.GetValue<string>(), moved["properties"]!["country"]!.GetValue<string>()));
        Assert.Contains("location_name", Derived(moved));

        // A point geocoded from a name follows the name.
        var (_, named) = await _client.PostAsync(Unlocated("Homs", "SY"));
        Assert.Equal("Homs", named!["properties"]!["admin1"]!.GetValue<string>());
        var renamed = await Patch(named!["id"]!.GetValue<long>(), """{"properties": {"location_name": "Aleppo"}}""");
        Assert.Equal(37.16, renamed["geometry"]!["coordinates"]![0]!.GetValue<double>(), 1);
        Assert.Contains("geometry", Derived(renamed));
        // And so do the names geocoding derived with it: Aleppo's admin1, not Homs's.
        Assert.Equal("Aleppo", renamed["properties"]!["admin1"]!.GetValue<string>());
        Assert.Contains("admin1", Derived(renamed));

        // A point the editor then gives replaces the one derived from the name, and what came with it:
        // the name and country (SY) stay the editor's; admin1 is the new point's, marked derived; the
        // place's precision ("town") no longer describes the point.
        var placed = await Patch(renamed["id"]!.GetValue<long>(), """{"geometry": {"type": "Point", "coordinates": [36.2913, 33.5102]}}""");
        Assert.Equal("Aleppo", placed["properties"]!["location_name"]!.GetValue<string>());
        Assert.Equal("SY", placed["properties"]!["country"]!.GetValue<string>());
        Assert.StartsWith("Damascus", placed["properties"]!["admin1"]!.GetValue<string>());
        Assert.Equal("exact", placed["properties"]!["geo_precision"]!.GetValue<string>());
        Assert.Equal(["admin1"], Derived(placed));

        // A month without a precision is a month, as in a new incident.
        var month = await Patch(renamed["id"]!.GetValue<long>(), """{"properties": {"occurred_at": "2016-03"}}""");
        Assert.Equal("month", month["properties"]!["time_precision"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_incident_read_and_sent_back_whole_keeps_what_the_server_derived_and_its_version()
    {
        var (_, named) = await _client.PostAsync(Unlocated("Homs", "SY"));                          // point from the name
        var (_, located) = await _client.PostAsync(Features.Valid(geometry: Features.Point(36.7234, 34.7268))); // names from the point
        foreach (var created in new[] { named!, located! })
        {
            var url = $"/collections/incidents/items/{created["id"]!.GetValue<long>()}";
            var read = JsonNode.Parse(await _client.GetStringAsync(url))!.AsObject();
            read.Remove("links");

            var response = await _client.PutCurrentAsync(url, Features.Content(read));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
            var after = JsonNode.Parse(await _client.GetStringAsync(url))!["properties"]!;
            Assert.Equal(read["properties"]!["place_id"]!.GetValue<long>(), after["place_id"]!.GetValue<long>());
            Assert.True(JsonNode.DeepEquals(read["properties"]!["derived_fields"], after["derived_fields"]));
        }
    }

    [Fact]
    public async Task An_unknown_place_name_is_a_422_asking_for_a_geometry()
    {
        var (response, _) = await _client.PostAsync(Unlocated("Nowhereville " + Guid.NewGuid().ToString("N")[..6]));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.location_name");
    }

    [Fact]
    public async Task Coordinates_without_a_place_get_the_nearest_place_marked_as_derived()
    {
        var feature = Features.Valid(geometry: Features.Point(36.7234, 34.7268));
        var (_, body) = await _client.PostAsync(feature);

        var properties = body!["properties"]!;
        Assert.Equal("Homs", properties["location_name"]!.GetValue<string>());
        Assert.Equal("SY", properties["country"]!.GetValue<string>());
        Assert.Equal("Homs", properties["admin1"]!.GetValue<string>());
        Assert.Equal(["location_name", "admin1", "country"], properties["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));

        var (_, remote) = await _client.PostAsync(Features.Valid(geometry: Features.Point(-140, -45)));
        Assert.Null(remote!["properties"]!["location_name"]);
    }

    [Fact]
    public async Task Coordinates_with_the_writers_own_place_name_still_get_country_and_admin1()
    {
        var feature = Features.Valid(geometry: Features.Point(36.7234, 34.7268));
        feature["properties"]!["location_name"] = "Bab Amr checkpoint";
        var (_, body) = await _client.PostAsync(feature);

        var properties = body!["properties"]!;
        Assert.Equal("Bab Amr checkpoint", properties["location_name"]!.GetValue<string>());
        Assert.Equal(("SY", "Homs"), (properties["country"]!.GetValue<string>(), properties["admin1"]!.GetValue<string>()));
        Assert.Equal(["admin1", "country"], properties["derived_fields"]!.AsArray().Select(d => d!.GetValue<string>()));
        Assert.Null(properties["place_id"]);   // the writer's name is not the nearest place's

        // A country the writer gives that the point's nearest place is not in is left alone, admin1 too.
        feature["properties"]!["country"] = "LB";
        var (_, other) = await _client.PostAsync(feature);
        Assert.Null(other!["properties"]!["admin1"]);
        Assert.Empty(other["properties"]!["derived_fields"]!.AsArray());
    }

    [Fact]
    public async Task Near_country_chooses_the_place_without_filtering_the_incidents_as_country_does()
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        long Create(double lon, double lat, string country)
        {
            var feature = Features.Valid(geometry: Features.Point(lon, lat));
            feature["properties"]!["tags"] = new JsonArray(tag);
            feature["properties"]!["country"] = country;
            return _client.CreateAsync(feature).GetAwaiter().GetResult();
        }
        var syria = Create(36.95, 34.90, "SY");     // ~30 km from Homs
        var lebanon = Create(36.42, 34.50, "LB");   // ~37 km, across the border
        List<long> Ids(JsonNode page) => page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).Order().ToList();

        Assert.Equal(new[] { syria, lebanon }.Order(), Ids(await _client.GetJsonAsync($"/collections/incidents/items?near=Homs&near_country=SY&radius=50km&tags={tag}")));
        Assert.Equal([syria], Ids(await _client.GetJsonAsync($"/collections/incidents/items?near=Homs&country=SY&radius=50km&tags={tag}")));
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items?near_country=SY&tags={tag}"), HttpStatusCode.BadRequest, "near_country");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items?near=Homs&near_country=XX&radius=5km"), HttpStatusCode.BadRequest, "near_country");
    }

    [Fact]
    public async Task Near_a_place_works_wherever_lat_and_lon_work()
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        var inside = Features.Valid(geometry: Features.Point(36.95, 34.90));   // ~30 km from Homs
        inside["properties"]!["tags"] = new JsonArray(tag);
        var outside = Features.Valid(geometry: Features.Point(37.60, 35.30));  // ~100 km
        outside["properties"]!["tags"] = new JsonArray(tag);
        var insideId = await _client.CreateAsync(inside);
        await _client.CreateAsync(outside);

        var items = await _client.GetJsonAsync($"/collections/incidents/items?near=Homs&country=SY&radius=50km&tags={tag}");
        Assert.Equal([insideId], items["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
        Assert.True(items["features"]![0]!["properties"]!["distance_m"]!.GetValue<double>() is > 25_000 and < 35_000);

        var stats = await _client.GetJsonAsync($"/collections/incidents/stats/summary?near=Homs&radius=50km&tags={tag}");
        Assert.Equal(1, stats["count"]!.GetValue<int>());
        var clusters = await _client.GetJsonAsync($"/collections/incidents/clusters?zoom=5&near=Homs&radius=50km&tags={tag}");
        Assert.Equal(1, clusters["features"]!.AsArray().Sum(c => c!["properties"]!["count"]!.GetValue<int>()));
        var search = await _client.PostAsync("/collections/incidents/search",
            new StringContent($$"""{"near":"Hims","radius":"50km","tags":["{{tag}}"]}""", Encoding.UTF8, "application/json"));
        Assert.Single(JsonNode.Parse(await search.Content.ReadAsStringAsync())!["features"]!.AsArray());
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/incidents/changes?near=Homs&radius=50km&tags={tag}")).StatusCode);
    }

    [Theory]
    [InlineData("near=Damascus&radius=10km", "near")]
    [InlineData("near=Nowhereville-xyz&radius=10km", "near")]
    [InlineData("near=Homs&lat=1&lon=2&radius=10km", "near")]
    public async Task A_near_place_that_cannot_be_decided_is_a_400(string query, string parameter)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/incidents/items?" + query), HttpStatusCode.BadRequest, parameter);
        if (query.StartsWith("near=Damascus")) Assert.True(problem["candidates"]!.AsArray().Count >= 2);
    }

    [Fact]
    public async Task A_geonames_dump_extends_the_gazetteer()
    {
        var id = 990_000_000 + Random.Shared.Next(1_000_000);
        var name = "Qarya Test " + Guid.NewGuid().ToString("N")[..6];
        // GeoNames dump layout: 19 tab-separated columns.
        var dump = string.Join('\n',
            $"{id}\t{name}\t{name}\tQarya Alt {id},Karya {id}\t34.9\t36.8\tP\tPPL\tSY\t\t11\t\t\t\t1234\t\t400\tAsia/Damascus\t2024-01-01",
            $"{id + 1}\tSome Mountain\tSome Mountain\t\t34.9\t36.8\tT\tMT\tSY\t\t11\t\t\t\t0\t\t900\tAsia/Damascus\t2024-01-01");

        var result = await api.Services.GetRequiredService<GeoNamesImport>().ImportAsync(new MemoryStream(Encoding.UTF8.GetBytes(dump)));

        Assert.Equal((2, 1, 1), (result.Read, result.Imported, result.Skipped));
        var found = await SearchAsync($"q={Uri.EscapeDataString($"Karya {id}")}");
        Assert.Equal(name, NameOf(found[0]).Name);
        Assert.Equal("Homs", found[0]["properties"]!["admin1"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("zip")]    // as GeoNames serves a country: SY.zip holding SY.txt and a readme
    [InlineData("gzip")]
    public async Task A_geonames_dump_is_read_zipped_or_gzipped(string packing)
    {
        var id = 980_000_000 + Random.Shared.Next(1_000_000);
        var name = "Qarya Packed " + Guid.NewGuid().ToString("N")[..6];
        var dump = Encoding.UTF8.GetBytes($"{id}\t{name}\t{name}\t\t34.9\t36.8\tP\tPPL\tSY\t\t11\t\t\t\t1234\t\t400\tAsia/Damascus\t2024-01-01\n");
        var packed = new MemoryStream();
        if (packing == "zip")
        {
            using var zip = new System.IO.Compression.ZipArchive(packed, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true);
            using (var readme = zip.CreateEntry("readme.txt").Open()) readme.Write(Encoding.UTF8.GetBytes(new string('x', 5000)));
            using (var entry = zip.CreateEntry("SY.txt").Open()) entry.Write(dump);
        }
        else
            using (var gzip = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(dump);
        packed.Position = 0;

        var result = await api.Services.GetRequiredService<GeoNamesImport>().ImportAsync(packed);

        Assert.Equal((1, 1), (result.Read, result.Imported));
        Assert.Equal(name, NameOf((await SearchAsync($"q={Uri.EscapeDataString(name)}"))[0]).Name);
    }

    [Fact]
    public async Task A_file_that_is_no_geonames_dump_is_refused_not_reported_as_read()
    {
        var acled = "event_id_cnty,event_date,event_type,country\nSYR1,2016-02-21,Explosions,Syria\n";
        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            api.Services.GetRequiredService<GeoNamesImport>().ImportAsync(new MemoryStream(Encoding.UTF8.GetBytes(acled))));
        Assert.Contains("none of its 2 lines is a GeoNames place", error.Message);
    }
}
