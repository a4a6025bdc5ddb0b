using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// The filter as a tree, shaped like CQL2 JSON so that both encodings meet here: properties,
/// literals, lists, and calls of operators and functions.
/// </summary>
internal abstract record Node(Location At);

internal sealed record PropertyNode(string Name, Location At) : Node(At);

/// <summary>Value is a string, long, double, bool, <see cref="Geometry"/>, <see cref="TimeInstant"/> or <see cref="TimeInterval"/>.</summary>
internal sealed record LiteralNode(object Value, Location At) : Node(At);

/// <summary>A parenthesised list: the right side of IN, and the arrays of A_ functions.</summary>
internal sealed record ArrayNode(IReadOnlyList<Node> Items, Location At) : Node(At);

/// <summary>
/// An operator or function by its CQL2 JSON name in lower case: and, or, not, =, &lt;&gt;, &lt;, &lt;=, &gt;, &gt;=,
/// like, between, in, isnull, s_intersects, t_intersects, a_contains, casei, …
/// </summary>
internal sealed record CallNode(string Name, IReadOnlyList<Node> Args, Location At) : Node(At);

/// <summary>
/// TIMESTAMP is one instant; DATE is a whole UTC day, from its first to its last microsecond
/// (timestamptz resolution), so that inclusive comparisons cover the day exactly. When
/// <paramref name="Early"/> it is before year 1, which .NET cannot hold: First and Last are then
/// <see cref="Incidents.Rfc3339.GregorianCycle"/> later than meant, and SQL moves them back.
/// </summary>
internal sealed record TimeInstant(DateTimeOffset First, DateTimeOffset Last, bool IsDate, bool Early = false)
{
    /// <summary>UTC ticks from 0001-01-01 of the first instant, negative before it: for comparing.</summary>
    public long FirstTicks => Incidents.Rfc3339.UtcTicks(First, Early);

    public long LastTicks => Incidents.Rfc3339.UtcTicks(Last, Early);
}

/// <summary>Both ends inclusive; null is an open end ('..').</summary>
internal sealed record TimeInterval(TimeInstant? Start, TimeInstant? End);
