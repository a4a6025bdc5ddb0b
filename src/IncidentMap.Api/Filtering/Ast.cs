using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// The filter as a tree, shaped like CQL2 JSON so that both encodings meet here: properties,
/// literals, lists, and calls of operators and functions.
/// </summary>
internal abstract record Node(Location At);

internal sealed record PropertyNode(string Name, Location At) : Node(At);

/// <summary>
/// Value is a string, long, <see cref="ExactNumber"/>, bool, <see cref="Geometry"/>, <see cref="TimeInstant"/>
/// or <see cref="TimeInterval"/>. A number is a long when it is a whole number one holds, an ExactNumber otherwise.
/// </summary>
internal sealed record LiteralNode(object Value, Location At) : Node(At);

/// <summary>A parenthesised list: the right side of IN, and the arrays of A_ functions.</summary>
internal sealed record ArrayNode(IReadOnlyList<Node> Items, Location At) : Node(At);

/// <summary>
/// An operator or function by its CQL2 JSON name in lower case: and, or, not, =, &lt;&gt;, &lt;, &lt;=, &gt;, &gt;=,
/// like, between, in, isnull, s_intersects, t_intersects, t_before, a_contains, casei, …; and interval, an INTERVAL with an end
/// that is not quoted (a property), whose quoted end is already a <see cref="TimeInstant"/> literal or the string "..".
/// </summary>
internal sealed record CallNode(string Name, IReadOnlyList<Node> Args, Location At) : Node(At);

/// <summary>
/// A CQL2 number that is not a whole number a long holds (2.5, 1e20), exactly as written: <paramref name="Plain"/>
/// is its decimal notation without exponent or superfluous zeros (-0.5, 100000000000000000000), which
/// PostgreSQL reads as numeric and compares exactly. A double would not: 19.999999999999999 is 20.0 as one.
/// </summary>
internal sealed record ExactNumber(string Plain)
{
    /// <summary>The nearest double (infinite beyond its range), where a measure needs no more (a distance, a bbox).</summary>
    public double Approximately => double.Parse(Plain, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
}

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
