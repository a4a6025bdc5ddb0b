using Dapper;
using IncidentMap.Api.Database;
using Npgsql;

namespace IncidentMap.Api.Collections;

/// <summary>Spatial and temporal extent of the live incidents, computed from the data and cached per data version.</summary>
public sealed class CollectionExtent(NpgsqlDataSource dataSource, DatabaseResilience resilience, DataVersion version)
{
    public sealed record Extent(double[]? Bbox, DateTime? Start, DateTime? End);

    // One reference, swapped whole: a reader never pairs one version with another version's extent.
    private sealed record Cached(long Version, Extent Extent);
    private volatile Cached? _cached;

    public async Task<Extent> GetAsync(CancellationToken ct)
    {
        var current = version.Current;
        if (_cached is { } cached && cached.Version == current) return cached.Extent;
        var extent = await resilience.ExecuteAsync(async token =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(token);
            var row = await connection.QuerySingleAsync<(double? West, double? South, double? East, double? North, DateTime? Start, DateTime? End)>(
                new CommandDefinition("""
                    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), t.first, t.last
                    FROM (SELECT ST_Extent(geom)::geometry AS e FROM incidents WHERE deleted_at IS NULL) s,
                         (SELECT min(occurred_at) AS first, max(occurred_until) AS last FROM incidents WHERE deleted_at IS NULL) t
                    """, cancellationToken: token));
            return new Extent(row.West is null ? null : [row.West.Value, row.South!.Value, row.East!.Value, row.North!.Value], row.Start, row.End);
        }, ct);
        _cached = new Cached(current, extent);
        return extent;
    }
}
