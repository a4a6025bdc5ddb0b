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
        var tag = FeedHelpers.NewTag();
        for (var n = 0; n < 12; n++)
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["properties"]!["occurred_at"] = "2016-01-01T00:00:00Z";
            feature["properties"]!["admin1"] = $"Region {n}";
            await _client.CreateAsync(feature);
        }
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
}
