using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Consistency;

/// <summary>
/// A deterministic pseudo-random set of incidents for the consistency tests, created once per test run
/// and tagged uniquely: every request of these tests filters by the tag, so rows of other tests never
/// count. Three remote regions: the South Pacific across the antimeridian, the Arctic Ocean across the
/// edge of the Web Mercator map (85.0511°) up to the pole, and the South Atlantic; points, lines,
/// polygons and multi-part shapes; exact times and dates known to the day, week or month; tolls with
/// unknown bounds. Some incidents are then edited and deleted, so the change feed has history to fold.
/// </summary>
public sealed class ConsistencyData
{
    /// <summary>Web Mercator's edge, atan(sinh π) in degrees (85.05112877980659).</summary>
    public static readonly double MercatorLimit = Math.Atan(Math.Sinh(Math.PI)) * 180 / Math.PI;

    /// <summary>
    /// The latitude from which an incident is on no tile and in no cluster or hexagon bin: the map's
    /// edge as tools round it plus 1e-10° (migration 0027's clip box), so that the edge itself, however
    /// it is printed, is on the map. A point on the box's own boundary is off it (GEOS's clip keeps what
    /// lies strictly inside), so this latitude itself is polar.
    /// </summary>
    public const double PolarBeyond = 85.0511287799;

    public static readonly string[] EventTypes = ["battles", "riots", "protests", "explosions_remote_violence", "violence_against_civilians"];
    private static readonly string[] Countries = ["NZ", "FJ", "NO", "BR"];
    private static readonly string[] Words = ["convoy", "harbour", "shelling", "checkpoint", "market", "bridge"];

    public required string Tag { get; init; }

    /// <summary>The change feed's cursor from before the first incident was created.</summary>
    public required string FeedStart { get; init; }

    /// <summary>Every change the writes made (creations, edits, deletions), for waiting on the feed.</summary>
    public required int Writes { get; init; }

    /// <summary>Live incidents by id, as created or last edited.</summary>
    public required IReadOnlyDictionary<long, JsonObject> Live { get; init; }

    /// <summary>Ids of live incidents that lie wholly beyond ±<see cref="PolarBeyond"/> (README: on no tile, in no cluster or hexagon bin).</summary>
    public IReadOnlySet<long> Polar => _polar ??= Live.Where(p => IsPolar(p.Value["geometry"]!)).Select(p => p.Key).ToHashSet();

    private IReadOnlySet<long>? _polar;

    /// <summary>Whether the change feed was seen to hold every write (once it does, it always will).</summary>
    public bool FeedComplete { get; set; }

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static ConsistencyData? _data;

    public static async Task<ConsistencyData> GetAsync(ApiFixture api)
    {
        await Gate.WaitAsync();
        try { return _data ??= await CreateAsync(api); }
        finally { Gate.Release(); }
    }

    public static bool IsPolar(JsonNode geometry) => Positions(geometry).All(p => Math.Abs(p.Lat) >= PolarBeyond);

    public static IEnumerable<(double Lon, double Lat)> Positions(JsonNode geometry)
    {
        IEnumerable<(double, double)> Walk(JsonNode node) => node is JsonArray { Count: >= 2 } a && a[0] is JsonValue
            ? [(a[0]!.GetValue<double>(), a[1]!.GetValue<double>())]
            : node.AsArray().SelectMany(n => Walk(n!));
        return Walk(geometry["coordinates"]!);
    }

    private static JsonObject Geo(string type, JsonNode coordinates) => new() { ["type"] = type, ["coordinates"] = coordinates };
    private static JsonArray P(double lon, double lat) => new(lon, lat);
    private static JsonArray Ring(double west, double south, double east, double north) =>
        new(P(west, south), P(east, south), P(east, north), P(west, north), P(west, south));

