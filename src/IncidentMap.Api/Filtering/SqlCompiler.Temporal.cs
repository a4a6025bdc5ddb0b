namespace IncidentMap.Api.Filtering;

/// <summary>
/// CQL2's temporal functions (/req/temporal-functions): Allen's interval relations between two times, each a property, a
/// TIMESTAMP, a DATE or an INTERVAL (of dates, timestamps, '..' or properties).
/// <para>
/// Every operand is the run of microseconds it covers (timestamptz's resolution), from its first to its last: a TIMESTAMP,
/// an exact incident and a time property such as updated_at one microsecond; a DATE, and an incident known to the day, week or
/// month, every microsecond of that period (its [occurred_at, occurred_until) without the end); INTERVAL(a, b) from a's first
/// to b's last (CQL2's intervals include both ends; a DATE end is its whole day), an open end ('..') before or after every
/// time, equal to no time but an open end of its own side. The relations compare those first and last instants as Allen's
/// do for closed intervals: T_BEFORE means the last is earlier than the other's first (no instant in common), so T_DISJOINT
/// (T_BEFORE or T_AFTER) and T_INTERSECTS (its negation) are about a shared instant, as T_INTERSECTS and datetime always were.
/// T_MEETS is a last that is the other's first, or the microsecond before it: a day meets the next day (and, sharing no
/// instant, is also T_BEFORE it); two closed intervals of timestamps meet at the instant one ends and the other starts.
/// An instant is an interval that starts and ends at once, so the relations CQL2 defines for intervals only answer for it
/// too (an incident at an instant inside an interval is T_DURING it; at its start, T_STARTS it), rather than refusing the
/// exact incidents among the periods occurred_at holds.
/// </para>
/// </summary>
internal sealed partial class SqlCompiler
{
    private const string IntervalOnlyInTemporal = "an interval is only allowed in the temporal functions (T_INTERSECTS, T_BEFORE, T_DURING, …)";

    private const string OneMicrosecond = "interval '1 microsecond'";

    private static bool IsIntervalCall(Node node) => node is CallNode { Name: "interval" };

    /// <summary>
    /// A first or last instant of an operand: SQL, or an open end (<paramref name="Open"/> -1 before every time, +1 after),
    /// or a literal, which is compared here by its <paramref name="Ticks"/> when the other is one too.
    /// </summary>
    /// <param name="Value">A literal's instant, for the bound of <paramref name="Start"/> (null before year 1).</param>
    /// <param name="Start">
    /// When this is the last instant of occurred_at's period, the indexed start (i.occurred_at): a comparison with a literal
    /// bounds it too, as no period is longer than a month, so that the index on occurred_at serves it.
    /// </param>
    private readonly record struct Moment(string? Sql, int Open = 0, bool Literal = false, long Ticks = 0, DateTimeOffset? Value = null, string? Start = null)
    {
        public static Moment Before => new(null, Open: -1);

        public static Moment After => new(null, Open: 1);

        /// <summary>The microsecond after this one (an open end stays open).</summary>
        public Moment Next() => Open != 0 ? this : this with
        {
            Sql = $"({Sql} + {OneMicrosecond})",
            Ticks = Ticks + 10,
            Value = Value is { } v && v < DateTimeOffset.MaxValue.AddTicks(-10) ? v.AddTicks(10) : null,
        };
    }

    /// <summary>An operand's first and last instants; <paramref name="Valid"/>, when set, is SQL that they are in order.</summary>
    private readonly record struct Period(Moment First, Moment Last, string? Valid = null);

