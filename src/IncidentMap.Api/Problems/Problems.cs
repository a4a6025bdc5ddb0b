using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace IncidentMap.Api.Problems;

/// <summary>One invalid field or parameter: a JSON-pointer-like path and what is wrong with it.</summary>
public sealed record FieldError(string Field, string Detail)
{
    /// <summary>The most characters of a client's value a message quotes.</summary>
    public const int QuotedLength = 100;

    /// <summary>The most characters of a field's name sent back (an unknown property's name is the client's).</summary>
    public const int FieldLength = 200;

    /// <summary>The most characters of a message sent back, after its quoted values are cut (<see cref="Problem.QuotedCut"/>).</summary>
    public const int DetailLength = 1000;

    /// <summary>A field's name as it is sent back: cut to <see cref="FieldLength"/> characters.</summary>
    public static string CutField(string field) => Problem.Cut(field, FieldLength);

    /// <summary>A message as it is sent back: each quoted value cut (<see cref="Quoted"/>), then the whole to <see cref="DetailLength"/>.</summary>
    public static string CutDetail(string detail) => Problem.Cut(Problem.QuotedCut(detail), DetailLength);

    /// <summary>
    /// Clients' values listed in a message: each <see cref="Quoted"/>, joined with ", " while the list stays within
    /// <paramref name="budget"/> characters, then "and N more". 5,000 unknown CSV columns were listed whole, 284 KB a
    /// message, and a message cut at <see cref="DetailLength"/> would lose what follows the list.
    /// </summary>
    public static string QuotedList(IReadOnlyCollection<string> values, int budget = 500)
    {
        var listed = new System.Text.StringBuilder();
        var count = 0;
        foreach (var value in values)
        {
            var quoted = Quoted(value);
            // The first is always listed (a quoted value is at most about 130 characters).
            if (count > 0 && listed.Length + 2 + quoted.Length > budget) break;
            if (count > 0) listed.Append(", ");
            listed.Append(quoted);
            count++;
        }
        return count == values.Count ? listed.ToString() : $"{listed} and {values.Count - count} more";
    }

    /// <summary>
    /// A client's value as a message quotes it: 'value', cut to <see cref="QuotedLength"/> characters (and never
    /// between the halves of a surrogate pair) with an ellipsis. An import's report quotes a value per problem, and
    /// a 1 MB cell quoted whole made a 3 MB report of three rows (kept in the job's row too).
    /// </summary>
    public static string Quoted(string? value) => value is null || value.Length <= QuotedLength + 1
        ? $"'{value}'"
        // Longer than Cut's length, so always cut; its length in characters (code points), as every limit counts them.
        : $"'{Problem.Cut(value, QuotedLength + 1)}' ({Incidents.IncidentInput.Characters(value)} characters)";
}

/// <summary>RFC 9457 problem documents used across the API. Every one names what the client got wrong.</summary>
public static partial class Problem
{
    public const string ContentType = "application/problem+json";

