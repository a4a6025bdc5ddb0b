namespace IncidentMap.Api.Collections;

/// <summary>Conditional GET: ETags derived from the data version, so a 304 costs no query.</summary>
public static class Conditional
{
    /// <summary>The ETag of any read that depends on all incident data (a list, a tile, stats) at this version.</summary>
    public static string DataETag(DataVersion version, string? variant = null) =>
        variant is null ? $"\"d{version.Current:x}\"" : $"\"d{version.Current:x}-{variant}\"";

    public static bool Matches(HttpRequest request, string etag) =>
        request.Headers.IfNoneMatch.ToString().Split(',').Any(t => t.Trim() is var tag && (tag == etag || tag == "W/" + etag || tag == "*"));

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
