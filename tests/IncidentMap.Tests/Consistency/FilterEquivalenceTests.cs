using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Consistency;

/// <summary>
/// Plain parameters and their CQL2 equivalents (text, and JSON through the search) select the same
/// incidents; stats in a time zone count what README says they count; hexagon bins on the two sides of
/// the antimeridian add up as documented.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class FilterEquivalenceTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>Plain parameters, the CQL2 text filter meaning the same, and (optionally) the same as CQL2 JSON.</summary>
    public static readonly (Filter Plain, string Text, string? Json)[] Pairs =
    [
        (new("event_type", ("event_type", "battles")), "event_type='battles'", """{"op":"=","args":[{"property":"event_type"},"battles"]}"""),
        (new("event_type list", ("event_type", "battles,riots")), "event_type IN ('battles','riots')", """{"op":"in","args":[{"property":"event_type"},["battles","riots"]]}"""),
        (new("country", ("country", "NZ")), "country = 'NZ'", null),
        (new("time_precision list", ("time_precision", "day,week,month")), "time_precision IN ('day','week','month')", null),
        (new("fatalities_min", ("fatalities_min", "3")), "fatalities_min = 3", null),
        (new("fatalities range", ("fatalities", "5..20")),
            "(fatalities_max >= 5 OR fatalities_max IS NULL) AND (fatalities_min <= 20 OR fatalities_min IS NULL) AND NOT (fatalities_min IS NULL AND fatalities_max IS NULL)", null),
        (new("bbox across", ("bbox", "178,-46,-178,-42")), "S_INTERSECTS(geometry, BBOX(178,-46,-178,-42))", """{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[178,-46,-178,-42]}]}"""),
        (new("bbox line at -180", ("bbox", "170,-46,-180,-42")), "S_INTERSECTS(geometry, BBOX(170,-46,-180,-42))", null),
        (new("bbox to the pole", ("bbox", "15,84,30,90")), "S_INTERSECTS(geometry, BBOX(15,84,30,90))", """{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[15,84,30,90]}]}"""),
        (new("bbox world", ("bbox", "-180,-90,180,90")), "S_INTERSECTS(geometry, BBOX(-180,-90,180,90))", null),
        (new("datetime closed", ("datetime", "2025-02-01T00:00:00Z/2025-03-15T12:00:00Z")),
            "T_INTERSECTS(occurred_at, INTERVAL('2025-02-01T00:00:00Z','2025-03-15T12:00:00Z'))",
            """{"op":"t_intersects","args":[{"property":"occurred_at"},{"interval":["2025-02-01T00:00:00Z","2025-03-15T12:00:00Z"]}]}"""),
        (new("datetime open start", ("datetime", "../2025-03-01T00:00:00Z")), "T_INTERSECTS(occurred_at, INTERVAL('..','2025-03-01T00:00:00Z'))",
            """{"op":"t_intersects","args":[{"property":"occurred_at"},{"interval":["..","2025-03-01T00:00:00Z"]}]}"""),
        (new("datetime open end", ("datetime", "2025-03-01T00:00:00Z/..")), "T_INTERSECTS(occurred_at, INTERVAL('2025-03-01T00:00:00Z','..'))", null),
        (new("datetime instant", ("datetime", "2025-03-01T00:00:00Z")), "T_INTERSECTS(occurred_at, TIMESTAMP('2025-03-01T00:00:00Z'))",
            """{"op":"t_intersects","args":[{"property":"occurred_at"},{"timestamp":"2025-03-01T00:00:00Z"}]}"""),
        (new("datetime date", ("datetime", "2025-03-10")), "T_INTERSECTS(occurred_at, DATE('2025-03-10'))",
            """{"op":"t_intersects","args":[{"property":"occurred_at"},{"date":"2025-03-10"}]}"""),
        (new("datetime microsecond", ("datetime", "2025-02-28T23:59:59.999999Z")), "T_INTERSECTS(occurred_at, TIMESTAMP('2025-02-28T23:59:59.999999Z'))", null),
        (new("datetime offset", ("datetime", "2025-03-01T09:00:00+09:00/..")), "T_INTERSECTS(occurred_at, INTERVAL('2025-03-01T00:00:00Z','..'))", null),
        (new("datetime month", ("datetime", "2025-03")), "T_INTERSECTS(occurred_at, INTERVAL('2025-03-01','2025-03-31'))", null),
        (new("datetime dates", ("datetime", "2025-02-24/2025-03-02")), "T_INTERSECTS(occurred_at, INTERVAL('2025-02-24','2025-03-02'))", null),
        (new("radius across", ("lat", "-44"), ("lon", "179.9"), ("radius", "150km")), "S_DWITHIN(geometry, POINT(179.9 -44), 150000, meters)",
            """{"op":"s_dwithin","args":[{"property":"geometry"},{"type":"Point","coordinates":[179.9,-44]},150,"kilometers"]}"""),
        (new("radius small at -180", ("lat", "-44.1"), ("lon", "-179.9"), ("radius", "25km")), "S_DWITHIN(geometry, POINT(-179.9 -44.1), 25, km)", null),
        (new("radius arctic", ("lat", "85.3"), ("lon", "23"), ("radius", "80km")), "S_DWITHIN(geometry, POINT(23 85.3), 80000, meters)", null),
        (new("radius pole", ("lat", "89.9"), ("lon", "-120"), ("radius", "40km")), "S_DWITHIN(geometry, POINT(-120 89.9), 40000, meters)", null),
        (new("radius centred on the pole", ("lat", "90"), ("lon", "0"), ("radius", "600km")), "S_DWITHIN(geometry, POINT(0 90), 600000, meters)", null),
        (new("radius 1000 km at 180", ("lat", "-44"), ("lon", "180"), ("radius", "1000km")), "S_DWITHIN(geometry, POINT(180 -44), 1000, km)", null),
        (new("radius 10 km at 180", ("lat", "-44.1"), ("lon", "179.999"), ("radius", "10km")), "S_DWITHIN(geometry, POINT(179.999 -44.1), 10000, meters)", null),
        (new("radius south pole", ("lat", "-89.5"), ("lon", "60"), ("radius", "100km")), "S_DWITHIN(geometry, POINT(60 -89.5), 100000, meters)", null),
    ];

    public static IEnumerable<object[]> PairNames => Pairs.Select(p => new object[] { p.Plain.Name });

    private async Task<HashSet<long>> IdsAsync(Endpoints endpoints, Filter filter)
    {
        var (matched, features) = await endpoints.ItemsAsync(filter, limit: 1000);
        Assert.Equal(matched, features.Count);
        return features.Select(f => f["id"]!.GetValue<long>()).ToHashSet();
    }

    [Theory]
    [MemberData(nameof(PairNames))]
    public async Task A_parameter_and_its_cql2_filter_select_the_same_incidents(string name)
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        var (plain, text, json) = Pairs.Single(p => p.Plain.Name == name);

        var expected = await IdsAsync(endpoints, plain);
        Assert.NotEmpty(expected);
        var viaText = await IdsAsync(endpoints, new Filter(name + " (cql2-text)", ("filter", text)));
        Assert.True(expected.SetEquals(viaText),
            $"{plain.Query} vs filter={text}: only the parameter [{string.Join(",", expected.Except(viaText).Order())}], only the filter [{string.Join(",", viaText.Except(expected).Order())}]");
        if (json is null) return;

        var viaJson = await IdsAsync(endpoints, new Filter(name + " (cql2-json)", ("filter", json), ("filter-lang", "cql2-json")));
        Assert.True(expected.SetEquals(viaJson), $"{plain.Query} vs cql2-json {json}");
        // The search takes the JSON filter as an object.
        var body = new JsonObject { ["tags"] = data.Tag, ["limit"] = 1000, ["filter"] = JsonNode.Parse(json) };
        var response = await _client.PostAsync("/collections/incidents/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, page.ToJsonString());
        Assert.True(expected.SetEquals(page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>())), $"search with {json}");
    }

    [Fact]
    public async Task A_search_multipolygon_on_both_sides_of_the_antimeridian_selects_what_the_bbox_across_does()
    {
        var data = await ConsistencyData.GetAsync(api);
        var expected = await IdsAsync(new Endpoints(_client, data), new Filter("bbox", ("bbox", "178,-46,-178,-42")));
        var shape = JsonNode.Parse("""
            {"type":"MultiPolygon","coordinates":[[[[178,-46],[180,-46],[180,-42],[178,-42],[178,-46]]],[[[-180,-46],[-178,-46],[-178,-42],[-180,-42],[-180,-46]]]]}
            """);
        var body = new JsonObject { ["tags"] = data.Tag, ["limit"] = 1000, ["intersects"] = shape };
        var response = await _client.PostAsync("/collections/incidents/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, page.ToJsonString());
        Assert.True(expected.SetEquals(page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>())));
        Assert.Equal(expected.Count, page["numberMatched"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("15,84,30,90")]
    [InlineData("-22,-32,-18,-28")]
    [InlineData("178,-46,180,-42")]
    public async Task A_search_polygon_selects_what_the_same_bbox_does(string bbox)
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        var n = bbox.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var expected = await IdsAsync(endpoints, new Filter("bbox", ("bbox", bbox)));
        var polygon = new JsonObject
        {
            ["type"] = "Polygon",
            ["coordinates"] = new JsonArray(new JsonArray(new JsonArray(n[0], n[1]), new JsonArray(n[2], n[1]), new JsonArray(n[2], n[3]), new JsonArray(n[0], n[3]), new JsonArray(n[0], n[1]))),
        };
        var body = new JsonObject { ["tags"] = data.Tag, ["limit"] = 1000, ["intersects"] = polygon };
        var response = await _client.PostAsync("/collections/incidents/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var page = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, page.ToJsonString());
        var found = page["features"]!.AsArray().Select(f => f!["id"]!.GetValue<long>()).ToHashSet();
        Assert.True(expected.SetEquals(found), $"bbox {bbox} vs intersects: only bbox [{string.Join(",", expected.Except(found))}], only intersects [{string.Join(",", found.Except(expected))}]");
    }

    /// <summary>
    /// Stats in a time zone (README): a date or month in datetime is that local day or month; an exact
    /// incident lies in the window by its instant, one known to the day, week or month by its dates,
    /// read on the zone's calendar. So the count is the exact incidents of the local window (as instants)
    /// plus the dated incidents of the window's wall-clock times read as UTC.
    /// </summary>
    [Theory]
    [InlineData("2025-03", "America/New_York")]
    [InlineData("2025-03-10", "Pacific/Auckland")]
    [InlineData("2025-03-01", "America/New_York")]
    [InlineData("2025-02-24/2025-03-02", "Pacific/Auckland")]
    [InlineData("2025-03-01T00:00:00Z/..", "Pacific/Auckland")]
    [InlineData("../2025-02-28T23:59:59Z", "America/New_York")]
    [InlineData("2025-02-01T00:00:00Z/2025-03-15T12:00:00Z", "Asia/Kolkata")]
    [InlineData("2025-03-01T00:00:00Z", "Pacific/Auckland")]
    [InlineData("2025-03-01T00:00:00+13:00/..", "Pacific/Auckland")]
    [InlineData("2025-03-09", "America/Havana")]
    [InlineData("2025-03", "America/Havana")]
    [InlineData("2025-02-28T23:59:59.999999Z/2025-03-31T23:30:00Z", "Asia/Kathmandu")]
    public async Task Stats_in_a_time_zone_count_what_readme_says(string datetime, string tz)
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(tz);

        // The window: dates and months are local; instants are what they say.
        DateTimeOffset? Bound(string text, bool start)
        {
            if (text is ".." or "") return null;
            if (text.Contains('T')) return DateTimeOffset.Parse(text, CultureInfo.InvariantCulture).AddTicks(start ? 0 : 10);
            var day = DateTime.ParseExact(text, text.Length == 7 ? "yyyy-MM" : "yyyy-MM-dd", CultureInfo.InvariantCulture);
            if (!start) day = text.Length == 7 ? day.AddMonths(1) : day.AddDays(1);
            // Where clocks skip midnight the day starts at the end of the gap (README).
            while (zone.IsInvalidTime(day)) day = day.AddMinutes(1);
            return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(day, zone), TimeSpan.Zero);
        }
        var ends = datetime.Split('/');
        var (from, until) = (Bound(ends[0], true), Bound(ends[^1], false));
        static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        static string Window(DateTimeOffset? a, DateTimeOffset? b) => $"{(a is { } x ? Instant(x) : "..")}/{(b is { } y ? Instant(y.AddTicks(-10)) : "..")}";
        DateTimeOffset? Wall(DateTimeOffset? t) => t is { } v ? new DateTimeOffset(TimeZoneInfo.ConvertTime(v, zone).DateTime, TimeSpan.Zero) : null;

        var (_, exact) = await endpoints.ItemsAsync(new Filter("exact", ("datetime", Window(from, until)), ("time_precision", "exact")), limit: 1000);
        var (_, dated) = await endpoints.ItemsAsync(new Filter("dated", ("datetime", Window(Wall(from), Wall(until))), ("time_precision", "day,week,month")), limit: 1000);
        var expected = exact.Concat(dated).ToList();
        var sums = (Count: (long)expected.Count,
            Min: expected.Sum(f => (long?)f["properties"]!["fatalities_min"]?.GetValue<long>() ?? 0),
            Max: expected.Sum(f => (long?)f["properties"]!["fatalities_max"]?.GetValue<long>() ?? 0));

        foreach (var interval in new[] { "day", "week", "month" })
            Assert.Equal(sums, await endpoints.StatsAsync(new Filter("stats", ("datetime", datetime)), interval, tz));
    }

    /// <summary>
    /// Hexagon bins refuse a bbox across the antimeridian (README: ask for each side). Each side counts
    /// every incident meeting it, a shape reaching across in both: the two sides add up to the bbox's
    /// incidents plus those meeting both sides.
    /// </summary>
    [Fact]
    public async Task Hexbins_of_the_two_sides_of_the_antimeridian_add_up_to_the_items()
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        var across = await IdsAsync(endpoints, new Filter("across", ("bbox", "178,-46,-178,-42")));
        var west = await IdsAsync(endpoints, new Filter("west", ("bbox", "178,-46,180,-42")));
        var east = await IdsAsync(endpoints, new Filter("east", ("bbox", "-180,-46,-178,-42")));
        Assert.True(across.SetEquals(west.Union(east)));

        var refused = await _client.GetAsync($"/collections/incidents/hexbins?tags={data.Tag}&bbox=178,-46,-178,-42&size=20km");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var sides = (await endpoints.HexbinsAsync(new Filter("west", ("bbox", "178,-46,180,-42")), "20km")).Count
                    + (await endpoints.HexbinsAsync(new Filter("east", ("bbox", "-180,-46,-178,-42")), "20km")).Count;
        Assert.Equal(across.Count + west.Intersect(east).Count(), sides);
    }
}

