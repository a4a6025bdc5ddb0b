using System.Text.Json;
using Dapper;
using IncidentMap.Api.Database;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace IncidentMap.Api.Health;

/// <summary>Ready means: the database answers, PostGIS is installed and every migration is applied.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    /// <summary>
    /// /health/ready is open and not rate limited (probes must always get through), so an answer is
    /// reused for a second: a flood of probes costs the database one query a second, not one each.
    /// </summary>
    private static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);
    private static (long At, HealthCheckResult Result)? _last;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (_last is { } last && System.Diagnostics.Stopwatch.GetElapsedTime(last.At) < Reuse) return last.Result;
        var result = await CheckAsync(ct);
        _last = (System.Diagnostics.Stopwatch.GetTimestamp(), result);
        return result;
    }

    private async Task<HealthCheckResult> CheckAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            var postgis = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'", cancellationToken: ct));
            if (postgis is null) return HealthCheckResult.Unhealthy("PostGIS is not installed in the database");
            var latest = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT max(version) FROM schema_migrations", cancellationToken: ct));
            if (string.CompareOrdinal(latest, Migrator.LatestVersion) < 0)
                return HealthCheckResult.Unhealthy($"schema at migration {latest ?? "none"}, expected {Migrator.LatestVersion}");
            return HealthCheckResult.Healthy("database reachable", new Dictionary<string, object>
            {
                ["postgis"] = postgis,
                ["migration"] = latest!,
            });
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The reason names hosts and ports: for the log, not for an open endpoint.
            logger.LogWarning(e, "Readiness check: the database is unreachable");
            return HealthCheckResult.Unhealthy("database unreachable (the service log says why)");
        }
    }
}

public static class HealthApi
{
    public static IServiceCollection AddIncidentMapHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"], timeout: TimeSpan.FromSeconds(5));
        return services;
    }

    /// <summary>/health/live: the process serves requests. /health/ready: it can also do useful work.</summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .WithTags("Health").WithName("live").DisableRateLimiting();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteAsync })
            .WithTags("Health").WithName("ready").DisableRateLimiting();
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        }));
    }
}
