using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Consistency;

/// <summary>A filter as query parameters (each pair one parameter; a key may repeat).</summary>
public sealed record Filter(string Name, params (string Key, string Value)[] Parameters)
{
    public string Query => string.Join("&", Parameters.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));

    public bool Has(string key) => Parameters.Any(p => p.Key == key);

    public string? Get(string key) => Parameters.FirstOrDefault(p => p.Key == key).Value;

    public Filter With(params (string Key, string Value)[] more) => this with { Parameters = [.. Parameters, .. more] };

    public Filter Without(string key) => this with { Parameters = [.. Parameters.Where(p => p.Key != key)] };

    /// <summary>The same parameters as a search body: strings, an array for a repeated one.</summary>
    public JsonObject SearchBody() => new(Parameters.GroupBy(p => p.Key).Select(g => KeyValuePair.Create(g.Key,
        g.Count() == 1 ? (JsonNode?)JsonValue.Create(g.First().Value) : new JsonArray([.. g.Select(p => (JsonNode?)JsonValue.Create(p.Value))]))));

    public override string ToString() => Name;
}

/// <summary>What each read path answers for a filter, always narrowed to the data set's tag.</summary>
public sealed class Endpoints(HttpClient client, ConsistencyData data)
{
    private const string B = "/collections/incidents";

    private string Q(Filter f) => "tags=" + Uri.EscapeDataString(data.Tag) + (f.Parameters.Length > 0 ? "&" + f.Query : "");

    private async Task<string> GetTextAsync(string url)
    {
        var response = await client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {text}");
        return text;
    }

