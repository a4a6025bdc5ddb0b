using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace IncidentMap.Api.Security;

/// <summary>Settings of the RateLimits section; every limit is configuration (read and checked by <see cref="Hosting.Settings"/>).</summary>
public sealed class RateLimitOptions
{
    public int AnonymousPerMinute { get; set; } = 600;
    public int KeyPerMinute { get; set; } = 6000;

    /// <summary>Concurrent exports (CSV/sequence without limit) and streams per client.</summary>
    public int ConcurrentExports { get; set; } = 2;
    public int ConcurrentStreams { get; set; } = 4;

    /// <summary>Requests of one client in progress at once; as many more wait their turn (see <see cref="ClientConcurrency"/>).</summary>
    public int ConcurrentRequests { get; set; } = 32;

    /// <summary>
    /// Connections of each short-read pool one client may hold at once (see <see cref="ConnectionShares"/>);
    /// 0 is the pool's size less one, at least one.
    /// </summary>
    public int ConnectionsPerClient { get; set; }
}

/// <summary>
/// Requests in progress per client (API key or address), beside the per-minute bucket. The bucket
/// bounds how many requests a client starts, not how many it keeps open: one anonymous client held
/// 30 bodies open, 8 MB each, within its 600 a minute (security audit). Past the limit a request
/// waits its turn (a map asking many tiles at once over HTTP/2 is served in order); past as many
/// again waiting, it is a 429.
/// </summary>
public sealed class ClientConcurrency(RateLimitOptions limits)
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(partition =>
        RateLimitPartition.GetConcurrencyLimiter(partition, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.ConcurrentRequests,
            QueueLimit = limits.ConcurrentRequests,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));

    /// <summary>A client's requests in progress and waiting, as the limiter counts them (for tests).</summary>
    internal RateLimiterStatistics? Statistics(string partition) => _limiter.GetStatistics(partition);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        using var lease = await _limiter.AcquireAsync(SecuritySetup.Partition(context), 1, context.RequestAborted);
        if (!lease.IsAcquired)
        {
            await SecuritySetup.WriteTooManyAsync(context, TimeSpan.FromSeconds(1),
                $"{limits.ConcurrentRequests} requests of this client are in progress and as many waiting (RateLimits__ConcurrentRequests); wait for some to finish.");
            return;
        }
        await next(context);
    }
}

/// <summary>Concurrent whole-collection exports per client (API key or address).</summary>
public sealed class ExportLimiter(PartitionedRateLimiter<string> limiter)
{
    public RateLimitLease TryAcquire(HttpContext context) => limiter.AttemptAcquire(SecuritySetup.Partition(context));
}

public static class SecuritySetup
{
    public const string ReadPolicy = Scopes.Read;
    public const string WritePolicy = Scopes.Write;
    public const string AdminPolicy = Scopes.Admin;
    public const string StreamLimit = "streams";

