using System.IO.Compression;
using System.Net;
using System.Text;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

/// <summary>A client may keep one request waiting on a slow body, and one more queued behind it.</summary>
public sealed class HoldLimitsFactory() : ConfiguredFactory(("Requests:BodySeconds", "2"), ("RateLimits:ConcurrentRequests", "1"));

/// <summary>
/// What one client can make the service hold (security audit): 30 anonymous searches, each a few KB
/// of gzip that inflated to 8 MB and then kept open with empty deflate blocks, held 240 MB.
/// </summary>
public sealed class RequestHoldTests(HoldLimitsFactory factory) : IClassFixture<HoldLimitsFactory>
{
    private const string Search = "/collections/incidents/search";

    [Fact]
    public async Task A_request_without_a_key_may_send_at_most_1_MiB_of_JSON_counted_after_decompression()
    {
        // 2 MiB of JSON in about 2 KB of gzip: valid apart from its size.
        var json = "{\"q\": \"" + new string('a', 2 << 20) + "\"}";
        using var gzip = new MemoryStream();
        using (var writer = new GZipStream(gzip, CompressionLevel.SmallestSize, leaveOpen: true)) writer.Write(Encoding.UTF8.GetBytes(json));
        HttpRequestMessage Request()
        {
            var content = new ByteArrayContent(gzip.ToArray());
            content.Headers.ContentType = new("application/json");
            content.Headers.ContentEncoding.Add("gzip");
            return new HttpRequestMessage(HttpMethod.Post, Search) { Content = content };
        }

        var anonymous = await factory.ClientWithKey(null).SendAsync(Request());
        var keyed = await factory.ClientWithKey(factory.Key).SendAsync(Request());

        var problem = await ProblemAssert.IsProblemAsync(anonymous, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Contains("without an API key", problem["detail"]!.GetValue<string>());
        // With a key the 8 MiB limit holds: this body gets as far as its (too long) q.
        Assert.NotEqual(HttpStatusCode.RequestEntityTooLarge, keyed.StatusCode);
        Assert.True((int)keyed.StatusCode < 500, $"{keyed.StatusCode}");
    }

    [Fact]
    public async Task A_body_that_does_not_arrive_whole_in_time_is_a_408_and_the_next_request_waits_its_turn_then_runs()
    {
        var client = factory.ClientWithKey(null);

        // The first request sends the start of a body and stalls; with one request allowed per client,
        // a second waits its turn and a third, with no place left to wait, is refused at once.
        // Each step waits until the limiter counts the one before (fixed pauses failed on a busy machine).
        var limiter = factory.Services.GetRequiredService<IncidentMap.Api.Security.ClientConcurrency>();
        var partition = "ip:"; // the test server's requests have no remote address
        async Task Until(Func<System.Threading.RateLimiting.RateLimiterStatistics, bool> state, string what)
        {
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); !(limiter.Statistics(partition) is { } now && state(now)); await Task.Delay(10))
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), what);
        }
        var stalled = client.PostAsync(Search, new StalledContent("{\"limit\": "));
        await Until(s => s.CurrentAvailablePermits == 0, "the stalled request never began");
        var queued = client.GetAsync("/collections/incidents/items?limit=1");
        await Until(s => s.CurrentQueuedCount == 1, "the second request never queued");
        var refused = await client.GetAsync("/collections/incidents/items?limit=1");

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.False(queued.IsCompleted, "the second request should wait for the first");
        var timedOut = await stalled;
        var problem = await ProblemAssert.IsProblemAsync(timedOut, HttpStatusCode.RequestTimeout, "body");
        Assert.Contains("within 2 s", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await queued).StatusCode);
    }

    /// <summary>A body that sends its first bytes and then nothing until the request is given up.</summary>
    private sealed class StalledContent : HttpContent
    {
        private readonly string _start;

        public StalledContent(string start)
        {
            _start = start;
            Headers.ContentType = new("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(_start), ct);
            await stream.FlushAsync(ct);
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
