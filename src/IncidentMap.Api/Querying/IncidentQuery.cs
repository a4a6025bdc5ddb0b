namespace IncidentMap.Api.Querying;

/// <summary>A sort key with direction. Only whitelisted fields reach SQL (see <see cref="SortFields"/>).</summary>
public sealed record SortOrder(string Field, bool Descending)
{
    public static readonly SortOrder Newest = new("occurred_at", true);

    public override string ToString() => Descending ? "-" + Field : Field;
}

/// <summary>
/// The one description of "which incidents, in which order, how many" that every read path
/// (items, search, export, tiles, stats, change feed) compiles through <see cref="IncidentSqlBuilder"/>.
/// </summary>
public sealed record IncidentQuery
{
    public const int DefaultLimit = 10;
    public const int MaxLimit = 10_000;
    public const int DefaultPrecision = 7;

    /// <summary>A single incident by id (item reads).</summary>
    public long? Id { get; init; }

    public int Limit { get; init; } = DefaultLimit;

    public SortOrder Sort { get; init; } = SortOrder.Newest;

    /// <summary>Keyset position: rows strictly after this one in <see cref="Sort"/> order.</summary>
    public PageCursor? After { get; init; }

    /// <summary>Decimal places of output coordinates.</summary>
    public int Precision { get; init; } = DefaultPrecision;
}
