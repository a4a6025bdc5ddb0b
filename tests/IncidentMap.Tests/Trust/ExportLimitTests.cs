using System.Net;
using IncidentMap.Api.Security;
using Microsoft.AspNetCore.Http;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

/// <summary>One whole-collection export at a time per client.</summary>
public sealed class OneExportFactory() : ConfiguredFactory(("RateLimits:ConcurrentExports", "1"));

public sealed class ExportLimitTests(OneExportFactory factory) : IClassFixture<OneExportFactory>
{
    [Fact]
    public async Task A_second_concurrent_export_from_the_same_client_is_a_429_and_a_page_is_not_limited()
    {
        var client = factory.CreateClient();
        // The test server has no client address, so anonymous requests share the partition "ip:".
        using (var running = factory.Services.GetRequiredService<ExportLimiter>().TryAcquire(new DefaultHttpContext()))
        {
            Assert.True(running.IsAcquired);

            var refused = await client.GetAsync("/collections/incidents/items?f=csv&tags=none");
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests);
            Assert.True(refused.Headers.RetryAfter is not null);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/collections/incidents/items?f=csv&limit=5&tags=none")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/collections/incidents/items?f=csv&tags=none")).StatusCode);
    }
}
