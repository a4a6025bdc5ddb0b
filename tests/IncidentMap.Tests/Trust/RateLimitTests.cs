using System.Globalization;
using System.Net;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Trust;

/// <summary>Small buckets: 6 requests a minute without a key, 12 with one, one stream at a time.</summary>
public sealed class LowLimitsFactory() : ConfiguredFactory(
    ("RateLimits:AnonymousPerMinute", "6"), ("RateLimits:KeyPerMinute", "12"), ("RateLimits:ConcurrentStreams", "1"));

public sealed class RateLimitTests(LowLimitsFactory factory) : IClassFixture<LowLimitsFactory>
{
    private const string Read = $"{Trust.ItemsUrl}?limit=1";

    private static async Task AssertTooManyAsync(HttpResponseMessage response)
    {
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
        var retryAfter = response.Header("Retry-After");
        Assert.True(int.TryParse(retryAfter, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= 1,
            $"Retry-After '{retryAfter}' is not a whole number of seconds ≥ 1");
    }

    /// <summary>GETs until the first 429 (at most <paramref name="most"/>); how many were served before it.</summary>
    private static async Task<(int Served, HttpResponseMessage Refused)> ExhaustAsync(HttpClient client, int most)
    {
        for (var served = 0; served < most; served++)
        {
            var response = await client.GetAsync(Read);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) return (served, response);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        throw new Xunit.Sdk.XunitException($"no 429 after {most} requests");
    }

    private Task ExhaustAnonymousAsync() => ExhaustAsync(factory.ClientWithKey(null), 10);

    [Theory]
    [InlineData("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64")]
    [InlineData("::ffff:198.51.100.7", "198.51.100.7")]
    [InlineData("198.51.100.7", "198.51.100.7")]
    public void Anonymous_clients_count_by_address_and_ipv6_clients_by_their_64(string address, string partition)
    {
        Assert.Equal(partition, SecuritySetup.Network(System.Net.IPAddress.Parse(address)));
    }

    [Fact]
    public async Task Without_a_configured_proxy_X_Forwarded_For_cannot_buy_a_fresh_bucket()
    {
        await ExhaustAnonymousAsync();
        var client = factory.ClientWithKey(null);

        // Believed, each address would be a fresh bucket and every request served. The bucket itself
        // may refill by one meanwhile (one token every 10 s): one request served is not a fresh bucket.
        var served = 0;
        for (var n = 1; n <= 5; n++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, Read);
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{n}");
            var response = await client.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.OK) served++;
            else await AssertTooManyAsync(response);
        }
        Assert.InRange(served, 0, 1);
    }

    [Fact]
    public async Task Anonymous_reads_beyond_the_bucket_get_429_with_Retry_After()
    {
        // A service of its own: the shared one's anonymous bucket is spent by the other tests here.
        await using var own = new LowLimitsFactory();
        await ((IAsyncLifetime)own).InitializeAsync();

        var (served, refused) = await ExhaustAsync(own.ClientWithKey(null), 10);

        // Six a minute, and a refill of one may land meanwhile (every 10 s).
        Assert.InRange(served, 6, 7);
        await AssertTooManyAsync(refused);
    }

    [Fact]
    public async Task A_key_has_its_own_larger_bucket_untouched_by_anonymous_clients()
    {
        await ExhaustAnonymousAsync();
        var (keyed, _, _) = await factory.NewKeyClientAsync("limited", Scopes.Read);

        var (served, refused) = await ExhaustAsync(keyed, 20);

        Assert.InRange(served, 12, 14);
        await AssertTooManyAsync(refused);
    }

    [Theory]
    [InlineData("/openapi/v1.json")]
    [InlineData("/swagger/index.html")]
    public async Task The_api_description_and_its_ui_count_against_the_bucket_as_every_read_does(string path)
    {
        await ExhaustAnonymousAsync();

        // The document was served before the limits: rendered anew each time (0.1 s of CPU), as often as asked.
        await AssertTooManyAsync(await factory.ClientWithKey(null).GetAsync(path));
    }

    [Fact]
    public async Task Requests_refused_for_their_key_still_count_against_the_anonymous_bucket()
    {
        await ExhaustAnonymousAsync();
        using var guesser = factory.ClientWithKey(ApiKeys.Generate());

        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++) answers.Add(await guesser.ProbeWriteStatusAsync());

        // Otherwise anyone may try keys (each a database look-up) without limit.
        Assert.Equal(HttpStatusCode.TooManyRequests, answers[^1]);
    }

    [Fact]
    public async Task A_second_concurrent_stream_from_the_same_client_gets_429()
    {
        var (client, _, _) = await factory.NewKeyClientAsync("streamer", Scopes.Read);
        Task<HttpResponseMessage> OpenAsync() =>
            client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/collections/incidents/stream"), HttpCompletionOption.ResponseHeadersRead);

        var first = await OpenAsync();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var second = await OpenAsync();
        await AssertTooManyAsync(second);
        Assert.Contains("streams are open", (await second.JsonAsync())["detail"]!.GetValue<string>()); // not "rate limit reached"

        // Closing the first stream gives its place back.
        first.Dispose();
        await Trust.WaitForAsync(async () =>
        {
            using var next = await OpenAsync();
            return next.StatusCode;
        }, HttpStatusCode.OK, TimeSpan.FromSeconds(4));
    }
}

/// <summary>A proxy named as neither an address nor a network.</summary>
public sealed class MisnamedProxyFactory() : ConfiguredFactory(("ForwardedHeaders:KnownProxies:0", "proxy.internal"));

public sealed class ProxySettingTests
{
    [Fact]
    public async Task A_proxy_that_is_neither_an_address_nor_a_network_stops_the_service_at_startup()
    {
        await using var factory = new MisnamedProxyFactory();

        var error = await Assert.ThrowsAsync<IncidentMap.Api.Hosting.SettingsException>(() => factory.CreateClient().GetAsync("/health/live"));

        Assert.Contains("'proxy.internal'", error.Message);
    }
}

/// <summary>A limit below 6 a minute: 3.</summary>
public sealed class ThreeAMinuteFactory() : ConfiguredFactory(("RateLimits:AnonymousPerMinute", "3"));

public sealed class LowRateTests(ThreeAMinuteFactory factory) : IClassFixture<ThreeAMinuteFactory>
{
    [Fact]
    public async Task A_limit_below_six_a_minute_refills_at_that_rate()
    {
        // The bucket refilled one token every 10 s whatever the limit: 6 a minute where 3 were set.
        var client = factory.ClientWithKey(null);
        for (var n = 0; n < 3; n++) Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Trust.ItemsUrl}?limit=1")).StatusCode);

        var refused = await client.GetAsync($"{Trust.ItemsUrl}?limit=1");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("20", refused.Header("Retry-After"));
    }
}