    public static ProblemHttpResult Validation(IReadOnlyList<FieldError> errors, int status = StatusCodes.Status422UnprocessableEntity)
    {
        // A problem with the document as a whole is the body's. Fields and details echo what was sent
        // (an unknown property's name, a value not in a vocabulary): each is cut short, so that a body
        // of a few long names or values is not answered with a problem as large, and at most
        // MaxErrors are listed (the detail still counts them all).
        var count = errors.Count;
        errors = errors.Take(MaxErrors).Select(e => e switch
        {
            // A query parameter's name is empty when the URL has a stray '=' (?=1, &=): it is no body's, whatever the method.
            { Field.Length: 0 } when e.Detail.StartsWith(NotAParameterStart, StringComparison.Ordinal) => new FieldError("", EmptyParameterName),
            _ => new FieldError(e.Field.Length == 0 ? "body" : FieldError.CutField(e.Field), FieldError.CutDetail(e.Detail)),
        }).ToList();
        static string Said(FieldError e) => e.Field.Length == 0 ? e.Detail : $"{e.Field}: {e.Detail}";
        return TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = status,
            Title = status == StatusCodes.Status400BadRequest ? "Invalid request" : "Invalid content",
            Detail = count == 1
                ? Said(errors[0])
                : $"{count} problems{(count > MaxErrors ? $" (the first {MaxErrors} listed)" : "")}, first {Said(errors[0])}",
            Extensions = { ["errors"] = errors },
        });
    }

    /// <summary>How every refusal of an unknown query parameter begins (<see cref="NotAParameter"/>, place search's own).</summary>
    private const string NotAParameterStart = "is not a parameter of";

    /// <summary>What a query parameter with an empty name is told; its field is the name, "".</summary>
    public const string EmptyParameterName =
        "a query parameter with an empty name (a stray '=' or '&=' in the query string) is not a parameter of this endpoint; leave it out";

    /// <summary>The most field errors one problem lists.</summary>
    public const int MaxErrors = 100;

    /// <summary>
    /// A message with each client's value it quotes ('…') over <see cref="FieldError.QuotedLength"/> characters cut as
    /// <see cref="FieldError.Quoted"/> cuts it, wherever the message was written: <c>event_type=</c> of 5,000 letters was
    /// sent back to 990 of them, and the cut at 1,000 lost the message's hint.
    /// </summary>
    internal static string QuotedCut(string detail) =>
        detail.Length <= FieldError.QuotedLength ? detail : LongQuote().Replace(detail, m => FieldError.Quoted(m.Groups[1].Value));

    // A quote opens after the start, a space, '(' or ',' and closes before a space, punctuation or the end, so that an
    // apostrophe in prose or a place's name (GeoNames' ..., Ma'arrat) does not pass for one (review).
    [System.Text.RegularExpressions.GeneratedRegex(@"(?<=^|[\s(,])'([^']{102,}?)'(?=$|[\s),;:.])")]
    private static partial System.Text.RegularExpressions.Regex LongQuote();

    /// <summary>Text sent back in a problem, cut to <paramref name="length"/> characters (the last an ellipsis).</summary>
    internal static string Cut(string text, int length) => text.Length <= length ? text
        : string.Concat(text.AsSpan(0, char.IsHighSurrogate(text[length - 2]) ? length - 2 : length - 1), "…"); // never half an emoji

    public static ProblemHttpResult BadParameter(string parameter, string detail) =>
        Validation([new FieldError(parameter, detail)], StatusCodes.Status400BadRequest);

    /// <summary>What a query parameter the endpoint does not take is told (OGC /req/core/query-param-unknown).</summary>
    public const string NotAParameter = "is not a parameter of this endpoint (see /openapi/v1.json)";

    public static ProblemHttpResult Status(int status, string title, string detail, string? field = null,
        IDictionary<string, object?>? extensions = null)
    {
        detail = QuotedCut(detail);
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        if (field is not null) problem.Extensions["errors"] = new[] { new FieldError(field, detail) };
        foreach (var (key, value) in extensions ?? new Dictionary<string, object?>()) problem.Extensions[key] = value;
        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult NotFound(string what) =>
        Status(StatusCodes.Status404NotFound, "Not found", what);
}

/// <summary>Fills in what the framework's own problem answers (404, 405, 415 from routing) leave out.</summary>
public static class ProblemDefaults
{
    private static readonly Dictionary<int, string> Types = new()
    {
        [StatusCodes.Status400BadRequest] = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        [StatusCodes.Status401Unauthorized] = "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        [StatusCodes.Status403Forbidden] = "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        [StatusCodes.Status404NotFound] = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        [StatusCodes.Status405MethodNotAllowed] = "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        [StatusCodes.Status406NotAcceptable] = "https://tools.ietf.org/html/rfc9110#section-15.5.7",
        [StatusCodes.Status409Conflict] = "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        [StatusCodes.Status410Gone] = "https://tools.ietf.org/html/rfc9110#section-15.5.11",
        [StatusCodes.Status412PreconditionFailed] = "https://tools.ietf.org/html/rfc9110#section-15.5.13",
        [StatusCodes.Status413PayloadTooLarge] = "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        [StatusCodes.Status415UnsupportedMediaType] = "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        [StatusCodes.Status422UnprocessableEntity] = "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        [StatusCodes.Status428PreconditionRequired] = "https://www.rfc-editor.org/rfc/rfc6585#section-3",
        [StatusCodes.Status429TooManyRequests] = "https://www.rfc-editor.org/rfc/rfc6585#section-4",
        [StatusCodes.Status500InternalServerError] = "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        [StatusCodes.Status503ServiceUnavailable] = "https://tools.ietf.org/html/rfc9110#section-15.6.4",
    };

