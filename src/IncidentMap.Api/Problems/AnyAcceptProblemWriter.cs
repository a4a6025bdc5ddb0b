using System.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace IncidentMap.Api.Problems;

/// <summary>
/// Writes a problem as <c>application/problem+json</c> whatever the request's <c>Accept</c> says, after
/// ASP.NET Core's own writer, which writes only for clients that accept JSON, has declined it. Without
/// it a 401 to <c>Accept: text/html</c>, or a 429 to a browser's EventSource
/// (<c>Accept: text/event-stream</c>), threw inside the handler that answers it and became an empty 500,
/// and the framework's 404, 405 and 415 were plain text. An error is answered in the one format errors
/// have (RFC 9110 §12.1 lets a server disregard <c>Accept</c>); a 406 would tell the client less.
/// The body is the one ASP.NET Core's writer gives a JSON client: the same customisation, defaults and
/// serializer options.
/// </summary>
public sealed class AnyAcceptProblemWriter(IOptions<ProblemDetailsOptions> options, IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        options.Value.CustomizeProblemDetails?.Invoke(context);
        // What ProblemDetailsDefaults.Apply adds for ASP.NET Core's writer.
        problem.Status ??= http.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value) is { Length: > 0 } phrase ? phrase : null;
        if (!problem.Extensions.ContainsKey("traceId"))
            problem.Extensions["traceId"] = Activity.Current?.Id ?? http.TraceIdentifier;
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, problem.GetType(), json.Value.SerializerOptions, "application/problem+json", http.RequestAborted));
    }
}