/// <summary>
/// S_DWITHIN against lines and polygons decides most points with planar shortcuts (NearShape) and finds
/// candidates through boxes (incident_dwithin_box, incident_dwithin_boxes): the answer must be the
/// geodesic test's, row for row, also across the antimeridian and near the poles.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DWithinOracleTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("LINESTRING(179.2 -44.5, 179.99 -44.0)", 30000)]
    [InlineData("MULTILINESTRING((179.5 -44, 180 -44.3), (-180 -44.3, -179.5 -44.6))", 20000)]
    [InlineData("POLYGON((179 -45, 179.9 -45, 179.9 -43.5, 179 -43.5, 179 -45))", 15000)]
    [InlineData("MULTIPOLYGON(((179.5 -45, 180 -45, 180 -43, 179.5 -43, 179.5 -45)), ((-180 -45, -179.4 -45, -179.4 -43, -180 -43, -180 -45)))", 10000)]
    [InlineData("LINESTRING(20 85, 26 85)", 40000)]
    [InlineData("POLYGON((20 84.5, 26 84.5, 26 85.5, 20 85.5, 20 84.5))", 5000)]
    [InlineData("LINESTRING(0 88.5, 90 88.5)", 150000)]
    [InlineData("POINT(179.99 -44.1)", 20000)]
    [InlineData("POLYGON((-21 -31, -19.5 -31, -19.5 -29.5, -21 -29.5, -21 -31))", 500)]
    [InlineData("POLYGON((-21 -31, -19.5 -31, -19.5 -29.5, -21 -29.5, -21 -31))", 0)]
    public async Task S_dwithin_answers_what_the_geodesic_test_does(string wkt, double metres)
    {
        var data = await ConsistencyData.GetAsync(api);
        var expected = new HashSet<long>();
        await using (var command = api.Database.CreateCommand(
            "SELECT id FROM incidents WHERE deleted_at IS NULL AND tags && ARRAY[$1] AND ST_DWithin(geog, ST_GeomFromText($2, 4326)::geography, $3)"))
        {
            command.Parameters.AddWithValue(data.Tag);
            command.Parameters.AddWithValue(wkt);
            command.Parameters.AddWithValue(metres);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) expected.Add(reader.GetInt64(0));
        }

        var endpoints = new Endpoints(_client, data);
        var filter = new Filter("dwithin", ("filter", $"S_DWITHIN(geometry, {wkt}, {metres.ToString(System.Globalization.CultureInfo.InvariantCulture)}, meters)"));
        var (matched, features) = await endpoints.ItemsAsync(filter, limit: 1000);
        var found = features.Select(f => f["id"]!.GetValue<long>()).ToHashSet();
        Assert.True(expected.SetEquals(found) && matched == expected.Count,
            $"{wkt} within {metres} m: numberMatched {matched}, geodesic {expected.Count}; only geodesic [{string.Join(",", expected.Except(found))}], only the filter [{string.Join(",", found.Except(expected))}]");
    }
}

