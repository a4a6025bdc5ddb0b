using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Querying;

/// <summary>A sort key with direction. Only whitelisted fields reach SQL (see <see cref="SortFields"/>).</summary>
public sealed record SortOrder(string Field, bool Descending)
{
    public static readonly IReadOnlyList<SortOrder> Newest = [new("occurred_at", true)];

    public override string ToString() => Descending ? "-" + Field : Field;
}

/// <summary>
/// A bounding box in degrees, never crossing the antimeridian (a box that does is split in two). An
/// <paramref name="Alias"/> is no part of the area asked for but another spelling of its edge: the meridian
/// -180 of a box ending at 180 (and the reverse), or a pole at every longitude (<see cref="Querying.QueryParser.Boxes"/>).
/// It selects incidents; what lays a grid or bounds over the area asked for leaves it out.
/// </summary>
public sealed record Box(double MinLon, double MinLat, double MaxLon, double MaxLat, bool Alias = false);

/// <summary>The output encodings of incident lists.</summary>
public enum OutputFormat { GeoJson, GeoJsonSeq, NdJson, Csv }

/// <summary>
/// The one description of "which incidents, in which order, how many, rendered how" that every read
/// path (items, search, export, tiles, stats, change feed) compiles through <see cref="IncidentSqlBuilder"/>.
/// </summary>
public sealed record IncidentQuery
{
    public const int DefaultLimit = 10;
    public const int MaxLimit = 10_000;
    public const int DefaultPrecision = 7;

    /// <summary>
    /// Decimals that print every coordinate as the shortest text that reads back as the same double
    /// (PostGIS prints the shortest round trip within the cap, and exponents for tiny values). A single
    /// incident is served at this precision: what an editor reads and sends back, or what a merge patch
    /// is merged into, is what is stored, so a write that names no geometry never changes it.
    /// </summary>
    public const int StoredPrecision = 30;
    public const double MaxRadiusMetres = 1_000_000;

    /// <summary>
    /// The most vertices a shape that incidents are tested against may have: a search's intersects and
    /// every geometry in a CQL2 filter alike (a stored incident may have 100,000). Near that write
    /// limit, a search with count ran into the 30 s statement timeout.
    /// </summary>
    public const int MaxShapeVertices = 10_000;

    /// <summary>Deleted incidents match too (the change feed's tombstones).</summary>
    public bool IncludeDeleted { get; init; }

    /// <summary>A single incident by id (item reads).</summary>
    public long? Id { get; init; }

    /// <summary>Boxes the geometry must intersect (two when the request crosses the antimeridian).</summary>
    public IReadOnlyList<Box>? Bbox { get; init; }

    /// <summary>Centre of a radius search (also the origin of distance_m and sortby=distance).</summary>
    public Point? Near { get; init; }

    public double? RadiusMetres { get; init; }

    /// <summary>A geometry the incident must intersect (polygon search).</summary>
    public Geometry? Intersects { get; init; }

    /// <summary>Time window [From, Until) the incident's implied interval must overlap; null ends are open.</summary>
    public DateTimeOffset? From { get; init; }

    public DateTimeOffset? Until { get; init; }

    public IReadOnlyList<string>? EventTypes { get; init; }
    public IReadOnlyList<string>? SubEventTypes { get; init; }
    public IReadOnlyList<string>? Countries { get; init; }
    public IReadOnlyList<string>? Admin1 { get; init; }
    public IReadOnlyList<string>? Statuses { get; init; }
    public IReadOnlyList<string>? TimePrecisions { get; init; }
    public IReadOnlyList<string>? GeoPrecisions { get; init; }
    public IReadOnlyList<string>? LocationNames { get; init; }
    public IReadOnlyList<string>? Admin2 { get; init; }
    public IReadOnlyList<string>? Admin3 { get; init; }
    public IReadOnlyList<string>? ExternalIds { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public IReadOnlyList<string>? ClaimedBy { get; init; }
    public IReadOnlyList<string>? Actors { get; init; }

    /// <summary>Incidents whose toll may lie in <c>fatalities=a..b</c>: their [min, max] overlaps [a, b] (either end open).</summary>
    public int? FatalitiesAtLeast { get; init; }

    /// <inheritdoc cref="FatalitiesAtLeast"/>
    public int? FatalitiesAtMost { get; init; }

    /// <summary>The instant a relative <c>datetime</c> (PT24H, P1D/now) was resolved against; null for a fixed window.</summary>
    public DateTimeOffset? RelativeTo { get; init; }

    /// <summary>Property filters by name (OGC API – Features Part 1): fatalities_min equal to any of these.</summary>
    public IReadOnlyList<int>? FatalitiesMin { get; init; }

    /// <summary>Property filters by name: fatalities_max equal to any of these.</summary>
    public IReadOnlyList<int>? FatalitiesMax { get; init; }

    /// <summary>A CQL2 filter (OGC API – Features Part 3), compiled to SQL over parameters f0, f1, ….</summary>
    public Filtering.CompiledFilter? Filter { get; init; }

    /// <summary>Full-text search (websearch syntax: words, "phrases", OR, -exclusion).</summary>
    public string? Text { get; init; }

    public IReadOnlyList<SortOrder> Sort { get; init; } = SortOrder.Newest;

    /// <summary>Keyset position: rows strictly after this one in <see cref="Sort"/> order.</summary>
    public PageCursor? After { get; init; }

    /// <summary>Rows per response; null is no limit (exports).</summary>
    public int? Limit { get; init; } = DefaultLimit;

    /// <summary>Properties to output; null is all.</summary>
    public IReadOnlyList<string>? Properties { get; init; }

    /// <summary>Decimal places of output coordinates.</summary>
    public int Precision { get; init; } = DefaultPrecision;

    public OutputFormat Format { get; init; } = OutputFormat.GeoJson;

    /// <summary>Whether to compute numberMatched.</summary>
    public bool Count { get; init; }

    public string SortText => string.Join(",", Sort);
}
