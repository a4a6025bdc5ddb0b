using Microsoft.AspNetCore.Http.HttpResults;
using IncidentMap.Api.Problems;
using Microsoft.Net.Http.Headers;

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

    /// <summary>
    /// A read's preconditions against its <paramref name="etag"/> (RFC 9110 §13.2.2): a 412 when If-Match names
    /// none of it, else a 304 when If-None-Match names it (with ETag and <paramref name="cacheControl"/>), else
    /// null, the headers set, to answer in full. A 412 or a malformed If-Match is no answer of the read's, so no
    /// cache may keep it under the read's URL (a tile's is public): no-store, and only a 412 names the current ETag.
    /// </summary>
    public static IResult? Evaluate(HttpContext context, string etag, string cacheControl)
    {
        if (IfMatchFails(context.Request, etag) is { } failed)
        {
            context.Response.Headers.CacheControl = "no-store";
            if (failed.StatusCode == StatusCodes.Status412PreconditionFailed) context.Response.Headers.ETag = etag;
            return failed;
        }
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = cacheControl;
        return Matches(context.Request, etag) ? TypedResults.StatusCode(StatusCodes.Status304NotModified) : null;
    }

    /// <summary>
    /// A read's If-Match where its answer has no ETag (a discovery document): no list of entity tags can name it, so
    /// any is a 412 as on a read with one (RFC 9110 §13.1.1), and * alone matches, the resource existing; null to
    /// answer in full. Worded and kept out of caches as <see cref="Evaluate"/> does. A client that sent If-Match
    /// expects its condition checked: these reads used to answer 200 whatever it named.
    /// </summary>
    public static IResult? EvaluateWithoutETag(HttpContext context)
    {
        if (IfMatchFails(context.Request, etag: null) is not { } failed) return null;
        context.Response.Headers.CacheControl = "no-store";
        return failed;
    }

    /// <summary>
    /// A change's If-Match against the current representation's strong <paramref name="etag"/> (an editor's place, which
    /// has no version number): null to go ahead, else the 400 or the 412, which names the current ETag.
    /// </summary>
    public static IResult? EvaluateChange(HttpContext context, string etag)
    {
        if (IfMatchFails(context.Request, etag) is not { } failed) return null;
        if (failed.StatusCode == StatusCodes.Status412PreconditionFailed) context.Response.Headers.ETag = etag;
        return failed;
    }

    /// <summary>
    /// If-Match on a read: the representation exists, so * matches; a list matches when one of its tags equals
    /// <paramref name="etag"/> under the strong comparison (RFC 9110 §13.1.1), so a weak tag never does, nor does
    /// any tag of a read whose own ETag is weak (a GeoJSON page's). One allowance: a tag may name the coding its
    /// answer came in ("d1f-gzip"), as If-None-Match's may. Malformed is a 400, as on writes. Without an
    /// <paramref name="etag"/> (a read that sends none) no tag matches.
    /// </summary>
    private static ProblemHttpResult? IfMatchFails(HttpRequest request, string? etag)
    {
        var header = request.Headers.IfMatch;
        if (header.Count == 0) return null;
        if (!EntityTagHeaderValue.TryParseStrictList(header, out var tags) || tags.Count == 0)
            return Problem.BadParameter("If-Match", "must be * or quoted entity tags as the ETag header sent them (\"d1f\", quotes included)");
        if (tags.Any(t => t.Equals(EntityTagHeaderValue.Any))) return tags.Count == 1 ? null
            : Problem.BadParameter("If-Match", "* stands alone; it cannot be listed with entity tags");
        if (etag is null)
            return Problem.Status(StatusCodes.Status412PreconditionFailed, "Precondition Failed",
                "If-Match never matches this answer: it has no ETag, so no entity tag names it (RFC 9110 §13.1.1); send * or leave If-Match out.",
                "If-Match");
        var strong = !etag.StartsWith("W/", StringComparison.Ordinal);
        if (strong && tags.Any(t => !t.IsWeak && Hosting.CacheHeaders.WithoutCoding(t.Tag.Value!) == etag)) return null;
        return Problem.Status(StatusCodes.Status412PreconditionFailed, "Precondition Failed",
            strong
                ? $"If-Match does not name the current representation, {etag}: it has changed since you read it."
                : $"If-Match never matches this answer: its ETag, {etag}, is weak (RFC 9110 §13.1.1 compares strongly); use If-None-Match to revalidate it.",
            "If-Match");
    }

    /// <summary>Lists and stats change with any write: clients revalidate every time, cheaply.</summary>
    public const string Revalidate = "no-cache";
}

/// <summary>
/// Runs <see cref="Conditional.EvaluateWithoutETag"/> before a read whose answer never has an ETag; after the
/// parameter checks (<c>JsonOnly</c>), so a misspelt parameter hears of that first, as on reads with one.
/// </summary>
public sealed class PreconditionsWithoutETag : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        // No If-Match, nothing to evaluate: the common case reads one header count.
        context.HttpContext.Request.Headers.IfMatch.Count > 0 && Conditional.EvaluateWithoutETag(context.HttpContext) is { } failed
            ? ValueTask.FromResult<object?>(failed)
            : next(context);
}

/// <summary>Marks, for the OpenAPI document, a read whose If-Match is evaluated without an ETag: only * matches.</summary>
public sealed record PreconditionsWithoutETagDoc;

public static class PreconditionsWithoutETagExtensions
{
    /// <summary>Evaluates If-Match on a read that sends no ETag (see <see cref="PreconditionsWithoutETag"/>); the
    /// OpenAPI document declares the header and the 412.</summary>
    public static RouteHandlerBuilder PreconditionsWithoutETag(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter<PreconditionsWithoutETag>().DeclaresPreconditionsWithoutETag();

    /// <summary>Declares, for the OpenAPI document, If-Match and its 412 on a read that evaluates them itself
    /// (<see cref="Conditional.EvaluateWithoutETag"/>, after checks of its own whose answers come first).</summary>
    public static RouteHandlerBuilder DeclaresPreconditionsWithoutETag(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new PreconditionsWithoutETagDoc()).ProducesProblem(StatusCodes.Status412PreconditionFailed);
}