/// <summary>
/// The change feed's last change of each incident shows the incident as the items show it now: the
/// same version, changed_at its updated_at (README, since migration 0031), the same feature; a
/// summary's first and last are the items' earliest and latest occurred_at.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class CurrentStateTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task The_feeds_last_change_of_each_incident_is_the_incident_as_the_items_show_it()
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        await endpoints.WaitForFeedAsync();
        var (_, items) = await endpoints.ItemsAsync(new Filter("all"), limit: 1000);

        var last = new Dictionary<long, JsonNode>();
        var cursor = data.FeedStart;
        while (true)
        {
            var page = await _client.GetJsonAsync($"/collections/incidents/changes?tags={data.Tag}&cursor={Uri.EscapeDataString(cursor)}&limit=1000");
            foreach (var change in page["changes"]!.AsArray()) last[change!["id"]!.GetValue<long>()] = change;
            cursor = page["next_cursor"]!.GetValue<string>();
            if (page["changes"]!.AsArray().Count < 1000) break;
        }

        var problems = new List<string>();
        foreach (var item in items)
        {
            var id = item["id"]!.GetValue<long>();
            var change = last[id];
            var properties = item["properties"]!;
            if (change["version"]!.GetValue<int>() != properties["version"]!.GetValue<int>())
                problems.Add($"{id}: feed version {change["version"]}, item version {properties["version"]}");
            if (DateTimeOffset.Parse(change["changed_at"]!.GetValue<string>()) != DateTimeOffset.Parse(properties["updated_at"]!.GetValue<string>()))
                problems.Add($"{id}: feed changed_at {change["changed_at"]}, item updated_at {properties["updated_at"]}");
            if (!JsonNode.DeepEquals(change["feature"], item))
                problems.Add($"{id}: feed feature {change["feature"]!.ToJsonString()}\n   item {item.ToJsonString()}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(10)));
    }

    [Fact]
    public async Task A_summary_names_the_first_and_last_occurred_at_of_the_items()
    {
        var data = await ConsistencyData.GetAsync(api);
        foreach (var filter in ReadPathConsistencyTests.Filters)
        {
            var (_, items) = await new Endpoints(_client, data).ItemsAsync(filter, limit: 1000);
            var summary = await _client.GetJsonAsync($"/collections/incidents/stats/summary?tags={data.Tag}&{filter.Query}");
            var times = items.Select(f => DateTimeOffset.Parse(f["properties"]!["occurred_at"]!.GetValue<string>())).ToList();
            DateTimeOffset? Time(string name) => summary[name] is { } t ? DateTimeOffset.Parse(t.GetValue<string>()) : null;
            Assert.True(times.Count == 0 ? Time("first") is null : Time("first") == times.Min() && Time("last") == times.Max(),
                $"{filter.Name}: summary {summary["first"]}..{summary["last"]}, items {(times.Count > 0 ? times.Min() : null)}..{(times.Count > 0 ? times.Max() : null)}");
        }
    }
}

