using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Rows of this test's own for every kind of route parameter (an incident with two versions, an
/// editor's place, an API key, an import job), so that any route can be asked for something that
/// exists, or for something that does not: routes are filled by their parameters' names, never
/// listed by hand, so a new route is covered once its parameters have a sample.
/// </summary>
public sealed class RouteSamples
{
    private readonly Dictionary<string, string> _existing;
    public const int Zoom = 8;

    /// <summary>
    /// Where the places made here are: in the South Pacific, far from any incident another test
    /// geocodes, which would otherwise be named after the nearest of them.
    /// </summary>
    public const double RemoteLon = -150.2, RemoteLat = -45.3;

    private RouteSamples(Dictionary<string, string> existing, string tag, long incident, long place, long key, string feedStart)
    {
        _existing = existing;
        Tag = tag;
        Incident = incident;
        Place = place;
        Key = key;
        FeedStart = feedStart;
    }

    /// <summary>The change feed's cursor before the incidents were made: the feed from it holds them.</summary>
    public string FeedStart { get; }

    /// <summary>The tag every incident made here carries (filters select them alone).</summary>
    public string Tag { get; }

    public long Incident { get; }

    public long Place { get; }

    public long Key { get; }

    /// <summary>Values for what the service has, by route parameter name.</summary>
    public IReadOnlyDictionary<string, string> Existing => _existing;

    /// <summary>Values of the right form that name nothing (a number no row has), and of the wrong form.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Missing = new Dictionary<string, string[]>
    {
        ["featureId"] = ["99999999999", "abc"],
        ["placeId"] = ["99999999999", "abc"],
        ["idOrName"] = ["99999999999", "no-such-key-" + Guid.NewGuid().ToString("N")[..8]],
        ["id"] = ["99999999999", "abc"],
        ["version"] = ["999", "abc"],
    };

    /// <summary>Required query parameters, by name.</summary>
    public static readonly IReadOnlyDictionary<string, string> Required = new Dictionary<string, string>
    {
        ["zoom"] = "3",
        ["bbox"] = "35,33,38,36",
        ["size"] = "50km",
    };

    /// <summary>Makes the rows through <paramref name="client"/>, which must send a key with every scope.</summary>
    public static async Task<RouteSamples> CreateAsync(HttpClient client)
    {
        var tag = QueryHelpers.NewTag();
        var feedStart = (await client.GetJsonAsync($"/collections/incidents/changes?tags={tag}"))["next_cursor"]!.GetValue<string>();
        var incident = await client.CreateAsync(QueryHelpers.Incident(tag));
        await client.CreateAsync(QueryHelpers.Incident(tag));
        var patched = await client.PatchCurrentAsync($"{QueryHelpers.Items}/{incident}", """{"properties":{"fatalities_max":3}}""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        var place = await client.AddPlaceAsync("Probe " + Guid.NewGuid().ToString("N")[..8], RemoteLon, RemoteLat, null, null, "site");

        var created = await client.PostAsync("/admin/keys", new StringContent(
            $$"""{"name":"probe-{{Guid.NewGuid():N}}","scopes":["read"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["info"]!["id"]!.GetValue<long>();

        var job = await client.PostAsync($"/collections/incidents/imports?async=true&source=probe-{tag}", Csv(tag));
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        var jobId = job.Headers.Location!.ToString().Split('/')[^1];

        var (row, col) = TileOf(36.7236, 34.7197, Zoom);
        return new RouteSamples(new Dictionary<string, string>
        {
            ["featureId"] = incident.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["version"] = "1",
            ["placeId"] = place.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["idOrName"] = key.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["id"] = jobId,
            ["tileMatrix"] = Zoom.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["tileRow"] = row.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["tileCol"] = col.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, tag, incident, place, key, feedStart);
    }

    /// <summary>A small CSV import of two incidents carrying <paramref name="tag"/>.</summary>
    public static StringContent Csv(string tag) => new(
        $"external_id,title,event_type,occurred_at,lon,lat,tags\n{tag}-1,Probe row 1,riots,2016-01-01,36.5,34.5,{tag}\n{tag}-2,Probe row 2,riots,2016-01-02,36.6,34.6,{tag}\n",
        Encoding.UTF8, "text/csv");

    private static (long Row, long Col) TileOf(double lon, double lat, int zoom)
    {
        var n = 1 << zoom;
        var col = (long)Math.Floor((lon + 180) / 360 * n);
        var rad = lat * Math.PI / 180;
        var row = (long)Math.Floor((1 - Math.Log(Math.Tan(rad) + 1 / Math.Cos(rad)) / Math.PI) / 2 * n);
        return (row, col);
    }

    /// <summary>
    /// <paramref name="template"/> with its parameters filled from <paramref name="values"/> (a parameter
    /// without a value fails the test, naming it), and <paramref name="query"/> appended.
    /// </summary>
    public static string Fill(string template, IReadOnlyDictionary<string, string> values, string? query = null)
    {
        var path = Regex.Replace(template, @"\{([^}:?]+)[^}]*\}", m =>
            values.TryGetValue(m.Groups[1].Value, out var value)
                ? Uri.EscapeDataString(value)
                : throw new Xunit.Sdk.XunitException($"{template}: no sample value for route parameter {m.Groups[1].Value}; add one to RouteSamples"));
        return string.IsNullOrEmpty(query) ? path : path + "?" + query;
    }

    /// <summary>The values with <paramref name="name"/> replaced by <paramref name="value"/>.</summary>
    public IReadOnlyDictionary<string, string> With(string name, string value) =>
        new Dictionary<string, string>(_existing) { [name] = value };

    /// <summary>
    /// The query string giving each required parameter of <paramref name="names"/> its sample and, where
    /// the incident filters are taken, selecting this test's incidents alone: what other tests leave
    /// behind cannot change the answer (stats over a century of days are a 400).
    /// </summary>
    public string Query(IEnumerable<string> names, bool takesFilters) =>
        string.Join("&", names.Select(n => Required.TryGetValue(n, out var value)
            ? $"{n}={Uri.EscapeDataString(value)}"
            : throw new Xunit.Sdk.XunitException($"no sample value for the required query parameter {n}; add one to RouteSamples.Required"))
            .Concat(takesFilters ? [$"tags={Tag}"] : []));

    public static MediaTypeHeaderValue Json => new("application/json");
}
