using IncidentMap.Api.Hosting;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The service as Program.cs builds it (AddIncidentMap, UseIncidentMap), on a test server against
/// the test database, with a key that may write.
/// </summary>
public sealed class ImportsFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public IServiceProvider Services => _app!.Services;

    public NpgsqlDataSource Database { get; } = new NpgsqlDataSourceBuilder(ApiFixture.ConnectionString).UseNetTopologySuite().Build();

    /// <summary>Name and secret of a key with read and write scopes.</summary>
    public string KeyName { get; private set; } = "";
    public string Key { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Testing",
            ApplicationName = typeof(Program).Assembly.GetName().Name,
        });
        builder.WebHost.UseTestServer();
        ApiFixture.Configure(builder.WebHost);
        builder.AddIncidentMap();

        _app = builder.Build();
        _app.UseIncidentMap();
        await _app.StartAsync();

        KeyName = "importer-" + Guid.NewGuid().ToString("N")[..8];
        (Key, _) = await Services.GetRequiredService<ApiKeys>().CreateAsync(KeyName, [Scopes.Read, Scopes.Write]);
    }

    public HttpClient CreateClient(string? key = null)
    {
        var client = _app!.GetTestClient();
        client.Timeout = TimeSpan.FromMinutes(5);
        client.DefaultRequestHeaders.Add("X-API-Key", key ?? Key);
        return client;
    }

    public HttpClient CreateAnonymousClient() => _app!.GetTestClient();

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ImportsCollection : ICollectionFixture<ImportsFixture>
{
    public const string Name = "imports";
}