/// <summary>
/// README: "an export imports back unchanged". Exported (CSV, NDJSON) and imported again under another
/// tag, the incidents answer every filter as the originals do.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ExportRoundTripTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("csv", "text/csv")]
    [InlineData("ndjson", "application/x-ndjson")]
    public async Task An_export_imported_again_answers_every_filter_as_the_originals(string format, string contentType)
    {
        var data = await ConsistencyData.GetAsync(api);
        var copy = "copy" + format + "-" + Guid.NewGuid().ToString("N")[..8];
        var export = await _client.GetStringAsync($"/collections/incidents/items?tags={data.Tag}&f={format}");
        var response = await _client.PostAsync($"/collections/incidents/imports?source={copy}",
            new StringContent(export.Replace(data.Tag, copy), Encoding.UTF8, contentType));
        var report = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, report);
        Assert.Equal(data.Live.Count, JsonNode.Parse(report)!["inserted"]!.GetValue<int>());

        var original = new Endpoints(_client, data);
        var copied = new Endpoints(_client, new ConsistencyData { Tag = copy, FeedStart = data.FeedStart, Writes = 0, Live = data.Live });
        var problems = new List<string>();
        foreach (var filter in ReadPathConsistencyTests.Filters)
        {
            var (_, a) = await original.ItemsAsync(filter, limit: 1000);
            var (_, b) = await copied.ItemsAsync(filter, limit: 1000);
            var (keysA, keysB) = (Keys(a, data.Tag), Keys(b, copy));
            if (!keysA.SetEquals(keysB))
                problems.Add($"{filter.Name}: only the originals [{string.Join(",", keysA.Except(keysB))}], only the copies [{string.Join(",", keysB.Except(keysA))}]");
            if (await original.StatsAsync(filter) != await copied.StatsAsync(filter)) problems.Add($"{filter.Name}: stats differ");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static HashSet<string> Keys(List<JsonObject> features, string tag) =>
        features.Select(f => f["properties"]!["external_id"]!.GetValue<string>()[(tag.Length + 1)..]).ToHashSet();
}

