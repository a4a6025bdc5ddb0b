using Dapper;
using Npgsql;

namespace IncidentMap.Api.Changes;

/// <summary>
/// Purges changes older than Feed:RetentionDays (default 30) once an hour and records how far it
/// purged, so a cursor from before that point answers 410 instead of silently missing changes.
/// Expired Idempotency-Keys go in the same pass.
/// </summary>
public sealed class FeedRetention(NpgsqlDataSource dataSource, Hosting.Settings settings, ILogger<FeedRetention> logger) : BackgroundService
{
    public async Task<int> PurgeAsync(TimeSpan olderThan, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
            WITH gone AS (
                DELETE FROM incident_changes WHERE changed_at < now() - @olderThan RETURNING xid, position
            ), last AS (
                SELECT xid, position FROM gone ORDER BY xid DESC, position DESC LIMIT 1
            ), recorded AS (
                INSERT INTO incident_changes_purged (xid, position) SELECT xid, position FROM last
                ON CONFLICT (singleton) DO UPDATE SET xid = EXCLUDED.xid, position = EXCLUDED.position
                WHERE (EXCLUDED.xid, EXCLUDED.position) > (incident_changes_purged.xid, incident_changes_purged.position)
            )
            SELECT count(*)::int FROM gone
            """, new { olderThan }, cancellationToken: ct));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // At least one day (checked at startup): now() minus a negative interval is in the future,
        // and the purge would delete the whole feed.
        var days = settings.FeedRetentionDays;
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            try
            {
                var purged = await PurgeAsync(TimeSpan.FromDays(days), stoppingToken);
                if (purged > 0) logger.LogInformation("Purged {Count} changes older than {Days} days", purged, days);
                // Idempotency keys answer retries for 24 hours; after that they only take space.
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                await connection.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM idempotency_keys WHERE created_at < now() - @window",
                    new { window = Incidents.IdempotencyKeys.Window }, cancellationToken: stoppingToken));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                logger.LogWarning("Change retention skipped this hour: {Message}", e.Message);
            }
        }
        while (await NextHourAsync(timer, stoppingToken));
    }

    /// <summary>False when the service stops: stopping is no failure (a canceled task would be logged as one).</summary>
    private static async Task<bool> NextHourAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
