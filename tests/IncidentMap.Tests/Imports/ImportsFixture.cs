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
    private ImportService? _service;

    public IServiceProvider Services => _service!.Services;

    public NpgsqlDataSource Database { get; } = new NpgsqlDataSourceBuilder(ApiFixture.ConnectionString).UseNetTopologySuite().Build();

    /// <summary>Name and secret of a key with read and write scopes.</summary>
    public string KeyName => _service!.KeyName;
    public string Key => _service!.Key;

    public async Task InitializeAsync() => _service = await ImportService.StartAsync();

    public HttpClient CreateClient(string? key = null) => _service!.CreateClient(key);

    public HttpClient CreateAnonymousClient() => _service!.CreateAnonymousClient();

    public async Task DisposeAsync()
    {
        await Database.DisposeAsync();
        if (_service is not null) await _service.DisposeAsync();
    }
}

/// <summary>
/// A running service on a test server with a key that may write; <see cref="StartAsync"/> takes services
/// to put in place of the configured ones (import settings that only tests change, such as the batch timeout).
/// </summary>
public sealed class ImportService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ImportService(WebApplication app) => _app = app;

    public IServiceProvider Services => _app.Services;

    public string KeyName { get; private set; } = "";
    public string Key { get; private set; } = "";

    public static async Task<ImportService> StartAsync(Action<IServiceCollection>? replace = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Testing",
            ApplicationName = typeof(Program).Assembly.GetName().Name,
        });
        builder.WebHost.UseTestServer();
        ApiFixture.Configure(builder.WebHost);
        builder.AddIncidentMap();
        // Registered last, so resolved in place of the service's own.
        replace?.Invoke(builder.Services);

        var service = new ImportService(builder.Build());
        service._app.UseIncidentMap();
        await service._app.StartAsync();

        service.KeyName = "importer-" + Guid.NewGuid().ToString("N")[..8];
        (service.Key, _) = await service.Services.GetRequiredService<ApiKeys>().CreateAsync(service.KeyName, [Scopes.Read, Scopes.Write]);
        return service;
    }

    public HttpClient CreateClient(string? key = null)
    {
        var client = _app.GetTestClient();
        client.Timeout = TimeSpan.FromMinutes(5);
        client.DefaultRequestHeaders.Add("X-API-Key", key ?? Key);
        return client;
    }

    public HttpClient CreateAnonymousClient() => _app.GetTestClient();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ImportsCollection : ICollectionFixture<ImportsFixture>
{
    public const string Name = "imports";
}
