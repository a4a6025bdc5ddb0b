using Microsoft.Extensions.Primitives;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// What a shared cache (a CDN in front of the tiles, a newsroom proxy) needs to keep one client's
/// answer from reaching another that would read it differently. Runs as the response starts, after
/// compression has chosen a coding.
/// <list type="bullet">
/// <item>Every answer varies on <c>Accept-Encoding</c> and <c>Origin</c>, also when it was not
/// compressed or has no body (a 304 must carry the Vary its 200 would have had).</item>
/// <item>With any origin allowed, <c>Access-Control-Allow-Origin: *</c> is sent whether or not the
/// request named an origin, so a copy cached from a request without one still serves browsers.</item>
/// <item>A compressed answer's strong ETag names its coding (<c>"d1f-br"</c>), because a strong
/// validator stands for exact bytes. <see cref="Collections.Conditional.Matches"/> and If-Match
/// take the tag with or without it; a 304 names the coding a 200 would have come in.</item>
/// <item>When reads need a key, nothing is <c>public</c>: a shared cache would hand a keyed answer
/// to anyone.</item>
/// </list>
/// </summary>
public static class CacheHeaders
{
    private static readonly string[] Codings = ["br", "gzip"];

    private const string BothVary = "Accept-Encoding, Origin";

    public static IApplicationBuilder UseCacheHeaders(this IApplicationBuilder app, bool anyOrigin, bool readsNeedKey)
    {
        // One delegate for the app and the context as its state: nothing is allocated per request for it.
        Func<object, Task> apply = state =>
        {
            Apply((HttpContext)state, anyOrigin, readsNeedKey);
            return Task.CompletedTask;
        };
        return app.Use((context, next) =>
        {
            context.Response.OnStarting(apply, context);
            return next(context);
        });
    }

    private static void Apply(HttpContext context, bool anyOrigin, bool readsNeedKey)
    {
        var response = context.Response;
        var headers = response.Headers;
        headers.Vary = headers.Vary.Count == 0 ? BothVary : WithTokens(headers.Vary, "Accept-Encoding", "Origin");
        if (anyOrigin) headers.AccessControlAllowOrigin = "*";
        if (headers.ETag.ToString() is ['"', .., '"'] etag)
        {
            if (headers.ContentEncoding.ToString() is { Length: > 0 } coding && Codings.Contains(coding))
                headers.ETag = etag[..^1] + "-" + coding + "\"";
            // A 304 carries the ETag the 200 would have: in the coding compression would pick for this request.
            else if (response.StatusCode == StatusCodes.Status304NotModified && PreferredCoding(context.Request) is { } preferred)
                headers.ETag = etag[..^1] + "-" + preferred + "\"";
        }
        if (readsNeedKey && headers.CacheControl.ToString() is { } cacheControl && cacheControl.Contains("public", StringComparison.Ordinal))
            headers.CacheControl = cacheControl.Replace("public", "private", StringComparison.Ordinal);
    }

    /// <summary>The <paramref name="tag"/> without the coding a compressed answer added to it, if any.</summary>
    public static string WithoutCoding(string tag)
    {
        foreach (var coding in Codings)
            if (tag.EndsWith("-" + coding + "\"", StringComparison.Ordinal)) return tag[..^(coding.Length + 2)] + "\"";
        return tag;
    }

    /// <summary>
    /// The coding response compression answers this request in (every type that carries an ETag here is
    /// compressible): the accepted one of highest quality, br before gzip on a tie, as its providers are
    /// registered; null for none.
    /// </summary>
    private static string? PreferredCoding(HttpRequest request)
    {
        if (!Microsoft.Net.Http.Headers.StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptEncoding, out var accepted)) return null;
        string? best = null;
        var bestQuality = 0.0;
        foreach (var entry in accepted)
        {
            var name = entry.Value.Value == "*" ? "br" : entry.Value.Value;
            var quality = entry.Quality ?? 1;
            if (name is null || !Codings.Contains(name) || quality <= 0) continue;
            if (quality > bestQuality || (quality == bestQuality && name == "br")) (best, bestQuality) = (name, quality);
        }
        return best;
    }

    private static StringValues WithTokens(StringValues vary, params string[] tokens)
    {
        var present = vary.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (present.Contains("*")) return "*";
        foreach (var token in tokens)
            if (!present.Contains(token, StringComparer.OrdinalIgnoreCase)) present.Add(token);
        return string.Join(", ", present);
    }
}