/// <summary>
/// Each stats bucket holds the incidents README puts there: an exact one by its local time in tz, one
/// known to the day, week or month by its date; buckets are local days, ISO weeks (from Monday) or months.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class StatsBucketTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("UTC")]
    [InlineData("America/New_York")]
    [InlineData("Pacific/Auckland")]
    [InlineData("Asia/Kathmandu")]
    [InlineData("Pacific/Kiritimati")]
    [InlineData("America/Havana")]
    public async Task Every_bucket_counts_the_incidents_of_its_local_period(string tz)
    {
        var data = await ConsistencyData.GetAsync(api);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(tz);
        var (_, items) = await new Endpoints(_client, data).ItemsAsync(new Filter("all"), limit: 1000);
        var problems = new List<string>();
        foreach (var interval in new[] { "day", "week", "month" })
        {
            DateTime Period(DateTime wall) => interval switch
            {
                "day" => wall.Date,
                "week" => wall.Date.AddDays(-(((int)wall.DayOfWeek + 6) % 7)),
                _ => new DateTime(wall.Year, wall.Month, 1),
            };
            var expected = items.GroupBy(f =>
            {
                var at = DateTimeOffset.Parse(f["properties"]!["occurred_at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
                var exact = f["properties"]!["time_precision"]!.GetValue<string>() == "exact";
                return Period(exact ? TimeZoneInfo.ConvertTime(at, zone).DateTime : at.UtcDateTime);
            }).ToDictionary(g => g.Key, g => (long)g.Count());

            var stats = await _client.GetJsonAsync($"/collections/incidents/stats?tags={data.Tag}&interval={interval}&tz={tz}");
            var actual = stats["buckets"]!.AsArray().Where(b => b!["count"]!.GetValue<long>() > 0).ToDictionary(
                b => Period(TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(b!["start"]!.GetValue<string>(), CultureInfo.InvariantCulture), zone).DateTime),
                b => b!["count"]!.GetValue<long>());
            foreach (var key in expected.Keys.Union(actual.Keys).Order())
            {
                var (e, a) = (expected.GetValueOrDefault(key), actual.GetValueOrDefault(key));
                if (e != a) problems.Add($"{interval} {key:yyyy-MM-dd}: items {e}, stats {a}");
            }
            // Each bucket starts at its period's first local instant.
            foreach (var bucket in stats["buckets"]!.AsArray())
            {
                var start = DateTimeOffset.Parse(bucket!["start"]!.GetValue<string>(), CultureInfo.InvariantCulture);
                var wall = TimeZoneInfo.ConvertTime(start, zone).DateTime;
                if (Period(wall) != wall.Date || Period(TimeZoneInfo.ConvertTime(start.AddTicks(-10), zone).DateTime) == Period(wall))
                    problems.Add($"{interval} bucket {start:O} is not the start of a local {interval} ({wall:O})");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
    }
}

/// <summary>
/// Hexagon bins are one grid, numbered from the origin, whatever the bbox: a hexagon wholly inside two
/// bboxes counts the same in both answers.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class HexbinGridTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("-22,-32,-18,-28")]
    [InlineData("178,-46,180,-42")]
    [InlineData("-180,-46,-178,-42")]
    [InlineData("15,84,30,90")]
    public async Task A_hexagon_inside_two_bboxes_counts_the_same_in_both(string bbox)
    {
        var data = await ConsistencyData.GetAsync(api);
        var b = bbox.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        async Task<Dictionary<string, (long Count, JsonNode Geometry)>> Bins(string box) =>
            (await _client.GetJsonAsync($"/collections/incidents/hexbins?tags={data.Tag}&bbox={box}&size=30km"))["features"]!.AsArray()
            .ToDictionary(f => f!["id"]!.GetValue<string>(), f => (f!["properties"]!["count"]!.GetValue<long>(), f["geometry"]!));
        var small = await Bins(bbox);
        var around = string.Join(",", new[] { Math.Max(b[0] - 4, -180), Math.Max(b[1] - 4, -90), Math.Min(b[2] + 4, 180), Math.Min(b[3] + 4, 90) }
            .Select(v => v.ToString(CultureInfo.InvariantCulture)));
        var large = await Bins(around);
        Assert.NotEmpty(small);
        foreach (var (id, (count, geometry)) in small)
        {
            var inside = ConsistencyData.Positions(geometry).All(p => p.Lon > b[0] && p.Lon < b[2] && p.Lat > b[1] && p.Lat < Math.Min(b[3], 85.05));
            if (!inside) continue;
            Assert.True(large.TryGetValue(id, out var other) && other.Count == count, $"hexagon {id}: {count} in bbox {bbox}, {(large.TryGetValue(id, out var o) ? o.Count : 0)} in bbox {around}");
        }
    }
}

/// <summary>near= is the place's lat and lon on every read path (README), here an editor's place by the antimeridian.</summary>
[Collection(ApiCollection.Name)]
public sealed class NearPlaceTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Near_a_place_answers_as_its_lat_and_lon_on_every_read_path()
    {
        var data = await ConsistencyData.GetAsync(api);
        var name = "Zqx Reef " + data.Tag[^6..];
        // No country: it would be given to incidents written near it later (the round trip's copies).
        var place = new JsonObject
        {
            ["type"] = "Feature", ["geometry"] = Features.Point(179.95, -44.2),
            ["properties"] = new JsonObject { ["name"] = name, ["kind"] = "site" },
        };
        var created = await _client.PostAsync("/collections/places/items", Features.Content(place));
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, text);
        // Removed again: places tests assert the collection's extent, which a place at 179.95° would widen.
        var placeId = JsonNode.Parse(text)!["id"]!.GetValue<long>();
        try { await CompareAsync(data, name); }
        finally { Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteAsync($"/collections/places/items/{placeId}")).StatusCode); }
    }

    private async Task CompareAsync(ConsistencyData data, string name)
    {
        var endpoints = new Endpoints(_client, data);
        foreach (var radius in new[] { "40km", "15km" })
        {
            var byPoint = new Filter("point", ("lat", "-44.2"), ("lon", "179.95"), ("radius", radius));
            var byName = new Filter("near", ("near", name), ("radius", radius));
            var (matched, features) = await endpoints.ItemsAsync(byPoint);
            Assert.NotEqual(0, matched);
            var ids = features.Select(f => f["id"]!.GetValue<long>()).ToHashSet();
            var (nearMatched, near) = await endpoints.ItemsAsync(byName);
            Assert.Equal(matched, nearMatched);
            Assert.True(ids.SetEquals(near.Select(f => f["id"]!.GetValue<long>())));
            var (searchMatched, searched) = await endpoints.SearchAsync(byName);
            Assert.Equal(matched, searchMatched);
            Assert.True(ids.SetEquals(searched.Select(f => f["id"]!.GetValue<long>())));
            Assert.Equal(await endpoints.StatsAsync(byPoint), await endpoints.StatsAsync(byName));
            Assert.Equal(await endpoints.ClustersAsync(byPoint, 6), await endpoints.ClustersAsync(byName, 6));
            Assert.True(ids.SetEquals(await endpoints.CsvIdsAsync(byName)));
            await endpoints.WaitForFeedAsync();
            Assert.True(ids.SetEquals(await endpoints.FeedLiveAsync(byName)));
        }
    }
}

