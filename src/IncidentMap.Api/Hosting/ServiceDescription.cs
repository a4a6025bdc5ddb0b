using IncidentMap.Api.Collections;
using IncidentMap.Api.OpenApi;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// The OpenAPI document (the landing page's service-desc) answered as the other read paths are. Swashbuckle
/// serves it before routing, so none of their checks reached it:
/// <list type="bullet">
/// <item>its type is the one the service-desc link announces, <see cref="CollectionsApi.OpenApiType"/>, unless the
/// client prefers <c>application/json</c> to it (Swashbuckle's own type, which it answered to everyone before);</item>
/// <item>the type depends on Accept, so the answer says <c>Vary: Accept</c> (a cache would otherwise hand one
/// client's type to the next);</item>
/// <item>a query parameter other than f=json is a 400 naming it, as on the discovery documents.</item>
/// </list>
/// CORS reaches it by running before Swashbuckle (<see cref="IncidentMapHost.UseIncidentMap"/>).
/// </summary>
public static class ServiceDescription
{
    public static readonly PathString Path = $"/openapi/{OpenApiSetup.DocumentName}.json";

    private const string OpenApiMediaType = "application/vnd.oai.openapi+json";

    /// <summary>After HEAD is turned into GET for Swashbuckle, before Swashbuckle.</summary>
    public static IApplicationBuilder UseServiceDescription(this IApplicationBuilder app)
    {
        Func<object, Task> typed = state =>
        {
            var context = (HttpContext)state;
            if (context.Response.StatusCode != StatusCodes.Status200OK) return Task.CompletedTask;
            if (!PrefersPlainJson(context.Request.Headers.Accept)) context.Response.ContentType = CollectionsApi.OpenApiType;
            // Before CacheHeaders' callback (registered earlier, so run later), which adds Accept-Encoding and Origin.
            context.Response.Headers.Vary = HeaderNames.Accept;
            return Task.CompletedTask;
        };
        return app.Use(async (context, next) =>
        {
            if (context.Request.Path != Path || !HttpMethods.IsGet(context.Request.Method))
            {
                await next(context);
                return;
            }
            if (context.Request.QueryString.HasValue && await ParametersOutsideHandlers.JsonOnlyProblemAsync(context) is { } refused)
            {
                await refused.ExecuteAsync(context);
                return;
            }
            context.Response.OnStarting(typed, context);
            await next(context);
        });
    }

    /// <summary>
    /// Whether Accept ranks <c>application/json</c> above the OpenAPI type (RFC 9110 §12.5.1: each type takes the
    /// quality of the most specific range that matches it, 0 when none does). No Accept, <c>*/*</c>, a tie or an
    /// unreadable header: the OpenAPI type, the one the link promises.
    /// </summary>
    internal static bool PrefersPlainJson(StringValues accept)
    {
        if (accept.Count == 0 || !MediaTypeHeaderValue.TryParseList(accept, out var ranges)) return false;
        return Quality(ranges, "application/json") > Quality(ranges, OpenApiMediaType);
    }

    /// <summary>The quality Accept gives <paramref name="type"/>: that of its most specific matching range (parameters aside).</summary>
    private static double Quality(IList<MediaTypeHeaderValue> ranges, string type)
    {
        var (quality, specificity) = (0.0, -1);
        foreach (var range in ranges)
        {
            var matches = range.MediaType.Equals(type, StringComparison.OrdinalIgnoreCase) ? 2
                : range.MatchesAllSubTypes && range.Type.Equals("application", StringComparison.OrdinalIgnoreCase) ? 1
                : range.MatchesAllTypes ? 0
                : -1;
            if (matches > specificity) (quality, specificity) = (range.Quality ?? 1, matches);
        }
        return quality;
    }
}
