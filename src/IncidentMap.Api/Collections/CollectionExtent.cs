using Dapper;
using IncidentMap.Api.Database;
using Npgsql;

namespace IncidentMap.Api.Collections;

/// <summary>
/// Spatial and temporal extent of the live incidents, computed from the data and cached per data
/// version. The whole table is read at most every <see cref="FullEvery"/> (about 0.9 s at a million
/// incidents); in between, a change of data version reads only the incidents written since the last
/// look (by the index on updated_at) and widens the cached extent with them. So the extent always
/// covers every live incident at once, and shrinks after deletions within <see cref="FullEvery"/>.
/// Reads go to the never-prepared pool: a generic plan would not know how few rows "since" selects.
/// </summary>
public sealed class CollectionExtent(
    [FromKeyedServices(DatabaseServiceCollectionExtensions.AdHocReadsKey)] NpgsqlDataSource dataSource,
    DatabaseResilience resilience, DataVersion version)
{
    public sealed record Extent(double[]? Bbox, DateTime? Start, DateTime? End);

    /// <summary>How often the extent is computed over every incident (deletions only shrink it then).</summary>
    public static readonly TimeSpan FullEvery = TimeSpan.FromMinutes(5);

    /// <summary>
    /// updated_at is the writing transaction's start, and a transaction that started before the last
    /// look may commit after it: the widening read looks back this far before the last look (writes
    /// run under the service's statement timeout, an import batch is one short transaction).
    /// </summary>
    private static readonly TimeSpan LookBack = TimeSpan.FromMinutes(10);

    // One reference, swapped whole: a reader never pairs one version with another version's extent.
    // AsOf: the database's clock at the last read. FullAt: this process's clock (ms) at the last full read.
    private sealed record Cached(long Version, Extent Extent, DateTime AsOf, long FullAt);
    private volatile Cached? _cached;

    private const string Read = """
        SELECT ST_XMin(e) AS west, ST_YMin(e) AS south, ST_XMax(e) AS east, ST_YMax(e) AS north, t.first, t.last, now() AS at
        FROM (SELECT ST_Extent(geom)::geometry AS e FROM incidents WHERE deleted_at IS NULL {0}) s,
             -- A period stored before writes were bounded may end in the year 10000, which .NET cannot read.
             (SELECT min(occurred_at) AS first, least(max(occurred_until), '9999-12-31 23:59:59.999999+00') AS last
              FROM incidents WHERE deleted_at IS NULL {0}) t
        """;

    private sealed record Row(double? West, double? South, double? East, double? North, DateTime? First, DateTime? Last, DateTime At);

    public async Task<Extent> GetAsync(CancellationToken ct)
    {
        var current = version.Current;
        var cached = _cached;
        if (cached is not null && cached.Version == current) return cached.Extent;
        var widen = cached is not null && Environment.TickCount64 - cached.FullAt < FullEvery.TotalMilliseconds;
        var started = Environment.TickCount64;
        var row = await resilience.ExecuteAsync(async token =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(token);
            return await connection.QuerySingleAsync<Row>(new CommandDefinition(
                string.Format(Read, widen ? "AND updated_at >= @since" : ""),
                new { since = widen ? cached!.AsOf - LookBack : default }, cancellationToken: token));
        }, ct);

        var read = new Extent(row.West is null ? null : [row.West.Value, row.South!.Value, row.East!.Value, row.North!.Value], row.First, row.Last);
        var extent = widen ? Union(cached!.Extent, read) : read;
        _cached = new Cached(current, extent, row.At, widen ? cached!.FullAt : started);
        return extent;
    }

    private static Extent Union(Extent a, Extent b) => new(
        a.Bbox is null ? b.Bbox : b.Bbox is null ? a.Bbox :
            [Math.Min(a.Bbox[0], b.Bbox[0]), Math.Min(a.Bbox[1], b.Bbox[1]), Math.Max(a.Bbox[2], b.Bbox[2]), Math.Max(a.Bbox[3], b.Bbox[3])],
        Earliest(a.Start, b.Start), Latest(a.End, b.End));

    private static DateTime? Earliest(DateTime? a, DateTime? b) => a is null ? b : b is null ? a : a < b ? a : b;
    private static DateTime? Latest(DateTime? a, DateTime? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
