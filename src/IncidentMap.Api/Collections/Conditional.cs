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
    /// A change's If-Match and If-None-Match against the current representation's strong <paramref name="etag"/> (an
    /// editor's place, which has no version number), as an incident's are against its version: If-Match must name it
    /// (or be *), If-None-Match must not (weakly compared; * names it, the place existing). Null to go ahead, else the
    /// 400 or the 412, which names the current ETag.
    /// </summary>
    public static IResult? EvaluateChange(HttpContext context, string etag)
    {
        if ((IfMatchFails(context.Request, etag) ?? IfNoneMatchFails(context.Request, etag)) is not { } failed) return null;
        if (failed.StatusCode == StatusCodes.Status412PreconditionFailed) context.Response.Headers.ETag = etag;
        return failed;
    }

    /// <summary>
    /// An unsafe request's If-Match and If-None-Match where its target exists and has no ETag (RFC 9110 §13.1.1–2,
    /// §13.2.2): a collection a POST adds to or searches (its items, imports, keys, places, search) or an API key.
    /// If-Match: * holds and a list of tags never does (no tag names a resource without one); If-None-Match: * never
    /// holds (the target exists) and a list of tags always does. Null to go ahead, else the 400 (malformed) or the 412,
    /// before anything is read or changed. Called where the request's own parameters and headers have been checked and
    /// its target found, so their 400, 404 or 405 comes first (RFC 9110 §13.2.1): those answers ignore preconditions.
    /// If-Unmodified-Since is ignored, as on every request: nothing here has a modification date (§13.1.4).
    /// </summary>
    public static IResult? EvaluateChangeWithoutETag(HttpContext context) =>
        context.Request.Headers.IfMatch.Count == 0 && context.Request.Headers.IfNoneMatch.Count == 0
            ? null
            : IfMatchFails(context.Request, etag: null) ?? IfNoneMatchFails(context.Request, etag: null);

    /// <summary>
    /// If-None-Match on a change (RFC 9110 §13.1.2): false, a 412, when it is * (the target exists) or names
    /// <paramref name="etag"/> under the weak comparison (with or without a coding, as on reads); malformed, a 400.
    /// Without an <paramref name="etag"/> no tag names the target.
    /// </summary>
    private static ProblemHttpResult? IfNoneMatchFails(HttpRequest request, string? etag)
    {
        var header = request.Headers.IfNoneMatch;
        if (header.Count == 0) return null;
        if (!EntityTagHeaderValue.TryParseStrictList(header, out var tags) || tags.Count == 0
            || (tags.Count > 1 && tags.Any(t => t.Equals(EntityTagHeaderValue.Any))))
            return Problem.BadParameter("If-None-Match", "must be * or quoted entity tags as the ETag header sent them (\"d1f\", quotes included)");
        if (tags[0].Equals(EntityTagHeaderValue.Any))
            return Problem.Status(StatusCodes.Status412PreconditionFailed, "Precondition Failed",
                "If-None-Match: * holds only where there is nothing yet, and this exists, so the request was not carried out (RFC 9110 §13.1.2).",
                "If-None-Match");
        if (etag is not null && tags.Any(t => Hosting.CacheHeaders.WithoutCoding(t.Tag.Value!) == Opaque(etag)))
            return Problem.Status(StatusCodes.Status412PreconditionFailed, "Precondition Failed",
                $"If-None-Match names the current representation, {etag}, so the change was not made (RFC 9110 §13.1.2).",
                "If-None-Match");
        return null;
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

/// <summary>Marks, for the OpenAPI document, a request whose If-Match is evaluated without an ETag: only * matches (a read that
/// sends none, or a change of a target that has none: <see cref="Conditional.EvaluateChangeWithoutETag"/>).</summary>
public sealed record PreconditionsWithoutETagDoc;

public static class PreconditionsWithoutETagExtensions
{
    /// <summary>Evaluates If-Match on a read that sends no ETag (see <see cref="PreconditionsWithoutETag"/>); the
    /// OpenAPI document declares the header and the 412.</summary>
    public static RouteHandlerBuilder PreconditionsWithoutETag(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter<PreconditionsWithoutETag>().DeclaresPreconditionsWithoutETag();

    /// <summary>Declares, for the OpenAPI document, If-Match and its 412 on a request that evaluates them itself
    /// (<see cref="Conditional.EvaluateWithoutETag"/> on a read, <see cref="Conditional.EvaluateChangeWithoutETag"/> on a
    /// change, after checks of its own whose answers come first).</summary>
    public static RouteHandlerBuilder DeclaresPreconditionsWithoutETag(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new PreconditionsWithoutETagDoc()).ProducesProblem(StatusCodes.Status412PreconditionFailed);
}
