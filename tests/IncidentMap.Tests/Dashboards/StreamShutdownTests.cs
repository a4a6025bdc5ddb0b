using System.Diagnostics;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IncidentMap.Tests.Dashboards;

/// <summary>Open streams end when the service starts stopping, so they do not hold shutdown up.</summary>
public sealed class StreamShutdownTests
{
    [Fact]
    public async Task An_open_stream_ends_as_soon_as_the_service_starts_stopping()
    {
        await using var host = new KestrelApiFixture();
        await host.InitializeAsync();
        using var client = new HttpClient { BaseAddress = new Uri(host.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        using var response = await client.GetAsync("/collections/incidents/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        Assert.True(await body.ReadAsync(buffer) > 0);   // the opening retry and id

        var clock = Stopwatch.StartNew();
        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await body.ReadAsync(buffer, patience.Token) > 0) { }

        // Ended by the service (the heartbeat alone would keep it open for good), well before a 10 s docker stop.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the stream ended after {clock.Elapsed}");
    }
}
