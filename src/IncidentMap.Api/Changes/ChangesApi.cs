using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Security;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.WebUtilities;

namespace IncidentMap.Api.Changes;

/// <summary>Dashboards: the change feed (polling) and the live stream (Server-Sent Events) over it.</summary>
public static class ChangesApi
{
    /// <summary>Proxies close idle connections; a comment line this often keeps the stream open.</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    public static IEndpointRouteBuilder MapChanges(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/incidents").WithTags("Dashboards").RequireAuthorization(Security.SecuritySetup.ReadPolicy);
        group.MapMethods("/changes", [HttpMethods.Get, HttpMethods.Head], GetChanges).WithName("getChanges")
            .WithSummary("Created, updated and deleted incidents since a cursor, in commit-safe order")
            .WithDescription("Without `cursor` the feed starts now. Each change has its cursor; `next_cursor` continues. " +
                             "Deleted incidents appear as tombstones (`kind: deleted`, no feature). Every incident filter " +
                             "applies (to the incident's current state). A cursor older than the retention window answers " +
                             "410, whose `resume_cursor` is the feed's head: keep it, reload the items, then follow the feed from it.")
            .WithMetadata(new QueryParametersMetadata { Page = ["properties", "precision"] },
                new QueryParameterDoc("cursor", "Where to continue: a change's cursor or next_cursor; without it the feed starts now."),
                new QueryParameterDoc("limit", "Changes per page, at least 1 (default 100; more than 1000 are clamped to 1000).", "integer", Minimum: "1"))
            .DeclaresPreconditionsWithoutETag()
            .Produces<ChangePageDoc>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status410Gone);
        group.MapMethods("/stream", [HttpMethods.Get, HttpMethods.Head], Stream).WithName("streamChanges")
            .RequireRateLimiting(Security.SecuritySetup.StreamLimit)
            .WithSummary("The change feed as Server-Sent Events")
            .WithDescription("Each event's id is its feed cursor: reconnect with Last-Event-ID (browsers do) to resume " +
                             "exactly. Event names are created, updated and deleted; data is the change as in /changes. " +
                             "The stream's cursor also comes as an id without data, first and whenever it has moved past " +
                             "the last event (EventSource keeps it for its reconnect); at least every 15 s something is " +
                             "written (that id or a comment line), so proxies do not close the connection. A datetime " +
                             "relative to now moves with the stream.")
            .WithMetadata(new QueryParametersMetadata { Page = ["properties", "precision"] },
                new QueryParameterDoc("cursor", "Where to start (as Last-Event-ID does); without either the stream starts now."),
                new HeaderParameterDoc("Last-Event-ID", "The id of the last event received (EventSource sends it when it reconnects): " +
                                                        "the stream resumes right after it. Takes precedence over cursor; a bad or expired one is a 400 or 410 naming Last-Event-ID."))
            .DeclaresPreconditionsWithoutETag()
            .Produces(StatusCodes.Status200OK, null, "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status410Gone);
        return app;
    }

    private static async Task<(FeedCursor Cursor, IResult? Problem)> StartAsync(string? text, string field, ChangeFeed feed, CancellationToken ct)
    {
        if (text is null) return (await feed.HeadAsync(ct), null);
        if (!FeedCursor.TryParse(text, out var cursor))
            return (default, Problem.BadParameter(field, $"'{text}' is not a change feed cursor"));
        var (expired, ahead) = await feed.CheckAsync(cursor, ct);
        if (expired) return (default, await ExpiredAsync(feed, cursor, field, ct));
        if (ahead)
            return (default, Problem.BadParameter(field, $"'{text}' was never given out by the feed: no change has that position, or it is ahead of the feed (take cursors from next_cursor or event ids)"));
        return (cursor, null);
    }

    /// <summary>
    /// A 410 with the feed's head as <c>resume_cursor</c>, taken before the client reloads: changes committed while
    /// it reloads come again from that cursor. Told to reload first and then take a cursor, a client missed every
    /// change committed in between (audit).
    /// </summary>
    private static async Task<IResult> ExpiredAsync(ChangeFeed feed, FeedCursor cursor, string field, CancellationToken ct)
    {
        var resume = (await feed.HeadAsync(ct)).ToString();
        return Problem.Status(StatusCodes.Status410Gone, "Cursor expired",
            $"Changes after {cursor} have been purged by retention. Keep resume_cursor ({resume}), reload " +
            "/collections/incidents/items, then follow /collections/incidents/changes?cursor=" + resume +
            ": changes made while you reload come again there, so none is missed.", field,
            new Dictionary<string, object?> { ["resume_cursor"] = resume });
    }

    internal static async Task<IResult> GetChanges(HttpRequest request, ChangeFeed feed, CancellationToken ct)
    {
        var (query, invalid) = await QueryParser.ParseFiltersAsync(request, "cursor", "limit");
        if (invalid is not null) return invalid;
        var limit = ChangeFeed.DefaultLimit;
        if (request.Query.TryGetValue("limit", out var limitText) && !QueryParser.TryLimit(limitText.ToString(), ChangeFeed.MaxLimit, out limit))
            return Problem.BadParameter("limit", QueryParser.LimitError(limitText.ToString()));

        // Every answer of the feed is of its moment, a 410's resume_cursor too: no cache may keep one.
        request.HttpContext.Response.Headers.CacheControl = "no-store";
        var (cursor, problem) = await StartAsync(request.Query["cursor"].FirstOrDefault(), "cursor", feed, ct);
        if (problem is not null) return problem;
        // A page has no ETag (it is of its moment): If-Match is evaluated as on the discovery documents, * alone
        // matching. After the cursor's check, whose 410 or 400 a precondition does not change (RFC 9110 §13.2.1).
        if (Collections.Conditional.EvaluateWithoutETag(request.HttpContext) is { } failed) return failed;
        // A HEAD reads one change where the GET reads its page: its status depends on the read (a 410 when purged
        // meanwhile, a 503 when the database fails), not on how much of the page there is (review: a page of 1,000
        // whole features was read and dropped).
        var head = HttpMethods.IsHead(request.Method);
        var page = await feed.ReadAsync(query!, cursor, head ? 1 : limit, Security.Scopes.IsEditor(request.HttpContext.User), ct);
        if (page.Expired) return await ExpiredAsync(feed, cursor, "cursor", ct); // purged since the check above
        if (head)
        {
            request.HttpContext.Response.ContentType = "application/json";
            return TypedResults.Ok();
        }
        var next = Collections.RequestUrl.With(request, ("cursor", page.Next.ToString()));
        return new ChangePageResult(page, next);
    }

    /// <summary>
    /// A page written straight to the response, change by change: a page holds up to 1,000 whole
    /// features (one may have 100,000 vertices), which are not copied again into one string.
    /// </summary>
    private sealed class ChangePageResult(ChangePage page, string next) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.ContentType = "application/json";
            var body = context.Response.BodyWriter;
            Encoding.UTF8.GetBytes("{\"changes\":[", body);
            for (var n = 0; n < page.Changes.Count; n++)
            {
                if (n > 0) Encoding.UTF8.GetBytes(",", body);
                WriteJson(page.Changes[n], body);
                if (body.UnflushedBytes > 64 * 1024) await body.FlushAsync(context.RequestAborted);
            }
            Encoding.UTF8.GetBytes($"],\"next_cursor\":{JsonSerializer.Serialize(page.Next.ToString())}" +
                $",\"links\":[{{\"href\":{JsonSerializer.Serialize(next)},\"rel\":\"next\",\"type\":\"application/json\"}}]}}", body);
            await body.FlushAsync(context.RequestAborted);
        }
    }

    /// <summary>How often an open stream looks its API key up again: a revoked key's stream ends within this long.</summary>
    public static readonly TimeSpan KeyCheck = TimeSpan.FromSeconds(5);

    internal static async Task Stream(HttpContext context, ChangeFeed feed, ChangeListener listener, ILoggerFactory loggers,
        IHostApplicationLifetime lifetime, Security.ApiKeys keys)
    {
        var request = context.Request;
        var response = context.Response;
        // A stream also ends when the service starts stopping: open streams otherwise held shutdown for
        // the host's whole timeout (30 s, beyond docker stop's 10), and clients reconnect with their
        // Last-Event-ID anyway, to this service once it is back or to another instance.
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var ct = streaming.Token;
        var (query, invalid) = await QueryParser.ParseFiltersAsync(request, "cursor");
        if (invalid is not null)
        {
            await invalid.ExecuteAsync(context);
            return;
        }
        var resume = request.Headers["Last-Event-ID"].FirstOrDefault() ?? request.Query["cursor"].FirstOrDefault();
        request.HttpContext.Response.Headers.CacheControl = "no-store";
        var (cursor, problem) = await StartAsync(resume, request.Headers.ContainsKey("Last-Event-ID") ? "Last-Event-ID" : "cursor", feed, ct);
        if ((problem ?? Collections.Conditional.EvaluateWithoutETag(context)) is { } refused)
        {
            await refused.ExecuteAsync(context);
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        // HEAD: the headers a GET would send (its cursor checked), and the end; its stream slot is given back at once.
        if (HttpMethods.IsHead(request.Method)) return;
        // The cursor as an event id without data: EventSource takes it as its last event id without
        // firing an event, so a client that reconnects before any event (or after many changes its
        // filter skipped) resumes where the stream was, not at "now" and not at an expired cursor.
        await response.WriteAsync($"retry: 2000\nid: {cursor}\n\n", ct);
        await response.Body.FlushAsync(ct);
        var sentCursor = cursor;
        var lastWrite = System.Diagnostics.Stopwatch.StartNew();
        var datetime = request.Query["datetime"].FirstOrDefault();
        // The key was checked once, at connect; a stream lasts for hours. It is looked up again every KeyCheck
        // (in the database, not the 10 s cache), and a revoked key ends the stream: it had gone on sending an
        // editor's view (deleted incidents among them) after "refused everywhere within 10 s".
        var key = context.User.KeyName() is null ? null : Security.ApiKeyAuthentication.KeyFrom(request);
        var keyChecked = System.Diagnostics.Stopwatch.StartNew();

        var logger = loggers.CreateLogger(typeof(ChangesApi));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (key is not null && keyChecked.Elapsed >= KeyCheck)
                {
                    keyChecked.Restart();
                    if (await RevokedAsync(keys, key, logger, ct))
                    {
                        // Said, then ended: EventSource reconnects, and the reconnect hears the 401.
                        await response.WriteAsync("event: unauthorized\ndata: {\"detail\":\"the API key of this stream was revoked\"}\n\n", ct);
                        await response.Body.FlushAsync(ct);
                        return;
                    }
                }
                // Ask for the next wake-up before reading, so a change landing in between is not slept through.
                var wake = listener.NextChangeAsync(ct);
                // A window relative to now (datetime=PT24H) moves with the stream, not fixed at connect.
                if (query!.RelativeTo is not null && TimeWindow.TryParse(datetime!, DateTimeOffset.UtcNow, out var from, out var until, out _))
                    query = query with { From = from, Until = until };
                ChangePage? page = null;
                try
                {
                    page = await feed.ReadAsync(query, cursor, ChangeFeed.MaxLimit, Security.Scopes.IsEditor(context.User), ct);
                }
                catch (Npgsql.PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("54", StringComparison.Ordinal))
                {
                    // A value of the request the database refused (class 22) or found too complex (54), as a read answers
                    // 400: said, then ended. It was taken for an outage, and the stream retried every second for ever,
                    // sending nothing. A reconnect with the same request meets the same change, and the same answer.
                    logger.LogInformation("Stream ended: the database refused its filter at cursor {Cursor} ({SqlState})", cursor, e.SqlState);
                    await response.WriteAsync("event: invalid\ndata: {\"detail\":\"a value of the request (its filter, q or another parameter) " +
                        "is out of range, malformed or too complex for the database at the next change; the stream cannot go on with it\"}\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    return;
                }
                catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or Polly.CircuitBreaker.BrokenCircuitException)
                {
                    // The database is away (or the circuit breaker says so, for a few seconds after a burst
                    // of failures): keep the client connected and read again once it is back.
                    logger.LogDebug(e, "Stream read failed; retrying");
                }

                if (page is { Expired: true })
                {
                    // Retention purged changes this stream had not sent (a stream catching up from an old
                    // cursor): say so and end; the reconnect with the last id then gets the 410.
                    await response.WriteAsync($"event: expired\ndata: {{\"cursor\":\"{cursor}\"}}\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    return;
                }
                if (page is not null)
                {
                    foreach (var change in page.Changes)
                        await response.WriteAsync($"id: {change.Cursor}\nevent: {change.Kind}\ndata: {ToJson(change)}\n\n", ct);
                    cursor = page.Next;
                    if (page.Changes.Count > 0)
                    {
                        (sentCursor, lastWrite) = (page.Changes[^1].Cursor, System.Diagnostics.Stopwatch.StartNew());
                        await response.Body.FlushAsync(ct);
                    }
                    if (page.Changes.Count == ChangeFeed.MaxLimit) continue;
                }

                // Something every Heartbeat, whatever woke the loop (changes the filter skips, an
                // outage): proxies close streams that stay silent. It carries the cursor once it has
                // moved past the last event sent.
                var quiet = Heartbeat - lastWrite.Elapsed;
                if (key is not null && KeyCheck - keyChecked.Elapsed is var untilCheck && untilCheck < quiet) quiet = untilCheck;
                if (quiet > TimeSpan.Zero)
                {
                    using var sleeping = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    await Task.WhenAny(page is null ? Task.Delay(TimeSpan.FromSeconds(1), ct) : wake, Task.Delay(quiet, sleeping.Token));
                    await sleeping.CancelAsync(); // a busy feed wakes often: no timer left behind per wake-up
                }
                if (lastWrite.Elapsed >= Heartbeat)
                {
                    await response.WriteAsync(cursor.CompareTo(sentCursor) != 0 ? $"id: {cursor}\n\n" : ": heartbeat\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    (sentCursor, lastWrite) = (cursor, System.Diagnostics.Stopwatch.StartNew());
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the service is stopping.
        }
    }

    /// <summary>Whether the stream's key is revoked (or gone); not while the database cannot say, which the stream rides out.</summary>
    private static async Task<bool> RevokedAsync(Security.ApiKeys keys, string key, ILogger logger, CancellationToken ct)
    {
        try
        {
            return await keys.FindAsync(key, ct) is null;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            logger.LogDebug(e, "Stream key check failed; checking again later");
            return false;
        }
    }

    /// <summary>One change as JSON: its members, then the feature as the row writer rendered it.</summary>
    private static string Head(Change change) =>
        $"{{\"cursor\":\"{change.Cursor}\",\"kind\":\"{change.Kind}\",\"id\":{change.Id},\"version\":{change.Version}" +
        $",\"changed_at\":\"{change.ChangedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)}\",\"feature\":";

    private static string ToJson(Change change) => Head(change) + (change.Feature ?? "null") + "}";

    private static void WriteJson(Change change, System.Buffers.IBufferWriter<byte> output)
    {
        Encoding.UTF8.GetBytes(Head(change), output);
        Encoding.UTF8.GetBytes(change.Feature ?? "null", output);
        Encoding.UTF8.GetBytes("}", output);
    }
}

/// <summary>A page of the change feed.</summary>
public sealed record ChangePageDoc(
    [property: JsonPropertyName("changes")] ChangeDoc[] Changes,
    [property: JsonPropertyName("next_cursor")] string NextCursor,
    [property: JsonPropertyName("links")] LinkDoc[] Links);

/// <summary>One change; feature is the incident now, null for a deletion.</summary>
public sealed record ChangeDoc(
    [property: JsonPropertyName("cursor")] string Cursor,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("changed_at")] DateTimeOffset ChangedAt,
    [property: JsonPropertyName("feature")] IncidentFeatureDoc? Feature);
