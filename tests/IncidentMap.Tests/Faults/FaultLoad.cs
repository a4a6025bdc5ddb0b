using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace IncidentMap.Tests.Faults;

/// <summary>A write the service acknowledged with 201.</summary>
public sealed record Ack(long Id, string ExternalId, string Key, bool Replayed, int Attempts, string Who);

/// <summary>Everything the clients saw, counted from many tasks at once.</summary>
public sealed class LoadStats
{
    /// <summary>"POST 201", "GET items 503", "GET ready 200", "POST error HttpRequestException" …</summary>
    public ConcurrentDictionary<string, int> Outcomes { get; } = new();
    public ConcurrentQueue<Ack> Acknowledged { get; } = new();

    /// <summary>Answers the test does not accept (5xx other than 503, 409 for a duplicate external_id, …), with their bodies.</summary>
    public ConcurrentQueue<string> Unexpected { get; } = new();

    /// <summary>Writes that got no 201 within the client's patience (their outcome is unknown to the client).</summary>
    public ConcurrentQueue<string> GaveUp { get; } = new();

    public int Retries;
    public int Reads;

    public void Count(string outcome) => Outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);

    public int Get(string outcome) => Outcomes.TryGetValue(outcome, out var n) ? n : 0;

    public int Sum(Func<string, bool> which) => Outcomes.Where(o => which(o.Key)).Sum(o => o.Value);

    /// <summary>When, and for which method, each unexpected answer came: to find the service's log entries for it.</summary>
    public ConcurrentQueue<(DateTime At, string Method)> FlaggedAt { get; } = new();

    public void Flag(string what)
    {
        var now = DateTime.UtcNow;
        FlaggedAt.Enqueue((now, what.StartsWith("POST", StringComparison.Ordinal) ? "POST" : what.StartsWith("GET", StringComparison.Ordinal) ? "GET" : ""));
        if (Unexpected.Count < 200) Unexpected.Enqueue($"{now:HH:mm:ss.fff} {what}");
    }
}