    public static IServiceCollection AddIncidentMapSecurity(this IServiceCollection services, Hosting.Settings settings)
    {
        services.AddSingleton<ApiKeys>();
        services.AddAuthentication(ApiKeyAuthentication.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);

        var readsNeedKey = settings.RequireKeyForReads;
        services.AddAuthorizationBuilder()
            .AddPolicy(ReadPolicy, p =>
            {
                // Any key with the read scope (every key the service issues for reading has it).
                if (readsNeedKey) p.RequireClaim(ApiKeyAuthentication.ScopeClaim, Scopes.Read);
                // Reads need no key, but a key that is sent must be valid: read as anonymous, a typo
                // or a revoked key would look like "no such incident" where a deleted one's history is asked.
                else p.RequireAssertion(context => context.User.Identity?.IsAuthenticated == true
                    || context.Resource is not HttpContext http || ApiKeyAuthentication.KeyFrom(http.Request) is null);
            })
            .AddPolicy(WritePolicy, p => p.RequireClaim(ApiKeyAuthentication.ScopeClaim, Scopes.Write))
            .AddPolicy(AdminPolicy, p => p.RequireClaim(ApiKeyAuthentication.ScopeClaim, Scopes.Admin));

        var limits = settings.RateLimits;
        services.AddSingleton(limits);
        services.AddSingleton<ClientConcurrency>();
        // Short database reads count against the client of the request they serve (ConnectionShares).
        services.AddHttpContextAccessor();
        // Exports share an endpoint with ordinary pages, so their limit is taken in the handler.
        services.AddSingleton(new ExportLimiter(PartitionedRateLimiter.Create<string, string>(partition =>
            RateLimitPartition.GetConcurrencyLimiter(partition,
                _ => new ConcurrencyLimiterOptions { PermitLimit = limits.ConcurrentExports, QueueLimit = 0 }))));
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var key = context.User.KeyName();
                var permits = key is null ? limits.AnonymousPerMinute : limits.KeyPerMinute;
                // Refilled at exactly the rate per minute, in the shortest whole-second steps that allow it
                // (600: 10 a second; 7: 7 a minute). A fixed 10 s step of permits/6 allowed 6 a minute where 3 were set, and 96 for 100.
                var steps = (int)GreatestCommonDivisor(permits, 60);
                return RateLimitPartition.GetTokenBucketLimiter(Partition(context), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = permits,
                    TokensPerPeriod = permits / steps,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(60 / steps),
                    QueueLimit = 0,
                });
            });
            options.AddPolicy(StreamLimit, context => RateLimitPartition.GetConcurrencyLimiter(Partition(context),
                _ => new ConcurrencyLimiterOptions { PermitLimit = limits.ConcurrentStreams, QueueLimit = 0 }));
            options.OnRejected = async (context, ct) =>
            {
                // Only the token bucket says when to retry; the other refusal is the cap on open streams.
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)) await WriteTooManyAsync(context.HttpContext, wait);
                else await WriteTooManyAsync(context.HttpContext, TimeSpan.FromSeconds(10),
                    $"{limits.ConcurrentStreams} streams are open for this client already (RateLimits__ConcurrentStreams); close one first.");
            };
        });

        // Client addresses, and the scheme, host and path of links, come from X-Forwarded-* headers only
        // when the request came through a configured proxy.
        services.AddForwardedRequests(settings);
        return services;
    }

    /// <summary>Holds each request to its client's share of <see cref="RateLimitOptions.ConcurrentRequests"/>; after authentication, which names the client.</summary>
    public static IApplicationBuilder UseClientConcurrency(this IApplicationBuilder app)
    {
        var concurrency = app.ApplicationServices.GetRequiredService<ClientConcurrency>();
        return app.Use(next => context => concurrency.InvokeAsync(context, next));
    }

    /// <summary>
    /// Who a limit counts against: the API key's name, else the client address; for IPv6 its /64,
    /// since one client commonly holds a whole /64 and could otherwise take a fresh bucket per address.
    /// </summary>
    public static string Partition(HttpContext context) => ClientKey.Of(context).ToString();

    /// <summary>The address, or for IPv6 its /64 (<c>2001:db8::/64</c>); null for none.</summary>
    internal static string? Network(IPAddress? address) => ClientKey.Of(address).Network;

    public static async Task WriteTooManyAsync(HttpContext context, TimeSpan retryAfter, string? detail = null)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = 429, Title = "Too many requests", Detail = detail ?? $"Rate limit reached; retry in {seconds} s." },
        });
    }

    /// <summary>
    /// Headers that cost nothing and close whole classes of browser attacks. Set as the response
    /// starts, so that answers the exception handler rewrites (it clears the headers) carry them too.
    /// </summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        AddSecurityHeaders(context);
        await next();
    });

    /// <summary>Adds the security headers to the response as it starts (see <see cref="UseSecurityHeaders"/>).</summary>
    public static void AddSecurityHeaders(HttpContext context) => context.Response.OnStarting(() =>
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // Swagger UI runs scripts; everything else is data and may load nothing.
        if (!context.Request.Path.StartsWithSegments("/swagger"))
            headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        return Task.CompletedTask;
    });

    private static long GreatestCommonDivisor(long a, long b) => b == 0 ? a : GreatestCommonDivisor(b, a % b);
}
