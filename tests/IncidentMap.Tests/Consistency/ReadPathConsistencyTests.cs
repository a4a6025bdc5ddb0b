using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Consistency;

/// <summary>
/// For the same filters, every read path must tell the same story: the items' numberMatched and the
/// features reached through next links, CSV and NDJSON exports, the search, stats and the summary
/// (with and without a time zone), clusters (GeoJSON and tiles), hexagon bins, incidents in vector
/// tiles and the change feed folded into current state. Incidents beyond the Web Mercator map
/// (README: beyond ±85.0511°) are on no tile and in no cluster or bin: those paths count the others.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ReadPathConsistencyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private const string AcrossAntimeridian = "178,-46,-178,-42";

    public static readonly Filter[] Filters =
    [
        new("all"),
        new("bbox across the antimeridian", ("bbox", AcrossAntimeridian)),
        new("bbox west of the antimeridian", ("bbox", "178,-46,180,-42")),
        new("bbox east of the antimeridian", ("bbox", "-180,-46,-178,-42")),
        new("bbox up to the pole", ("bbox", "15,84,30,90")),
        new("bbox below the map's edge", ("bbox", "15,84,30,85.0511287798")),
        new("bbox of the whole world", ("bbox", "-180,-90,180,90")),
        new("bbox south atlantic", ("bbox", "-22,-32,-18,-28")),
        new("bbox cutting shapes", ("bbox", "-20.4,-30.4,-19.6,-29.5")),
        new("bbox cutting shapes at the antimeridian", ("bbox", "179.3,-45,180,-43.1")),
        new("bbox cutting the edge polygon", ("bbox", "21.2,85.0,30,90")),
        new("bbox at -180 only", ("bbox", "-180,-46,-179.99,-42")),
        new("bbox of no width at -180", ("bbox", "-180,-46,-180,-42")),
        new("bbox of no width at 180", ("bbox", "180,-46,180,-42")),
        new("bbox of no size on a point", ("bbox", "-180,-44.3,-180,-44.3")),
        new("bbox of no height", ("bbox", "179,-44.4,-179,-44.4")),
        new("radius by the cells across the antimeridian", ("lat", "-44.2"), ("lon", "179.99"), ("radius", "40km")),
        new("radius at the south pole", ("lat", "-89.5"), ("lon", "60"), ("radius", "100km")),
        new("radius centred on the pole", ("lat", "90"), ("lon", "0"), ("radius", "600km")),
        new("radius of 1000 km across the antimeridian", ("lat", "-44"), ("lon", "180"), ("radius", "1000km")),
        new("radius of 1000 km near the pole", ("lat", "84"), ("lon", "23"), ("radius", "1000km")),
        new("radius of 10 km by the cells at 180", ("lat", "-44.1"), ("lon", "179.999"), ("radius", "10km")),
        new("radius of 10 km by the cells at -180", ("lat", "-44.3"), ("lon", "-179.95"), ("radius", "10km")),
        new("relative window", ("datetime", "P2000D/now")),
        new("month precision only", ("time_precision", "month")),
        new("fatalities_max list", ("fatalities_max", "99,5,7,12")),
        new("radius with q", ("lat", "-44"), ("lon", "-179.9"), ("radius", "90km"), ("q", "convoy OR market")),
        new("radius with bbox", ("lat", "-44.2"), ("lon", "179.99"), ("radius", "120km"), ("bbox", "-180,-46,-178,-42")),
        new("datetime with an offset", ("datetime", "2025-03-01T09:00:00+09:00/2025-03-31T23:30:00Z")),
        new("closed datetime", ("datetime", "2025-02-01T00:00:00Z/2025-03-15T12:00:00Z")),
        new("open start", ("datetime", "../2025-03-01T00:00:00Z")),
        new("open end", ("datetime", "2025-03-01T00:00:00Z/..")),
        new("instant", ("datetime", "2025-03-01T00:00:00Z")),
        new("date", ("datetime", "2025-03-10")),
        new("month", ("datetime", "2025-03")),
        new("dates as ends", ("datetime", "2025-02-24/2025-03-02")),
        new("q", ("q", "convoy")),
        new("q phrase or", ("q", "shelling OR checkpoint -market")),
        new("event types", ("event_type", "battles,riots")),
        new("event type repeated", ("event_type", "protests"), ("event_type", "strategic_developments")),
        new("country", ("country", "NZ")),
        new("countries", ("country", "NO,FJ")),
        new("fatalities range", ("fatalities", "5..20")),
        new("radius across the antimeridian", ("lat", "-44"), ("lon", "179.9"), ("radius", "150km")),
        new("small radius at the antimeridian", ("lat", "-44.1"), ("lon", "-179.9"), ("radius", "25km")),
        new("radius east of the antimeridian", ("lat", "-44.5"), ("lon", "-179.5"), ("radius", "60km")),
        new("radius in the arctic", ("lat", "85.3"), ("lon", "23"), ("radius", "80km")),
        new("radius at the north pole", ("lat", "89.9"), ("lon", "-120"), ("radius", "40km")),
        new("radius south atlantic", ("lat", "-30"), ("lon", "-20"), ("radius", "50km")),
        new("cql2 comparison", ("filter", "fatalities_max >= 10 AND event_type IN ('battles','riots','protests')")),
        new("cql2 dwithin at the antimeridian", ("filter", "S_DWITHIN(geometry, POINT(179.95 -44.2), 70000, meters)")),
        new("combo bbox datetime type", ("bbox", AcrossAntimeridian), ("datetime", "2025-02-01/2025-04-30"), ("event_type", "battles,riots,protests")),
        new("combo radius datetime", ("lat", "-44"), ("lon", "179.9"), ("radius", "150km"), ("datetime", "2025-03-01T00:00:00Z/..")),
        new("combo q bbox", ("q", "harbour"), ("bbox", "-180,-90,180,90")),
        new("combo pole bbox month country", ("bbox", "15,84,30,90"), ("datetime", "2025-03"), ("country", "NO,NZ")),
    ];

    public static IEnumerable<object[]> FilterNames => Filters.Select(f => new object[] { f.Name });

    private static Filter Named(string name) => Filters.Single(f => f.Name == name);

    private static (long MinSum, long MaxSum) Sums(IEnumerable<JsonObject> features) =>
        (features.Sum(f => (long?)f["properties"]!["fatalities_min"]?.GetValue<long>() ?? 0),
         features.Sum(f => (long?)f["properties"]!["fatalities_max"]?.GetValue<long>() ?? 0));

    private static long Id(JsonObject feature) => feature["id"]!.GetValue<long>();

    [Theory]
    [MemberData(nameof(FilterNames))]
    public async Task Every_read_path_agrees_with_the_items(string name)
    {
        var data = await ConsistencyData.GetAsync(api);
        var endpoints = new Endpoints(_client, data);
        var filter = Named(name);
        var problems = new List<string>();
        void Same<T>(string what, T expected, T actual)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual)) problems.Add($"{what}: expected {expected}, got {actual}");
        }
        void SameSet(string what, IEnumerable<long> expected, IEnumerable<long> actual)
        {
            var (e, a) = (expected.ToHashSet(), actual.ToList());
            if (a.Count != a.Distinct().Count()) problems.Add($"{what}: repeats {string.Join(",", a.GroupBy(x => x).Where(g => g.Count() > 1).Select(g => g.Key))}");
            var (missing, extra) = (e.Except(a).Order().ToList(), a.Except(e).Distinct().Order().ToList());
            if (missing.Count + extra.Count > 0) problems.Add($"{what}: missing [{string.Join(",", missing)}], extra [{string.Join(",", extra)}]");
        }

        var (matched, features) = await endpoints.ItemsAsync(filter);
        var ids = features.Select(Id).ToList();
        Same("items: numberMatched vs features through next links", matched, (long)ids.Count);
        SameSet("items: pages", ids, ids);
        Assert.True(ids.All(data.Live.ContainsKey), $"items answer incidents that are not live: {string.Join(",", ids.Where(i => !data.Live.ContainsKey(i)))}");
        var (minSum, maxSum) = Sums(features);

        var (_, whole) = await endpoints.ItemsAsync(filter, limit: 1000);
        SameSet("items in one page", ids, whole.Select(Id));
        foreach (var (sortby, limit) in new[] { ("occurred_at", 6), ("title", 4), ("-fatalities", 5) })
        {
            var (_, sorted) = await endpoints.ItemsAsync(filter, limit, sortby);
            SameSet($"items sorted by {sortby}, {limit} a page", ids, sorted.Select(Id));
        }
        if (matched > 7)
        {
            // count=true on a later page counts the same.
            var first = await _client.GetJsonAsync($"/collections/incidents/items?tags={data.Tag}&{filter.Query}&limit=7");
            var next = first["links"]!.AsArray().First(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>();
            Same("numberMatched of page 2 with count=true", matched, (await _client.GetJsonAsync(next + "&count=true"))["numberMatched"]!.GetValue<long>());
        }
        if (filter.Has("radius"))
        {
            var (_, nearest) = await endpoints.ItemsAsync(filter, limit: 5, sortby: "distance");
            SameSet("items by distance", ids, nearest.Select(Id));
        }

        SameSet("csv", ids, await endpoints.CsvIdsAsync(filter));
        // An export with a limit is the first page, in the same order.
        var (_, firstFive) = await endpoints.ItemsAsync(filter, limit: 5);
        var firstPage = firstFive.Take(5).Select(Id).ToList();
        Same("csv with limit=5", string.Join(",", firstPage), string.Join(",", await endpoints.CsvIdsAsync(filter, "&limit=5")));
        Same("ndjson with limit=5", string.Join(",", firstPage), string.Join(",", await endpoints.NdjsonIdsAsync(filter, "ndjson", "&limit=5")));
        var (_, large) = await endpoints.ItemsAsync(filter, limit: 5000);
        Same("items in a page over 1000", string.Join(",", whole.Select(Id)), string.Join(",", large.Select(Id)));
        SameSet("ndjson", ids, await endpoints.NdjsonIdsAsync(filter));
        SameSet("geojsonseq", ids, await endpoints.NdjsonIdsAsync(filter, "geojsonseq"));
        Same("stats as csv", (matched, minSum, maxSum), await endpoints.StatsCsvAsync(filter));

        var (searchMatched, searched) = await endpoints.SearchAsync(filter);
        Same("search numberMatched", matched, searchMatched);
        SameSet("search", ids, searched.Select(Id));

        Same("stats", (matched, minSum, maxSum), await endpoints.StatsAsync(filter));
        Same("stats by month", (matched, minSum, maxSum), await endpoints.StatsAsync(filter, "month"));
        Same("summary", (matched, minSum, maxSum), await endpoints.SummaryAsync(filter));
        if (!filter.Has("datetime"))
        {
            // Without a window a time zone only moves incidents between buckets.
            foreach (var tz in new[] { "Pacific/Auckland", "America/New_York" })
                Same($"stats tz={tz}", (matched, minSum, maxSum), await endpoints.StatsAsync(filter, "day", tz));
        }

        // Clusters, bins and tiles: the incidents on the map.
        // Judged on the geometry as written: pages round coordinates to 7 decimals (85.0511287798 to 85.0511288).
        var mapped = features.Where(f => !data.Polar.Contains(Id(f))).ToList();
        var (mappedMin, mappedMax) = Sums(mapped);
        var onMap = ((long)mapped.Count, mappedMin, mappedMax);
        foreach (var zoom in new[] { 2, 9 })
            Same($"clusters zoom {zoom}", onMap, await endpoints.ClustersAsync(filter, zoom));

        if (filter.Get("bbox") is not { } bbox)
            Same("hexbins over the world", onMap, await endpoints.HexbinsAsync(filter.With(("bbox", "-180,-90,180,90")), "300km"));
        // Hexagon bins refuse a bbox across the antimeridian (FilterEquivalenceTests adds up its two sides).
        else if (bbox.Split(',') is var b && double.Parse(b[0], System.Globalization.CultureInfo.InvariantCulture) <= double.Parse(b[2], System.Globalization.CultureInfo.InvariantCulture))
            Same("hexbins", onMap, await endpoints.HexbinsAsync(filter, bbox.StartsWith("-180,-90") ? "300km" : "20km"));

        // Vector tiles: incidents from zoom 8, clusters below.
        var tiles = await endpoints.TileFeaturesAsync(filter, 8);
        SameSet("tiles z8 (incidents, distinct)", mapped.Select(Id), tiles.Where(t => t.Feature.Layer == "incidents").Select(t => (long)t.Feature.Id!.Value).Distinct());
        foreach (var point in mapped.Where(f => f["geometry"]!["type"]!.GetValue<string>() == "Point").Select(Id))
        {
            // Within the extent of one tile, or on the edge of one or two (a point at longitude 180).
            var inside = tiles.Count(t => (long?)t.Feature.Id == point && t.Feature.First is { X: >= 0 and < 4096, Y: >= 0 and < 4096 });
            var onEdge = tiles.Count(t => (long?)t.Feature.Id == point && t.Feature.First is { X: >= 0 and <= 4096, Y: >= 0 and <= 4096 });
            if (inside > 1 || onEdge < 1) problems.Add($"tiles z8: point {point} lies inside {inside} tiles, on the edge of {onEdge}");
        }
        var clusterTiles = await endpoints.TileFeaturesAsync(filter, 5);
        // Cluster by cluster: a tile's cluster id is (cy × 2^(z+3) + cx) × 32 + z, the GeoJSON id "cx/cy".
        var geojsonClusters = await endpoints.ClusterCountsAsync(filter, 5);
        var tileClusters = clusterTiles.ToDictionary(
            t => $"{(long)((t.Feature.Id!.Value >> 5) % (1UL << 8))}/{(long)((t.Feature.Id!.Value >> 5) >> 8)}", t => (long)(double)t.Feature.Properties["count"]);
        Same("clusters z5 by cell, GeoJSON vs tiles", string.Join(" ", geojsonClusters.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}")),
            string.Join(" ", tileClusters.OrderBy(c => c.Key).Select(c => $"{c.Key}:{c.Value}")));
        Same("cluster tiles z5", onMap, (
            clusterTiles.Sum(t => (long)(double)t.Feature.Properties["count"]),
            clusterTiles.Sum(t => (long)(double)t.Feature.Properties["fatalities_min_sum"]),
            clusterTiles.Sum(t => (long)(double)t.Feature.Properties["fatalities_max_sum"])));

        await endpoints.WaitForFeedAsync();
        SameSet("change feed folded", ids, await endpoints.FeedLiveAsync(filter));
        using (var anonymous = api.CreateAnonymousClient())
            SameSet("change feed folded, without a key", ids, await new Endpoints(anonymous, data).FeedLiveAsync(filter));

        Assert.True(problems.Count == 0, $"{name} ({matched} matched):\n" + string.Join("\n", problems));
    }
}
