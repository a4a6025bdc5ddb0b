using Dapper;
using Npgsql;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// Keeps the grid of cluster sums (migration 0040) compact. Writers append deltas to
/// <c>incident_grid_changes</c> by trigger, and readers sum them with <c>incident_grid</c>; this folds the
/// deltas in every <see cref="Interval"/>, so a map's cluster tile reads about one row per cell and event
/// type however many writes came before. Imports fold at their end too. Several instances may run it:
/// one folds, the others find it busy and skip.
/// </summary>
public sealed class ClusterGrid(NpgsqlDataSource dataSource, ILogger<ClusterGrid> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>Folds the deltas written so far into the grid; returns how many it folded (0 while another caller folds).</summary>
    public static async Task<long> CompactAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT incident_grid_compact()", cancellationToken: ct));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CompactAsync(dataSource, stoppingToken);
                    failing = false;
                }
                catch (Exception e) when ((e is NpgsqlException or TimeoutException) && !stoppingToken.IsCancellationRequested)
                {
                    // Readers still see every delta; only their cost grows until a fold succeeds. Said once per outage.
                    if (!failing) logger.LogWarning("Folding the cluster grid's changes failed, retrying every {Interval}: {Message}", Interval, e.Message);
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping is no failure.
        }
    }
}
