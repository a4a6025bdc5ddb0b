using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace IncidentMap.Api.Security;

/// <summary>
/// Authenticates <c>X-API-Key</c> (or <c>Authorization: Bearer im_…</c>). Never from the query string:
/// URLs end up in logs and browser histories. Answers 401 and 403 as problem details.
/// </summary>
public sealed class ApiKeyAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeys keys, IMemoryCache cache, IProblemDetailsService problems, Hosting.Settings settings)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-API-Key";

    /// <summary>The other header a key may come in, as <c>Authorization: Bearer im_…</c>.</summary>
    public const string BearerHeader = "Authorization";
    public const string ScopeClaim = "scope";
    public const string KeyIdClaim = "key_id";

    /// <summary>A revocation takes effect within this long.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);

    /// <summary>Where a key's lookup is kept, by the key's hash (which a revocation knows; the key itself it does not).</summary>
    internal static string CacheKey(byte[] hash) => "apikey:" + Convert.ToHexString(hash);

    /// <summary>The header a request's key came in (<see cref="Header"/>, else <c>Authorization</c>), or null when it has none.</summary>
    public static string? KeyHeader(HttpRequest request) =>
        request.Headers.TryGetValue(Header, out var header) && header.ToString().Length > 0 ? Header
        : BearerKey(request.Headers.Authorization.ToString()) is not null ? BearerHeader
        : null;

    /// <summary>What a refusal calls the header a request's key came in: a missing key is one to send in <see cref="Header"/>.</summary>
    private string SentIn => KeyHeader(Request) is BearerHeader ? "Authorization: Bearer" : Header;

    public static string? KeyFrom(HttpRequest request)
    {
        if (request.Headers.TryGetValue(Header, out var header) && header.ToString() is { Length: > 0 } key) return key.Trim();
        return BearerKey(request.Headers.Authorization.ToString());
    }

    /// <summary>
    /// The credential of an Authorization header of the Bearer scheme, however it is spaced: "Bearer" then a tab passed a
    /// bad key as no key at all, so the read was answered as anonymous instead of a 401.
    /// </summary>
    private static string? BearerKey(string authorization) =>
        authorization.Length > 6 && authorization.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) && char.IsWhiteSpace(authorization[6])
            ? authorization[7..].Trim()
            : null;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = KeyFrom(Request);
        if (key is null) return AuthenticateResult.NoResult();
        // Two different keys (X-API-Key and a Bearer one) are refused rather than one of them silently ignored:
        // a bad credential never passes beside a good one.
        if (Request.Headers.ContainsKey(Header) && BearerKey(Request.Headers.Authorization.ToString()) is { } bearer && bearer != key)
        {
            // Said in the 401 as what it is: the answer for a bad key named X-API-Key alone, "missing, unknown or revoked",
            // though that key may be good. Saying the two differ tells nothing of either key.
            Context.Items[TwoKeys] = true;
            return AuthenticateResult.Fail("two different API keys: X-API-Key and Authorization: Bearer");
        }

        var cacheKey = CacheKey(ApiKeys.Hash(key));
        if (!cache.TryGetValue(cacheKey, out ApiKeyInfo? info))
        {
            // Authentication runs before the rate limiter, so a stream of made-up keys would cost a
            // database lookup each, even while the client's requests are being refused. Each network
            // gets a budget of lookups that found nothing; past it, unknown keys fail unlooked.
            var misses = cache.GetOrCreate("apikey-misses:" + SecuritySetup.Network(Context.Connection.RemoteIpAddress), entry =>
            {
                entry.Size = 64;
                entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(1);
                return new System.Runtime.CompilerServices.StrongBox<int>();
            })!;
            if (Volatile.Read(ref misses.Value) >= settings.UnknownKeysPerMinute)
            {
                // Said as what it is, a limit to wait out: a 401 told the holder of a good key it was bad.
                Context.Items[Throttled] = true;
                return AuthenticateResult.Fail("too many unknown API keys from this network");
            }
            info = key.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal) && key.Length < 200
                ? await keys.FindAsync(key, Context.RequestAborted)
                : null;
            if (info is null) Interlocked.Increment(ref misses.Value);
            cache.Set(cacheKey, info, new MemoryCacheEntryOptions { Size = 256, AbsoluteExpirationRelativeToNow = CacheFor });
        }
        if (info is null) return AuthenticateResult.Fail("unknown or revoked API key");

        var claims = new List<Claim> { new(ClaimTypes.Name, info.Name), new(KeyIdClaim, info.Id.ToString()) };
        claims.AddRange(info.Scopes.Select(s => new Claim(ScopeClaim, s)));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    /// <summary>Marks a request whose key was not looked up because its network spent its budget of unknown keys.</summary>
    private static readonly object Throttled = new();

    /// <summary>Marks a request refused for sending different keys in X-API-Key and Authorization: Bearer.</summary>
    private static readonly object TwoKeys = new();

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.ContainsKey(Throttled))
        {
            // The budget is counted per minute: within a minute the key is looked up again.
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = "60";
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = Context,
                ProblemDetails =
                {
                    Status = 429, Title = "Too many requests",
                    Detail = $"Too many unknown API keys came from this network in the last minute, so the key in {SentIn} was not checked; " +
                             "retry after the time Retry-After gives.",
                    Extensions = { ["errors"] = new[] { new Problems.FieldError(KeyHeader(Request)!, "not checked: too many unknown keys from this network") } },
                },
            });
            return;
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"ApiKey header=\"{Header}\"";
        if (Context.Items.ContainsKey(TwoKeys))
        {
            // Neither key was looked up: the answer says why, and nothing of whether either key is valid.
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = Context,
                ProblemDetails =
                {
                    Status = 401, Title = "Two different API keys",
                    Detail = $"The {Header} and Authorization: Bearer headers hold different keys; send one key, in either header, or the same key in both.",
                    Extensions =
                    {
                        ["errors"] = new[]
                        {
                            new Problems.FieldError(Header, "differs from the key in Authorization: Bearer"),
                            new Problems.FieldError(BearerHeader, $"differs from the key in {Header}"),
                        },
                    },
                },
            });
            return;
        }
        // Missing, unknown and revoked keys get the same answer: nothing to probe. It names the header the key came in
        // (a missing one is to be sent in X-API-Key): a bad Bearer key was told to send one in X-API-Key, as if none had been sent.
        var field = KeyHeader(Request) ?? Header;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = 401, Title = "API key required",
                Detail = field == Header
                    ? $"Send a valid API key in the {Header} header (or as Authorization: Bearer)."
                    : $"Send a valid API key as Authorization: Bearer (or in the {Header} header).",
                Extensions = { ["errors"] = new[] { new Problems.FieldError(field, "missing, unknown or revoked") } },
            },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        var needed = Context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()?.Policy ?? "another";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = 403, Title = "Scope missing",
                // The header the key came in: a Bearer key lacking the scope was said to be X-API-Key's, which had not been sent.
                Detail = $"The key in {SentIn} lacks the '{needed}' scope this request needs.",
                Extensions = { ["errors"] = new[] { new Problems.FieldError(KeyHeader(Request) ?? Header, $"needs scope '{needed}'") } },
            },
        });
    }
}

public static class ApiKeyPrincipal
{
    public static long? KeyId(this ClaimsPrincipal user) =>
        long.TryParse(user.FindFirst(ApiKeyAuthentication.KeyIdClaim)?.Value, out var id) ? id : null;

    public static string? KeyName(this ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true ? user.Identity.Name : null;
}
