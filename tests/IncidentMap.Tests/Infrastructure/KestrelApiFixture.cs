using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>The service on a real loopback port, for clients that are separate programs (GDAL).</summary>
public sealed class KestrelApiFixture : WebApplicationFactory<Program>, IAsyncLifetime
{
    public string BaseUrl { get; private set; } = "";

    protected override void ConfigureWebHost(IWebHostBuilder builder) => ApiFixture.Configure(builder);

    /// <summary>A write key for the tests' own HTTP clients.</summary>
    public string Key { get; private set; } = "";

    public async Task InitializeAsync()
    {
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1").TrimEnd('/');
        (Key, _) = await Services.GetRequiredService<IncidentMap.Api.Security.ApiKeys>().CreateAsync("gdal-" + Guid.NewGuid().ToString("N")[..8], ["read", "write"]);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}
