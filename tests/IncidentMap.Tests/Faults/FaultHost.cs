using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IncidentMap.Tests.Faults;

/// <summary>
/// The service on a real loopback port (as <see cref="Infrastructure.KestrelApiFixture"/>), against the
/// database the fault test may break, so clients see real connection errors. Its log (warnings and
/// errors, with stack traces) goes to <see cref="LogPath"/> and is kept in memory for the report.
/// </summary>
public sealed class FaultHost(string connectionString, string migrationsConnectionString) : WebApplicationFactory<Program>
{
    public string BaseUrl { get; private set; } = "";

    /// <summary>A key with the read and write scopes.</summary>
    public string Key { get; private set; } = "";

    public ServiceLog Log { get; } = new(Path.Combine(Path.GetTempPath(), $"incidentmap-fault-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}.log"));

    public string LogPath => Log.Path;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // ApiFixture.Configure's settings, with the fault database instead of the test database: the
        // service's own login, migrating as the superuser.
        builder.UseSetting("ConnectionStrings:Incidents", connectionString);
        builder.UseSetting("ConnectionStrings:Migrations", migrationsConnectionString);
        builder.UseSetting("Seed:Path", "");
        builder.UseSetting("RateLimits:AnonymousPerMinute", "1000000");
        builder.UseSetting("RateLimits:KeyPerMinute", "1000000");
        builder.UseSetting("RateLimits:ConcurrentStreams", "1000");
        builder.UseSetting("RateLimits:ConcurrentExports", "1000");
        builder.UseEnvironment("Testing");
        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddProvider(Log);
        });
    }

    public async Task StartAsync()
    {
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1").TrimEnd('/');
        (Key, _) = await Services.GetRequiredService<IncidentMap.Api.Security.ApiKeys>()
            .CreateAsync("fault-" + Guid.NewGuid().ToString("N")[..8], ["read", "write"]);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Log.Dispose();
    }
}

/// <summary>The service's log: Information and up to a file, warnings and errors also in memory.</summary>
public sealed class ServiceLog(string path) : ILoggerProvider
{
    public string Path { get; } = path;
    private readonly StreamWriter _file = new(path, append: false) { AutoFlush = true };
    private readonly Lock _gate = new();
    private bool _disposed;

    public sealed record Entry(DateTime At, LogLevel Level, string Category, string Message, Exception? Exception);

    public ConcurrentQueue<Entry> Problems { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    private void Write(Entry entry)
    {
        if (entry.Level >= LogLevel.Warning) Problems.Enqueue(entry);
        lock (_gate)
        {
            if (_disposed) return;
            _file.WriteLine($"{entry.At:HH:mm:ss.fff} {entry.Level,-11} {entry.Category}: {entry.Message}");
            if (entry.Exception is not null) _file.WriteLine(entry.Exception);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _file.Dispose();
        }
    }

    private sealed class Logger(ServiceLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            log.Write(new Entry(DateTime.UtcNow, logLevel, category, formatter(state, exception), exception));
        }
    }
}
