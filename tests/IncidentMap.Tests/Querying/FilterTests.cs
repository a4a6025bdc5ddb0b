using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>Property filters (comma lists mean "any of"; different parameters combine with AND), tolls, full text.</summary>
[Collection(ApiCollection.Name)]
public sealed class FilterTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static JsonArray Strings(params string[] values) => new(values.Select(v => (JsonNode)v).ToArray());

    [Fact]
    public async Task Property_filters_match_codes_by_comma_list_and_free_text_by_whole_value_or_repetition()
    {
        var tag = NewTag();
        var a = await _client.CreateAsync(Incident(tag, moreTags: tag + "-a")
            .With("event_type", "battles").With("sub_event_type", "Armed clash").With("country", "SY").With("admin1", "Homs")
            .With("status", "verified").With("actors", Strings("Military Forces of Syria", "Jaish al-Islam")));
        var b = await _client.CreateAsync(Incident(tag, moreTags: tag + "-b")
            .With("event_type", "explosions_remote_violence").With("sub_event_type", "Suicide bomb").With("country", "SY")
            .With("admin1", "Rif Dimashq").With("status", "reported").With("claimed_by", "Islamic State").With("actors", Strings("Islamic State")));
        var c = await _client.CreateAsync(Incident(tag, moreTags: tag + "-c")
            .With("event_type", "explosions_remote_violence").With("sub_event_type", "Remote explosive/landmine/IED").With("country", "LB")
            .With("admin1", "Beirut").With("status", "disputed").With("claimed_by", "Unknown group, Beirut cell"));
        var d = await _client.CreateAsync(Incident(tag, moreTags: tag + "-d")
            .With("event_type", "protests").With("sub_event_type", "Peaceful protest").With("country", "IQ").With("admin1", "Baghdad")
            .With("status", "retracted").With("actors", Strings("Protesters (Iraq)")));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&event_type=battles", a);
        await _client.AssertMatchesAsync($"{t}&event_type=battles,protests", a, d);
        await _client.AssertMatchesAsync($"{t}&event_type=explosions_remote_violence", b, c);
        await _client.AssertMatchesAsync($"{t}&sub_event_type={Esc("Suicide bomb")}", b);
        await _client.AssertMatchesAsync($"{t}&sub_event_type={Esc("Suicide bomb")}&sub_event_type={Esc("Peaceful protest")}", b, d);
        await _client.AssertMatchesAsync($"{t}&sub_event_type={Esc("Remote explosive/landmine/IED")}", c);
        await _client.AssertMatchesAsync($"{t}&country=SY", a, b);
        await _client.AssertMatchesAsync($"{t}&country=LB,IQ", c, d);
        await _client.AssertMatchesAsync($"{t}&admin1=Homs&admin1=Beirut", a, c);
        await _client.AssertMatchesAsync($"{t}&admin1=Homs,Beirut", []);
        await _client.AssertMatchesAsync($"{t}&admin1={Esc("Rif Dimashq")}", b);
        await _client.AssertMatchesAsync($"{t}&status=verified,disputed", a, c);
        await _client.AssertMatchesAsync($"{t}&status=reported", b);
        await _client.AssertMatchesAsync($"{t}&claimed_by={Esc("Islamic State")}", b);
        // A value's own comma is part of it (GDAL sends -where "claimed_by = 'Unknown group, Beirut cell'" so).
        await _client.AssertMatchesAsync($"{t}&claimed_by={Esc("Unknown group, Beirut cell")}", c);
        await _client.AssertMatchesAsync($"{t}&claimed_by=Beirut%20cell", []);
        await _client.AssertMatchesAsync($"{t}&actors={Esc("Islamic State")}&actors={Esc("Jaish al-Islam")}", a, b);
        await _client.AssertMatchesAsync($"{t}&actors={Esc("Protesters (Iraq)")}", d);
        await _client.AssertMatchesAsync($"{t}&actors=Nobody", []);
        await _client.AssertMatchesAsync($"tags={tag}-a&tags={tag}-d", a, d);
        await _client.AssertMatchesAsync($"tags={tag}-c", c);
        // Different parameters narrow each other.
        await _client.AssertMatchesAsync($"{t}&event_type=explosions_remote_violence&country=SY", b);
        await _client.AssertMatchesAsync($"{t}&country=SY&status=disputed", []);
    }

    [Fact]
    public async Task Every_stored_text_property_with_a_vocabulary_or_a_key_filters_by_its_own_name()
    {
        var tag = NewTag();
        var a = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02")
            .With("geo_precision", "town").With("location_name", "Sayeda Zeinab").With("admin2", "Markaz Rif Dimashq").With("external_id", tag + ":SYR1"));
        var b = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21")
            .With("geo_precision", "exact").With("location_name", "Homs").With("admin2", "Homs").With("external_id", tag + ":SYR2"));
        var c = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z")
            .With("geo_precision", "region").With("location_name", "Homs"));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&time_precision=month", a);
        await _client.AssertMatchesAsync($"{t}&time_precision=day,exact", b, c);
        await _client.AssertMatchesAsync($"{t}&geo_precision=town,region", a, c);
        await _client.AssertMatchesAsync($"{t}&location_name=Homs", b, c);
        await _client.AssertMatchesAsync($"{t}&location_name={Esc("Sayeda Zeinab")}", a);
        await _client.AssertMatchesAsync($"{t}&admin2={Esc("Markaz Rif Dimashq")}", a);
        await _client.AssertMatchesAsync($"external_id={Esc(tag + ":SYR2")}", b);
        await _client.AssertMatchesAsync($"external_id={Esc($"{tag}:SYR1")}&external_id={Esc($"{tag}:SYR2")}", a, b);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items?{t}&time_precision=year"), System.Net.HttpStatusCode.BadRequest, "time_precision");
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items?{t}&geo_precision=city"), System.Net.HttpStatusCode.BadRequest, "geo_precision");
    }

    [Fact]
    public async Task Q_searches_every_level_of_the_place()
    {
        // admin3 (migration 0044) was filtered by admin3= but left out of the search document (migration 0048).
        var tag = NewTag();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var a = await _client.CreateAsync(Incident(tag).With("location_name", $"Qloc{suffix}").With("admin1", $"Qone{suffix}")
            .With("admin2", $"Qtwo{suffix}").With("admin3", $"Qthree{suffix}"));
        await _client.CreateAsync(Incident(tag));
        var t = $"tags={tag}";

        foreach (var level in new[] { "Qloc", "Qone", "Qtwo", "Qthree" })
            await _client.AssertMatchesAsync($"{t}&q={level}{suffix}", a);
    }

    [Theory]
    [InlineData("location_name=", "location_name", "filter=location_name IS NULL")]
    [InlineData("location_name=%20", "location_name", "filter=location_name IS NULL")]
    [InlineData("event_type=", "event_type", "give one or more of battles, explosions_remote_violence, violence_against_civilians, protests, riots, strategic_developments, or leave the parameter out")]
    [InlineData("status=,", "status", "give one or more of reported, verified, disputed, retracted")]
    [InlineData("fatalities_min=", "fatalities_min", "filter=fatalities_min IS NULL")]
    [InlineData("tags=", "tags", "A_EQUALS(tags, ())")]
    [InlineData("country=,", "country", "is empty")]
    [InlineData("location_name=Homs&location_name=", "location_name", "is empty")]
    [InlineData("location_name=Homs%1FAleppo", "location_name", "U+001F")]
    public async Task An_empty_property_value_or_one_with_the_value_separator_is_a_400_not_every_incident(string query, string parameter, string detail)
    {
        // GDAL sends -where "location_name = ''" as location_name=, and trusts the answer: it used to be every incident.
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Items}?{query}"), System.Net.HttpStatusCode.BadRequest, parameter);
        Assert.Contains(detail, problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Full_text_search_folds_arabic_vowel_marks_tatweel_and_letter_forms_both_ways()
    {
        var tag = NewTag();
        var voweled = await _client.CreateAsync(Incident(tag, title: "قصف مدفعي على حِمْص " + tag));
        var plain = await _client.CreateAsync(Incident(tag, title: "انفجار في حمص " + tag));
        var hamza = await _client.CreateAsync(Incident(tag, title: "اشتباكات قرب إدلب " + tag));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&q={Esc("حمص")}", voweled, plain);
        await _client.AssertMatchesAsync($"{t}&q={Esc("حِمْص")}", voweled, plain);
        await _client.AssertMatchesAsync($"{t}&q={Esc("حمـــص")}", voweled, plain);   // tatweel
        await _client.AssertMatchesAsync($"{t}&q={Esc("ادلب")}", hamza);              // alef with hamza below
        await _client.AssertMatchesAsync($"{t}&q={Esc("مدفعي")}", voweled);
    }

    [Theory]
    [InlineData("Київ")]      // ї: i and a diaeresis, which unaccent takes off the decomposed form only
    [InlineData("Йемен")]     // й: и and a breve
    [InlineData("القائم")]     // ئ: ي and hamza above, which q's Arabic folding takes off as a haraka
    [InlineData("مؤتة")]      // ؤ: و and hamza above
    [InlineData("서울")]      // Hangul syllables: decomposed, their jamo
    [InlineData("ガザ")]      // ガ: カ and the voicing mark
    [InlineData("Ḥimṣ")]      // Latin marks: unaccent takes them off either way (folded alike before 0054 too)
    public async Task Full_text_search_matches_text_stored_or_asked_composed_or_decomposed(string word)
    {
        // Text other than a key is stored as sent, so a title or a place exported decomposed (Unicode NFD, as
        // macOS writes it) stays so. The search document folded it without composing it (migration 0054 now
        // does, on both sides): "Київ" stored decomposed was indexed as "киів", and q=Київ typed composed
        // found nothing; q typed decomposed missed every composed title.
        var composed = word.Normalize(NormalizationForm.FormC);
        var decomposed = word.Normalize(NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);
        var tag = NewTag();
        var nfcTitle = await _client.CreateAsync(Incident(tag, title: "Shelling in " + composed));
        var nfdTitle = await _client.CreateAsync(Incident(tag, title: "Shelling in " + decomposed));
        var nfdPlace = await _client.CreateAsync(Incident(tag).With("location_name", decomposed));
        var nfdActor = await _client.CreateAsync(Incident(tag).With("actors", Strings("Militia of " + decomposed)));
        var nfdSummary = await _client.CreateAsync(Incident(tag).With("summary", "Reported from " + decomposed + "."));
        var nfcPlace = await _client.CreateAsync(Incident(tag).With("admin3", composed));
        var elsewhere = await _client.CreateAsync(Incident(tag, title: "Shelling elsewhere"));
        var t = $"tags={tag}";
        long[] all = [nfcTitle, nfdTitle, nfdPlace, nfdActor, nfdSummary, nfcPlace];

        await _client.AssertMatchesAsync($"{t}&q={Esc(composed)}", all);
        await _client.AssertMatchesAsync($"{t}&q={Esc(decomposed)}", all);
        await _client.AssertMatchesAsync($"{t}&q={Esc("\"shelling in " + decomposed + "\"")}", nfcTitle, nfdTitle);
        await _client.AssertMatchesAsync($"{t}&q={Esc("shelling -" + composed)}", elsewhere);
        await _client.AssertMatchesAsync($"{t}&q={Esc("shelling -" + decomposed)}", elsewhere);
        var search = await _client.SearchJsonAsync(new JsonObject { ["q"] = decomposed, ["tags"] = Strings(tag), ["limit"] = 10 });
        Assert.Equal(all.Order(), Ids(search).Order());
    }

    [Theory]
    [InlineData("/collections/incidents/items")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/0/0/0")]
    [InlineData("/collections/incidents/stats")]
    [InlineData("/collections/incidents/changes")]
    public async Task A_q_of_more_operators_than_full_text_search_takes_is_a_400_not_a_500(string path)
    {
        // PostgreSQL's tsquery parser fails past 32 operators in a row ("tsquery stack too small").
        foreach (var q in new[] { string.Concat(Enumerable.Repeat("- ", 40)) + "riot", string.Concat(Enumerable.Repeat("-!", 40)) + "riot" })
        {
            var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{path}?q={Uri.EscapeDataString(q)}"),
                System.Net.HttpStatusCode.BadRequest, "q");
            Assert.Contains("operators", problem["detail"]!.GetValue<string>());
        }
        // 32 are still a search.
        Assert.Equal(System.Net.HttpStatusCode.OK,
            (await _client.GetAsync($"{Items}?q={Uri.EscapeDataString(string.Concat(Enumerable.Repeat("- ", 32)) + "riot")}")).StatusCode);
    }

    [Fact]
    public async Task A_search_body_takes_an_array_of_whole_values()
    {
        var tag = NewTag();
        var a = await _client.CreateAsync(Incident(tag).With("location_name", "al-Zahraa, Homs"));
        var b = await _client.CreateAsync(Incident(tag).With("location_name", "Homs"));
        await _client.CreateAsync(Incident(tag).With("location_name", "al-Zahraa"));

        var response = await _client.PostAsync("/collections/incidents/search", new StringContent(
            $$"""{"tags": "{{tag}}", "location_name": ["al-Zahraa, Homs", "Homs"]}""", System.Text.Encoding.UTF8, "application/json"));

        var ids = (await response.Content.ReadFromJsonAsync<JsonObject>())!["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).Order();
        Assert.Equal(new[] { a, b }.Order(), ids);
    }

    [Fact]
    public async Task Whole_values_match_text_stored_composed_or_decomposed_whichever_form_is_asked()
    {
        // "Ḥimṣ" as one character per letter (NFC, what most keyboards send) and as letters plus
        // combining dots (NFD, what macOS file names and some exports carry): the same text.
        var tag = NewTag();
        var composed = "Ḥimṣ " + tag;
        var decomposed = composed.Normalize(System.Text.NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);
        var a = await _client.CreateAsync(Incident(tag).With("location_name", composed).With("actors", Strings(composed)));
        var b = await _client.CreateAsync(Incident(tag).With("location_name", decomposed).With("actors", Strings(decomposed)));
        await _client.CreateAsync(Incident(tag).With("location_name", "Hims " + tag));

        foreach (var form in new[] { composed, decomposed })
        {
            await _client.AssertMatchesAsync($"tags={tag}&location_name={Esc(form)}", a, b);
            await _client.AssertMatchesAsync($"tags={tag}&actors={Esc(form)}", a, b);
        }
        // Stored as sent: only the comparison takes the forms as equal.
        Assert.Equal(decomposed, (await _client.GetJsonAsync($"{Items}/{b}"))["properties"]!["location_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tags_filter_matches_a_tag_exactly_as_it_was_stored_with_capital_letters()
    {
        var tag = "Car-Bomb-" + Guid.NewGuid().ToString("N");
        var id = await _client.CreateAsync(Incident(tag));

        var stored = await _client.GetJsonAsync($"{Items}/{id}");
        Assert.Equal(tag, stored["properties"]!["tags"]![0]!.GetValue<string>());
        await _client.AssertMatchesAsync($"tags={tag}", id);
    }

    [Fact]
    public async Task Fatality_filters_match_when_the_reported_toll_range_overlaps_the_asked_range()
    {
        // A toll is [fatalities_min ?? 0, fatalities_max ?? ∞]; with neither bound it is unknown and never matches.
        var tag = NewTag();
        async Task<long> Toll(int? min, int? max) =>
            await _client.CreateAsync(Incident(tag).With("fatalities_min", min).With("fatalities_max", max));
        var upTo60 = await Toll(null, 60);      // "killed up to 60"
        var atLeast50 = await Toll(50, null);   // "at least 50"
        var exactly10 = await Toll(10, 10);
        await Toll(null, null);                 // unknown: matches no fatalities filter
        var between20And30 = await Toll(20, 30);
        var none = await Toll(0, 0);
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&fatalities=55..", upTo60, atLeast50);
        await _client.AssertMatchesAsync($"{t}&fatalities=61..", atLeast50);
        await _client.AssertMatchesAsync($"{t}&fatalities=30..", upTo60, atLeast50, between20And30);
        await _client.AssertMatchesAsync($"{t}&fatalities=0..", upTo60, atLeast50, exactly10, between20And30, none);
        await _client.AssertMatchesAsync($"{t}&fatalities=..20", upTo60, exactly10, between20And30, none);
        await _client.AssertMatchesAsync($"{t}&fatalities=..5", upTo60, none);
        await _client.AssertMatchesAsync($"{t}&fatalities=..49", upTo60, exactly10, between20And30, none);
        await _client.AssertMatchesAsync($"{t}&fatalities=..50", upTo60, atLeast50, exactly10, between20And30, none);
        await _client.AssertMatchesAsync($"{t}&fatalities=10..10", upTo60, exactly10);
        await _client.AssertMatchesAsync($"{t}&fatalities=10", upTo60, exactly10);
        await _client.AssertMatchesAsync($"{t}&fatalities=25..55", upTo60, atLeast50, between20And30);
        await _client.AssertMatchesAsync($"{t}&fatalities=1000000..", atLeast50);
    }

    [Fact]
    public async Task A_bbox_of_no_width_or_height_finds_what_lies_on_it()
    {
        var tag = NewTag();
        var (lon, lat) = (10 + Random.Shared.Next(0, 1000) / 1000.0, -40.125);
        var on = await _client.CreateAsync(Incident(tag, Features.Point(lon, lat)));
        var north = await _client.CreateAsync(Incident(tag, Features.Point(lon, lat + 0.5)));

        await _client.AssertMatchesAsync($"tags={tag}&bbox={Inv(lon)},{Inv(lat)},{Inv(lon)},{Inv(lat)}", on);
        await _client.AssertMatchesAsync($"tags={tag}&bbox={Inv(lon)},{Inv(lat)},{Inv(lon)},{Inv(lat + 1)}", on, north);
    }

    [Fact]
    public async Task A_search_body_takes_a_cql2_json_filter_as_the_JSON_itself_or_as_a_string()
    {
        var tag = NewTag();
        var five = await _client.CreateAsync(Incident(tag).With("fatalities_max", 5));
        await _client.CreateAsync(Incident(tag).With("fatalities_max", 6));
        var filter = JsonNode.Parse("""{"op": "=", "args": [{"property": "fatalities_max"}, 5]}""")!;

        foreach (var body in new[] { filter.DeepClone(), JsonValue.Create(filter.ToJsonString()) })
        {
            var page = await _client.SearchJsonAsync(new JsonObject { ["tags"] = tag, ["filter-lang"] = "cql2-json", ["filter"] = body });
            Assert.Equal([five], page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()));
        }
    }

    [Fact]
    public async Task Fatality_properties_as_query_parameters_filter_for_equality_as_OGC_clients_expect()
    {
        // OGC API – Features Part 1 (/rec/core/fc-filters): a parameter named after a property filters
        // for equality on it. GDAL's OAPIF driver turns -where "fatalities_max = 5" into fatalities_max=5.
        var tag = NewTag();
        async Task<long> Toll(int? min, int? max) =>
            await _client.CreateAsync(Incident(tag).With("fatalities_min", min).With("fatalities_max", max));
        var upTo60 = await Toll(null, 60);
        var atLeast5 = await Toll(5, null);
        var exactly5 = await Toll(5, 5);
        var none = await Toll(0, 0);
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&fatalities_max=5", exactly5);
        await _client.AssertMatchesAsync($"{t}&fatalities_max=60,0", upTo60, none);
        await _client.AssertMatchesAsync($"{t}&fatalities_min=5", atLeast5, exactly5);
        await _client.AssertMatchesAsync($"{t}&fatalities_min=5&fatalities_max=5", exactly5);
        await _client.AssertMatchesAsync($"{t}&fatalities_min=1");
        // The same as CQL2 says it.
        await _client.AssertMatchesAsync($"{t}&filter={Uri.EscapeDataString("fatalities_max = 5")}", exactly5);
    }

    /// <summary>
    /// A hyphenated word finds the words written apart, as the phrase of its parts, and still finds them hyphenated:
    /// PostgreSQL's parser alone searched "sayyida-zaynab" as a compound lexeme that "Sayyida Zaynab" lacks (audit).
    /// </summary>
    [Fact]
    public async Task A_hyphenated_word_finds_its_parts_written_apart_or_hyphenated_and_in_that_order()
    {
        var tag = NewTag();
        var apart = await _client.CreateAsync(Incident(tag, title: "Blasts in Sayyida Zaynab"));
        var hyphenated = await _client.CreateAsync(Incident(tag, title: "Shelling of al-Zahraa").With("location_name", "Sayyida-Zaynab"));
        var reversed = await _client.CreateAsync(Incident(tag, title: "Zaynab Sayyida street market"));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&q=sayyida-zaynab", apart, hyphenated);
        await _client.AssertMatchesAsync($"{t}&q={Esc("Sayyida Zaynab")}", apart, hyphenated, reversed);
        await _client.AssertMatchesAsync($"{t}&q=al-zahraa", hyphenated);
        await _client.AssertMatchesAsync($"{t}&q={Esc("al zahraa")}", hyphenated);
        await _client.AssertMatchesAsync($"{t}&q={Esc("sayyida-zaynab -al-zahraa")}", apart);
        await _client.AssertMatchesAsync($"{t}&q={Esc("\"blasts in sayyida-zaynab\"")}", []);  // inside quotes: as PostgreSQL reads it
    }

    /// <summary>
    /// A negated hyphenated word excludes what the word finds, and words are separated by any white space: -sayyida-zaynab
    /// excluded only text holding the compound, and a tab or no-break space joined two words into one phrase (query hunter).
    /// </summary>
    [Fact]
    public async Task A_negated_hyphenated_word_excludes_what_the_word_finds_and_any_white_space_separates_words()
    {
        var tag = NewTag();
        var apart = await _client.CreateAsync(Incident(tag, title: "Shrine blast in Sayyida Zaynab"));
        var hyphenated = await _client.CreateAsync(Incident(tag, title: "Shrine of Sayyida-Zaynab-district shelled"));
        var other = await _client.CreateAsync(Incident(tag, title: "Shrine damaged in Homs"));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&q=sayyida-zaynab", apart, hyphenated);
        await _client.AssertMatchesAsync($"{t}&q={Esc("shrine -sayyida-zaynab")}", other);
        await _client.AssertMatchesAsync($"{t}&q={Esc("sayyida-zaynab -sayyida-zaynab")}", []);
        foreach (var space in new[] { " ", "\t", "\n", "\u00a0", " \r\n " })
        {
            await _client.AssertMatchesAsync($"{t}&q={Esc("shrine" + space + "sayyida-zaynab")}", apart, hyphenated);
            await _client.AssertMatchesAsync($"{t}&q={Esc("shrine" + space + "-sayyida-zaynab")}", other);
        }
        // Fifty words separated by tabs are the most q takes, as with spaces.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await _client.GetAsync($"{Items}?{t}&q={Esc(string.Join('\t', Enumerable.Repeat("shrine", 50)))}")).StatusCode);
        var tooMany = await _client.GetAsync($"{Items}?{t}&q={Esc(string.Join('\t', Enumerable.Repeat("shrine", 51)))}");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("50 words", await tooMany.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Full_text_search_stems_english_words_and_understands_websearch_syntax()
    {
        var tag = NewTag();
        var carBomb = await _client.CreateAsync(Incident(tag, title: "Car bomb kills 12 near market"));
        var airstrike = await _client.CreateAsync(Incident(tag, title: "Airstrike hits hospital in Idlib")
            .With("summary", "Warplanes struck the main hospital at dawn."));
        var protest = await _client.CreateAsync(Incident(tag, title: "Protest in Baghdad").With("location_name", "Tahrir Square"));
        var carCrash = await _client.CreateAsync(Incident(tag, title: "Car crash at checkpoint")
            .With("actors", Strings("Kurdish Peshmerga")));
        var t = $"tags={tag}";

        await _client.AssertMatchesAsync($"{t}&q=bombings", carBomb);          // bombings and bomb both stem to 'bomb'
        await _client.AssertMatchesAsync($"{t}&q=killed", carBomb);            // kills, killed -> 'kill'
        await _client.AssertMatchesAsync($"{t}&q=car", carBomb, carCrash);
        await _client.AssertMatchesAsync($"{t}&q={Esc("car -market")}", carCrash);
        await _client.AssertMatchesAsync($"{t}&q={Esc("car -checkpoint")}", carBomb);
        await _client.AssertMatchesAsync($"{t}&q={Esc("\"car bomb\"")}", carBomb);
        await _client.AssertMatchesAsync($"{t}&q={Esc("\"bomb car\"")}", []);
        await _client.AssertMatchesAsync($"{t}&q={Esc("airstrike OR protest")}", airstrike, protest);
        await _client.AssertMatchesAsync($"{t}&q={Esc("car market")}", carBomb);
        await _client.AssertMatchesAsync($"{t}&q=warplane", airstrike);         // summary
        await _client.AssertMatchesAsync($"{t}&q=tahrir", protest);             // location
        await _client.AssertMatchesAsync($"{t}&q=Peshmerga", carCrash);         // actors
    }

    [Fact]
    public async Task Full_text_search_ignores_accents_and_case_both_ways_and_still_stems()
    {
        var tag = NewTag();
        var riot = await _client.CreateAsync(Incident(tag, title: "Émeute à Alep " + tag));
        var accented = await _client.CreateAsync(Incident(tag, title: "Bombings near the Sayyída Zaynāb shrine " + tag));
        var plain = await _client.CreateAsync(Incident(tag, title: "Sayyida Zaynab checkpoint attacked " + tag));
        var elsewhere = await _client.CreateAsync(Incident(tag, title: "Clashes in the south " + tag)
            .With("summary", "Fighting reported in Bogotá.").With("actors", Strings("Ejército Nacional")).With("location_name", "Ḥimṣ"));
        var t = $"tags={tag}";

        // Accented data, plain query; case never matters.
        await _client.AssertMatchesAsync($"{t}&q=emeute", riot);
        await _client.AssertMatchesAsync($"{t}&q=EMEUTE", riot);
        await _client.AssertMatchesAsync($"{t}&q={Esc("\"emeute a alep\"")}", riot);
        await _client.AssertMatchesAsync($"{t}&q=Sayyida", accented, plain);
        await _client.AssertMatchesAsync($"{t}&q=zaynab", accented, plain);
        await _client.AssertMatchesAsync($"{t}&q=bogota", elsewhere);            // summary
        await _client.AssertMatchesAsync($"{t}&q=ejercito", elsewhere);          // actors
        await _client.AssertMatchesAsync($"{t}&q=Hims", elsewhere);              // location
        // Accented query, plain data (and accented data).
        await _client.AssertMatchesAsync($"{t}&q={Esc("Émeute")}", riot);
        await _client.AssertMatchesAsync($"{t}&q={Esc("Sayyída")}", accented, plain);
        await _client.AssertMatchesAsync($"{t}&q={Esc("ZAYNĀB")}", accented, plain);
        await _client.AssertMatchesAsync($"{t}&q={Esc("Bogotá")}", elsewhere);
        // English stemming still applies, after the accents are gone.
        await _client.AssertMatchesAsync($"{t}&q={Esc("émeutes")}", riot);
        await _client.AssertMatchesAsync($"{t}&q=bombing", accented);
        await _client.AssertMatchesAsync($"{t}&q={Esc("zaynab -bombed")}", plain);
        // The same matching on the other endpoints that take q.
        var search = await _client.SearchJsonAsync(new JsonObject { ["q"] = "SAYYIDA", ["tags"] = Strings(tag), ["limit"] = 10 });
        Assert.Equal([accented, plain], Ids(search).Order());
    }

    [Theory]
    [InlineData("à")]       // unaccented, the English stop word "a": not indexed, so nothing could match
    [InlineData("À")]
    [InlineData("à the")]
    public async Task A_q_of_stop_words_only_is_a_400_naming_q_with_or_without_accents(string q)
    {
        var response = await _client.GetAsync($"{Items}?q={Esc(q)}");
        await ProblemAssert.IsProblemAsync(response, System.Net.HttpStatusCode.BadRequest, "q");
    }
}