    private static async Task<ConsistencyData> CreateAsync(ApiFixture api)
    {
        using var client = api.CreateClient();
        var tag = "consist-" + Guid.NewGuid().ToString("N")[..10];
        var start = (await client.GetJsonAsync("/collections/incidents/changes?limit=1"))["next_cursor"]!.GetValue<string>();
        var random = new Random(20261130);
        var geometries = new List<JsonObject>();

        // South Pacific, both sides of the antimeridian.
        for (var n = 0; n < 36; n++)
        {
            var lon = 178.6 + random.NextDouble() * 2.8;
            geometries.Add(Geo("Point", P(Math.Round(lon > 180 ? lon - 360 : lon, 6), Math.Round(-45.8 + random.NextDouble() * 3.6, 6))));
        }
        geometries.Add(Geo("Point", P(180, -44.1)));
        geometries.Add(Geo("Point", P(-180, -44.3)));
        geometries.Add(Geo("MultiLineString", new JsonArray(new JsonArray(P(179.4, -44.0), P(180, -44.2)), new JsonArray(P(-180, -44.2), P(-179.3, -44.5)))));
        geometries.Add(Geo("Polygon", new JsonArray(Ring(179.0, -44.9, 179.6, -44.4))));
        geometries.Add(Geo("MultiPolygon", new JsonArray(new JsonArray(Ring(179.7, -43.2, 180, -42.9)), new JsonArray(Ring(-180, -43.2, -179.6, -42.9)))));
        geometries.Add(Geo("LineString", new JsonArray(P(-179.9, -45.5), P(-178.9, -45.1))));

        // The Arctic Ocean, across the map's edge, and the poles.
        for (var n = 0; n < 30; n++)
            geometries.Add(Geo("Point", P(Math.Round(20 + random.NextDouble() * 6, 6), Math.Round(84.4 + random.NextDouble() * 2.2, 6))));
        geometries.Add(Geo("Point", P(22.5, 85.0511287798)));      // on the edge, as tools round it
        geometries.Add(Geo("Point", P(23.5, 85.05112877980659)));  // the exact limit
        geometries.Add(Geo("Point", P(24.5, 85.0512)));            // just beyond: polar
        geometries.Add(Geo("Point", P(25.5, 85.05112877985)));     // between the limit and the clip box of migration 0027
        geometries.Add(Geo("Point", P(26.5, -PolarBeyond)));         // on the clip box's boundary: polar
        geometries.Add(Geo("Point", P(0, 90)));
        geometries.Add(Geo("Point", P(100, -89.99)));
        geometries.Add(Geo("Point", P(21, -86)));
        geometries.Add(Geo("Polygon", new JsonArray(Ring(21.0, 84.9, 21.6, 85.2))));     // straddles the edge
        geometries.Add(Geo("LineString", new JsonArray(P(24.0, 85.5), P(25.0, 86.0))));  // wholly polar
        geometries.Add(Geo("LineString", new JsonArray(P(22.0, 84.6), P(22.4, 84.7))));

        // The South Atlantic.
        for (var n = 0; n < 30; n++)
            geometries.Add(Geo("Point", P(Math.Round(-21 + random.NextDouble() * 2, 6), Math.Round(-31 + random.NextDouble() * 2, 6))));
        geometries.Add(Geo("LineString", new JsonArray(P(-20.9, -30.9), P(-20.1, -29.2), P(-19.2, -29.9))));
        geometries.Add(Geo("Polygon", new JsonArray(Ring(-19.9, -30.6, -19.5, -30.1))));

        var live = new Dictionary<long, JsonObject>();
        var writes = 0;
        var startDay = new DateTimeOffset(2025, 1, 6, 0, 0, 0, TimeSpan.Zero);
        // Times on the edges of the windows the tests ask for come first.
        string[] edges = ["2025-03-01T00:00:00Z", "2025-02-28T23:59:59.999999Z", "2025-03-10T12:00:00Z", "2025-03-31T23:30:00Z"];
        for (var n = 0; n < geometries.Count; n++)
        {
            var precision = n < edges.Length ? "exact" : random.Next(10) switch { < 6 => "exact", 6 or 7 => "day", 8 => "week", _ => "month" };
            var at = n < edges.Length ? edges[n]
                : startDay.AddSeconds(random.NextDouble() * 170 * 86400).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            int? min = random.Next(4) == 0 ? null : random.Next(0, 20);
            int? max = random.Next(4) == 0 ? null : (min ?? 0) + random.Next(0, 30);
            var words = $"{Words[random.Next(Words.Length)]} {Words[random.Next(Words.Length)]}";
            var properties = new JsonObject
            {
                ["title"] = $"Consistency {n}: {words}",
                ["event_type"] = EventTypes[random.Next(EventTypes.Length)],
                ["occurred_at"] = at,
                ["time_precision"] = precision,
                ["tags"] = new JsonArray(tag),
                ["external_id"] = $"{tag}-{n}",
                ["fatalities_min"] = min,
                ["fatalities_max"] = max,
            };
            if (random.Next(3) > 0) properties["country"] = Countries[random.Next(Countries.Length)];
            var feature = new JsonObject { ["type"] = "Feature", ["geometry"] = geometries[n], ["properties"] = properties };
            var id = await client.CreateAsync(feature);
            writes++;
            live[id] = (JsonObject)feature.DeepClone();
        }

        // A few month-precision incidents on the edges of March (in other time zones).
        foreach (var (month, geometry) in new[] { ("2025-03", Geo("Point", P(-20.5, -30.5))), ("2025-02", Geo("Point", P(179.5, -44.0))) })
        {
            var feature = new JsonObject
            {
                ["type"] = "Feature", ["geometry"] = geometry,
                ["properties"] = new JsonObject
                {
                    ["title"] = "Consistency month convoy", ["event_type"] = "battles", ["occurred_at"] = month,
                    ["tags"] = new JsonArray(tag), ["fatalities_min"] = 3, ["fatalities_max"] = null, ["external_id"] = $"{tag}-{month}",
                },
            };
            live[await client.CreateAsync(feature)] = feature;
            writes++;
        }

        // Edits and deletions: the feed then has history, and every read path must see only the current state.
        var ids = live.Keys.Order().ToList();
        foreach (var id in new[] { ids[5], ids[40], ids[80] })
        {
            var response = await client.DeleteCurrentAsync($"/collections/incidents/items/{id}");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            live.Remove(id);
            writes++;
        }
        foreach (var (id, patch) in new[]
                 {
                     (ids[6], new JsonObject { ["properties"] = new JsonObject { ["event_type"] = "strategic_developments" } }),
                     // Moved from the South Atlantic to the antimeridian.
                     (ids[90], new JsonObject { ["geometry"] = Geo("Point", P(-179.95, -44.05)) }),
                     (ids[10], new JsonObject { ["properties"] = new JsonObject { ["fatalities_max"] = 99 } }),
                 })
        {
            var response = await client.PatchCurrentAsync($"/collections/incidents/items/{id}", patch.ToJsonString());
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            var current = (JsonObject)live[id].DeepClone();
            if (patch["geometry"] is { } g) current["geometry"] = g.DeepClone();
            foreach (var (name, value) in patch["properties"]?.AsObject() ?? []) current["properties"]![name] = value?.DeepClone();
            live[id] = current;
            writes++;
        }

        return new ConsistencyData { Tag = tag, FeedStart = start, Writes = writes, Live = live };
    }
}
