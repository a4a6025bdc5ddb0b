using System.Net;
using System.Net.Sockets;
using IncidentMap.Api.Problems;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Primitives;

namespace IncidentMap.Api.Security;

/// <summary>
/// Where a request says it was sent, which every absolute link (self, next, collection, TileJSON
/// tiles, the queryables' <c>$id</c>) is built from: scheme, host and path base.
/// <list type="bullet">
/// <item>Behind a reverse proxy these come from <c>X-Forwarded-Proto</c>, <c>X-Forwarded-Host</c> and
/// <c>X-Forwarded-Prefix</c> (ASP.NET Core's forwarded headers middleware; the prefix becomes
/// <c>PathBase</c>), but only from a proxy named in <c>ForwardedHeaders:KnownProxies</c>: from anyone
/// else they are ignored, and with none named they are ignored altogether.</item>
/// <item>A value from a trusted proxy that would make a broken or foreign link is a 400 naming the header
/// (a scheme other than http or https, a host that is no host or that <c>ForwardedHeaders:AllowedHosts</c>
/// does not list, a prefix that is no plain path), rather than links to somewhere else.</item>
/// <item>A request without a host (HTTP/1.0 without <c>Host</c>, or an empty <c>Host</c>, which
/// RFC 9112 §3.2 allows) is taken to name the address and port it reached, which is where its sender
/// can reach the service; Kestrel itself refuses an HTTP/1.1 request without <c>Host</c>.</item>
/// </list>
/// The checks run first thing (a startup filter), before the forwarded headers middleware applies
/// the values they checked.
/// </summary>
public static class ForwardedRequests
{
    public const string ForwardedHost = "X-Forwarded-Host";
    public const string ForwardedProto = "X-Forwarded-Proto";
    public const string ForwardedPrefix = "X-Forwarded-Prefix";

