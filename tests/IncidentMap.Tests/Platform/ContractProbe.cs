using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Platform;

/// <summary>One request and what the service answered, with the operation of the document it went to.</summary>
public sealed record Exchange(
    string Method, string Url, string Template, int Status, IReadOnlyDictionary<string, string> Headers, string? ContentType,
    byte[] Body, IReadOnlyCollection<string> RequestHeaders, bool Streamed)
{
    public string MediaType => DeclaredContract.MediaType(ContentType);

    public override string ToString() => $"{Method} {Url} → {Status}";
}

/// <summary>
/// Sends the service a request for every operation the document declares that can be answered from
/// rows of its own (<see cref="RouteSamples"/>): every GET, HEAD and OPTIONS filled from the route's
/// parameters, and a table of writes and refusals (bodies cannot be made up from a schema). Each
/// answer is kept for the contract tests to hold against the document.
/// </summary>
public sealed class ContractProbe(HttpClient client, DeclaredContract contract)
{
    private readonly List<Exchange> _exchanges = [];

    public IReadOnlyList<Exchange> Exchanges => _exchanges;

    public async Task<Exchange> SendAsync(HttpMethod method, string url, HttpContent? content = null, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        var template = contract.Template(url.Split('?')[0]) ?? throw new Xunit.Sdk.XunitException($"{method} {url}: no path of the document matches");
        // The stream never ends: its headers are the answer.
        var streamed = url.Split('?')[0].EndsWith("/stream", StringComparison.Ordinal) && method == HttpMethod.Get;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var response = await client.SendAsync(request, streamed ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancel.Token);
        var body = streamed && response.IsSuccessStatusCode ? [] : await response.Content.ReadAsByteArrayAsync(cancel.Token);
        var answered = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers)) answered[name] = string.Join(", ", values);
        var exchange = new Exchange(method.Method, url, template, (int)response.StatusCode, answered, response.Content.Headers.ContentType?.ToString(),
            body, [.. request.Headers.Select(h => h.Key), .. content?.Headers.Select(h => h.Key) ?? []], streamed);
        _exchanges.Add(exchange);
        return exchange;
    }

    private static StringContent Json(JsonNode body, string mediaType = "application/json") => new(body.ToJsonString(), Encoding.UTF8, mediaType);

    /// <summary>Runs the whole probe: writes first (they make what the reads read), then every read, then deletions.</summary>
    public async Task<RouteSamples> RunAsync()
    {
        var samples = await RouteSamples.CreateAsync(client);
        var items = QueryHelpers.Items;
        var item = $"{items}/{samples.Incident}";

        // Creating: idempotent replays, a CRS other than CRS84, a type not taken, an invalid feature.
        var idempotencyKey = Guid.NewGuid().ToString("N");
        var feature = QueryHelpers.Incident(samples.Tag);
        await SendAsync(HttpMethod.Post, items, Json(feature, "application/geo+json"), ("Idempotency-Key", idempotencyKey));
        await SendAsync(HttpMethod.Post, items, Json(feature, "application/geo+json"), ("Idempotency-Key", idempotencyKey));
        await SendAsync(HttpMethod.Post, items, Json(feature, "application/geo+json"), ("Content-Crs", "<http://www.opengis.net/def/crs/EPSG/0/3857>"));
        await SendAsync(HttpMethod.Post, items, new StringContent("title", Encoding.UTF8, "text/plain"));
        await SendAsync(HttpMethod.Post, items, Json(new JsonObject { ["type"] = "Feature", ["properties"] = new JsonObject() }, "application/geo+json"));

        // Changing: without If-Match, with a stale one, with the current one; a patch in a type not taken.
        var current = (await client.GetAsync(item)).Headers.ETag!.Tag;
        var stored = JsonNode.Parse(await client.GetStringAsync(item))!;
        await SendAsync(HttpMethod.Put, item, Json(stored, "application/geo+json"));
        await SendAsync(HttpMethod.Put, item, Json(stored, "application/geo+json"), ("If-Match", "\"v999\""));
        await SendAsync(HttpMethod.Delete, item);
        await SendAsync(HttpMethod.Patch, item, new StringContent("{}", Encoding.UTF8, "text/plain"), ("If-Match", current));
        var patched = await SendAsync(HttpMethod.Patch, item, new StringContent("""{"properties":{"injured_max":4}}""", Encoding.UTF8, "application/merge-patch+json"), ("If-Match", current));
        await SendAsync(HttpMethod.Put, item, Json(stored, "application/geo+json"), ("If-Match", patched.Headers["ETag"]));

        // Pages and exports, GET and POST: a first page counts (numberMatched), a next page does not.
        var first = await SendAsync(HttpMethod.Get, $"{items}?tags={samples.Tag}&limit=1");
        var next = JsonNode.Parse(first.Body)!["links"]!.AsArray().First(l => l!["rel"]!.GetValue<string>() == "next")!["href"]!.GetValue<string>();
        await SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery);
        foreach (var f in new[] { "csv", "geojsonseq", "ndjson" })
            await SendAsync(HttpMethod.Get, $"{items}?tags={samples.Tag}&f={f}");
        var search = await SendAsync(HttpMethod.Post, QueryHelpers.Search, Json(new JsonObject { ["tags"] = samples.Tag, ["limit"] = 1 }));
        var nextSearch = JsonNode.Parse(search.Body)!["links"]!.AsArray().First(l => l!["rel"]!.GetValue<string>() == "next")!;
        await SendAsync(HttpMethod.Post, QueryHelpers.Search, Json(nextSearch["body"]!.DeepClone()));
        foreach (var f in new[] { "csv", "geojsonseq", "ndjson" })
            await SendAsync(HttpMethod.Post, QueryHelpers.Search, Json(new JsonObject { ["tags"] = samples.Tag, ["f"] = f }));
        await SendAsync(HttpMethod.Post, QueryHelpers.Search, Json(new JsonObject { ["tags"] = samples.Tag }), ("Content-Crs", "<http://www.opengis.net/def/crs/EPSG/0/3857>"));
        await SendAsync(HttpMethod.Get, $"{items}?limit=0");
        // Reads measured from a point add distance_m to each incident's properties.
        var near = $"tags={samples.Tag}&lat=34.72&lon=36.72";
        foreach (var f in new[] { "json", "geojsonseq", "ndjson" })
            await SendAsync(HttpMethod.Get, $"{items}?{near}&radius=50km&f={f}");
        await SendAsync(HttpMethod.Get, $"{items}?{near}&sortby=distance");
        await SendAsync(HttpMethod.Post, QueryHelpers.Search, Json(new JsonObject { ["tags"] = samples.Tag, ["lat"] = 34.72, ["lon"] = 36.72, ["radius"] = 50000 }));
        await SendAsync(HttpMethod.Get, $"/collections/incidents/changes?{near}&radius=50km&cursor={samples.FeedStart}");

        // Places: an editor's place is added and changed; a GeoNames place is read-only (405 with Allow).
        var added = await SendAsync(HttpMethod.Post, "/collections/places/items", Json(new JsonObject
        {
            ["type"] = "Feature",
            ["geometry"] = Features.Point(RouteSamples.RemoteLon, RouteSamples.RemoteLat + 0.1),
            ["properties"] = new JsonObject { ["name"] = "Probe " + Guid.NewGuid().ToString("N")[..8], ["kind"] = "site" },
        }, "application/geo+json"));
        var place = $"/collections/places/items/{samples.Place}";
        await SendAsync(HttpMethod.Patch, place, new StringContent("""{"properties":{"admin1":"Rif Dimashq"}}""", Encoding.UTF8, "application/merge-patch+json"));
        var geonames = JsonNode.Parse(await client.GetStringAsync("/collections/places/items?q=Homs&country=SY&limit=1"))!["features"]![0]!["id"]!.GetValue<long>();
        await SendAsync(HttpMethod.Patch, $"/collections/places/items/{geonames}", new StringContent("""{"properties":{"admin1":"x"}}""", Encoding.UTF8, "application/merge-patch+json"));
        await SendAsync(HttpMethod.Delete, $"/collections/places/items/{geonames}");
        await SendAsync(HttpMethod.Get, "/collections/places/items?q=Homs&limit=2");

        // Keys and imports: 201 and 202 with their Location; an import answered at once.
        await SendAsync(HttpMethod.Post, "/admin/keys", Json(new JsonObject { ["name"] = "probe-" + Guid.NewGuid().ToString("N"), ["scopes"] = new JsonArray("read") }));
        await SendAsync(HttpMethod.Post, "/admin/keys", Json(new JsonObject { ["name"] = "x", ["colour"] = "red" }));
        await SendAsync(HttpMethod.Post, $"/collections/incidents/imports?source=probe-{samples.Tag}", RouteSamples.Csv(samples.Tag));
        await SendAsync(HttpMethod.Post, $"/collections/incidents/imports?source=probe-{samples.Tag}", RouteSamples.Csv(samples.Tag), ("Prefer", "respond-async"));
        await SendAsync(HttpMethod.Post, "/collections/incidents/imports", new StringContent("x", Encoding.UTF8, "application/pdf"));

        // Every read and OPTIONS the document declares, of what exists and of what does not.
        foreach (var (method, path, operation) in contract.Operations().Where(o => o.Method is "get" or "head" or "options").ToList())
        {
            var query = samples.Query(contract.RequiredQuery(operation), contract.TakesFilters(operation));
            var http = new HttpMethod(method.ToUpperInvariant());
            await SendAsync(http, RouteSamples.Fill(path, samples.Existing, query));
            foreach (var (name, missing) in RouteSamples.Missing.Where(m => path.Contains("{" + m.Key + "}", StringComparison.Ordinal)))
                foreach (var value in missing)
                    await SendAsync(http, RouteSamples.Fill(path, samples.With(name, value), query));
        }

        // Deletions last: what the reads above read.
        var etag = (await client.GetAsync(item)).Headers.ETag!.Tag;
        await SendAsync(HttpMethod.Delete, item, null, ("If-Match", etag));
        await SendAsync(HttpMethod.Delete, $"/collections/places/items/{samples.Place}");
        await SendAsync(HttpMethod.Delete, added.Headers["Location"]);
        await SendAsync(HttpMethod.Delete, $"/admin/keys/{samples.Key}");
        return samples;
    }
}