/// <summary>
/// Writers that POST incidents with an Idempotency-Key and, like a careful client, retry the very same
/// request (same key, same bytes) on any failure until it answers 201; readers that page the run's
/// incidents and poll readiness.
/// </summary>
public sealed class FaultLoad(HttpClient http, string runTag, LoadStats stats)
{
    public const string ItemsPath = "/collections/incidents/items";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>One writer: a new incident after another until <paramref name="stop"/>; a started write is always finished.</summary>
    public async Task WriterAsync(int writer, CancellationToken stop)
    {
        try
        {
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                await CreateAsync($"w{writer}-{seq}", Patience, impatient: true);
                await Task.Delay(Random.Shared.Next(5, 40), CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            stats.Flag($"writer {writer} crashed: {e}");
        }
    }

    /// <summary>
    /// Creates one incident, retrying with the same Idempotency-Key; the acknowledgement, or null after
    /// <paramref name="patience"/>. An <paramref name="impatient"/> client abandons one attempt in ten after
    /// a few milliseconds (a client timeout), so the service also sees retries of writes that did commit
    /// (they must be answered by replay, never stored again).
    /// </summary>
    public async Task<Ack?> CreateAsync(string who, TimeSpan patience, bool impatient = false)
    {
        var externalId = $"fault:{runTag}:{who}";
        var key = $"{runTag}-{who}-{Guid.NewGuid():N}";
        var feature = new JsonObject
        {
            ["type"] = "Feature",
            ["geometry"] = new JsonObject
            {
                ["type"] = "Point",
                ["coordinates"] = new JsonArray(36 + Random.Shared.NextDouble(), 34 + Random.Shared.NextDouble()),
            },
            ["properties"] = new JsonObject
            {
                ["title"] = $"Fault test {runTag} {who}",
                ["event_type"] = "explosions_remote_violence",
                ["occurred_at"] = "2016-02-21T07:30:00Z",
                ["country"] = "SY",
                ["tags"] = new JsonArray(runTag),
                ["external_id"] = externalId,
            },
        };
        var body = Encoding.UTF8.GetBytes(feature.ToJsonString());   // the same bytes on every retry

        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            if (attempt > 1) Interlocked.Increment(ref stats.Retries);
            using var deadline = impatient && Random.Shared.Next(10) == 0
                ? new CancellationTokenSource(TimeSpan.FromMilliseconds(Random.Shared.Next(2, 40)))
                : new CancellationTokenSource();
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, ItemsPath) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new("application/geo+json");
                request.Headers.Add("Idempotency-Key", key);
                using var response = await http.SendAsync(request, deadline.Token);
                var text = await response.Content.ReadAsStringAsync(deadline.Token);
                var status = (int)response.StatusCode;
                stats.Count($"POST {status}");
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true");
                    if (replayed) stats.Count("POST 201 replayed");
                    var answer = JsonNode.Parse(text)!;
                    var id = answer["id"]!.GetValue<long>();
                    var answered = answer["properties"]?["external_id"]?.GetValue<string>();
                    if (answered != externalId)
                        stats.Flag($"POST {who} key {key}: 201 (replayed={replayed}) for incident {id} with external_id '{answered}', sent '{externalId}'");
                    var ack = new Ack(id, externalId, key, replayed, attempt, who);
                    stats.Acknowledged.Enqueue(ack);
                    return ack;
                }
                if (response.StatusCode == HttpStatusCode.Conflict)
                {
                    // 409 "Request in progress" (the Idempotency-Key is still held) is expected; a 409 for a
                    // duplicate external_id means an earlier attempt committed and the key did not replay it.
                    var field = Field(text);
                    if (field == "Idempotency-Key") stats.Count("POST 409 in progress");
                    else
                    {
                        stats.Flag($"POST {who} key {key} attempt {attempt}: 409 not for the key (field {field}): {text}");
                        return null;
                    }
                }
                else if (status == 503) CheckUnavailable($"POST {who} attempt {attempt}", response, text);
                else
                {
                    stats.Flag($"POST {who} key {key} attempt {attempt}: {status}: {Trim(text)}");
                    if (status is >= 400 and < 500) return null;    // the client's fault: a retry cannot help
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                stats.Count("POST abandoned by the client");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                stats.Count($"POST error {e.GetType().Name}");
            }
            if (clock.Elapsed > patience)
            {
                stats.GaveUp.Enqueue($"{who} (key {key}) after {attempt} attempts in {clock.Elapsed.TotalSeconds:0.0} s");
                return null;
            }
            await Task.Delay(Random.Shared.Next(100, 500));
        }
    }

    /// <summary>One reader: the run's newest incidents, and every few requests readiness, until <paramref name="stop"/>.</summary>
    public async Task ReaderAsync(int reader, CancellationToken stop)
    {
        try
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                if (n % 4 == 3) await ReadyAsync("GET ready");
                else await ReadItemsAsync();
                await Task.Delay(Random.Shared.Next(20, 80), CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            stats.Flag($"reader {reader} crashed: {e}");
        }
    }

    private async Task ReadItemsAsync()
    {
        Interlocked.Increment(ref stats.Reads);
        try
        {
            using var response = await http.GetAsync($"{ItemsPath}?tags={runTag}&limit=50");
            var text = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            stats.Count($"GET items {status}");
            if (status == 200)
            {
                JsonArray features;
                try
                {
                    features = JsonNode.Parse(text)!["features"]!.AsArray();
                }
                catch (System.Text.Json.JsonException e)
                {
                    stats.Flag($"GET items: 200 with a body that is not GeoJSON ({e.Message}): {Trim(text)}");
                    return;
                }
                if (features.Any(f => !f!["properties"]!["tags"]!.AsArray().Any(t => t!.GetValue<string>() == runTag)))
                    stats.Flag($"GET items: a feature without the tag {runTag}");
            }
            else if (status == 503) CheckUnavailable("GET items", response, text);
            else stats.Flag($"GET items: {status}: {Trim(text)}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            // A response cut off mid-stream by a fault surfaces here (the status was already sent).
            stats.Count($"GET items error {e.GetType().Name}");
        }
    }

    /// <summary>A 503 must be a whole problem document with Retry-After, so clients know to come back.</summary>
    private void CheckUnavailable(string what, HttpResponseMessage response, string text)
    {
        if (response.Headers.RetryAfter is null) stats.Flag($"{what}: 503 without Retry-After");
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            stats.Flag($"{what}: 503 as {response.Content.Headers.ContentType}: {Trim(text)}");
        try
        {
            if (JsonNode.Parse(text)?["status"]?.GetValue<int>() != 503) stats.Flag($"{what}: 503 whose problem says otherwise: {Trim(text)}");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            stats.Flag($"{what}: 503 with a body that is not a problem document ({e.Message}): {Trim(text)}");
        }
    }

    /// <summary>GET /health/ready; true when it answers 200.</summary>
    public async Task<bool> ReadyAsync(string label)
    {
        try
        {
            using var response = await http.GetAsync("/health/ready");
            var status = (int)response.StatusCode;
            stats.Count($"{label} {status}");
            if (status is not (200 or 503)) stats.Flag($"{label}: {status}: {Trim(await response.Content.ReadAsStringAsync())}");
            return status == 200;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            stats.Count($"{label} error {e.GetType().Name}");
            return false;
        }
    }

    /// <summary>
    /// Time until /health/ready answers 200 and then a new POST is acknowledged; null when that takes
    /// longer than <paramref name="limit"/>.
    /// </summary>
    public async Task<TimeSpan?> MeasureRecoveryAsync(string who, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!await ReadyAsync("GET ready (probe)"))
        {
            if (clock.Elapsed > limit) return null;
            await Task.Delay(100);
        }
        var ack = await CreateAsync(who, limit - clock.Elapsed);
        return ack is null ? null : clock.Elapsed;
    }

    private static string? Field(string problem)
    {
        try
        {
            return JsonNode.Parse(problem)?["errors"]?.AsArray().FirstOrDefault()?["field"]?.GetValue<string>();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Head and tail of a body: enough to see what it is and how it ends.</summary>
    private static string Trim(string text) => text.Length <= 800 ? text : $"{text[..400]} …[{text.Length - 800} chars]… {text[^400..]}";
}