/// <summary>
/// A dashboard revalidating every panel after a write sees the write on every one: no read path keeps
/// answering 304 (or a cached answer) for the data before it once the data version has moved on.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RevalidationConsistencyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task After_a_write_every_read_path_answers_the_new_numbers_to_a_revalidation()
    {
        var tag = "consist-etag-" + Guid.NewGuid().ToString("N")[..8];
        JsonObject Incident(double lon)
        {
            var feature = Features.Valid(geometry: Features.Point(lon, -37.5), occurredAt: "2025-04-02T10:00:00Z");
            feature["properties"]!["tags"] = new JsonArray(tag);
            feature["properties"]!["fatalities_min"] = 2;
            return feature;
        }
        await _client.CreateAsync(Incident(-15.2));
        const int z = 10;
        var (x, y) = ((int)Math.Floor((-15.2 + 180) / 360 * (1 << z)), (int)Math.Floor((1 - Math.Log(Math.Tan(-37.5 * Math.PI / 180) + 1 / Math.Cos(-37.5 * Math.PI / 180)) / Math.PI) / 2 * (1 << z)));
        var q = $"tags={tag}";
        string[] urls =
        [
            $"/collections/incidents/items?{q}", $"/collections/incidents/items?{q}&f=csv", $"/collections/incidents/stats?{q}&interval=month",
            $"/collections/incidents/stats?{q}&interval=month&datetime=2025-04", $"/collections/incidents/stats/summary?{q}", $"/collections/incidents/clusters?{q}&zoom=3",
            $"/collections/incidents/hexbins?{q}&bbox=-16,-38,-15,-37&size=20km", $"/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}?{q}",
        ];
        await _client.SettledETagAsync(urls[0]);
        var before = new Dictionary<string, (System.Net.Http.Headers.EntityTagHeaderValue? ETag, byte[] Body)>();
        foreach (var url in urls)
        {
            var response = await _client.GetAsync(url);
            Assert.True(response.IsSuccessStatusCode, url);
            before[url] = (response.Headers.ETag, await response.Content.ReadAsByteArrayAsync());
        }

        await _client.CreateAsync(Incident(-15.21));
        var etag = before[urls[0]].ETag!;
        for (var n = 0; n < 100 && (await _client.GetAsync(urls[0])).Headers.ETag!.Equals(etag); n++) await Task.Delay(100);

        foreach (var url in urls)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (before[url].ETag is { } old) request.Headers.IfNoneMatch.Add(old);
            var response = await _client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} after the write");
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.False(before[url].Body.SequenceEqual(body), $"{url}: the same answer after the write");
        }
    }
}

