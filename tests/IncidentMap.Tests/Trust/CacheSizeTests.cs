using System.Net;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

/// <summary>The service with the shared cache's statistics on, so a test can read what an entry counts for.</summary>
public sealed class CacheStatisticsFactory : ConfiguredFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.Configure<MemoryCacheOptions>(options => options.TrackStatistics = true));
    }
}

/// <summary>
/// The shared memory cache is bounded by the sizes its entries declare (64 MB in all). An entry that
/// declares less than it holds lets requests fill memory past the bound (security audit).
/// </summary>
public sealed class CacheSizeTests(CacheStatisticsFactory factory) : IClassFixture<CacheStatisticsFactory>
{
    [Fact]
    public async Task A_cached_tile_counts_its_key_which_holds_the_query_string()
    {
        var cache = (MemoryCache)factory.Services.GetRequiredService<IMemoryCache>();
        // A filter of about 7 KB that matches nothing: an empty tile, cached under a long key.
        var filter = $"title IN ('{Guid.NewGuid():N}', " + string.Join(", ", Enumerable.Range(0, 600).Select(n => $"'t{n:D6}'")) + ")";
        var url = $"/collections/incidents/tiles/WebMercatorQuad/14/6550/9864?filter={Uri.EscapeDataString(filter)}";
        var client = factory.ClientWithKey(null);
        await client.GetAsync("/collections/incidents/tiles/WebMercatorQuad/0/0/0"); // anything cached lazily is in by now
        var before = cache.GetCurrentStatistics()!.CurrentEstimatedSize!.Value;

        var response = await client.GetAsync(url);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var grown = cache.GetCurrentStatistics()!.CurrentEstimatedSize!.Value - before;
        Assert.True(grown >= 2 * filter.Length, $"the entry counts {grown} bytes; its key alone holds {2 * filter.Length}");
    }
}
