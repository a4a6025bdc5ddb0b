namespace IncidentMap.Api.Collections;

/// <summary>Conditional GET: ETags derived from the data version, so a 304 costs no query.</summary>
public static class Conditional
{
    /// <summary>The ETag of any read that depends on all incident data (a list, a tile, stats) at this version.</summary>
    public static string DataETag(DataVersion version, string? variant = null) =>
        variant is null ? $"\"d{version.Current:x}\"" : $"\"d{version.Current:x}-{variant}\"";

    /// <summary>
    /// The data version, and for a time window relative to the clock the second it was resolved
    /// against: "the last hour" is another answer a second later even when no data changed.
    /// </summary>
    public static string DataETag(DataVersion version, Querying.IncidentQuery query, string? variant = null) =>
        query.RelativeTo is { } at ? DataETag(version, $"t{at.ToUnixTimeSeconds()}" + (variant is null ? "" : "-" + variant)) : DataETag(version, variant);

    /// <summary>
    /// If-None-Match names this ETag: weakly compared, and with or without the coding a compressed
    /// answer's tag carries (<see cref="Hosting.CacheHeaders"/>).
    /// </summary>
    public static bool Matches(HttpRequest request, string etag) =>
        request.Headers.IfNoneMatch.ToString().Split(',').Any(t => t.Trim() is var tag
            && (tag == "*" || Hosting.CacheHeaders.WithoutCoding(Opaque(tag)) == Opaque(etag)));

    /// <summary>The tag without a weak marker: If-None-Match compares weakly (RFC 9110 §13.1.2).</summary>
    private static string Opaque(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;

    /// <summary>A weak tag of <paramref name="etag"/>: for a body that differs in bytes while the data is the same (a page's timeStamp).</summary>
    public static string Weak(string etag) => "W/" + etag;

    /// <summary>Sets ETag and Cache-Control; true when the client's copy is current (answer 304).</summary>
    public static bool NotModified(HttpContext context, string etag, string cacheControl)
    {
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = cacheControl;
        return Matches(context.Request, etag);
    }

    /// <summary>Lists and stats change with any write: clients revalidate every time, cheaply.</summary>
    public const string Revalidate = "no-cache";
}