    /// <summary>
    /// The body types that would do. Routing refuses a body type an endpoint does not accept before the
    /// endpoint is chosen (the request's endpoint is then routing's own, which accepts nothing), so the
    /// answer is what the endpoints of this path and method accept: going by method alone told POST
    /// /admin/keys, which takes application/json only, to send GeoJSON. A path no endpoint has gets the
    /// incidents' types: a merge patch for PATCH, GeoJSON otherwise.
    /// </summary>
    private static IEnumerable<string> Accepted(HttpContext context)
    {
        if (context.GetEndpoint() is { } endpoint && AcceptedBy(endpoint) is { Count: > 0 } own) return own;
        var request = context.Request;
        var candidates = (context.RequestServices.GetService<EndpointDataSource>()?.Endpoints ?? [])
            .OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods
                            .Contains(request.Method, StringComparer.OrdinalIgnoreCase) == true
                        && new Microsoft.AspNetCore.Routing.Template.TemplateMatcher(
                            new Microsoft.AspNetCore.Routing.Template.RouteTemplate(e.RoutePattern), new RouteValueDictionary())
                            .TryMatch(request.Path, new RouteValueDictionary()))
            .SelectMany(AcceptedBy).Distinct().ToList();
        return candidates.Count > 0 ? candidates
            : HttpMethods.IsPatch(request.Method) ? Incidents.IncidentsApi.PatchMediaTypes : ["application/geo+json", "application/json"];
    }

    /// <summary>
    /// The body types an endpoint declares. The search reads GeoJSON as well as the JSON its Accepts names (routing lets
    /// application/geo+json through as a kind of JSON): its declared types are SearchRequestDoc's, as the OpenAPI document's are.
    /// </summary>
    private static IReadOnlyList<string> AcceptedBy(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>() switch
        {
            { RequestType: var type } when type == typeof(Incidents.SearchRequestDoc) => Incidents.SearchRequestDoc.MediaTypes,
            { ContentTypes: { Count: > 0 } types } => types,
            _ => [],
        };

    public static void Fill(ProblemDetailsContext context)
    {
        // RFC 5789 §2.2: a refused patch document names the patch formats that would do.
        if (context.ProblemDetails.Status == StatusCodes.Status415UnsupportedMediaType && HttpMethods.IsPatch(context.HttpContext.Request.Method))
            context.HttpContext.Response.Headers["Accept-Patch"] = string.Join(", ", Accepted(context.HttpContext));
        var problem = context.ProblemDetails;
        var request = context.HttpContext.Request;
        problem.Instance ??= request.Path;
        // Cut as every message is (FieldError.CutDetail): a Content-Type of 20,000 characters came back whole, twice.
        problem.Detail ??= (problem.Status switch
        {
            StatusCodes.Status404NotFound => $"Nothing is served at {request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}.",
            StatusCodes.Status415UnsupportedMediaType =>
                $"Content-Type '{request.ContentType}' is not accepted here; send {string.Join(" or ", Accepted(context.HttpContext))}.",
            _ => null,
        }) is { } detail ? FieldError.CutDetail(detail) : null;
        // The framework types some statuses; the rest are typed here, so every problem names its type.
        if (problem.Type is null && problem.Status is { } status) problem.Type = Types.GetValueOrDefault(status, "about:blank");
        if (problem.Status == StatusCodes.Status415UnsupportedMediaType && !problem.Extensions.ContainsKey("errors"))
            problem.Extensions["errors"] = new[] { new FieldError("Content-Type", problem.Detail!) };
    }
}

