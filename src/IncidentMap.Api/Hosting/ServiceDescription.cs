using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using IncidentMap.Api.Collections;
using IncidentMap.Api.OpenApi;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// The OpenAPI document (the landing page's service-desc), answered as the other read paths are:
/// <list type="bullet">
/// <item>its type is the one the service-desc link announces, <see cref="CollectionsApi.OpenApiType"/>, unless the
/// client prefers <c>application/json</c> to it (Swashbuckle's own type, which it answered to everyone before);</item>
/// <item>the type depends on Accept, so the answer says <c>Vary: Accept</c> (a cache would otherwise hand one
/// client's type to the next);</item>
/// <item>a query parameter other than f=json is a 400 naming it, as on the discovery documents;</item>
/// <item>it is rendered once per path prefix (a proxy's X-Forwarded-Prefix, which Swashbuckle writes into
/// <c>servers</c>) and kept: Swashbuckle's middleware built it again for every request, about 0.1 s of CPU for
/// half a megabyte, so a client could keep both cores busy with 20 requests a second. It carries an ETag, and
/// <c>If-None-Match</c> gets a 304.</item>
/// </list>
/// It runs after the rate limits and the per-client concurrency (<see cref="IncidentMapHost.UseIncidentMap"/>),
/// which it had bypassed, and after CORS.
/// </summary>
public static class ServiceDescription
{
    public static readonly PathString Path = $"/openapi/{OpenApiSetup.DocumentName}.json";

    private const string OpenApiMediaType = "application/vnd.oai.openapi+json";

    /// <summary>Path prefixes come from configured proxies only; a few are kept, any further one rendered each time.</summary>
    private const int MostPrefixes = 8;

    private static readonly ConcurrentDictionary<string, Lazy<(byte[] Body, string Tag)>> Rendered = new();

    /// <summary>After HEAD is turned into GET (Swagger UI's pages are Swashbuckle's), and after the limits.</summary>
    public static IApplicationBuilder UseServiceDescription(this IApplicationBuilder app) => app.Use(async (context, next) =>
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
        var (body, tag) = Document(context);
        var plain = PrefersPlainJson(context.Request.Headers.Accept);
        context.Response.Headers.Vary = HeaderNames.Accept;
        // The same bytes under two types are two representations: two tags.
        if (Conditional.Evaluate(context, plain ? $"\"{tag}-json\"" : $"\"{tag}\"", Conditional.Revalidate) is { } conditional)
        {
            await conditional.ExecuteAsync(context);
            return;
        }
        context.Response.ContentType = plain ? "application/json; charset=utf-8" : CollectionsApi.OpenApiType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    });

    private static (byte[] Body, string Tag) Document(HttpContext context)
    {
        var prefix = context.Request.PathBase.Value ?? "";
        if (Rendered.Count >= MostPrefixes && !Rendered.ContainsKey(prefix)) return Render(context.RequestServices, prefix);
        return Rendered.GetOrAdd(prefix, p => new Lazy<(byte[], string)>(() => Render(context.RequestServices, p))).Value;
    }

    private static (byte[] Body, string Tag) Render(IServiceProvider services, string prefix)
    {
        var body = Encoding.UTF8.GetBytes(OpenApiSetup.Render(services, prefix.Length == 0 ? null : prefix));
        return (body, "openapi-" + Convert.ToHexStringLower(SHA256.HashData(body))[..16]);
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
