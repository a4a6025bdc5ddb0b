using IncidentMap.Api.Imports;
using IncidentMap.Api.Problems;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// Refuses a request body in a content coding the service did not decode. Request decompression
/// undoes gzip or br named alone and then removes the header; whatever it leaves (zstd, deflate,
/// "gzip, identity", which it does not take apart) would otherwise reach the handler as if it were
/// plain: compressed bytes read as JSON, or plain JSON stored although the client said it was encoded.
/// RFC 9110 §15.5.16 (and RFC 7694): a 415 that names the codings that would do in Accept-Encoding.
/// </summary>
public static class ContentCodings
{
    /// <summary>After request decompression, routing and authorization (a request refused for its key
    /// hears that first, as it does for a wrong Content-Type).</summary>
    public static IApplicationBuilder UseDecodedBodiesOnly(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (Undecoded(context) is { } coding)
        {
            context.Response.Headers.AcceptEncoding = CompleteDecompression.Codings;
            await Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported content coding",
                $"Content-Encoding '{coding}' is not one this service decodes; send the body as is, or compressed with {CompleteDecompression.Codings.Replace(", ", " or ")} (one coding).",
                "Content-Encoding").ExecuteAsync(context);
            return;
        }
        await next(context);
    });

    /// <summary>The Content-Encoding left on a request with a body, unless it only says identity (no coding).</summary>
    private static string? Undecoded(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers.ContentEncoding.Count == 0 || !HasBody(context)) return null;
        // Only where an endpoint of ours takes the request: an unknown path stays a 404, a wrong method a 405
        // (routing's stand-in endpoints for those carry no method metadata).
        if (context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>() is null) return null;
        var coding = request.Headers.ContentEncoding.ToString();
        var tokens = coding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return tokens.All(t => t.Equals("identity", StringComparison.OrdinalIgnoreCase)) ? null : coding;
    }

    private static bool HasBody(HttpContext context) => context.Request.ContentLength is { } length
        ? length > 0
        : context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? context.Request.Headers.TransferEncoding.Count > 0;
}