/// <summary>
/// Turns exceptions into problem details: client mistakes the framework detects (oversized body,
/// malformed request) keep their 4xx status; a database that cannot be reached is a 503.
/// Everything else is a 500 that names nothing internal.
/// </summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (413, "Request body too large", $"The body exceeds the limit of {context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes."),
            // Kestrel's MinRequestBodyDataRate: its own message names the setting, not what to do.
            BadHttpRequestException { StatusCode: StatusCodes.Status408RequestTimeout } =>
                (408, "Request timeout", "The request body arrived too slowly (less than 240 bytes a second for 5 seconds); send it faster, or compressed."),
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            // A gzip, br or deflate body that does not decompress (request decompression).
            InvalidDataException => (400, "Invalid compressed body", "The body could not be decompressed as its Content-Encoding says."),
            Imports.IncompleteDataException incomplete => (400, "Invalid compressed body", $"The body sent with a Content-Encoding {incomplete.Message}."),
            // Backstops for text that slipped past validation: the client's data, never a 500.
            PostgresException { SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter } =>
                (400, "Invalid text", "The request contains text the database cannot store (a NUL character or invalid Unicode)."),
            // Class 54 (program limit exceeded), e.g. a search text too deep for tsquery: the request's shape.
            PostgresException { SqlState: var limit } when limit.StartsWith("54", StringComparison.Ordinal) =>
                (400, "Request too complex", "A value in the request is too complex for the database to evaluate; simplify it."),
            // Class 22 (data exception): a value the database refused, which here always comes from the request.
            PostgresException { SqlState: var state } when state.StartsWith("22", StringComparison.Ordinal) =>
                (400, "Invalid value", "A value in the request is out of range or malformed for the database."),
            System.Text.EncoderFallbackException or System.Text.DecoderFallbackException =>
                (400, "Invalid text", "The request contains invalid Unicode."),
            // An export stopped before its first row (IncidentReader.OpenAsync's firstRowTimeout): its own timeout is 15 minutes,
            // so the answer says what bounds it.
            Querying.FirstRowTimeoutException slow =>
                (503, "Query took too long",
                 $"An export must find its first incident within {slow.Limit.TotalSeconds:0.###} s (then it may stream for " +
                 $"{Querying.IncidentReader.ExportTimeout.TotalMinutes:0} minutes); this one found none in that time and was stopped. " +
                 "Narrow it (bbox, datetime, filters), or page with limit."),
            // statement_timeout (Database:StatementTimeoutSeconds) stopped a query that asked for too much.
            PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } when !context.RequestAborted.IsCancellationRequested =>
                (503, "Query took too long", "The query ran past the service's time limit and was stopped; narrow it (bbox, datetime, filters) or retry later."),
            // A table, column or function the code needs is missing: the database's schema is older than
            // this service (Database:MigrateOnStartup=false and migrate not run). Not the client's doing.
            PostgresException { SqlState: PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.UndefinedColumn } =>
                (503, "Database not ready", "The database's schema is not the one this service needs (its migrations have not been applied); retry once the operator has run migrate."),
            // Busy, not broken: every connection of a pool is held by other requests.
            NpgsqlException busy when IncidentMap.Api.Database.DatabaseResilience.PoolExhausted(busy) =>
                (503, "Service busy", "Every database connection is busy with other requests; retry shortly."),
            // Other transactions held what this one needed (a deadlock it lost, a lock not granted in time).
            Exception contended when IncidentMap.Api.Database.DatabaseResilience.Contention(contended) =>
                (503, "Busy with other writes", "Another transaction held the data this request needed; retry shortly."),
            NpgsqlException { IsTransient: true } or TimeoutException or Polly.CircuitBreaker.BrokenCircuitException =>
                (503, "Database unavailable", "The database could not be reached; retry shortly."),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested =>
                (499, "Client closed request", "The client went away."),
            _ => (500, "Internal error", "An unexpected error occurred; it has been logged."),
        };
        // A database that is down, slow or not migrated fails every request alike: one warning line each
        // (the breaker's own log says when it opens), not a stack trace; anything else is a bug, logged whole.
        if (status == 503)
            logger.LogWarning("{Title} for {Method} {Path}: {Reason}", title, context.Request.Method, context.Request.Path, exception.Message);
        else if (status >= 500)
            logger.LogError(exception, "Unhandled exception for {Method} {Path}", context.Request.Method, context.Request.Path);
        if (context.Response.HasStarted) return false;

        context.Response.StatusCode = status;
        if (status == 503)
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(IncidentMap.Api.Database.DatabaseResilience.BreakDuration.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        detail = Problem.QuotedCut(detail);
        var problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        // A body that does not decompress is the Content-Encoding's doing: named, as a field at fault is.
        if (exception is InvalidDataException or Imports.IncompleteDataException)
            problem.Extensions["errors"] = new[] { new FieldError("Content-Encoding", detail) };
        // Kestrel's limit stops a chunked body (no Content-Length for JsonBody to check first) while it
        // is read: the same 413 naming the body as JsonBody.TooLarge gives.
        if (status == StatusCodes.Status413PayloadTooLarge)
            problem.Extensions["errors"] = new[] { new FieldError("body", detail) };
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, Exception = exception, ProblemDetails = problem });
    }
}
