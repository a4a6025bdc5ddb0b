using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Security;
using Npgsql;

namespace IncidentMap.Bench;

/// <summary>
/// What dashboards cost: a poll answered 304 from the in-memory data version against the same poll
/// answered in full, and how long a committed write takes to reach a connected stream.
/// </summary>
public static class Dashboards
{
    private const string ResultMarker = "bench-result";

    /// <summary>The same list request with and without the current ETag, at the same concurrency.</summary>
    public static async Task<string> PollingAsync(HttpClient http, Uri api, string path, int clients, TimeSpan duration, DirectoryInfo work)
    {
        var first = await http.GetAsync(path);
        first.EnsureSuccessStatusCode();
        var etag = first.Headers.ETag!.ToString();
        var full = await WrkAsync(api, path, null, clients, duration, work);
        var notModified = await WrkAsync(api, path, etag, clients, duration, work);
        return string.Join('\n',
            $"e) polling {path} with {clients} clients",
            $"   full answer 200: {full.Rate,10:N0} req/s   p50 {full.P50,7:N2} ms   p99 {full.P99,7:N2} ms",
            $"   If-None-Match 304: {notModified.Rate,9:N0} req/s   p50 {notModified.P50,7:N2} ms   p99 {notModified.P99,7:N2} ms",
            $"   a 304 costs {full.Rate / notModified.Rate:P1} of a full answer (throughput ratio {notModified.Rate / full.Rate:N1}x)");
    }

    private static async Task<(double Rate, double P50, double P99)> WrkAsync(Uri api, string path, string? etag, int clients, TimeSpan duration, DirectoryInfo work)
    {
        var script = Path.Combine(work.FullName, $"poll-{(etag is null ? "full" : "304")}.lua");
        var header = etag is null ? "" : $"wrk.headers[\"If-None-Match\"] = [[{etag}]]\n";
        await File.WriteAllTextAsync(script, header + $$"""
            wrk.path = [[{{path}}]]
            done = function(summary, latency, requests)
              io.write(string.format("{{ResultMarker}} requests=%d duration_us=%d p50_us=%d p99_us=%d\n",
                summary.requests, summary.duration, latency:percentile(50), latency:percentile(99)))
            end
            """);
        var output = await ExternalTool.RunAsync("wrk",
        [
            $"--threads={Math.Min(clients, Environment.ProcessorCount)}", $"--connections={clients}",
            $"--duration={(int)duration.TotalSeconds}s", $"--script={script}", new Uri(api, "/").ToString(),
        ]);
        var line = output.Split('\n').Single(l => l.StartsWith(ResultMarker));
        var f = line.Split(' ').Skip(1).Select(p => p.Split('=')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        return (f["requests"] / (f["duration_us"] / 1e6), f["p50_us"] / 1000, f["p99_us"] / 1000);
    }

    /// <summary>
    /// Writes at a steady rate while one SSE client listens; each event's delay is measured from the
    /// moment its write was acknowledged (201) to the moment the event arrived.
    /// </summary>
    public static async Task<string> StreamLatencyAsync(NpgsqlDataSource db, Uri api, int writesPerSecond, TimeSpan duration)
    {
        var (key, _) = await new ApiKeys(db).CreateAsync("bench-" + Guid.NewGuid().ToString("N")[..8], [Scopes.Read, Scopes.Write]);
        using var http = new HttpClient { BaseAddress = api, Timeout = Timeout.InfiniteTimeSpan, DefaultRequestHeaders = { { "X-API-Key", key } } };
        var tag = "bench-stream-" + Guid.NewGuid().ToString("N")[..8];
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var clock = Stopwatch.StartNew();

        using var listening = new CancellationTokenSource();
        var response = await http.GetAsync($"/collections/incidents/stream?tags={tag}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        var reader = Task.Run(async () =>
        {
            using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(listening.Token));
            try
            {
                while (await lines.ReadLineAsync(listening.Token) is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                    var externalId = JsonNode.Parse(line[6..])?["feature"]?["properties"]?["external_id"]?.GetValue<string>();
                    if (externalId is not null) received.TryAdd(externalId, clock.ElapsedTicks);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        var acknowledged = new Dictionary<string, long>();
        var interval = TimeSpan.FromSeconds(1.0 / writesPerSecond);
        var count = (int)(duration.TotalSeconds * writesPerSecond);
        for (var n = 0; n < count; n++)
        {
            var externalId = $"{tag}:{n}";
            var feature = new JsonObject
            {
                ["type"] = "Feature",
                ["geometry"] = new JsonObject { ["type"] = "Point", ["coordinates"] = new JsonArray(36.7 + n * 1e-5, 34.7) },
                ["properties"] = new JsonObject
                {
                    ["title"] = "stream latency probe", ["event_type"] = "riots", ["occurred_at"] = "2026-01-01T00:00:00Z",
                    ["country"] = "SY", ["location_name"] = "Homs", ["tags"] = new JsonArray(tag), ["external_id"] = externalId,
                },
            };
            (await http.PostAsJsonAsync("/collections/incidents/items", feature)).EnsureSuccessStatusCode();
            acknowledged[externalId] = clock.ElapsedTicks;
            var wait = interval * (n + 1) - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
        }
        // Give the last events time to arrive.
        for (var n = 0; n < 50 && received.Count < count; n++) await Task.Delay(100);
        await listening.CancelAsync();
        await reader;

        // The probes sit in Homs, inside the radius and tile scenarios: remove them for the next run.
        await using (var cleanup = db.CreateCommand("""
            WITH probes AS (SELECT id FROM incidents WHERE external_id LIKE 'bench-stream-%'),
                 changes AS (DELETE FROM incident_changes WHERE incident_id IN (SELECT id FROM probes)),
                 revisions AS (DELETE FROM incident_revisions WHERE incident_id IN (SELECT id FROM probes))
            SELECT 1
            """))
            await cleanup.ExecuteNonQueryAsync();
        await using (var cleanup = db.CreateCommand("DELETE FROM incidents WHERE external_id LIKE 'bench-stream-%'"))
            await cleanup.ExecuteNonQueryAsync();

        var delays = acknowledged.Where(a => received.ContainsKey(a.Key))
            .Select(a => Math.Max(0, received[a.Key] - a.Value) * 1000.0 / Stopwatch.Frequency).Order().ToList();
        double Percentile(double p) => delays.Count == 0 ? double.NaN : delays[(int)Math.Min(delays.Count - 1, Math.Ceiling(p * delays.Count) - 1)];
        return string.Join('\n',
            $"f) stream: {count} writes at {writesPerSecond}/s, {received.Count} events received, {count - delays.Count} missing",
            $"   commit-to-event p50 {Percentile(0.50):N1} ms   p99 {Percentile(0.99):N1} ms   max {(delays.Count == 0 ? double.NaN : delays[^1]):N1} ms (target: under 1000 ms)");
    }
}
