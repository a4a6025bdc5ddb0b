using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// Response compression in the coding <see cref="CacheHeaders.PreferredCoding"/> chooses, the one the ETag
/// already names. ASP.NET Core's own choice served br to "Accept-Encoding: *, br;q=0", which refuses br
/// (RFC 9110 §12.5.3), and the ETag had to copy that mistake to stay true.
/// </summary>
public sealed class PreferredCodingProvider(IServiceProvider services, IOptions<ResponseCompressionOptions> options)
    : ResponseCompressionProvider(services, options)
{
    public override ICompressionProvider? GetCompressionProvider(HttpContext context)
    {
        if (CacheHeaders.PreferredCoding(context.Request) is not { } coding) return null;
        // The base class holds the providers: asked with the chosen coding alone, it answers that one.
        var headers = context.Request.Headers;
        var accepted = headers.AcceptEncoding;
        headers.AcceptEncoding = coding;
        try
        {
            return base.GetCompressionProvider(context);
        }
        finally
        {
            headers.AcceptEncoding = accepted;
        }
    }
}