    private string Temporal(CallNode call)
    {
        var args = Args(call, 2);
        var (a, b) = (TimeOperand(call, args[0]), TimeOperand(call, args[1]));
        var sql = call.Name switch
        {
            "t_before" => Compare(a.Last, "<", b.First),
            "t_after" => Compare(a.First, ">", b.Last),
            "t_disjoint" => Or(Compare(a.Last, "<", b.First), Compare(a.First, ">", b.Last)),
            "t_intersects" => And(Compare(a.Last, ">=", b.First), Compare(a.First, "<=", b.Last)),
            "t_equals" => And(Compare(a.First, "=", b.First), Compare(a.Last, "=", b.Last)),
            "t_meets" => Or(Compare(a.Last, "=", b.First), Compare(a.Last.Next(), "=", b.First)),
            "t_metby" => Or(Compare(a.First, "=", b.Last), Compare(a.First, "=", b.Last.Next())),
            "t_overlaps" => And(Compare(a.First, "<", b.First), Compare(b.First, "<", a.Last), Compare(a.Last, "<", b.Last)),
            "t_overlappedby" => And(Compare(b.First, "<", a.First), Compare(a.First, "<", b.Last), Compare(b.Last, "<", a.Last)),
            "t_starts" => And(Compare(a.First, "=", b.First), Compare(a.Last, "<", b.Last)),
            "t_startedby" => And(Compare(a.First, "=", b.First), Compare(a.Last, ">", b.Last)),
            "t_during" => And(Compare(a.First, ">", b.First), Compare(a.Last, "<", b.Last)),
            "t_contains" => And(Compare(a.First, "<", b.First), Compare(a.Last, ">", b.Last)),
            "t_finishes" => And(Compare(a.Last, "=", b.Last), Compare(a.First, ">", b.First)),
            "t_finishedby" => And(Compare(a.Last, "=", b.Last), Compare(a.First, "<", b.First)),
            _ => throw new InvalidOperationException($"{call.Name} is no temporal function"),
        };
        // An INTERVAL of properties whose start is after its end, in some row, is no interval there: the function is
        // unknown (NULL), so that neither it nor its NOT matches that row.
        var valid = new[] { a.Valid, b.Valid }.OfType<string>().ToList();
        return valid.Count == 0 ? sql : $"(CASE WHEN {string.Join(" AND ", valid)} THEN {sql} END)";
    }

    /// <summary>An operand of a temporal function as its first and last instants.</summary>
    private Period TimeOperand(CallNode call, Node node)
    {
        switch (node)
        {
            case PropertyNode property:
                var value = Value(property);
                if (value.Property is not { Type: CqlType.Timestamp } time) break;
                // occurred_at's last microsecond: the one before occurred_until, or the instant itself when exact (until = start).
                return time.Until is { } until
                    ? new Period(new Moment(value.Sql), new Moment($"greatest({value.Sql}, {until} - {OneMicrosecond})", Start: value.Sql))
                    : new Period(new Moment(value.Sql), new Moment(value.Sql));
            case LiteralNode { Value: TimeInstant instant }:
                return new Period(LiteralMoment(instant, last: false), LiteralMoment(instant, last: true));
            case LiteralNode { Value: TimeInterval interval }:
                return new Period(interval.Start is { } start ? LiteralMoment(start, last: false) : Moment.Before,
                    interval.End is { } end ? LiteralMoment(end, last: true) : Moment.After);
            case CallNode { Name: "interval" } interval:
                return Interval(call, interval);
        }
        throw new FilterException(node.At,
            $"{Name(call)} takes a time (a timestamp property such as occurred_at, a TIMESTAMP, DATE or INTERVAL), not {(node is PropertyNode ? Describe(Value(node)) : Describe(node))}");
    }

