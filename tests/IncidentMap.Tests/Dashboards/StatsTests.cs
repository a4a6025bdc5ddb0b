using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Api.Seeding;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Dashboards;

[Collection(ApiCollection.Name)]
public sealed class StatsTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Monthly_buckets_of_the_sample_data_match_a_hand_count()
    {
        await api.Services.GetRequiredService<SampleData>().LoadAsync(
            Path.Combine(ApiFixture.RepositoryRoot(), "db", "sample", "incidents.geojson"));

        var stats = await _client.GetJsonAsync(
            "/collections/incidents/stats?tags=sample&datetime=2016-01-01/2016-03-31&interval=month&group_by=event_type");

        // Counted by hand in db/sample/incidents.geojson: January 2016 holds the month-precision shrine
        // explosions and the al-Zahraa checkpoint bombing; February the Homs and Sayeda Zeinab bombings,
        // al-Rastan and Talbiseh (four explosions), the Taldou clashes and the al-Waer aid convoy; March
        // the month-precision shelling of al-Waer.
        var rows = stats["buckets"]!.AsArray()
            .Select(b => (Start: b!["start"]!.GetValue<string>()[..7], Group: b["group"]!.GetValue<string>(), Count: b["count"]!.GetValue<int>()))
            .ToList();
        int Count(string month, string type) => rows.Single(r => r.Start == month && r.Group == type).Count;
        Assert.Equal(2, Count("2016-01", "explosions_remote_violence"));
        Assert.Equal(0, Count("2016-01", "battles"));
        Assert.Equal(4, Count("2016-02", "explosions_remote_violence"));
        Assert.Equal(1, Count("2016-02", "battles"));
        Assert.Equal(1, Count("2016-02", "strategic_developments"));
        Assert.Equal(1, Count("2016-03", "explosions_remote_violence"));
        Assert.Equal(9, rows.Count);
    }

    [Fact]
    public async Task Empty_days_are_zeros_and_fatality_bounds_are_summed_apart()
    {
        var tag = FeedHelpers.NewTag();
        async Task Create(string when, int? min, int? max)
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["occurred_at"] = when;
            feature["properties"]!["fatalities_min"] = min;
            feature["properties"]!["fatalities_max"] = max;
            await _client.CreateAsync(feature);
        }
        await Create("2019-05-01T10:00:00Z", 50, null);
        await Create("2019-05-01T22:30:00Z", null, 60);
        await Create("2019-05-03T01:00:00Z", 2, 4);

        var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&datetime=2019-05-01/2019-05-04");
        var buckets = stats["buckets"]!.AsArray();

        Assert.Equal(["2019-05-01T00:00:00Z", "2019-05-02T00:00:00Z", "2019-05-03T00:00:00Z", "2019-05-04T00:00:00Z"],
            buckets.Select(b => b!["start"]!.GetValue<string>()));
        Assert.Equal([2, 0, 1, 0], buckets.Select(b => b!["count"]!.GetValue<int>()));
        Assert.Equal(50, buckets[0]!["fatalities_min_sum"]!.GetValue<long>());
        Assert.Equal(60, buckets[0]!["fatalities_max_sum"]!.GetValue<long>());

        // In Baghdad (UTC+3) the 22:30 UTC incident falls on 2 May.
        var local = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&datetime=2019-05-01/2019-05-04&tz=Asia/Baghdad");
        var counts = local["buckets"]!.AsArray().ToDictionary(b => b!["start"]!.GetValue<string>(), b => b!["count"]!.GetValue<int>());
        Assert.Equal(1, counts["2019-04-30T21:00:00Z"]);
        Assert.Equal(1, counts["2019-05-01T21:00:00Z"]);
    }

    /// <summary>One incident per time under a tag of its own; returns the tag.</summary>
    private async Task<string> TaggedAtAsync(params string[] times)
    {
        var tag = FeedHelpers.NewTag();
        foreach (var when in times)
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["occurred_at"] = when;
            await _client.CreateAsync(feature);
        }
        return tag;
    }

    [Fact]
    public async Task A_day_or_month_is_counted_in_its_own_bucket_in_every_time_zone()
    {
        var tag = await TaggedAtAsync("2016-03", "2016-03-01", "2016-03-01T02:00:00Z");

        var months = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&interval=month&tz=America/New_York&datetime=2016-02-01/2016-03-31");
        var counts = months["buckets"]!.AsArray().ToDictionary(b => b!["start"]!.GetValue<string>(), b => b!["count"]!.GetValue<int>());
        // March 2016 and 1 March are March in New York; 02:00 UTC on 1 March is still 29 February there.
        Assert.Equal(2, counts["2016-03-01T05:00:00Z"]);
        Assert.Equal(1, counts["2016-02-01T05:00:00Z"]);
    }

    [Theory]
    [InlineData("America/New_York")]   // 1 March starts at 05:00 UTC
    [InlineData("Asia/Tokyo")]         // 1 March starts at 15:00 UTC on 29 February
    public async Task A_dated_incident_is_counted_only_in_a_window_holding_its_local_date(string tz)
    {
        // An incident of 1 March (day) and one of March (month), and an exact one at 12:00 UTC on 1 March.
        var tag = await TaggedAtAsync("2016-03-01", "2016-03", "2016-03-01T12:00:00Z");
        int Total(List<(string Start, int Count)> buckets) => buckets.Sum(b => b.Count);
        var zone = Uri.EscapeDataString(tz);

        // Each day of the window alone, then the month before: a dashboard adding them up counts each once.
        var feb29 = Total(await BucketsAsync($"tags={tag}&tz={zone}&datetime=2016-02-29"));
        var mar1 = Total(await BucketsAsync($"tags={tag}&tz={zone}&datetime=2016-03-01"));
        var mar2 = Total(await BucketsAsync($"tags={tag}&tz={zone}&datetime=2016-03-02"));
        var february = Total(await BucketsAsync($"tags={tag}&tz={zone}&interval=month&datetime=2016-02"));
        // 12:00 UTC is 1 March in both zones (07:00 / 21:00); the March incident lies in 2 March too.
        Assert.Equal((0, 3, 1, 0), (feb29, mar1, mar2, february));
    }

    /// <summary>Twelve incidents on 2016-01-01, each in an admin1 of its own; returns their tag.</summary>
    private async Task<string> TwelveRegionsAsync()
    {
        var tag = FeedHelpers.NewTag();
        for (var n = 0; n < 12; n++)
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["occurred_at"] = "2016-01-01T00:00:00Z";
            feature["properties"]!["admin1"] = $"Region {n}";
            await _client.CreateAsync(feature);
        }
        return tag;
    }

    /// <summary>The buckets of a stats query, as (start, count).</summary>
    private async Task<List<(string Start, int Count)>> BucketsAsync(string query) =>
        (await _client.GetJsonAsync("/collections/incidents/stats?" + query))["buckets"]!.AsArray()
            .Select(b => (b!["start"]!.GetValue<string>(), b["count"]!.GetValue<int>())).ToList();

    [Fact]
    public async Task Days_after_a_local_midnight_that_does_not_exist_keep_their_incidents()
    {
        // Asia/Damascus went from 00:00 straight to 01:00 on 2016-03-25 (UTC+2 to UTC+3): that day starts
        // at 01:00 local, 22:00 UTC the day before; the days after it at midnight, 21:00 UTC.
        var tag = await TaggedAtAsync("2016-03-24T12:00:00Z", "2016-03-25T12:00:00Z", "2016-03-26T12:00:00Z", "2016-03-27T12:00:00Z", "2016-03-28T12:00:00Z");
        (string, int)[] expected =
        [
            ("2016-03-24T22:00:00Z", 1), ("2016-03-25T21:00:00Z", 1), ("2016-03-26T21:00:00Z", 1), ("2016-03-27T21:00:00Z", 1),
            ("2016-03-28T21:00:00Z", 0), ("2016-03-29T21:00:00Z", 0), ("2016-03-30T21:00:00Z", 0),
        ];

        Assert.Equal(expected, await BucketsAsync($"tags={tag}&tz=Asia/Damascus&datetime=2016-03-24T22:00:00Z/2016-03-31T20:59:59Z"));
        // The same window as local dates.
        Assert.Equal(expected, await BucketsAsync($"tags={tag}&tz=Asia/Damascus&datetime=2016-03-25/2016-03-31"));
    }

    /// <summary>Pacific/Apia went from UTC-10 to UTC+14 at the end of 29 December 2011: the 30th never began there. Its
    /// bucket started where the 31st's does, so the series listed one start twice (1 and 2 here), which a chart keyed
    /// on start merges or overwrites.</summary>
    [Fact]
    public async Task A_date_a_zone_skipped_is_counted_in_the_day_that_starts_where_it_would_and_each_start_is_listed_once()
    {
        var tag = FeedHelpers.NewTag();
        foreach (var (when, precision) in new[] { ("2011-12-29", "day"), ("2011-12-30", "day"), ("2011-12-31", "day"), ("2011-12-30T12:00:00Z", "exact") })
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["occurred_at"] = when;
            feature["properties"]!["time_precision"] = precision;
            feature["properties"]!["fatalities_min"] = 1;
            await _client.CreateAsync(feature);
        }

        var series = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&tz=Pacific/Apia&datetime=2011-12-29/2012-01-01");
        var buckets = series["buckets"]!.AsArray().Select(b => (b!["start"]!.GetValue<string>(), b["count"]!.GetValue<int>(), b["fatalities_min_sum"]!.GetValue<long>())).ToList();
        Assert.Equal([("2011-12-29T10:00:00Z", 1, 1L), ("2011-12-30T10:00:00Z", 3, 3L), ("2011-12-31T10:00:00Z", 0, 0L)], buckets);
        var csv = await (await _client.GetAsync($"/collections/incidents/stats?tags={tag}&tz=Pacific/Apia&datetime=2011-12-29/2012-01-01&f=csv")).Content.ReadAsStringAsync();
        Assert.Equal(4, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length); // the header and three days
    }

    [Fact]
    public async Task Weeks_and_months_after_a_local_midnight_that_does_not_exist_keep_their_incidents()
    {
        // Asia/Tehran skipped Monday 2021-03-22 00:00 (UTC+3:30 to UTC+4:30): that week starts at 20:30 UTC
        // on Sunday, the next ones at 19:30 UTC. Instants in datetime, so only the buckets are in question.
        var weekly = await TaggedAtAsync("2021-03-23T12:00:00Z", "2021-03-30T12:00:00Z", "2021-03-31T12:00:00Z");
        Assert.Equal([("2021-03-21T20:30:00Z", 1), ("2021-03-28T19:30:00Z", 2), ("2021-04-04T19:30:00Z", 0)],
            await BucketsAsync($"tags={weekly}&interval=week&tz=Asia/Tehran&datetime=2021-03-21T20:30:00Z/2021-04-11T19:29:59Z"));

        // America/Asuncion skipped 2017-10-01 00:00 (UTC-4 to UTC-3).
        var monthly = await TaggedAtAsync("2017-10-15T12:00:00Z", "2017-11-15T12:00:00Z", "2017-12-15T12:00:00Z");
        Assert.Equal([("2017-10-01T04:00:00Z", 1), ("2017-11-01T03:00:00Z", 1), ("2017-12-01T03:00:00Z", 1)],
            await BucketsAsync($"tags={monthly}&interval=month&tz=America/Asuncion&datetime=2017-10-01T04:00:00Z/2017-12-31T23:59:59-03:00"));
    }

    [Fact]
    public async Task Dates_and_months_in_datetime_are_local_to_tz_and_instants_stay_instants()
    {
        // 02:00 UTC on 1 March 2016 is still 29 February in New York; 02:00 UTC on 1 April still 31 March.
        var tag = await TaggedAtAsync("2016-03-01T02:00:00Z", "2016-04-01T02:00:00Z");

        Assert.Equal([("2016-03-01T05:00:00Z", 1)], await BucketsAsync($"tags={tag}&interval=month&tz=America/New_York&datetime=2016-03"));
        Assert.Equal([("2016-03-01T05:00:00Z", 1)], await BucketsAsync($"tags={tag}&interval=month&tz=America/New_York&datetime=2016-03-01/2016-03-31"));
        // A date-only end in an interval with an instant start; New York is on daylight time by then.
        Assert.Equal([("2016-03-31T04:00:00Z", 1)], await BucketsAsync($"tags={tag}&tz=America/New_York&datetime=2016-03-31T04:00:00Z/2016-03-31"));
        // An instant with an offset is that instant: the UTC month, which in New York reaches back into February.
        Assert.Equal([("2016-02-01T05:00:00Z", 1), ("2016-03-01T05:00:00Z", 0)],
            await BucketsAsync($"tags={tag}&interval=month&tz=America/New_York&datetime=2016-03-01T00:00:00Z/2016-03-31T23:59:59Z"));
        // /items has no tz: its dates stay UTC.
        var items = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&datetime=2016-03");
        Assert.Single(items["features"]!.AsArray());
    }

    [Theory]
    [InlineData("utc", "UTC")]
    [InlineData("EST5EDT", "EST5EDT")]
    [InlineData("asia/damascus", "Asia/Damascus")]
    [InlineData("Etc/GMT-3", "Etc/GMT-3")]
    public async Task Tz_takes_the_names_postgresql_knows_in_any_case_and_answers_the_canonical_one(string tz, string canonical)
    {
        var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={FeedHelpers.NewTag()}&datetime=2016-03-01/2016-03-02&tz={Uri.EscapeDataString(tz)}");
        Assert.Equal(canonical, stats["time_zone"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("right/Asia/Damascus")] // counts leap seconds: every midnight 26 s off
    [InlineData("posix/Asia/Damascus")]
    [InlineData("localtime")]
    [InlineData("Asia")]
    public async Task Tz_refuses_what_is_not_an_iana_zone(string tz)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/stats?datetime=2016-03-01&tz={Uri.EscapeDataString(tz)}"), HttpStatusCode.BadRequest, "tz");
    }

    /// <summary>Given twice, a parameter of the stats' own is refused saying so, as the filters are: interval=fortnight&amp;interval=day was "'fortnight,day' is not day, week or month".</summary>
    [Theory]
    [InlineData("interval=fortnight&interval=day", "interval")]
    [InlineData("group_by=nope&group_by=country", "group_by")]
    [InlineData("tz=Mars/Olympus&tz=UTC", "tz")]
    [InlineData("f=xml&f=json", "f")]
    public async Task A_stats_parameter_given_twice_is_a_400_saying_so(string query, string parameter)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/stats?datetime=2016-03-01&{query}"), HttpStatusCode.BadRequest, parameter);
        Assert.Equal($"{parameter}: is given 2 times; give it once", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Interval_and_f_take_any_case_as_the_items_parameters_do()
    {
        var tag = await TaggedAtAsync("2018-07-02T12:00:00Z");

        var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&datetime=2018-07-02&interval=Day&f=JSON");
        Assert.Equal("day", stats["interval"]!.GetValue<string>());
        Assert.Equal(1, stats["buckets"]![0]!["count"]!.GetValue<int>());
        Assert.StartsWith("start,group,count", await _client.GetStringAsync($"/collections/incidents/stats?tags={tag}&datetime=2018-07-02&f=CSV"));
    }

    [Theory]
    [InlineData("datetime=0002-01-01/9000-01-01")] // too many buckets, known from the parameters
    [InlineData("datetime=2000-01-01T00:00:00Z/P9000D&interval=day&group_by=admin1")] // too many cells, known from the data
    public async Task A_request_stats_refuses_gets_its_400_whatever_if_none_match_says_and_no_etag(string query)
    {
        var tag = await TwelveRegionsAsync();
        var url = $"/collections/incidents/stats?tags={tag}&{query}";
        var plain = await _client.GetAsync(url);
        Assert.Null(plain.Headers.ETag);
        await ProblemAssert.IsProblemAsync(plain, HttpStatusCode.BadRequest);

        // Any current stats ETag, or *, names every stats answer at this data version: still a 400.
        var etag = (await _client.GetAsync($"/collections/incidents/stats?tags={tag}&datetime=2016-01-01")).Headers.ETag!.Tag;
        foreach (var tag_ in new[] { etag, "*" })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("If-None-Match", tag_);
            var response = await _client.SendAsync(request);
            Assert.Null(response.Headers.ETag);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        }
    }

    [Theory]
    [InlineData("/collections/incidents/stats?datetime=2016-03-01/2016-03-02&tz=Asia/Damascus")]
    [InlineData("/collections/incidents/stats?datetime=2016-03-01/2016-03-02&f=csv")]
    [InlineData("/collections/incidents/stats?group_by=admin1")] // answerable only once the data is read
    [InlineData("/collections/incidents/stats/summary")]
    [InlineData("/collections/incidents/stats/summary?f=csv")]
    [InlineData("/collections/incidents/changes")]
    public async Task Head_answers_what_get_would_without_a_body(string path)
    {
        var url = path + (path.Contains('?') ? "&" : "?") + "tags=" + FeedHelpers.NewTag();
        var get = await _client.GetAsync(url);
        var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Equal(get.Headers.CacheControl, head.Headers.CacheControl);
        Assert.Equal(get.Headers.Vary, head.Headers.Vary);
        Assert.Equal(get.Headers.ETag is null, head.Headers.ETag is null);
    }

    [Fact]
    public async Task Buckets_beyond_the_maximum_are_a_400_not_a_series_cut_short()
    {
        var tag = await TaggedAtAsync("1950-01-01T00:00:00Z", "2020-01-01T00:00:00Z");

        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/stats?tags={tag}&interval=day"), HttpStatusCode.BadRequest, "datetime");
        var months = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&interval=month");
        Assert.Equal(2, months["buckets"]!.AsArray().Sum(b => b!["count"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Buckets_times_groups_beyond_the_maximum_are_a_400_naming_group_by()
    {
        // 9,000 days by 12 admin1 groups is 108,000 cells, more than the 100,000 an answer may hold.
        var tag = await TwelveRegionsAsync();
        const string window = "datetime=2000-01-01T00:00:00Z/P9000D";

        var problem = await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/stats?tags={tag}&interval=day&group_by=admin1&{window}"), HttpStatusCode.BadRequest, "group_by");
        Assert.Contains("108000 cells", problem["detail"]!.GetValue<string>());

        // Weeks fit: Monday 1999-12-27 to Monday 2024-08-19 is 1,287 weeks, × 12 groups, every cell answered.
        var weeks = (await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&interval=week&group_by=admin1&{window}"))["buckets"]!.AsArray();
        Assert.Equal(1287 * 12, weeks.Count);
        Assert.Equal(12, weeks.Sum(b => b!["count"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Stats_come_as_csv_too()
    {
        var tag = FeedHelpers.NewTag();
        var feature = FeedHelpers.Tagged(tag);
        feature["properties"]!["occurred_at"] = "2018-07-02T12:00:00Z";
        await _client.CreateAsync(feature);

        var csv = await _client.GetStringAsync($"/collections/incidents/stats?tags={tag}&datetime=2018-07-01/2018-07-02&f=csv");

        Assert.Equal("start,group,count,fatalities_min_sum,fatalities_max_sum\r\n2018-07-01T00:00:00Z,,0,0,0\r\n2018-07-02T00:00:00Z,,1,0,0\r\n", csv);

        // Without f, Accept decides, as on /items.
        var request = new HttpRequestMessage(HttpMethod.Get, $"/collections/incidents/stats?tags={tag}&datetime=2018-07-01/2018-07-02");
        request.Headers.Accept.ParseAdd("text/csv");
        var negotiated = await _client.SendAsync(request);
        Assert.Equal(csv, await negotiated.Content.ReadAsStringAsync());
        Assert.Contains("Accept", negotiated.Headers.Vary);

        // A type preferred that stats do not offer gives way to the next one accepted (it was JSON, unaccepted).
        foreach (var accept in new[] { "application/x-ndjson, text/csv", "application/geo+json-seq;q=0.9, text/csv;q=0.8" })
        {
            foreach (var path in new[] { "stats", "stats/summary" })
            {
                var preferring = new HttpRequestMessage(HttpMethod.Get, $"/collections/incidents/{path}?tags={tag}&datetime=2018-07-01/2018-07-02");
                preferring.Headers.TryAddWithoutValidation("Accept", accept);
                var answer = await _client.SendAsync(preferring);
                Assert.Equal("text/csv", answer.Content.Headers.ContentType!.MediaType);
            }
        }
    }

    [Fact]
    public async Task Summary_gives_totals_top_places_and_latest()
    {
        var tag = FeedHelpers.NewTag();
        foreach (var (place, deaths) in new[] { ("Homs", 10), ("Homs", 5), ("Hama", 1) })
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["location_name"] = place;
            feature["properties"]!["fatalities_min"] = deaths;
            await _client.CreateAsync(feature);
        }

        var summary = await _client.GetJsonAsync($"/collections/incidents/stats/summary?tags={tag}");

        Assert.Equal(3, summary["count"]!.GetValue<int>());
        Assert.Equal(16, summary["fatalities_min_sum"]!.GetValue<int>());
        Assert.Equal("Homs", summary["top_places"]![0]!["location_name"]!.GetValue<string>());
        Assert.Equal(2, summary["top_places"]![0]!["count"]!.GetValue<int>());
        Assert.Equal(3, summary["latest"]!.AsArray().Count);
    }

    [Fact]
    public async Task Summary_comes_as_one_csv_table_with_the_figures_and_names_of_the_json()
    {
        var tag = FeedHelpers.NewTag();
        foreach (var (title, place, min, max) in new[]
                 {
                     ("=HYPERLINK(\"http://x\"), twin blasts", "Homs", 10, (int?)null),
                     ("Shelling", "Homs", 5, 7),
                     ("Clashes", "Hama, old town", 1, 2),
                 })
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["title"] = title;
            feature["properties"]!["location_name"] = place;
            feature["properties"]!["fatalities_min"] = min;
            feature["properties"]!["fatalities_max"] = max;
            await _client.CreateAsync(feature);
        }
        var url = $"/collections/incidents/stats/summary?tags={tag}";

        var json = await _client.GetJsonAsync(url);
        var response = await _client.GetAsync(url + "&f=csv");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var records = Querying.QueryHelpers.ParseCsv(body);
        string[] header = ["part", "count", "fatalities_min_sum", "fatalities_max_sum", "first", "last", "location_name", "country",
                           "id", "title", "occurred_at", "event_type", "fatalities_min", "fatalities_max"];
        Assert.Equal(header, records[0]);
        Assert.All(records, r => Assert.Equal(header.Length, r.Count));
        // Every row is the JSON's part, cell for cell: its numbers as written, its text defused as the
        // item exports' is, empty where the JSON has null or the part has no such member.
        static string Cell(JsonNode? node) => node switch
        {
            null => "",
            JsonValue v when v.TryGetValue<string>(out var text) => text.Length > 0 && "=+-@\t\r'".Contains(text[0]) ? "'" + text : text,
            _ => node.ToJsonString(),
        };
        List<string> Row(string part, JsonObject values) => [part, .. header[1..].Select(c => Cell(values[c]))];
        var root = json.AsObject();
        List<List<string>> expected =
        [
            header.ToList(),
            Row("total", root),
            .. json["top_places"]!.AsArray().Select(p => Row("top_place", p!.AsObject())),
            .. json["latest"]!.AsArray().Select(l => Row("latest", l!.AsObject())),
        ];
        Assert.Equal(expected, records);
        // And the figures themselves, so the comparison above compares something.
        Assert.Equal(["total", "3", "16", "9"], records[1].Take(4));
        Assert.Equal(["top_place", "2", "", "", "", "", "Homs", "SY"], records[2].Take(8));
        Assert.Equal(["top_place", "1"], records[3].Take(2));
        Assert.Equal("Hama, old town", records[3][6]);
        Assert.Equal(3, records.Count(r => r[0] == "latest"));
        Assert.Contains(records, r => r[0] == "latest" && r[9] == "'=HYPERLINK(\"http://x\"), twin blasts" && r[12] == "10" && r[13] == "");

        // Without f, Accept decides, as on /stats; f=json outranks it.
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/csv");
        var negotiated = await _client.SendAsync(request);
        Assert.Equal(body, await negotiated.Content.ReadAsStringAsync());
        Assert.Contains("Accept", negotiated.Headers.Vary);
        var jsonRequest = new HttpRequestMessage(HttpMethod.Get, url + "&f=JSON");
        jsonRequest.Headers.Accept.ParseAdd("text/csv");
        var asJson = await _client.SendAsync(jsonRequest);
        Assert.Equal("application/json", asJson.Content.Headers.ContentType?.MediaType);
        Assert.Equal(3, JsonNode.Parse(await asJson.Content.ReadAsStringAsync())!["count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("f=xml", "f")]
    [InlineData("f=geojson", "f")]
    public async Task Bad_summary_parameters_are_400_problems(string query, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/incidents/stats/summary?" + query), HttpStatusCode.BadRequest, parameter);
    }

    [Theory]
    [InlineData("interval=year", "interval")]
    [InlineData("group_by=title", "group_by")]
    [InlineData("tz=Mars/Olympus", "tz")]
    [InlineData("f=xml", "f")]
    [InlineData("datetime=1000-01-01/9000-01-01", "datetime")]
    public async Task Bad_stats_parameters_are_400_problems(string query, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/incidents/stats?" + query), HttpStatusCode.BadRequest, parameter);
    }

    [Theory]
    [InlineData("Africa/Abidjan", "0001-01-01T00:00:01Z/0001-01-03", null)]
    [InlineData("America/Santiago", "0001-01", null)]
    [InlineData("Pacific/Kiritimati", "9999-12-30T00:00:00Z/9999-12-31T23:00:00Z", "9999-12-31T12:00:00Z")]
    // The last month's and week's buckets start before 31 December: the incident was in neither.
    [InlineData("Pacific/Kiritimati", "9999-12-30T00:00:00Z/9999-12-31T23:00:00Z", "9999-12-31T12:00:00Z", "month")]
    [InlineData("Pacific/Kiritimati", "9999-12-30T00:00:00Z/9999-12-31T23:00:00Z", "9999-12-31T12:00:00Z", "week")]
    [InlineData("Pacific/Kiritimati", "9999-12-31T00:00:00Z/..", "9999-12-31T23:59:59Z", "month")]
    public async Task Windows_at_the_ends_of_the_calendar_are_answered_in_any_time_zone(string tz, string datetime, string? incidentAt, string interval = "day")
    {
        // West of Greenwich the first instants of year 1 are still 1 BC locally: the window's first bucket
        // could not be read back, and the request was a 500 (fuzzing audit). No incident is written at
        // year 1: it would become the shared collection's extent, which OgcCoreTests widens step by step.
        // East of it the last instants of 9999 are year 10000 locally (12:00Z is 02:00 on 1 January in
        // Kiritimati): that incident is counted on the calendar's last day. An end in 9999 is an open end,
        // whose buckets run to the last matching incident, so that window needs one to have buckets at all.
        var tag = FeedHelpers.NewTag();
        var feature = FeedHelpers.Tagged(tag);
        if (incidentAt is not null) feature["properties"]!["occurred_at"] = incidentAt;
        await _client.CreateAsync(feature);   // else in our time, outside the window

        var answer = await _client.GetAsync($"/collections/incidents/stats?tags={tag}&tz={tz}&datetime={datetime}&interval={interval}");
        var body = await answer.Content.ReadAsStringAsync();

        Assert.True(answer.StatusCode == HttpStatusCode.OK, $"{(int)answer.StatusCode} {body}");
        var buckets = JsonNode.Parse(body)!["buckets"]!.AsArray();
        Assert.NotEmpty(buckets);
        Assert.Equal(incidentAt is null ? 0 : 1, buckets.Sum(b => b!["count"]!.GetValue<int>()));
        Assert.StartsWith(datetime.StartsWith("9999", StringComparison.Ordinal) ? "9999-1" : "0001-01-0", buckets[0]!["start"]!.GetValue<string>());
    }

    /// <summary>
    /// A closed window is measured in the local buckets the query cuts, a partial one at each end included.
    /// Estimated as its length ÷ the interval, 9,999.96 days passed as answerable without the query (HEAD
    /// answered 200, If-None-Match a 304) while the GET found 10,001 buckets and answered with the message
    /// meant for an open end; 9,999.5 days were refused as "about 10000", the maximum itself.
    /// </summary>
    [Theory]
    [InlineData("interval=day&datetime=2000-01-01T12:00:00Z/2027-05-19T11:00:00Z", "10001 day")]
    [InlineData("interval=day&datetime=2000-01-01T12:00:00Z/2027-05-19T12:00:00Z", "10001 day")]
    [InlineData("interval=week&datetime=1850-01-02/2041-08-26", "10001 week")] // Monday 1849-12-31 to Monday 2041-08-26
    [InlineData("interval=month&datetime=1200-01-15/2033-05-20", "10001 month")]
    // 10,000 days less a second, but in Tokyo 09:00 on 1 January 2000 to 08:59:59 on 19 May 2027: 10,001 local days.
    [InlineData("interval=day&tz=Asia/Tokyo&datetime=2000-01-01T00:00:00Z/2027-05-18T23:59:59Z", "10001 day")]
    public async Task A_closed_window_over_the_bucket_limit_by_its_partial_buckets_is_a_400_to_get_head_and_if_none_match(string query, string buckets)
    {
        var tag = await TaggedAtAsync("2016-01-01T12:00:00Z");
        var url = $"/collections/incidents/stats?tags={tag}&{query}";
        var etag = (await _client.GetAsync($"/collections/incidents/stats?tags={tag}&{query.Split('&')[0]}&datetime=2016-01-01")).Headers.ETag!.Tag;

        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, "datetime");
        Assert.Equal($"datetime: makes {buckets} buckets; the maximum is 10000", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url))).StatusCode);
        foreach (var match in new[] { etag, "*" })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("If-None-Match", match);
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(request), HttpStatusCode.BadRequest, "datetime");
        }
    }

    [Theory]
    [InlineData("interval=day&datetime=2000-01-01/2027-05-18")]
    [InlineData("interval=day&datetime=2000-01-01T12:00:00Z/2027-05-18T11:00:00Z")]
    [InlineData("interval=day&tz=Asia/Tokyo&datetime=2000-01-01/2027-05-18")]
    [InlineData("interval=week&datetime=1850-01-07/2041-08-26")] // Monday to Monday
    [InlineData("interval=month&datetime=1200-02-15/2033-05-20")]
    public async Task A_closed_window_of_exactly_the_maximum_of_buckets_is_answered_alike_by_get_head_and_if_none_match(string query)
    {
        var tag = await TaggedAtAsync("2016-01-01T12:00:00Z");
        var url = $"/collections/incidents/stats?tags={tag}&{query}";

        var get = await _client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var buckets = JsonNode.Parse(await get.Content.ReadAsStringAsync())!["buckets"]!.AsArray();
        Assert.Equal(10_000, buckets.Count);
        Assert.Equal(1, buckets.Sum(b => b!["count"]!.GetValue<int>()));
        Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url))).StatusCode);
        // Other tests write to the shared database, and each write is a new data version (a new ETag): revalidated
        // until no write came between the two requests, which a 304 needs.
        var revalidated = HttpStatusCode.OK;
        var current = get.Headers.ETag!.Tag;
        for (var attempt = 0; attempt < 20 && revalidated != HttpStatusCode.NotModified; attempt++)
        {
            if (attempt > 0) current = (await _client.GetAsync(url)).Headers.ETag!.Tag;
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("If-None-Match", current);
            revalidated = (await _client.SendAsync(request)).StatusCode;
        }
        Assert.Equal(HttpStatusCode.NotModified, revalidated);
    }

    /// <summary>
    /// Local mean time has seconds in its offset (Africa/Monrovia −0:44:30 until 1972, Europe/Amsterdam
    /// +0:19:32 until 1937, Europe/Dublin −0:25:21 until 1916), which PostgreSQL cuts the buckets with and
    /// .NET's TimeZoneInfo cuts to whole minutes: a local day began 30 s early, took in an incident of the
    /// day before, came back as two buckets, and its start was cut to the minute.
    /// </summary>
    [Theory]
    [InlineData("Africa/Monrovia", "1969-12-31", "1970-01-01", "1970-01-01T00:44:10Z", "1969-12-31T00:44:30Z", "1970-01-01T00:44:30Z", "1969-12-01T00:44:30Z")]
    [InlineData("Europe/Amsterdam", "1929-12-31", "1930-01-01", "1929-12-31T23:40:10Z", "1929-12-30T23:40:28Z", "1929-12-31T23:40:28Z", "1929-11-30T23:40:28Z")]
    [InlineData("Europe/Dublin", "1899-12-31", "1900-01-01", "1900-01-01T00:25:05Z", "1899-12-31T00:25:21Z", "1900-01-01T00:25:21Z", "1899-12-01T00:25:21Z")]
    public async Task Local_days_of_an_offset_with_seconds_start_at_their_exact_midnight(
        string tz, string dayBefore, string day, string incidentAt, string dayBeforeStarts, string dayStarts, string monthBeforeStarts)
    {
        // The incident is some 20 s before the local midnight that starts the day: on the day before.
        var tag = await TaggedAtAsync(incidentAt);

        Assert.Equal([(dayStarts, 0)], await BucketsAsync($"tags={tag}&tz={tz}&datetime={day}"));
        Assert.Equal([(dayBeforeStarts, 1)], await BucketsAsync($"tags={tag}&tz={tz}&datetime={dayBefore}"));
        Assert.Equal([(dayBeforeStarts, 1), (dayStarts, 0)], await BucketsAsync($"tags={tag}&tz={tz}&datetime={dayBefore}/{day}"));
        // Instants in datetime: only the buckets' own cut and starts are in question.
        Assert.Equal([(dayBeforeStarts, 1), (dayStarts, 0)], await BucketsAsync($"tags={tag}&tz={tz}&datetime={dayBeforeStarts}/{day}T12:00:00Z"));
        // The month that starts at that midnight, and the one before it.
        Assert.Equal([(monthBeforeStarts, 1), (dayStarts, 0)],
            await BucketsAsync($"tags={tag}&tz={tz}&interval=month&datetime={dayBefore[..7]}/{day[..7]}"));
        var csv = await _client.GetStringAsync($"/collections/incidents/stats?tags={tag}&tz={tz}&datetime={day}&f=csv");
        Assert.Equal($"start,group,count,fatalities_min_sum,fatalities_max_sum\r\n{dayStarts},,0,0,0\r\n", csv);
    }

    /// <summary>
    /// CET, EET, MET and WET are zones with summer time and, to PostgreSQL's AT TIME ZONE, abbreviations of a
    /// fixed offset, which it reads first: the buckets were cut at UTC+1 all year in CET while the window's
    /// ends were local midnights at UTC+2 in summer, and an incident of 2 July was counted on 1 July.
    /// </summary>
    [Theory]
    [InlineData("CET", "2020-07-01T22:30:00Z", "2020-07-02", "2020-07-01T22:00:00Z")]
    [InlineData("cet", "2020-07-01T22:30:00Z", "2020-07-02", "2020-07-01T22:00:00Z")]
    [InlineData("EET", "2020-07-01T21:30:00Z", "2020-07-02", "2020-07-01T21:00:00Z")]
    [InlineData("WET", "2020-06-30T23:30:00Z", "2020-07-01", "2020-06-30T23:00:00Z")]
    public async Task A_zone_postgresql_also_knows_as_an_abbreviation_is_cut_as_the_zone(string tz, string incidentAt, string day, string dayStarts)
    {
        var tag = await TaggedAtAsync(incidentAt);

        Assert.Equal([(dayStarts, 1)], await BucketsAsync($"tags={tag}&tz={tz}&datetime={day}"));
        var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&tz={tz}&datetime={day}");
        Assert.Equal(tz.ToUpperInvariant(), stats["time_zone"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_closed_window_of_months_is_measured_in_months_not_in_28_days()
    {
        // 800 years are 9,600 months, under the maximum of 10,000 (as 28-day months, "about 10436").
        var tag = FeedHelpers.NewTag();
        var feature = FeedHelpers.Tagged(tag);
        feature["properties"]!["occurred_at"] = "1999-12-30T12:00:00Z";
        await _client.CreateAsync(feature);

        var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={tag}&interval=month&datetime=1200-01-01/1999-12-31");

        var buckets = stats["buckets"]!.AsArray();
        Assert.Equal(9_600, buckets.Count);
        Assert.Equal(1, buckets[^1]!["count"]!.GetValue<int>());
        await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/stats?tags={tag}&interval=month&datetime=1100-01-01/1999-12-31"), HttpStatusCode.BadRequest, "datetime");
    }
}
