using System.Globalization;
using System.Text.Unicode;
using IncidentMap.Api.Problems;
using Microsoft.AspNetCore.Http.Metadata;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// Refuses a query string whose percent-encoded bytes are not UTF-8 (RFC 3986 §2.5: text is encoded as UTF-8,
/// then percent-encoded). ASP.NET Core reads such bytes as something else, U+FFFD or the escapes left as they
/// were, so <c>q=%C3%28</c> or <c>tags=%C3%28</c> searched for text nobody sent and answered 200 with no
/// match, where the same bytes in a JSON body are a 400 naming the field. One check for every endpoint, before
/// any reads the query: a 400 naming the parameter.
/// </summary>
public static class QueryEncoding
{
    public const string NotUtf8 = "holds percent-encoded bytes that are not UTF-8; encode text as UTF-8 before percent-encoding it";

    /// <summary>After routing and authorization (a request refused for its key hears that first), as the parameter checks of the endpoints are.</summary>
    public static IApplicationBuilder UseUtf8QueryOnly(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        // Only where an endpoint of ours takes the request: an unknown path stays a 404, a wrong method a 405. The
        // health probes (no method metadata) take no parameter but f=json: ParametersOutsideHandlers refuses the rest.
        if (NotUtf8Parameter(context.Request.QueryString.Value) is { } parameter
            && context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>() is not null)
        {
            await Problem.BadParameter(parameter, NotUtf8).ExecuteAsync(context);
            return;
        }
        await next(context);
    });

    /// <summary>
    /// The first parameter of a query string as sent (<c>?a=b&amp;…</c>, still percent-encoded) whose name or value
    /// holds percent-encoded bytes that are not UTF-8: its name decoded, or as sent when the name is at fault; null when none is.
    /// </summary>
    public static string? NotUtf8Parameter(string? query)
    {
        // Every request passes here: without a '%' nothing is encoded, and nothing is parsed.
        if (query is null || !query.Contains('%')) return null;
        foreach (var pair in query.TrimStart('?').Split('&'))
        {
            var equals = pair.IndexOf('=');
            var name = equals < 0 ? pair : pair[..equals];
            if (!IsUtf8(name)) return name;
            if (equals >= 0 && !IsUtf8(pair.AsSpan(equals + 1))) return System.Net.WebUtility.UrlDecode(name);
        }
        return null;
    }

    /// <summary>Whether each run of %XX escapes decodes as UTF-8 (what lies between runs is text already).</summary>
    private static bool IsUtf8(ReadOnlySpan<char> text)
    {
        if (!text.Contains('%')) return true;
        // At most a byte per three characters; a few hundred on the stack, a long value (a CQL2 filter) on the heap.
        Span<byte> bytes = text.Length <= 768 ? stackalloc byte[text.Length / 3] : new byte[text.Length / 3];
        var run = 0;
        for (var i = 0; i < text.Length;)
        {
            if (text[i] == '%' && i + 2 < text.Length
                && byte.TryParse(text.Slice(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes[run++] = b;
                i += 3;
                continue;
            }
            if (run > 0 && !Utf8.IsValid(bytes[..run])) return false;
            run = 0;
            i++;
        }
        return Utf8.IsValid(bytes[..run]);
    }
}