    public static IServiceCollection AddForwardedRequests(this IServiceCollection services, Hosting.Settings settings)
    {
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in settings.KnownProxies) options.KnownProxies.Add(proxy);
            foreach (var network in settings.KnownProxyNetworks) options.KnownIPNetworks.Add(network);
            // With both lists empty the middleware would believe any sender: anyone could pick the address
            // their rate limit counts against, and the scheme, host and path of every link. No proxy, no
            // forwarded headers. X-Forwarded-For stays in the set even for a proxy that does not send it:
            // the middleware checks the sender against the known proxies only while reading it.
            options.ForwardedHeaders = options.KnownProxies.Count + options.KnownIPNetworks.Count > 0
                ? ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost | ForwardedHeaders.XForwardedPrefix
                : ForwardedHeaders.None;
            // One proxy: the right-most value of each header is the one it set (the checks below read that one).
            options.ForwardLimit = 1;
            options.AllowedHosts.Clear();
            foreach (var host in settings.ForwardedHosts) options.AllowedHosts.Add(host);
        });
        services.AddSingleton<IStartupFilter>(new StartupFilter(settings));
        return services;
    }

    private sealed class StartupFilter(Hosting.Settings settings) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var check = new Check(settings);
            app.Use((context, nextMiddleware) => check.Problem(context) is { } problem
                ? RefuseAsync(context, problem.Header, problem.Detail)
                : nextMiddleware(context));
            next(app);
        };
    }

    private sealed class Check(Hosting.Settings settings)
    {
        private readonly bool _anyProxy = settings.KnownProxies.Count + settings.KnownProxyNetworks.Count > 0;
        // As the middleware matches them: punycode, and * is any host.
        private readonly StringSegment[] _allowedHosts = settings.ForwardedHosts.Contains("*") ? []
            : settings.ForwardedHosts.Select(h => new StringSegment(new HostString(h).ToUriComponent())).ToArray();

        /// <summary>Fills in a missing host and checks what a trusted proxy forwarded; the header at fault and why, or null.</summary>
        public (string Header, string Detail)? Problem(HttpContext context)
        {
            var request = context.Request;
            if (!request.Host.HasValue)
            {
                if (LocalAuthority(context.Connection.LocalIpAddress, context.Connection.LocalPort, request.Scheme) is not { } local)
                    return ("Host", "the request names no host (its Host header is missing or empty), and links to this service are built on it: send Host");
                request.Host = local;
            }
            if (!_anyProxy || !IsTrustedProxy(context.Connection.RemoteIpAddress)) return null;
            var headers = request.Headers;

            if (Last(headers, ForwardedProto) is { } proto)
            {
                if (!proto.Equals("http", StringComparison.OrdinalIgnoreCase) && !proto.Equals("https", StringComparison.OrdinalIgnoreCase))
                    return (ForwardedProto, $"'{proto}' from the proxy is not http or https");
                headers[ForwardedProto] = proto.ToLowerInvariant();
            }
            if (Last(headers, ForwardedHost) is { } host)
            {
                if (!IsHost(host))
                    return (ForwardedHost, $"'{host}' from the proxy is not a host name or address with an optional port (maps.example.org, maps.example.org:8443)");
                if (_allowedHosts.Length > 0 && !HostString.MatchesAny(host, _allowedHosts))
                    return (ForwardedHost, $"'{host}' from the proxy is not one of the hosts ForwardedHeaders__AllowedHosts lists");
                headers[ForwardedHost] = host;
            }
            if (Last(headers, ForwardedPrefix) is { } prefix)
            {
                if (Prefix(prefix) is not { } path)
                    return (ForwardedPrefix, $"'{prefix}' from the proxy is not a path such as /maps (a leading /, no empty, . or .. segments; letters, digits and - . _ ~ ! $ & ' ( ) * + ; = : @ only)");
                // "/" is no prefix at all: as a path base it would make relative links such as Location
                // (/collections/…) protocol-relative (//collections/…).
                if (path.Length == 0) headers.Remove(ForwardedPrefix);
                else headers[ForwardedPrefix] = path;
            }
            return null;
        }

        private bool IsTrustedProxy(IPAddress? remote)
        {
            // As the forwarded headers middleware decides: a server that knows no remote address trusts the headers.
            if (remote is null) return true;
            if (remote.IsIPv4MappedToIPv6 && IsTrustedProxy(remote.MapToIPv4())) return true;
            return settings.KnownProxies.Contains(remote) || settings.KnownProxyNetworks.Any(n => n.Contains(remote));
        }
    }

    /// <summary>The right-most value of a comma-separated header (the one the last proxy set), trimmed; null when absent or empty.</summary>
    private static string? Last(IHeaderDictionary headers, string name) =>
        headers.GetCommaSeparatedValues(name) is [.., var last] && last.Trim() is { Length: > 0 } value ? value : null;

    /// <summary>
    /// The host a request reached, as a URL names it: the local address (IPv4 for an IPv4 client of a
    /// dual-stack socket, IPv6 in brackets and without a zone, which no other machine could use) and the
    /// port unless it is the scheme's default; null without an IP endpoint (a Unix socket).
    /// </summary>
    internal static HostString? LocalAuthority(IPAddress? address, int port, string scheme)
    {
        if (address is null) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var host = address.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + new IPAddress(address.GetAddressBytes()) + "]"
            : address.ToString();
        var defaultPort = string.Equals(scheme, "https", StringComparison.OrdinalIgnoreCase) ? 443 : 80;
        return port <= 0 || port == defaultPort ? new HostString(host) : new HostString(host, port);
    }

    /// <summary>A host name or IP address (IPv6 in brackets) and an optional port, nothing else.</summary>
    internal static bool IsHost(string text)
    {
        string host;
        var port = "";
        if (text.StartsWith('['))
        {
            var end = text.IndexOf(']');
            if (end < 0) return false;
            host = text[1..end];
            if (end + 1 < text.Length)
            {
                if (text[end + 1] != ':') return false;
                port = text[(end + 2)..];
                if (port.Length == 0) return false;
            }
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || host.Contains('%')) return false;
        }
        else
        {
            var colon = text.IndexOf(':');
            host = colon < 0 ? text : text[..colon];
            if (colon >= 0 && (port = text[(colon + 1)..]).Length == 0) return false;
            if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4)) return false;
        }
        return port.Length == 0 || (port.All(char.IsAsciiDigit) && int.TryParse(port, out var number) && number is >= 1 and <= 65535);
    }

    /// <summary>
    /// A forwarded prefix as a path base: segments of URL path characters after a leading slash, a
    /// trailing slash dropped ("" for "/"); null for anything else, such as //host (a protocol-relative
    /// URL once a path is added), dot segments, a query, a fragment or percent-encoding.
    /// </summary>
    internal static string? Prefix(string text)
    {
        if (!text.StartsWith('/')) return null;
        var path = text.TrimEnd('/');
        if (path.Length == 0) return "";
        foreach (var segment in path[1..].Split('/'))
            if (segment is "" or "." or ".." || !segment.All(IsPathChar)) return null;
        return path;
    }

    // RFC 3986 pchar but percent-encoding, which could hide a slash or a dot segment: unreserved,
    // sub-delims, ':' and '@' (',' separates the values of the header).
    private static bool IsPathChar(char c) => char.IsAsciiLetterOrDigit(c) || "-._~!$&'()*+;=:@".Contains(c);

    private static async Task RefuseAsync(HttpContext context, string header, string detail)
    {
        // This answer is made before the rest of the pipeline, so it adds the headers that would have.
        SecuritySetup.AddSecurityHeaders(context);
        await Problem.BadParameter(header, detail).ExecuteAsync(context);
    }
}
