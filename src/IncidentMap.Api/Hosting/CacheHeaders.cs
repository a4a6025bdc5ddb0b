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
/// take the tag with or without it; a 304 (and a 204) names the coding a 200 would have come in.</item>
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
                headers.ETag = WithCoding(etag, coding);
            // A 304 carries the ETag the 200 would have: in the coding compression would pick for this
            // request. So does a 204 (an empty tile), which is never compressed, having no body: else its
            // tag and a later 304's would differ.
            else if (response.StatusCode is StatusCodes.Status304NotModified or StatusCodes.Status204NoContent)
                headers.ETag = InPreferredCoding(context.Request, etag);
        }
        if (readsNeedKey && headers.CacheControl.ToString() is { } cacheControl && cacheControl.Contains("public", StringComparison.Ordinal))
            headers.CacheControl = cacheControl.Replace("public", "private", StringComparison.Ordinal);
        // An answer to a key that says nothing of caching (the key listing, an import's report) is that
        // key's alone. The key travels in X-API-Key, not Authorization, so a shared cache does not know
        // the request was authenticated and could store the answer for everyone (security audit).
        else if (headers.CacheControl.Count == 0 && context.User.Identity?.IsAuthenticated == true)
            headers.CacheControl = "private, no-store";
    }

    /// <summary>The <paramref name="tag"/> without the coding a compressed answer added to it, if any.</summary>
    public static string WithoutCoding(string tag)
    {
        foreach (var coding in Codings)
            if (tag.EndsWith("-" + coding + "\"", StringComparison.Ordinal)) return tag[..^(coding.Length + 2)] + "\"";
        return tag;
    }

    /// <summary><paramref name="etag"/> in the coding response compression would answer this request in (see <see cref="PreferredCoding"/>).</summary>
    private static string InPreferredCoding(HttpRequest request, string etag) =>
        PreferredCoding(request) is { } coding ? WithCoding(etag, coding) : etag;

    /// <summary>A strong <paramref name="etag"/> naming a coding: <c>"d1f"</c> → <c>"d1f-br"</c> (<see cref="WithoutCoding"/> undoes it).</summary>
    private static string WithCoding(string etag, string coding) => etag[..^1] + "-" + coding + "\"";

    /// <summary>
    /// The coding this request is answered in (every type that carries an ETag here is compressible), for
    /// response compression (<see cref="PreferredCodingProvider"/>) and the ETag alike: codings named in any
    /// case (x-gzip as gzip), the first mention of each counting; "*" standing for every coding the header does not name
    /// (RFC 9110 §12.5.3), so "*, br;q=0" refuses br; q=0 refusing; then the highest quality, br before
    /// gzip and identity after both on a tie; null for identity. ASP.NET Core's own choice let "*" bring
    /// back a coding refused by name.
    /// </summary>
    public static string? PreferredCoding(HttpRequest request)
    {
        if (!Microsoft.Net.Http.Headers.StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptEncoding, out var accepted)) return null;
        var named = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        double? any = null;
        foreach (var entry in accepted)
        {
            if (entry.Value.Value is not { } name) continue;
            var quality = entry.Quality ?? 1;
            if (name == "*") any ??= quality;
            // x-gzip is gzip (RFC 9110 §8.4.1.3).
            else named.TryAdd(name.Equals("x-gzip", StringComparison.OrdinalIgnoreCase) ? "gzip" : name, quality);
        }
        var candidates = new List<(string Coding, double Quality, int Priority)>();
        for (var i = 0; i < Codings.Length; i++)
            if ((named.TryGetValue(Codings[i], out var q) ? q : any) is { } quality and >= double.Epsilon)
                candidates.Add((Codings[i], quality, i));
        if (named.TryGetValue("identity", out var identity) && identity >= double.Epsilon)
            candidates.Add(("identity", identity, int.MaxValue));
        var best = candidates.OrderByDescending(c => c.Quality).ThenBy(c => c.Priority).Select(c => c.Coding).FirstOrDefault();
        return best is null or "identity" ? null : best;
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
