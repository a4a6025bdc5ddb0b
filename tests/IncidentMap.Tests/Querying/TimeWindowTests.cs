using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// The datetime parameter: a half-open window [from, until) at microsecond resolution, matched against
/// each incident's own interval [occurred_at, occurred_until) (the instant itself when exact).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TimeWindowTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>Queries every window with the tag and collects each one whose answer is not exactly its expected ids.</summary>
    private Task AssertWindowsAsync(string tag, params (string Window, long[] Expected)[] cases) => AssertMatchesAsync(tag, "datetime", cases);

    /// <summary>The same with another parameter (filter) in place of datetime.</summary>
    private async Task AssertMatchesAsync(string tag, string parameter, params (string Value, long[] Expected)[] cases)
    {
        var failures = new List<string>();
        foreach (var (window, expected) in cases)
        {
            var response = await _client.GetAsync($"{Items}?{parameter}={Esc(window)}&tags={tag}&limit=1000");
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.OK) { failures.Add($"{parameter}={window}: {(int)response.StatusCode} {text}"); continue; }
            var ids = Ids(System.Text.Json.Nodes.JsonNode.Parse(text)!).Order().ToList();
            if (!ids.SequenceEqual(expected.Order()))
                failures.Add($"{parameter}={window}: expected [{string.Join(", ", expected.Order())}], got [{string.Join(", ", ids)}]");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Exact_incident_is_matched_by_its_instant_and_by_intervals_starting_or_ending_at_it()
    {
        var tag = NewTag();
        var t = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));
        long[] hit = [t], miss = [];

        await AssertWindowsAsync(tag,
            ("2016-02-21T07:30:00Z", hit),
            ("2016-02-21T09:30:00+02:00", hit),
            ("2016-02-21T07:00:00Z/2016-02-21T07:30:00Z", hit),   // end inclusive
            ("2016-02-21T07:30:00Z/2016-02-21T08:00:00Z", hit),   // start inclusive
            ("2016-02-21T07:30:00Z/2016-02-21T07:30:00Z", hit),
            ("../2016-02-21T07:30:00Z", hit),
            ("/2016-02-21T07:30:00Z", hit),
            ("2016-02-21T07:30:00Z/..", hit),
            ("2016-02-21T07:30:00Z/", hit),
            ("2016-02-21", hit),
            ("2016-02-01/2016-02-21", hit),                       // a date as end includes that whole day
            ("2016-02-21/2016-02-21", hit),
            ("2016-02", hit),
            ("2016-02-21T07:00:00Z/2016-02-21T07:29:59Z", miss),  // ends one second before
            ("../2016-02-21T07:29:59Z", miss),
            ("2016-02-21T07:30:01Z/..", miss),
            ("2016-02-21T07:30:01Z", miss),
            ("2016-02-20", miss),
            ("2016-02-22", miss),
            ("2016-02-01/2016-02-20", miss));
    }

    [Fact]
    public async Task Window_resolution_is_one_microsecond()
    {
        var tag = NewTag();
        var t = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00.123456Z"));
        long[] hit = [t], miss = [];

        await AssertWindowsAsync(tag,
            ("2016-02-21T07:30:00.123456Z", hit),
            ("2016-02-21T07:30:00.123455Z", miss),
            ("2016-02-21T07:30:00.123457Z", miss),
            ("../2016-02-21T07:30:00.123456Z", hit),
            ("../2016-02-21T07:30:00.123455Z", miss),
            ("2016-02-21T07:30:00.123456Z/..", hit),
            ("2016-02-21T07:30:00.123457Z/..", miss),
            // Nine digits, as Java's Instant writes them: RFC 3339 sets no limit; past the sixth they are
            // zeros, or the time is finer than PostgreSQL keeps (a 400, see TimePrecisionTests).
            ("2016-02-21T07:30:00.123456000Z", hit),
            ("2016-02-21T07:30:00.1234560Z", hit),
            ("2016-02-21T07:30:00.123455000Z", miss));
    }

    [Fact]
    public async Task Month_precision_incident_covers_its_whole_month_and_nothing_after()
    {
        var tag = NewTag();
        var january = await _client.CreateAsync(Incident(tag, occurredAt: "2016-01"));
        long[] hit = [january], miss = [];

        await AssertWindowsAsync(tag,
            ("2016-01-31T23:00:00Z", hit),
            ("2016-01-15/2016-01-16", hit),
            ("2016-01-01T00:00:00Z", hit),
            ("2016-01-31T23:59:59.999999Z/..", hit),
            ("../2016-01-01T00:00:00Z", hit),
            ("2015-12-01/2016-01-01", hit),
            ("2016-01", hit),
            ("2016-02-01T00:00:00Z/..", miss),
            ("2016-02-01T00:00:00Z", miss),
            ("../2015-12-31T23:59:59.999999Z", miss),
            ("2015-12", miss),
            ("2016-02", miss));
    }

    [Fact]
    public async Task Day_precision_incident_covers_its_utc_day()
    {
        var tag = NewTag();
        var day = await _client.CreateAsync(Incident(tag, occurredAt: "2016-03-05"));
        long[] hit = [day], miss = [];

        await AssertWindowsAsync(tag,
            ("2016-03-05T00:00:00Z", hit),
            ("2016-03-05T23:59:59.999999Z", hit),
            ("2016-03-05T12:00:00Z/2016-03-05T13:00:00Z", hit),
            ("2016-03-04T12:00:00Z/2016-03-05T00:00:00Z", hit),
            ("2016-03-04/2016-03-05", hit),
            ("2016-03-06T00:00:00Z/..", miss),
            ("../2016-03-04T23:59:59.999999Z", miss),
            ("2016-03-04", miss),
            ("2016-03-06", miss));
    }

    [Fact]
    public async Task Week_precision_incident_covers_its_iso_week_from_monday()
    {
        // Wednesday 9 March 2016 at week precision is the week Monday 7 March 00:00 to Monday 14 March 00:00.
        var tag = NewTag();
        var week = await _client.CreateAsync(Incident(tag, occurredAt: "2016-03-09T12:00:00Z").With("time_precision", "week"));
        long[] hit = [week], miss = [];

        await AssertWindowsAsync(tag,
            ("2016-03-07T00:00:00Z", hit),
            ("2016-03-13T23:59:59Z", hit),
            ("2016-03-10", hit),
            ("2016-03-01/2016-03-07", hit),
            ("2016-03-14T00:00:00Z", miss),
            ("2016-03-14/..", miss),
            ("2016-03-06", miss),
            ("../2016-03-06T23:59:59Z", miss));
    }

    [Fact]
    public async Task Open_intervals_and_the_qgis_form_with_years_0000_and_9999_match_every_time()
    {
        var tag = NewTag();
        long[] all =
        [
            await _client.CreateAsync(Incident(tag, occurredAt: "1900-01-01T00:00:00Z")),
            await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z")),
            await _client.CreateAsync(Incident(tag, occurredAt: "2090-07")),
        ];

        await AssertWindowsAsync(tag,
            ("../..", all),
            ("/", all),
            ("../", all),
            ("/..", all),
            ("0000-01-01T00:00:00Z/9999-12-31T00:00:00Z", all),
            ("0000-01-01T00:00:00Z/9999-12-31T23:59:59Z", all),
            ("0000-01-01/9999-12-31", all),
            ("0000-01-01T00:00:00Z/..", all),
            ("../9999-12-31T00:00:00Z", all),
            ("2016-01-01/9999-12-31T00:00:00Z", all[1..]),
            ("0000-01-01T00:00:00Z/2016-12-31", all[..2]));
    }

    [Fact]
    public async Task Year_0000_is_read_everywhere_before_every_time_an_incident_can_have()
    {
        // No incident is dated at or before 0001-01-01T00:00:00Z (.NET's first instant, which writes refuse): a start
        // in year 0000 is open, an end there matches nothing, and a time written in 0000 west of UTC may be in year 1.
        var tag = NewTag();
        var first = await _client.CreateAsync(Incident(tag, occurredAt: "0001-01-01T00:00:00.000001Z"));
        var third = await _client.CreateAsync(Incident(tag, occurredAt: "0001-01-01T03:00:00Z"));
        var modern = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));
        long[] none = [];

        await AssertWindowsAsync(tag,
            ("0000-01-01T00:00:00Z", none),
            ("0000-01-01", none),
            ("0000-02-29", none),                                   // 1 BC was a leap year
            ("0000-12", none),
            ("../0000-12-31", none),
            ("../0000-12-31T23:59:59.999999Z", none),
            ("0000-12-31T21:00:00.000001-03:00", [first]),          // 0001-01-01T00:00:00.000001Z
            ("../0000-12-31T22:00:00-04:00", [first]),              // up to 0001-01-01T02:00:00Z
            ("0000-12-31T23:00:00-04:00/..", [third, modern]),
            ("0000-01-01T00:00:00Z/..", [first, third, modern]),
            ("0000-01-01/0001-01-01T02:00:00Z", [first]),
            ("0000-06-01/P1Y", [first, third]),                     // up to 0001-06-01
            ("P1D/0000-06-01", none),
            ("P1Y/0001-01-01T00:00:00.000001Z", [first]));

        await AssertMatchesAsync(tag, "filter",
            ("occurred_at > TIMESTAMP('0000-01-01T00:00:00Z')", [first, third, modern]),
            ("occurred_at < TIMESTAMP('0000-12-31T23:59:59.999999Z')", none),
            ("occurred_at = TIMESTAMP('0000-12-31T21:00:00.000001-03:00')", [first]),
            ("occurred_at > DATE('0000-01-01')", [first, third, modern]),
            ("occurred_at >= DATE('0000-12-31')", [first, third, modern]),
            ("occurred_at <= DATE('0000-12-31')", none),
            ("occurred_at = DATE('0000-12-31')", none),
            ("occurred_at <> DATE('0000-12-31')", [first, third, modern]),
            ("occurred_at BETWEEN TIMESTAMP('0000-06-01T00:00:00Z') AND TIMESTAMP('0001-01-01T01:00:00Z')", [first]),
            ("occurred_at IN (TIMESTAMP('0000-12-31T21:00:00.000001-03:00'), TIMESTAMP('0000-12-31T00:00:00Z'))", [first]),
            ("T_INTERSECTS(occurred_at, INTERVAL('0000-01-01', '0001-01-01T02:00:00Z'))", [first]),
            ("T_INTERSECTS(occurred_at, INTERVAL('0000-01-01T00:00:00Z', '..'))", [first, third, modern]),
            ("T_INTERSECTS(occurred_at, INTERVAL('..', '0000-12-31'))", none),
            ("T_INTERSECTS(occurred_at, DATE('0000-12-31'))", none));

        // The stats read the window's ends themselves, in a time zone too.
        foreach (var url in new[]
        {
            $"/collections/incidents/stats?tags={tag}&interval=day&datetime=../0000-12-31",
            $"/collections/incidents/stats?tags={tag}&interval=day&tz=Asia/Tokyo&datetime=../0000-12-31",
            $"/collections/incidents/stats?tags={tag}&interval=month&tz=America/Lima&datetime=0000-06-01/P1Y",
            $"/collections/incidents/stats/summary?tags={tag}&datetime=0000-12-31T21:00:00-03:00",
        })
        {
            var response = await _client.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Only_an_end_at_or_after_9999_12_31_is_open_an_earlier_end_in_9999_is_kept()
    {
        // QGIS sends 9999-12-31T00:00:00Z (or the date) as "no end"; 9999-06-01 is an end like any other.
        var tag = NewTag();
        var modern = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));
        var june = await _client.CreateAsync(Incident(tag, occurredAt: "9999-06-01T12:00:00Z"));
        var last = await _client.CreateAsync(Incident(tag, occurredAt: "9999-12-31T12:00:00Z"));

        await AssertWindowsAsync(tag,
            ("9999-01-01/9999-06-01", [june]),
            ("9999-01-01T00:00:00Z/9999-06-01T12:00:00Z", [june]),
            ("9999-01-01/9999-06-01T11:59:59Z", []),
            ("2016-01-01/9999-12-30", [modern, june]),
            ("2016-01-01/9999-12-30T23:59:59.999999Z", [modern, june]),
            ("9999-12-31T12:00:00Z", [last]),                       // a single instant is that instant
            ("9999-12-31T11:00:00Z", []),
            ("9999-12-31", [last]),
            ("9999-12-30/9999-12-31T00:00:00Z", [last]),            // QGIS's open end
            ("9999-06-01/9999-12-31T06:00:00Z", [june, last]),
            ("9999-06-02/P1M", []),
            ("9999-06-01/P1Y", [june, last]),                       // past 9999: open
            ("0000-01-01T00:00:00Z/9999-12-31T00:00:00Z", [modern, june, last]),
            // Past the last instant .NET holds (10000-01-01T01:00:00Z): an open end, and no start of anything stored.
            ("2016-01-01/9999-12-31T23:00:00-02:00", [modern, june, last]),
            ("9999-12-31T23:00:00.5-02:00/..", []));
    }

    [Fact]
    public async Task Duration_before_a_date_counts_back_from_the_end_of_that_day()
    {
        var tag = NewTag();
        await _client.CreateAsync(Incident(tag, occurredAt: "2016-01-31T23:59:59Z"));
        var first = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-01T00:00:00Z"));
        var last = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-29T23:59:59Z"));
        await _client.CreateAsync(Incident(tag, occurredAt: "2016-03-01T00:00:00Z"));

        await AssertWindowsAsync(tag,
            ("P1M/2016-02-29", [first, last]),   // February 2016
            ("2016-02-01/P1M", [first, last]),
            ("P1D/2016-02-29", [last]),
            ("P1W/2016-02-07", [first]));
    }

    [Fact]
    public async Task Duration_after_a_start_covers_that_long_from_the_start()
    {
        var tag = NewTag();
        await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:29:59Z"));
        var start = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));
        var later = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-22T06:30:00Z"));
        var dayAfter = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-22T08:30:00Z"));

        await AssertWindowsAsync(tag,
            ("2016-02-21T07:30:00Z/P1D", [start, later]),
            ("2016-02-21T07:30:00Z/PT1H", [start]),
            ("2016-02-21T07:30:00Z/P2D", [start, later, dayAfter]));
    }

    [Fact]
    public async Task Durations_ending_now_cover_the_recent_past_only()
    {
        var tag = NewTag();
        var now = DateTimeOffset.UtcNow;
        string Ago(double hours) => now.AddHours(-hours).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var recent = await _client.CreateAsync(Incident(tag, occurredAt: Ago(23)));
        var older = await _client.CreateAsync(Incident(tag, occurredAt: Ago(25)));
        await _client.CreateAsync(Incident(tag, occurredAt: Ago(-1))); // an hour in the future

        await AssertWindowsAsync(tag,
            ("PT24H/now", [recent]),
            ("P1D", [recent]),
            ("P2D/now", [recent, older]),
            ("PT48H", [recent, older]));
    }

    [Fact]
    public async Task Pages_of_a_window_relative_to_now_keep_the_window_of_the_first_page()
    {
        // The next page was the same URL resolved a few seconds later: the window's start slid past the oldest
        // incident, which numberMatched had counted and no page returned.
        string At(DateTimeOffset t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        foreach (var search in new[] { false, true })
        {
            var tag = NewTag();
            var now = DateTimeOffset.UtcNow;
            var recent = await _client.CreateAsync(Incident(tag, occurredAt: At(now.AddHours(-1))));
            var edge = await _client.CreateAsync(Incident(tag, occurredAt: At(now.AddHours(-24).AddSeconds(3))));
            JsonNode first = search
                ? await _client.SearchJsonAsync(new JsonObject { ["datetime"] = "PT24H", ["tags"] = tag, ["limit"] = 1, ["sortby"] = "-occurred_at" })
                : await _client.GetJsonAsync($"{Items}?datetime=PT24H&tags={tag}&limit=1&sortby=-occurred_at");
            Assert.Equal(2, first["numberMatched"]!.GetValue<int>());
            var next = first["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "next")!;
            await Task.Delay(TimeSpan.FromSeconds(4));
            JsonNode second = search
                ? await _client.SearchJsonAsync(next["body"]!.DeepClone())
                : await _client.GetJsonAsync(next["href"]!.GetValue<string>());

            Assert.Equal([recent, edge], Ids(first).Concat(Ids(second)));
        }
    }

    [Theory]
    [InlineData("PT24H")]
    [InlineData("P1D/now")]
    [InlineData("2016-02-01/now")]
    [InlineData("now/P1M")]
    [InlineData("now/..")]
    [InlineData("PT1.5S")]
    public void A_window_written_out_parses_back_to_itself(string text)
    {
        Assert.True(TimeWindow.TryParse(text, Now, out var from, out var until, out var error), error);

        var written = TimeWindow.Format(from, until);

        Assert.False(TimeWindow.IsRelative(written), written);
        Assert.True(TimeWindow.TryParse(written, Now.AddDays(3), out var again, out var againUntil, out error), error);
        Assert.Equal((from, until), (again, againUntil));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2016-13-01")]
    [InlineData("2016-02-30")]
    [InlineData("2016-02-21T07:30:00")]
    [InlineData("2016-02-21T25:00:00Z")]
    [InlineData("21/02/2016")]
    [InlineData("2016-01-01/2016-02-01/2016-03-01")]
    [InlineData("2016-03-01/2016-02-01")]
    [InlineData("2016-02-22/2016-02-21")]
    [InlineData("2016-02-21T08:00:00Z/2016-02-21T07:00:00Z")]
    [InlineData("P1D/P2D")]
    [InlineData("P1D/..")]
    [InlineData("../P1D")]
    [InlineData("PXD")]
    [InlineData("2016-02-21T07:30:00Z'; DROP TABLE incidents;--")]
    public async Task Malformed_datetime_is_a_400_naming_datetime(string datetime)
    {
        var response = await _client.GetAsync($"{Items}?datetime={Esc(datetime)}");
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "datetime");
    }

    [Theory]
    [InlineData("P0D/now")]
    [InlineData("P0D")]
    [InlineData("PT0S/2016-02-21")]
    [InlineData("2016-02-01/P0M")]
    public async Task A_duration_of_zero_is_a_400_that_says_so(string datetime)
    {
        var response = await _client.GetAsync($"{Items}?datetime={Esc(datetime)}");
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "datetime");
        Assert.Contains("duration of zero", problem.ToJsonString());
        Assert.DoesNotContain("after its end", problem.ToJsonString());
    }

    /// <summary>PostgreSQL keeps microseconds: PT0.0000001S was cut to nothing, and the window missed its own start.</summary>
    [Fact]
    public async Task A_duration_finer_than_a_microsecond_is_a_400_and_one_of_whole_microseconds_holds_its_start()
    {
        var tag = NewTag();
        var t = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));

        await AssertWindowsAsync(tag,
            ("2016-02-21T07:30:00Z/PT0.000001S", [t]),
            ("2016-02-21T07:30:00Z/PT0.0000010S", [t]),   // zeros after the sixth decimal are fine, as in an instant
            ("PT0.000001S/2016-02-21T07:29:59.999999Z", []));
        // Exact to the microsecond: PT0.000035S as a double was 34.9 µs, cut to 34, and missed an incident 34 µs in.
        var late = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00.000034Z"));
        await AssertWindowsAsync(tag, ("2016-02-21T07:30:00Z/PT0.000035S", [t, late]), ("2016-02-21T07:30:00Z/PT0.000034S", [t]));
        foreach (var window in new[] { "2016-02-21T07:30:00Z/PT0.0000001S", "PT0.0000009S/2016-02-21T07:30:00Z", "PT1.0000001S", "2016-02-21T07:30:00Z/P1DT0.00000001S" })
        {
            var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Items}?datetime={Esc(window)}&tags={tag}"), HttpStatusCode.BadRequest, "datetime");
            Assert.Contains("is finer than a microsecond", problem["detail"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("PT24H/now", true)]
    [InlineData("P1D", true)]
    [InlineData("now", true)]
    [InlineData("now/..", true)]
    [InlineData("2016-02-01/NOW", true)]
    [InlineData("P1M/2016-02-29", false)]
    [InlineData("2016-02-01/P1M", false)]
    [InlineData("2016-02-21T07:30:00Z/PT1H", false)]
    [InlineData("2016-02-01/2016-02-29", false)]
    public void Only_a_window_with_a_now_end_or_a_lone_duration_moves_with_the_clock(string text, bool relative)
    {
        Assert.Equal(relative, TimeWindow.IsRelative(text));
    }

    // The parser on its own: exact window bounds, with a fixed "now".
    private static readonly DateTimeOffset Now = new(2020, 6, 15, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("2016-02-21T07:30:00Z", "2016-02-21T07:30:00Z", "2016-02-21T07:30:00.000001Z")]
    [InlineData("2016-02-21T09:30:00+02:00", "2016-02-21T07:30:00Z", "2016-02-21T07:30:00.000001Z")]
    [InlineData("2016-02-21", "2016-02-21T00:00:00Z", "2016-02-22T00:00:00Z")]
    [InlineData("2016-02", "2016-02-01T00:00:00Z", "2016-03-01T00:00:00Z")]
    [InlineData("2016-02-01/2016-02-21", "2016-02-01T00:00:00Z", "2016-02-22T00:00:00Z")]
    [InlineData("2016-02-01T00:00:00Z/2016-02-21T00:00:00Z", "2016-02-01T00:00:00Z", "2016-02-21T00:00:00.000001Z")]
    [InlineData("../2016-02-21", null, "2016-02-22T00:00:00Z")]
    [InlineData("2016-02-21/..", "2016-02-21T00:00:00Z", null)]
    [InlineData("2016-02-01T/..", "2016-02-01T00:00:00Z", null)] // GDAL 3.6's OAPIF driver writes a date so
    [InlineData("../2016-02-21T", null, "2016-02-22T00:00:00Z")]
    [InlineData("/", null, null)]
    [InlineData("../..", null, null)]
    [InlineData("0000-01-01T00:00:00Z/9999-12-31T00:00:00Z", null, null)]
    [InlineData("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z", null)] // nothing follows it to end at
    [InlineData("9999-12-31T23:59:59.9999999Z/..", "9999-12-31T23:59:59.9999999Z", null)]
    [InlineData("9999-12-31T12:00:00Z", "9999-12-31T12:00:00Z", "9999-12-31T12:00:00.000001Z")] // an instant alone is that instant
    [InlineData("9999-01-01/9999-06-01", "9999-01-01T00:00:00Z", "9999-06-02T00:00:00Z")]
    [InlineData("2016-02-01/9999-12-30T23:59:59Z", "2016-02-01T00:00:00Z", "9999-12-30T23:59:59.000001Z")]
    [InlineData("2016-02-01/9999-12-31T00:00:00+01:00", "2016-02-01T00:00:00Z", "9999-12-30T23:00:00.000001Z")]
    [InlineData("0000-01-01T00:00:00Z", null, "0001-01-01T00:00:00Z")] // before every incident: an end no incident is before
    [InlineData("0000-02-29", null, "0001-01-01T00:00:00Z")]
    [InlineData("../0000-12-31", null, "0001-01-01T00:00:00Z")]
    [InlineData("0000-12-31T23:00:00-02:00", "0001-01-01T01:00:00Z", "0001-01-01T01:00:00.000001Z")]
    [InlineData("0000-06-01/P1Y", null, "0001-06-01T00:00:00Z")]
    [InlineData("P1Y/0001-06-01", null, "0001-06-02T00:00:00Z")]
    [InlineData("P1M/2016-02-29", "2016-02-01T00:00:00Z", "2016-03-01T00:00:00Z")]
    [InlineData("2016-02-01/P1M", "2016-02-01T00:00:00Z", "2016-03-01T00:00:00Z")]
    [InlineData("2016-02-21T07:30:00Z/P1D", "2016-02-21T07:30:00Z", "2016-02-22T07:30:00Z")]
    public void Time_window_parser_gives_the_documented_half_open_window(string text, string? from, string? until)
    {
        Assert.True(TimeWindow.TryParse(text, Now, out var actualFrom, out var actualUntil, out var error), error);

        Assert.Equal(Instant(from), actualFrom);
        Assert.Equal(Instant(until), actualUntil);
    }

    [Theory]
    [InlineData("PT24H/now", 24)]
    [InlineData("PT24H", 24)]
    [InlineData("P7D", 7 * 24)]
    public void Duration_up_to_now_is_the_window_of_that_length_ending_at_now(string text, int hours)
    {
        Assert.True(TimeWindow.TryParse(text, Now, out var from, out var until, out var error), error);

        // "now" is included, so the window ends within a microsecond after it.
        Assert.InRange(until!.Value, Now, Now.AddTicks(10));
        Assert.Equal(TimeSpan.FromHours(hours), until.Value - from!.Value);
    }

    [Theory]
    [InlineData("2016-03-25", "Asia/Damascus", "2016-03-24T22:00:00Z", "2016-03-25T21:00:00Z")] // midnight skipped: the day starts at 01:00
    [InlineData("2016-11-06", "America/Havana", "2016-11-06T04:00:00Z", "2016-11-07T05:00:00Z")] // midnight twice: the first one
    [InlineData("2016-03", "America/New_York", "2016-03-01T05:00:00Z", "2016-04-01T04:00:00Z")]
    [InlineData("P1D/2016-03-13", "America/New_York", "2016-03-13T05:00:00Z", "2016-03-14T04:00:00Z")] // a day of the zone's calendar: 23 hours
    [InlineData("2016-03-01T00:00:00Z/2016-03-01", "America/New_York", "2016-03-01T00:00:00Z", "2016-03-02T05:00:00Z")] // instants stay instants
    [InlineData("0001-01-01/0001-01-02", "Etc/GMT-9", "0001-01-01T00:00:00Z", "0001-01-02T15:00:00Z")] // before the calendar: its first instant
    [InlineData("0000-12-31", "Etc/GMT+5", null, "0001-01-01T05:00:00Z")] // 1 BC's last day, five hours west: partly in year 1
    // Offsets with seconds (local mean time), to the second, as PostgreSQL has them; .NET's TimeZoneInfo cuts them to whole minutes.
    [InlineData("1970-01-01", "Africa/Monrovia", "1970-01-01T00:44:30Z", "1970-01-02T00:44:30Z")] // −0:44:30
    [InlineData("1972-01-07", "Africa/Monrovia", "1972-01-07T00:44:30Z", "1972-01-08T00:00:00Z")] // to UTC at its midnight: the day starts after the gap
    [InlineData("1930-01", "Europe/Amsterdam", "1929-12-31T23:40:28Z", "1930-01-31T23:40:28Z")]   // +0:19:32
    [InlineData("P1D/1900-01-01", "Europe/Dublin", "1900-01-01T00:25:21Z", "1900-01-02T00:25:21Z")] // −0:25:21
    [InlineData("1900-01-01T12:00:00Z/P1M", "Europe/Dublin", "1900-01-01T12:00:00Z", "1900-02-01T12:00:00Z")]
    public void With_a_time_zone_dates_and_months_are_its_local_days_and_months(string text, string zone, string from, string until)
    {
        Assert.True(TimeWindow.TryParse(text, Now, out var actualFrom, out var actualUntil, out var error, TimeZoneInfo.FindSystemTimeZoneById(zone)), error);

        Assert.Equal(Instant(from), actualFrom);
        Assert.Equal(Instant(until), actualUntil);
    }

    private static DateTimeOffset? Instant(string? text) =>
        text is null ? null : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
}
