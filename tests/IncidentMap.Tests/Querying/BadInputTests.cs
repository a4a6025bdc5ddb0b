using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>Bad parameters answer 400 problems naming them; hostile parameters are data, never SQL.</summary>
[Collection(ApiCollection.Name)]
public sealed class BadInputTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

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
    [InlineData("f=xml", "f")]
    [InlineData("properties=nope", "properties")]
    [InlineData("properties=title,nope", "properties")]
    [InlineData("precision=16", "precision")]
    [InlineData("precision=-1", "precision")]
    [InlineData("precision=two", "precision")]
    [InlineData("count=maybe", "count")]
    [InlineData("event_type=bombing", "event_type")]
    [InlineData("event_type=battles,bombing", "event_type")]
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
    public async Task Bad_query_parameter_is_a_400_problem_naming_it(string query, string parameter)
    {
        var response = await _client.GetAsync($"{Items}?{query}");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, parameter);
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