/// <summary>
/// A search member takes what its GET parameter takes: an array is a comma list or a repeated
/// parameter, so one that a GET may not repeat takes one value. {"q": ["convoy", "market"]} was
/// joined into q=convoy,market and searched for both words, while q=convoy&amp;q=market is a 400.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SearchArrayTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<(HttpStatusCode Status, JsonNode Body)> SearchAsync(JsonObject body)
    {
        var response = await _client.PostAsync("/collections/incidents/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Theory]
    [InlineData("q", "convoy", "market")]
    [InlineData("datetime", "2025-03-01", "2025-03-02")]
    [InlineData("lat", "-44", "-45")]
    [InlineData("filter", "event_type='battles'", "event_type='riots'")]
    public async Task An_array_of_several_values_is_refused_where_a_get_refuses_the_parameter_repeated(string name, string first, string second)
    {
        var data = await ConsistencyData.GetAsync(api);
        var get = await _client.GetAsync($"/collections/incidents/items?tags={data.Tag}&{name}={Uri.EscapeDataString(first)}&{name}={Uri.EscapeDataString(second)}");
        Assert.Equal(HttpStatusCode.BadRequest, get.StatusCode);

        var (status, body) = await SearchAsync(new JsonObject { ["tags"] = data.Tag, [name] = new JsonArray(first, second) });
        Assert.True(status == HttpStatusCode.BadRequest, body.ToJsonString());
        Assert.Contains(body["errors"]!.AsArray(), e => e!["field"]!.GetValue<string>() == name);
    }

    [Fact]
    public async Task Arrays_still_carry_lists_repeated_values_a_bbox_and_a_single_value()
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        foreach (var (member, value, query) in new (string, JsonNode, Filter)[]
                 {
                     ("q", new JsonArray("convoy"), new Filter("q", ("q", "convoy"))),
                     ("event_type", new JsonArray("battles", "riots"), new Filter("types", ("event_type", "battles,riots"))),
                     ("country", new JsonArray("NZ", "FJ"), new Filter("countries", ("country", "NZ"), ("country", "FJ"))),
                     ("bbox", new JsonArray(178, -46, -178, -42), new Filter("bbox", ("bbox", "178,-46,-178,-42"))),
                 })
        {
            var (matched, _) = await endpoints.ItemsAsync(query);
            var (status, body) = await SearchAsync(new JsonObject { ["tags"] = new JsonArray(data.Tag), [member] = value });
            Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
            Assert.Equal(matched, body["numberMatched"]!.GetValue<long>());
        }
    }
}