    /// <summary>numberMatched of the first page, and every feature reached by following next links.</summary>
    public async Task<(long Matched, List<JsonObject> Features)> ItemsAsync(Filter f, int limit = 7, string? sortby = null)
    {
        var url = $"{B}/items?{Q(f)}&limit={limit}" + (sortby is null ? "" : "&sortby=" + sortby);
        var features = new List<JsonObject>();
        var first = await client.GetJsonAsync(url);
        var matched = first["numberMatched"]!.GetValue<long>();
        var page = first;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 100, $"{url}: more than 100 pages");
            features.AddRange(page["features"]!.AsArray().Select(n => n!.AsObject()));
            var next = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next");
            if (next is null) break;
            page = await client.GetJsonAsync(next["href"]!.GetValue<string>());
        }
        return (matched, features);
    }

    /// <summary>The search's numberMatched and features, following its next links (POST with the body they give).</summary>
    public async Task<(long Matched, List<JsonObject> Features)> SearchAsync(Filter f, int limit = 9)
    {
        var body = f.SearchBody();
        body["tags"] = data.Tag;
        body["limit"] = limit;
        var features = new List<JsonObject>();
        long? matched = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 100, "search: more than 100 pages");
            var response = await client.PostAsync($"{B}/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"search {body.ToJsonString()}: {(int)response.StatusCode} {text}");
            var page = JsonNode.Parse(text)!.AsObject();
            matched ??= page["numberMatched"]!.GetValue<long>();
            features.AddRange(page["features"]!.AsArray().Select(n => n!.AsObject()));
            var next = page["links"]!.AsArray().FirstOrDefault(l => l!["rel"]!.GetValue<string>() == "next");
            if (next is null) break;
            body = next["body"]!.AsObject().DeepClone().AsObject();
        }
        return (matched!.Value, features);
    }

    public async Task<List<long>> CsvIdsAsync(Filter f, string more = "")
    {
        var text = await GetTextAsync($"{B}/items?{Q(f)}&f=csv&properties=title{more}");
        var records = Csv(text);
        Assert.Equal("id", records[0][0]);
        return records.Skip(1).Select(r => long.Parse(r[0], CultureInfo.InvariantCulture)).ToList();
    }

    /// <summary>Ids of an NDJSON or GeoJSON text sequence (RFC 8142: each record after a record separator).</summary>
    public async Task<List<long>> NdjsonIdsAsync(Filter f, string format = "ndjson", string more = "")
    {
        var text = await GetTextAsync($"{B}/items?{Q(f)}&f={format}&properties=title{more}");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l.TrimStart('\u001e'))!["id"]!.GetValue<long>()).ToList();
    }

    public async Task<(long Count, long MinSum, long MaxSum)> StatsCsvAsync(Filter f)
    {
        var records = Csv(await GetTextAsync($"{B}/stats?{Q(f)}&interval=month&f=csv"));
        Assert.Equal(["start", "group", "count", "fatalities_min_sum", "fatalities_max_sum"], records[0]);
        long Sum(int column) => records.Skip(1).Sum(r => long.Parse(r[column], CultureInfo.InvariantCulture));
        return (Sum(2), Sum(3), Sum(4));
    }

    public async Task<(long Count, long MinSum, long MaxSum)> StatsAsync(Filter f, string interval = "week", string? tz = null)
    {
        var json = JsonNode.Parse(await GetTextAsync($"{B}/stats?{Q(f)}&interval={interval}" + (tz is null ? "" : "&tz=" + Uri.EscapeDataString(tz))))!;
        var buckets = json["buckets"]!.AsArray();
        return (buckets.Sum(b => b!["count"]!.GetValue<long>()), buckets.Sum(b => b!["fatalities_min_sum"]!.GetValue<long>()),
            buckets.Sum(b => b!["fatalities_max_sum"]!.GetValue<long>()));
    }

    public async Task<(long Count, long MinSum, long MaxSum)> SummaryAsync(Filter f)
    {
        var json = JsonNode.Parse(await GetTextAsync($"{B}/stats/summary?{Q(f)}"))!;
        return (json["count"]!.GetValue<long>(), json["fatalities_min_sum"]!.GetValue<long>(), json["fatalities_max_sum"]!.GetValue<long>());
    }

    /// <summary>Counts and sums of a GeoJSON aggregation (clusters, hexagon bins), added over its features.</summary>
    private static (long Count, long MinSum, long MaxSum) Totals(JsonNode collection)
    {
        var features = collection["features"]!.AsArray();
        return (features.Sum(c => c!["properties"]!["count"]!.GetValue<long>()),
            features.Sum(c => c!["properties"]!["fatalities_min_sum"]!.GetValue<long>()),
            features.Sum(c => c!["properties"]!["fatalities_max_sum"]!.GetValue<long>()));
    }

    public async Task<(long Count, long MinSum, long MaxSum)> ClustersAsync(Filter f, int zoom) =>
        Totals(JsonNode.Parse(await GetTextAsync($"{B}/clusters?{Q(f)}&zoom={zoom}"))!);

    /// <summary>Each cluster's count by its id (cx/cy).</summary>
    public async Task<Dictionary<string, long>> ClusterCountsAsync(Filter f, int zoom) =>
        JsonNode.Parse(await GetTextAsync($"{B}/clusters?{Q(f)}&zoom={zoom}"))!["features"]!.AsArray()
            .ToDictionary(c => c!["id"]!.GetValue<string>(), c => c!["properties"]!["count"]!.GetValue<long>());

    public async Task<(long Count, long MinSum, long MaxSum)> HexbinsAsync(Filter f, string size = "40km") =>
        Totals(JsonNode.Parse(await GetTextAsync($"{B}/hexbins?{Q(f)}&size={size}"))!);

    /// <summary>The regions' tiles at a zoom (lon/lat boxes, latitudes clamped to the map).</summary>
    public static IEnumerable<(int X, int Y)> RegionTiles(int z)
    {
        (double W, double S, double E, double N)[] boxes =
        [
            (178.5, -46.1, 180, -42.7), (-180, -46.1, -178.5, -42.7), // the antimeridian
            (19.8, 84.2, 26.2, 90),                                    // the Arctic
            (-21.2, -31.2, -18.8, -28.8),                              // the South Atlantic
        ];
        var n = 1 << z;
        int X(double lon) => Math.Clamp((int)Math.Floor((lon + 180) / 360 * n), 0, n - 1);
        int Y(double lat)
        {
            lat = Math.Clamp(lat, -ConsistencyData.MercatorLimit, ConsistencyData.MercatorLimit) * Math.PI / 180;
            return Math.Clamp((int)Math.Floor((1 - Math.Log(Math.Tan(lat) + 1 / Math.Cos(lat)) / Math.PI) / 2 * n), 0, n - 1);
        }
        return boxes.SelectMany(b => Enumerable.Range(X(b.W), X(b.E) - X(b.W) + 1)
            .SelectMany(x => Enumerable.Range(Y(b.N), Y(b.S) - Y(b.N) + 1).Select(y => (x, y)))).Distinct();
    }

    /// <summary>Every feature of the regions' tiles at zoom z, with the tile it came from.</summary>
    public async Task<List<(int X, int Y, Mvt.Feature Feature)>> TileFeaturesAsync(Filter f, int z)
    {
        // A few at a time, as a map asks for them.
        using var slots = new SemaphoreSlim(6);
        var tiles = await Task.WhenAll(RegionTiles(z).Select(async tile =>
        {
            var (x, y) = tile;
            await slots.WaitAsync();
            try
            {
                var response = await client.GetAsync($"{B}/tiles/WebMercatorQuad/{z}/{y}/{x}?{Q(f)}");
                if (response.StatusCode == HttpStatusCode.NoContent) return [];
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"tile {z}/{y}/{x}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                return Mvt.Decode(await response.Content.ReadAsByteArrayAsync()).Select(feature => (x, y, feature)).ToList();
            }
            finally { slots.Release(); }
        }));
        return tiles.SelectMany(t => t).ToList();
    }

    /// <summary>The live incidents the change feed says match, folded from the data set's first change.</summary>
    public async Task<HashSet<long>> FeedLiveAsync(Filter f)
    {
        var last = new Dictionary<long, JsonNode>();
        var cursor = data.FeedStart;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 100, "feed: more than 100 pages");
            var page = await client.GetJsonAsync($"{B}/changes?{Q(f)}&cursor={Uri.EscapeDataString(cursor)}&limit=1000&properties=title");
            var changes = page["changes"]!.AsArray();
            foreach (var change in changes) last[change!["id"]!.GetValue<long>()] = change;
            cursor = page["next_cursor"]!.GetValue<string>();
            if (changes.Count < 1000) break;
        }
        return last.Where(p => p.Value["kind"]!.GetValue<string>() != "deleted" && p.Value["feature"] is JsonObject).Select(p => p.Key).ToHashSet();
    }

    /// <summary>Waits until the feed shows every write of the data set (its horizon trails open transactions).</summary>
    public async Task WaitForFeedAsync()
    {
        if (data.FeedComplete) return;
        for (var n = 0; n < 100; n++)
        {
            var seen = 0;
            var cursor = data.FeedStart;
            while (true)
            {
                var page = await client.GetJsonAsync($"{B}/changes?tags={Uri.EscapeDataString(data.Tag)}&cursor={Uri.EscapeDataString(cursor)}&limit=1000&properties=title");
                seen += page["changes"]!.AsArray().Count;
                cursor = page["next_cursor"]!.GetValue<string>();
                if (page["changes"]!.AsArray().Count < 1000) break;
            }
            if (seen >= data.Writes)
            {
                data.FeedComplete = true;
                return;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("the change feed never showed every write of the data set");
    }

    /// <summary>RFC 4180 records.</summary>
    public static List<List<string>> Csv(string text)
    {
        var records = new List<List<string>>();
        var record = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var n = 0; n < text.Length; n++)
        {
            var c = text[n];
            if (quoted)
            {
                if (c == '"' && n + 1 < text.Length && text[n + 1] == '"') { field.Append('"'); n++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { record.Add(field.ToString()); field.Clear(); }
            else if (c == '\r') { }
            else if (c == '\n') { record.Add(field.ToString()); field.Clear(); records.Add(record); record = []; }
            else field.Append(c);
        }
        if (field.Length > 0 || record.Count > 0) { record.Add(field.ToString()); records.Add(record); }
        return records;
    }
}
