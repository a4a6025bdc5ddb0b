using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>Bad parameters answer 400 problems naming them; hostile parameters are data, never SQL.</summary>
[Collection(ApiCollection.Name)]
public sealed class BadInputTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>A value sent back in a message is cut (README: errors): event_type of 5,000 letters was quoted to 990 of
    /// them, and the message's cut at 1,000 characters lost its hint.</summary>
    [Theory]
    [InlineData("event_type", "; use battles")]
    [InlineData("country", "not ISO 3166-1 alpha-2")]
    [InlineData("sortby", "is not sortable; use")]
    [InlineData("properties", "unknown:")]
    [InlineData("datetime", "is not an RFC 3339 date-time")]
    [InlineData("bbox", "is not a number")]
    public async Task A_long_value_is_quoted_cut_with_its_length_and_the_message_whole(string parameter, string said)
    {
        var value = new string('x', 5000);

        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/items?{parameter}={value}"), HttpStatusCode.BadRequest, parameter);

        var detail = problem["errors"]![0]!["detail"]!.GetValue<string>();
        Assert.Contains(said, detail);
        Assert.Contains("(5000 characters)", detail);
        Assert.True(detail.Length < 400, detail);
    }

    /// <summary>Only a quoted value is cut: an apostrophe in prose or in a place's name is no quote (review: "GeoNames'"
    /// and "Ma'arrat" made one of 162 characters, and candidates were lost).</summary>
    [Fact]
    public void Apostrophes_in_prose_or_names_are_not_taken_for_a_quoted_value()
    {
        var prose = "'Ma' is no place's own name; it is another name (GeoNames' alternate name) of 10 or more places, among them "
                    + string.Join(", ", Enumerable.Range(1, 8).Select(n => $"Ma'arrat an Nu'man {n} (SY, Idlib)"));
        Assert.Equal(prose, IncidentMap.Api.Problems.Problem.QuotedCut(prose));
        var value = new string('x', 300);
        Assert.Equal($"unknown: '{new string('x', 100)}…' (300 characters); use battles",
            IncidentMap.Api.Problems.Problem.QuotedCut($"unknown: '{value}'; use battles"));
    }

    /// <summary>A toll past what can be stored was told "is not a whole number of at least 0", false of it.</summary>
    [Theory]
    [InlineData("fatalities_max=2147483648", "fatalities_max", "'2147483648'")]
    [InlineData("fatalities_min=1,99999999999", "fatalities_min", "'99999999999'")]
    [InlineData("fatalities=2147483648..", "fatalities", "'2147483648'")]
    [InlineData("fatalities=..99999999999", "fatalities", "'99999999999'")]
    public async Task A_toll_larger_than_any_incident_can_have_is_a_400_saying_so(string query, string parameter, string quoted)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Items}?{query}"), HttpStatusCode.BadRequest, parameter);

        Assert.Equal($"{parameter}: {quoted} is larger than any toll an incident can have (at most 2147483647)", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=1;DROP TABLE incidents", "limit")]
    [InlineData("bbox=1,2,3", "bbox")]
    [InlineData("bbox=1,2,3,4,5", "bbox")]
    [InlineData("bbox=a,b,c,d", "bbox")]
    [InlineData("bbox=0,0,10,91", "bbox")]
    [InlineData("bbox=0,-91,10,10", "bbox")]
    [InlineData("bbox=0,0,181,10", "bbox")]
    [InlineData("bbox=0,10,10,0", "bbox")]
    [InlineData("bbox=35,33,100,38,36,0", "bbox")]       // heights: the minimum above the maximum, as a reversed latitude range
    [InlineData("lat=34.7&radius=5km", "lon")]
    [InlineData("lon=36.7&radius=5km", "lat")]
    [InlineData("lat=91&lon=0&radius=1km", "lat")]
    [InlineData("lat=-90.5&lon=0&radius=1km", "lat")]
    [InlineData("lat=abc&lon=0&radius=1km", "lat")]
    [InlineData("lat=0&lon=181&radius=1km", "lon")]
    [InlineData("lat=0&lon=-181&radius=1km", "lon")]
    [InlineData("lat=0&lon=0&radius=abc", "radius")]
    [InlineData("lat=0&lon=0&radius=5parsecs", "radius")]
    [InlineData("lat=0&lon=0&radius=1001km", "radius")]   // the maximum is 1000 km
    [InlineData("lat=0&lon=0&radius=1000001", "radius")]
    [InlineData("lat=0&lon=0&radius=622mi", "radius")]     // 1001.0 km
    [InlineData("lat=0&lon=0&radius=0", "radius")]
    [InlineData("lat=0&lon=0&radius=0km", "radius")]
    [InlineData("lat=0&lon=0&radius=-5", "radius")]
    [InlineData("lat=0&lon=0&radius=-5km", "radius")]
    [InlineData("sortby=nope", "sortby")]
    [InlineData("sortby=occurred_at,nope", "sortby")]
    [InlineData("sortby=title,title", "sortby")]
    [InlineData("sortby=distance", "sortby")]               // no point to measure from
    [InlineData("sortby=-distance", "sortby")]
    [InlineData("sortby=-", "sortby")]
    [InlineData("sortby=--id", "sortby")]                  // one sign at most: it sorted descending
    [InlineData("sortby=%2B-id", "sortby")]                // + sent encoded, then -: it sorted ascending
    [InlineData("sortby=%2B%2Bid", "sortby")]
    [InlineData("sortby=-%2Bid", "sortby")]
    [InlineData("sortby=-%20id", "sortby")]
    [InlineData("sortby=title,", "sortby")]
    [InlineData("sortby=title,,id", "sortby")]
    [InlineData("f=xml", "f")]
    [InlineData("properties=nope", "properties")]
    [InlineData("properties=title,nope", "properties")]
    [InlineData("precision=16", "precision")]
    [InlineData("precision=-1", "precision")]
    [InlineData("precision=two", "precision")]
    [InlineData("count=maybe", "count")]
    [InlineData("event_type=bombing", "event_type")]
    [InlineData("event_type=battles,bombing", "event_type")]
    // An empty member of a comma list, as event_type= alone is (it used to be dropped).
    [InlineData("event_type=battles,,riots", "event_type")]
    [InlineData("event_type=riots,", "event_type")]
    [InlineData("event_type=,riots", "event_type")]
    [InlineData("event_type=riots,%20", "event_type")]
    [InlineData("event_type=riots&event_type=", "event_type")]
    [InlineData("country=SY,,LB", "country")]
    [InlineData("status=reported,", "status")]
    [InlineData("time_precision=day,,week", "time_precision")]
    [InlineData("geo_precision=,town", "geo_precision")]
    [InlineData("fatalities_min=1,,2", "fatalities_min")]
    [InlineData("fatalities_max=5,", "fatalities_max")]
    [InlineData("properties=title,,summary", "properties")]
    [InlineData("properties=title,", "properties")]
    [InlineData("status=confirmed", "status")]
    [InlineData("country=XX", "country")]
    [InlineData("country=SYR", "country")]
    [InlineData("fatalities_min=-1", "fatalities_min")]
    [InlineData("fatalities_min=many", "fatalities_min")]
    [InlineData("fatalities_max=-1", "fatalities_max")]
    [InlineData("fatalities_max=5,x", "fatalities_max")]
    [InlineData("fatalities=-1..", "fatalities")]
    [InlineData("fatalities=..", "fatalities")]
    [InlineData("fatalities=50..10", "fatalities")]
    [InlineData("fatalities=1...2", "fatalities")]
    [InlineData("fatalities=ten", "fatalities")]
    [InlineData("datetime=yesterday", "datetime")]
    [InlineData("q=the", "q")]            // stop words only: no words to search for, not "no incidents"
    [InlineData("q=of%20the", "q")]
    [InlineData("foo=1", "foo")]
    // Percent-encoded bytes that are not UTF-8 (read as U+FFFD, or left encoded, they searched for text nobody sent).
    [InlineData("q=%C3%28", "q")]
    [InlineData("tags=%C3%28", "tags")]
    [InlineData("tags=ok&tags=%FF", "tags")]
    [InlineData("location_name=Homs%2C%20%E2%82", "location_name")]   // cut short
    [InlineData("actors=%ED%A0%80", "actors")]                        // a surrogate, as UTF-8
    [InlineData("q=%C0%AF", "q")]                                     // an overlong "/"
    [InlineData("event_type=riots%E9", "event_type")]                 // Latin-1
    [InlineData("limit=1&%C3%28=1", "%C3%28")]                        // a name, named as sent
    public async Task Bad_query_parameter_is_a_400_problem_naming_it(string query, string parameter)
    {
        var response = await _client.GetAsync($"{Items}?{query}");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, parameter);
    }

    [Theory]
    [InlineData("lat=0&lon=0&radius=1000000.4", "radius", "'1000000.4' is over the maximum of 1000 km")] // not "1000000 m is over"
    [InlineData("q=" + "w%20" + "w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w%20w", "q", "more than 50 words")]
    public async Task A_bad_value_is_quoted_as_sent_and_a_limit_named_as_documented(string query, string parameter, string detail)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Items}?{query}"), HttpStatusCode.BadRequest, parameter);
        Assert.Contains(detail, problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("filter=id%3D1&filter=id%3D2", "filter")]
    [InlineData("datetime=2016-01-01&datetime=2016-02-01", "datetime")]
    [InlineData("filter=id%3D1&filter-lang=cql2-text&filter-lang=cql2-text", "filter-lang")]
    [InlineData("q=bomb&q=clash", "q")]
    public async Task A_parameter_given_twice_is_a_400_saying_so_unless_it_takes_a_list(string query, string parameter)
    {
        // Repeated, the values used to be joined with commas and read as one: "id=1,id=2" failed at a position the client never sent.
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Items}?{query}"), HttpStatusCode.BadRequest, parameter);
        Assert.Contains("is given 2 times", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_list_parameter_may_be_repeated()
    {
        var response = await _client.GetAsync($"{Items}?event_type=riots&event_type=battles&limit=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"intersects":"POLYGON((0 0,1 0,1 1,0 0))"}""", "intersects")]
    [InlineData("""{"intersects":42}""", "intersects")]
    [InlineData("""{"intersects":{"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{}}}""", "intersects")]
    [InlineData("""{"intersects":{"type":"Circle","coordinates":[0,0]}}""", "intersects")]
    [InlineData("""{"intersects":{"type":"Polygon","coordinates":"here"}}""", "intersects")]
    [InlineData("""{"intersects":{"type":"Polygon","coordinates":[[[0,0],[200,0],[0,1],[0,0]]]}}""", "intersects")]
    [InlineData("""{"limit":"abc"}""", "limit")]
    [InlineData("""{"bbox":[1,2,3]}""", "bbox")]
    [InlineData("""{"tags":{"a":1}}""", "tags")]
    [InlineData("""{"sortby":"title; DROP TABLE incidents"}""", "sortby")]
    [InlineData("""{"foo":1}""", "foo")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("\"search\"", "body")]
    [InlineData("{not json", "body")]
    public async Task Bad_search_body_is_a_400_problem_naming_the_member(string body, string member)
    {
        var response = await _client.PostAsync(Search, new StringContent(body, Encoding.UTF8, "application/json"));
        await AssertBadRequestNamingAsync(response, member);
    }

    [Fact]
    public async Task A_search_shape_of_more_than_ten_thousand_vertices_is_a_400_and_ten_thousand_are_searched()
    {
        // A star of n vertices round (10, 10): valid, and every candidate is tested against all of it.
        static string Star(int n)
        {
            var ring = Enumerable.Range(0, n - 1).Select(k =>
            {
                var angle = 2 * Math.PI * k / (n - 1);
                var radius = k % 2 == 0 ? 1.0 : 0.9;
                return FormattableString.Invariant($"[{10 + radius * Math.Cos(angle):0.######},{10 + radius * Math.Sin(angle):0.######}]");
            }).ToList();
            ring.Add(ring[0]);
            return "{\"intersects\":{\"type\":\"Polygon\",\"coordinates\":[[" + string.Join(",", ring) + "]]},\"limit\":1}";
        }

        var tooMany = await _client.PostAsync(Search, new StringContent(Star(10_001), Encoding.UTF8, "application/json"));
        await AssertBadRequestNamingAsync(tooMany, "intersects.coordinates");

        var atTheLimit = await _client.PostAsync(Search, new StringContent(Star(10_000), Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, atTheLimit.StatusCode);
    }

    [Theory]
    [InlineData("/collections/incidents/items/{id}")]
    [InlineData("/collections/incidents/search")]
    [InlineData("/collections/incidents/stats")]
    [InlineData("/collections/incidents/stats/summary")]
    [InlineData("/collections/incidents/changes")]
    [InlineData("/collections/incidents/clusters")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/3/3/4")]
    [InlineData("/collections/places/items")]
    [InlineData("/collections")]
    [InlineData("/admin/keys")]
    public async Task Bytes_that_are_not_utf8_in_a_query_are_a_400_naming_the_parameter_on_every_endpoint(string path)
    {
        var id = await _client.CreateAsync(Incident(NewTag()));
        var url = path.Replace("{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var response = path.EndsWith("/search", StringComparison.Ordinal)
            ? await _client.PostAsync($"{url}?q=%C3%28", new StringContent("{}", Encoding.UTF8, "application/json"))
            : await _client.GetAsync($"{url}?q=%C3%28");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "q");
    }

    [Fact]
    public async Task Encoded_utf8_is_read_as_the_text_it_encodes()
    {
        var tag = NewTag() + "-café";
        var mine = await _client.CreateAsync(Incident(tag).With("location_name", "Ḥimṣ, al-Zahrā'"));
        await _client.AssertMatchesAsync($"tags={Esc(tag)}&location_name={Esc("Ḥimṣ, al-Zahrā'")}", mine);
    }

    /// <summary>Every list parameter (comma lists and whole values), with a value it takes.</summary>
    public static TheoryData<string, string> ListParameters => new()
    {
        { "event_type", "riots" }, { "country", "SY" }, { "status", "reported" }, { "time_precision", "day" }, { "geo_precision", "town" },
        { "fatalities_min", "5" }, { "fatalities_max", "5" }, { "properties", "title" }, { "sub_event_type", "x" }, { "admin1", "x" },
        { "admin2", "x" }, { "location_name", "x" }, { "external_id", "x" }, { "tags", "x" }, { "claimed_by", "x" }, { "actors", "x" },
    };

    [Theory]
    [MemberData(nameof(ListParameters))]
    public async Task A_list_of_more_than_a_hundred_values_is_a_400_naming_it_and_a_hundred_are_read(string parameter, string value)
    {
        // Repeated, and in a comma list where the parameter takes one: both count.
        string Values(int count) => QueryParser.WholeValues.Contains(parameter)
            ? string.Join("&", Enumerable.Range(0, count).Select(n => $"{parameter}={Esc($"{value} {n}")}"))
            : $"{parameter}={string.Join(",", Enumerable.Repeat(value, count - 1))}&{parameter}={value}";

        var over = await _client.GetAsync($"{Items}?{Values(QueryParser.MaxListValues + 1)}&limit=1");
        var problem = await ProblemAssert.IsProblemAsync(over, HttpStatusCode.BadRequest, parameter);
        Assert.Contains($"has {QueryParser.MaxListValues + 1} values", problem["detail"]!.GetValue<string>());

        var atTheCap = await _client.GetAsync($"{Items}?{Values(QueryParser.MaxListValues)}&limit=1");
        Assert.True(atTheCap.StatusCode == HttpStatusCode.OK, $"{(int)atTheCap.StatusCode} {await atTheCap.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_sortby_of_more_than_a_hundred_keys_is_a_400_naming_it()
    {
        var response = await _client.GetAsync($"{Items}?sortby={string.Join(",", Enumerable.Repeat("-id", QueryParser.MaxListValues + 1))}");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "sortby");
    }

    [Theory]
    [InlineData("tags")]
    [InlineData("actors")]
    [InlineData("claimed_by")]
    [InlineData("event_type")]
    public async Task A_search_body_list_of_more_than_a_hundred_values_is_a_400_naming_the_member(string member)
    {
        var response = await _client.SearchAsync(new JsonObject
        {
            [member] = new JsonArray([.. Enumerable.Range(0, QueryParser.MaxListValues + 1).Select(n => (JsonNode)(member == "event_type" ? "riots" : $"t{n}"))]),
            ["limit"] = 1,
        });
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, member);
        Assert.Contains($"at most {QueryParser.MaxListValues}", problem["detail"]!.GetValue<string>());
    }

    /// <summary>
    /// A search body's numbers mean their value however JSON spells them (5e1 and 50.0 are 50, as writes read 57.0 as
    /// 57): "'5e1' is not a whole number" was false. A fraction is still refused. And "intersects": null is the member
    /// left out, as every member's null is: it was a 400.
    /// </summary>
    [Theory]
    [InlineData("""{"tags": ["{tag}"], "limit": 1e0, "precision": 3.0, "fatalities_max": [7.00, 70e-1]}""", null)]
    [InlineData("""{"tags": ["{tag}"], "limit": 100e-2, "intersects": null}""", null)]
    [InlineData("""{"tags": ["{tag}"], "limit": 1.5}""", "limit")]
    [InlineData("""{"tags": ["{tag}"], "precision": 0.0000000000000000000000000000001}""", "precision")]
    [InlineData("""{"tags": ["{tag}"], "fatalities_max": [7.5]}""", "fatalities_max")]
    public async Task A_search_body_number_is_its_value_and_a_null_intersects_is_left_out(string body, string? refused)
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag).With("fatalities_max", 7));
        await _client.CreateAsync(Incident(tag).With("fatalities_max", 8));

        var response = await _client.SearchAsync(JsonNode.Parse(body.Replace("{tag}", tag))!.AsObject());
        if (refused is not null)
        {
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, refused);
            return;
        }
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Single(Ids(page));
        if (body.Contains("fatalities_max")) Assert.Equal([id], Ids(page));
    }

    [Fact]
    public async Task Twenty_thousand_tags_are_refused_at_once()
    {
        // The audit's request: ~190 KB, anonymous, and about 50 s of PostgreSQL's CPU for an empty page.
        var body = new JsonObject { ["tags"] = new JsonArray([.. Enumerable.Range(0, 20_000).Select(n => (JsonNode)$"t{n}")]), ["limit"] = 1 };
        var clock = Stopwatch.StartNew();
        var response = await api.CreateAnonymousClient().SearchAsync(body);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "tags");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("tags")]
    [InlineData("actors")]
    public async Task A_hundred_tags_or_actors_find_the_incidents_with_any_of_them(string parameter)
    {
        // Past ten values the list is read by a sub-select (IncidentSqlBuilder.ElementList): the same matches.
        // Values of this test alone, so the list itself keeps other tests' incidents out.
        var tag = NewTag();
        var (mine, alsoMine) = ($"{tag}-a", $"{tag}-é");
        var ids = new[]
        {
            await _client.CreateAsync(Incident(tag).With(parameter, new JsonArray(mine))),
            await _client.CreateAsync(Incident(tag).With(parameter, new JsonArray("other", alsoMine))),
        };
        await _client.CreateAsync(Incident(tag).With(parameter, new JsonArray($"{tag}-not-asked")));
        var asked = Enumerable.Range(0, QueryParser.MaxListValues - 2).Select(n => $"{tag}-{n}").Append(mine).Append(alsoMine).ToList();

        await _client.AssertMatchesAsync(string.Join("&", asked.Select(v => $"{parameter}={Esc(v)}")), ids);
        foreach (var count in new[] { "true", "false" })
        {
            var page = await _client.SearchJsonAsync(new JsonObject
            {
                [parameter] = new JsonArray([.. asked.Select(v => (JsonNode)v)]), ["limit"] = 10, ["count"] = count == "true",
            });
            Assert.Equal(ids.Order(), Ids(page).Order());
        }
        // And as a filter's list, which takes as many.
        var list = string.Join(", ", asked.Select(v => $"'{v}'"));
        await _client.AssertMatchesAsync($"filter={Esc($"A_OVERLAPS({parameter}, ({list}))")}", ids);
        var tooMany = await _client.GetAsync($"{Items}?filter={Esc($"A_OVERLAPS({parameter}, ({list}, 'one more'))")}");
        var problem = await ProblemAssert.IsProblemAsync(tooMany, HttpStatusCode.BadRequest, "filter");
        Assert.Contains($"takes at most {QueryParser.MaxListValues}", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("id", false)]
    [InlineData("%2Bid", false)]   // + sent encoded
    [InlineData("+id", false)]     // + sent as is, which a query string reads as a space
    [InlineData("-id", true)]
    [InlineData("title,-id", true)]
    public async Task A_sort_key_takes_one_sign(string sortby, bool descending)
    {
        var tag = NewTag();
        var ids = new[] { await _client.CreateAsync(Incident(tag, title: "Same")), await _client.CreateAsync(Incident(tag, title: "Same")) };
        var expected = descending ? ids.OrderDescending() : ids.Order();
        Assert.Equal(expected, await _client.IdsAsync($"tags={tag}&sortby={sortby}"));
    }

    [Fact]
    public async Task A_bbox_with_heights_in_order_finds_what_the_flat_one_finds()
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag));
        await _client.AssertMatchesAsync($"tags={tag}&bbox=35,33,0,38,36,100", id);
        await _client.AssertMatchesAsync($"tags={tag}&bbox=35,33,-5,38,36,-5", id);
    }

    private static string Cursor(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    /// <summary>Parameter, hostile value, other parameters the request needs.</summary>
    public static TheoryData<string, string, string> Injections => new()
    {
        { "event_type", "battles'; DROP TABLE incidents;--", "" },
        { "q", "');DROP TABLE incidents;--", "" },
        { "q", "x' || pg_sleep(30) || '", "" },
        { "sortby", "title;DROP TABLE incidents", "" },
        { "sortby", "title DESC; DROP TABLE incidents", "" },
        { "admin1", "x' OR '1'='1", "" },
        { "admin1", "x') OR ('1'='1", "" },
        { "sub_event_type", "x' OR 'x'='x", "" },
        { "claimed_by", "x'; DELETE FROM incidents;--", "" },
        { "actors", "x'}') OR true--", "" },
        { "country", "SY'--", "" },
        { "status", "reported' OR '1'='1", "" },
        { "bbox", "0,0,1,1);DROP TABLE incidents;--", "" },
        { "datetime", "2016-01-01'; DROP TABLE incidents;--", "" },
        { "properties", "title,(SELECT 1)", "" },
        { "f", "csv';--", "" },
        { "lat", "0;DROP TABLE incidents", "&lon=0&radius=1km" },
        { "radius", "1km');DROP TABLE incidents;--", "&lat=0&lon=0" },
        { "fatalities_min", "1 OR 1=1", "" },
        { "cursor", Cursor("""{"s":"-occurred_at","k":["2016'; DROP TABLE incidents;--",1]}"""), "" },
        // A well-formed cursor whose title key is hostile: it is compared as text, after every "Target" title.
        { "cursor", Cursor("""{"s":"title","k":["x') OR 1=1;--",1]}"""), "&sortby=title" },
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task Sql_injection_through_a_parameter_has_no_effect(string parameter, string value, string rest)
    {
        // Every row has "x" wherever a text filter looks, so an injected OR would match them.
        var tag = NewTag();
        var mine = new List<long>();
        for (var n = 0; n < 2; n++)
            mine.Add(await _client.CreateAsync(Incident(tag, title: $"Target {n}").With("admin1", "x").With("sub_event_type", "x")
                .With("claimed_by", "x").With("actors", new JsonArray("x")).With("country", "SY").With("event_type", "battles")));

        var clock = Stopwatch.StartNew();
        var response = await _client.GetAsync($"{Items}?{parameter}={Esc(value)}{rest}&tags={tag}&limit=100");
        clock.Stop();

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
        if (response.StatusCode == HttpStatusCode.OK)
            Assert.Empty(Ids(JsonNode.Parse(text)!).Intersect(mine));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}: pg_sleep ran?"); // a loaded machine is slow, never 20 s slow
        await AssertIntactAsync(tag, mine);
    }

    [Fact]
    public async Task Sql_injection_through_tags_has_no_effect()
    {
        var tag = NewTag();
        var mine = new[] { await _client.CreateAsync(Incident(tag)), await _client.CreateAsync(Incident(tag)) };

        var clock = Stopwatch.StartNew();
        var ids = await _client.IdsAsync($"tags={Esc("a'||pg_sleep(30)||'")}");
        var alsoMine = await _client.IdsAsync($"tags={Esc($"{tag}' OR '1'='1")}");
        clock.Stop();

        Assert.Empty(ids.Intersect(mine));
        Assert.Empty(alsoMine.Intersect(mine));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}: pg_sleep ran?"); // a loaded machine is slow, never 20 s slow
        await AssertIntactAsync(tag, mine);
    }

    [Fact]
    public async Task Sql_injection_through_a_search_body_has_no_effect()
    {
        var tag = NewTag();
        var mine = new[] { await _client.CreateAsync(Incident(tag).With("admin1", "x")) };

        var page = await _client.SearchJsonAsync(new JsonObject
        {
            ["tags"] = new JsonArray(tag),
            ["admin1"] = new JsonArray("x' OR '1'='1", "y'); DROP TABLE incidents;--"),
            ["q"] = "'); DROP TABLE incidents;--",
        });

        Assert.Empty(Ids(page));
        await AssertIntactAsync(tag, mine);
    }

    /// <summary>The table is still there and the test's rows are unchanged and still found by their tag.</summary>
    private async Task AssertIntactAsync(string tag, IReadOnlyCollection<long> mine)
    {
        await using (var connection = await api.Database.OpenConnectionAsync())
            Assert.True(await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('public.incidents') IS NOT NULL"));
        await _client.AssertMatchesAsync($"tags={tag}", [.. mine]);
        foreach (var id in mine)
            Assert.Equal(tag, (await _client.GetJsonAsync($"{Items}/{id}"))["properties"]!["tags"]![0]!.GetValue<string>());
    }
}