    /// <summary>
    /// INTERVAL(start, end) with a property at either end (/conf/temporal-functions/temporal-functions-2): from the start's
    /// first instant to the end's last, an end of occurred_at being the end of its period.
    /// </summary>
    private Period Interval(CallNode call, CallNode interval)
    {
        if (interval.Args.Count != 2) throw new FilterException(interval.At, $"INTERVAL takes 2 arguments, not {interval.Args.Count}");
        var (startNode, endNode) = (interval.Args[0], interval.Args[1]);
        var first = End(startNode, "start") is { } start ? TimeOperand(call, start).First : Moment.Before;
        var last = End(endNode, "end") is { } end ? TimeOperand(call, end).Last : Moment.After;
        if (first.Literal && last.Literal && first.Ticks > last.Ticks) throw new FilterException(interval.At, "the interval starts after it ends");
        var sameProperty = startNode is PropertyNode p && endNode is PropertyNode q && p.Name == q.Name;
        var valid = first.Open != 0 || last.Open != 0 || (first.Literal && last.Literal) || sameProperty ? null : $"{first.Sql} <= {last.Sql}";
        return new Period(first, last, valid);

        // '..' is open (null); a date, a timestamp or a timestamp property is an end.
        static Node? End(Node node, string which) => node switch
        {
            LiteralNode { Value: ".." } => null,
            LiteralNode { Value: TimeInstant } or PropertyNode => node,
            _ => throw new FilterException(node.At, $"the {which} of an INTERVAL is a date, a timestamp, '..' or a timestamp property, not {Describe(node)}"),
        };
    }

    private Moment LiteralMoment(TimeInstant instant, bool last) => new(
        Time(instant, last), Literal: true, Ticks: last ? instant.LastTicks : instant.FirstTicks,
        Value: instant.Early ? null : last ? instant.Last : instant.First);

    /// <summary>
    /// <paramref name="x"/> <paramref name="op"/> <paramref name="y"/> (&lt;, &lt;=, =, &gt;=, &gt;) in SQL, or TRUE or FALSE when an open end
    /// or two literals decide it here (in SQL, the first instant of year 1 would be -infinity: see BeforeAnyStored).
    /// </summary>
    private string Compare(Moment x, string op, Moment y)
    {
        if (x.Open != 0 || y.Open != 0 || (x.Literal && y.Literal))
        {
            var order = x.Open != y.Open ? x.Open.CompareTo(y.Open) : x.Open != 0 ? 0 : x.Ticks.CompareTo(y.Ticks);
            var holds = op switch { "<" => order < 0, "<=" => order <= 0, "=" => order == 0, ">=" => order >= 0, _ => order > 0 };
            return holds ? "TRUE" : "FALSE";
        }
        var conditions = new List<string> { $"{x.Sql} {op} {y.Sql}" };
        if (x.Start is { } start && y.Literal) conditions.AddRange(StartBounds(start, op, y));
        if (y.Start is { } other && x.Literal) conditions.AddRange(StartBounds(other, Mirror(op), x));
        return conditions.Count == 1 ? conditions[0] : "(" + string.Join(" AND ", conditions) + ")";
    }

    /// <summary>
    /// What occurred_at (<paramref name="start"/>) must be when its period's last microsecond (or the one after) is
    /// <paramref name="op"/> the literal <paramref name="literal"/>: redundant, but what the index on occurred_at serves.
    /// The last is at or after the start, and less than a month later (IncidentSqlBuilder.StartFloor).
    /// </summary>
    private IEnumerable<string> StartBounds(string start, string op, Moment literal)
    {
        if (op is "<" or "<=" or "=") yield return $"{start} {(op == "<" ? "<" : "<=")} {literal.Sql}";
        if (op is ">" or ">=" or "=" && literal.Value is { } value && Querying.IncidentSqlBuilder.StartFloor(value) is { } floor)
            yield return $"{start} >= {Parameter(floor)}";
    }

    private static string And(params string[] conditions)
    {
        if (conditions.Contains("FALSE")) return "FALSE";
        var rest = conditions.Where(c => c != "TRUE").ToList();
        return rest.Count switch { 0 => "TRUE", 1 => rest[0], _ => "(" + string.Join(" AND ", rest) + ")" };
    }

    private static string Or(params string[] conditions)
    {
        if (conditions.Contains("TRUE")) return "TRUE";
        var rest = conditions.Where(c => c != "FALSE").ToList();
        return rest.Count switch { 0 => "FALSE", 1 => rest[0], _ => "(" + string.Join(" OR ", rest) + ")" };
    }
}
