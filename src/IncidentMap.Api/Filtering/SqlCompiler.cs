using NetTopologySuite.Geometries;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// Type-checks the tree and writes it as SQL over alias i. The SQL holds only whitelisted column
/// expressions, operators and parameter names; every client value becomes a parameter.
/// </summary>
internal sealed partial class SqlCompiler
{
    private static readonly Dictionary<string, string> SpatialFunctions = new()
    {
        ["s_intersects"] = "ST_Intersects", ["s_disjoint"] = "ST_Disjoint", ["s_within"] = "ST_Within",
        ["s_contains"] = "ST_Contains", ["s_equals"] = "ST_Equals", ["s_touches"] = "ST_Touches",
        ["s_crosses"] = "ST_Crosses", ["s_overlaps"] = "ST_Overlaps",
    };

    private static readonly Dictionary<string, string> ArrayOperators = new()
    {
        ["a_contains"] = "@>", ["a_containedby"] = "<@", ["a_overlaps"] = "&&",
    };

    /// <summary>The temporal functions besides T_INTERSECTS (SqlCompiler.Temporal.cs); declared here, before <see cref="Known"/> needs them.</summary>
    private static readonly HashSet<string> TemporalFunctions =
    [
        "t_after", "t_before", "t_contains", "t_disjoint", "t_during", "t_equals", "t_finishedby", "t_finishes",
        "t_meets", "t_metby", "t_overlappedby", "t_overlaps", "t_startedby", "t_starts",
    ];

    private static readonly Dictionary<string, double> MetresPer = new(StringComparer.OrdinalIgnoreCase)
    {
        ["meters"] = 1, ["metres"] = 1, ["m"] = 1, ["kilometers"] = 1000, ["kilometres"] = 1000, ["km"] = 1000,
    };

    private static readonly HashSet<string> Comparisons = ["=", "<>", "<", "<=", ">", ">="];

    /// <summary>
    /// A distance that covers the whole Earth: no two places on the spheroid are more than 20,004 km apart
    /// (half a meridian). S_DWITHIN's distance is clamped to it, since PostGIS 3.3's geography ST_DWithin
    /// answers false for some polygons at absurd distances (1e50 m), and 1e308 km overflows a double;
    /// incident_dwithin_box and NearShape then bound the whole world, as for any distance over 89°.
    /// </summary>
    private const double AcrossTheEarthMetres = 20_040_000;

    private static readonly HashSet<string> Known =
    [
        "and", "or", "not", "like", "between", "in", "isnull", "s_dwithin", "t_intersects", "casei", "accenti", "interval",
        .. Comparisons, .. SpatialFunctions.Keys, .. ArrayOperators.Keys, .. TemporalFunctions,
    ];

    private readonly List<(string Name, object? Value)> _parameters = [];

    /// <summary>Properties folded by CASEI or ACCENTI so far (see <see cref="Folded"/>).</summary>
    private int _foldedProperties;

    /// <summary>An operand in SQL with its CQL2 type; Property is set when it is a queryable.</summary>
    /// <param name="ByHead">
    /// ACCENTI(property) where a B-tree holds the head of its folding (migration 0053, <see cref="FoldHead"/>): the
    /// comparison names the head too, so that the index serves it, and then compares the whole folding.
    /// </param>
    private readonly record struct Operand(string Sql, CqlType Type, Node Node, Queryable? Property = null, bool ByHead = false);

    public static CompiledFilter Compile(Node root)
    {
        var compiler = new SqlCompiler();
        compiler.Conjuncts(root);
        var sql = compiler.Condition(root);
        return new CompiledFilter(sql, compiler._parameters) { Values = compiler._values };
    }

    /// <summary>The conditions ANDed at the top of the filter: each must hold for every match.</summary>
    private readonly HashSet<Node> _conjuncts = new(ReferenceEqualityComparer.Instance);

    private readonly List<FilterValues> _values = [];

    private void Conjuncts(Node node)
    {
        if (node is CallNode { Name: "and" } and)
            foreach (var arg in and.Args) Conjuncts(arg);
        else _conjuncts.Add(node);
    }

    /// <summary>Free-text properties with a B-tree of their own (migration 0041), which RareValues judges.</summary>
    private static readonly HashSet<string> IndexedText = ["sub_event_type", "admin1", "admin2", "admin3", "location_name", "claimed_by"];

    /// <summary>Properties with a B-tree on the head of accent_fold_key (migration 0053), which ACCENTI(property) = ACCENTI('…') uses.</summary>
    private static readonly HashSet<string> IndexedFolded = ["location_name", "title"];

    /// <summary>
    /// The head of a folding that migration 0053's B-trees hold: its first 200 characters, at most 800 bytes, where a
    /// B-tree entry may hold 2,704 (a title of 500 characters may fold to more). 0050's hash indexes held the whole
    /// folding, but a hash bucket's entries of one value are a chain of pages that every insert of that value walked:
    /// a bulk import of places that repeat (as every export's do) ran at half its speed.
    /// </summary>
    private static string FoldHead(string sql) => $"left({sql}, 200)";

    /// <summary>
    /// The property of ACCENTI(property) when an index serves its equality (the whole chain, no CASEI), else null.
    /// </summary>
    private static PropertyNode? FoldedIndexed(Node node) =>
        node is CallNode { Name: "accenti", Args: [PropertyNode { Name: var name } property] } && IndexedFolded.Contains(name) ? property : null;

    /// <summary>
    /// Notes a top-level equality (or IN) of an indexed text property with string literals (<see cref="CompiledFilter.Values"/>),
    /// and, for ACCENTI(property), returns the SQL its index serves.
    /// </summary>
    private Operand Indexed(CallNode call, Node left, IReadOnlyList<Node> literals, Operand value)
    {
        var strings = literals.Select(l => l switch
        {
            LiteralNode { Value: string text } => text,
            CallNode { Name: "accenti", Args: [LiteralNode { Value: string text }] } => text,
            _ => null,
        }).ToList();
        if (strings.Any(s => s is null)) return value;
        if (left is PropertyNode { Name: var name } && IndexedText.Contains(name) && literals.All(l => l is LiteralNode))
        {
            if (_conjuncts.Contains(call)) _values.Add(new FilterValues(name, false, strings!));
            return value;
        }
        if (FoldedIndexed(left) is { } folded && literals.All(l => l is CallNode))
        {
            if (_conjuncts.Contains(call)) _values.Add(new FilterValues(folded.Name, true, strings!));
            // The expression of the index (accent_fold_key is accent_fold declared IMMUTABLE, so it may be indexed).
            return value with { Sql = $"public.accent_fold_key({Property(folded).Sql})", ByHead = true };
        }
        return value;
    }

    private string Condition(Node node) => node switch
    {
        CallNode { Name: "and" or "or" } call when call.Args.Count >= 2 =>
            "(" + string.Join($" {call.Name.ToUpperInvariant()} ", call.Args.Select(Condition)) + ")",
        CallNode { Name: "and" or "or" } call => throw new FilterException(call.At, $"{Name(call)} takes at least 2 arguments"),
        CallNode { Name: "not" } call => $"NOT ({Condition(Args(call, 1)[0])})",
        CallNode call when Comparisons.Contains(call.Name) => Comparison(call),
        CallNode { Name: "like" } call => Like(call),
        CallNode { Name: "between" } call => Between(call),
        CallNode { Name: "in" } call => In(call),
        CallNode { Name: "isnull" } call => $"{Value(Args(call, 1)[0]).Sql} IS NULL",
        CallNode { Name: "s_dwithin" } call => DWithin(call),
        CallNode call when SpatialFunctions.TryGetValue(call.Name, out var function) => Spatial(call, function),
        // T_INTERSECTS with a property compiles as it always did (datetime's SQL, Reaches); of two values, or with an
        // INTERVAL of properties, it is one of the temporal functions (SqlCompiler.Temporal.cs), which agree with it.
        CallNode { Name: "t_intersects" } call when call.Args.Any(a => a is PropertyNode) && !call.Args.Any(IsIntervalCall) => TIntersects(call),
        CallNode call when call.Name == "t_intersects" || TemporalFunctions.Contains(call.Name) => Temporal(call),
        CallNode call when ArrayOperators.TryGetValue(call.Name, out var op) => $"{Array(call, 0)} {op} {Array(call, 1)}",
        // CQL2 compares arrays as sets (/req/array-functions): the same items in any order, repeats aside.
        CallNode { Name: "a_equals" } call => ArraysEqual(Array(call, 0), Array(call, 1)),
        LiteralNode { Value: bool value } => Parameter(value),
        _ => throw Unexpected(node, "a condition"),
    };

    private Operand Value(Node node, bool last = false) => node switch
    {
        PropertyNode property => Property(property),
        LiteralNode { Value: TimeInstant instant } => new Operand(Time(instant, last), CqlType.Timestamp, node),
        LiteralNode { Value: TimeInterval } or CallNode { Name: "interval" } => throw new FilterException(node.At, IntervalOnlyInTemporal),
        LiteralNode literal => new Operand(Parameter(literal.Value), LiteralType(literal.Value), node),
        CallNode { Name: "casei" or "accenti" } call => Folded(call),
        _ => throw Unexpected(node, "a property or a value"),
    };

    /// <summary>
    /// CASEI and ACCENTI (nested in either order): full case folding (<see cref="CaseFolding"/>) and
    /// accent_fold() (migration 0047: unaccent() after Hebrew and Arabic marks are removed). Over a literal
    /// the folded text is a scalar subquery, computed once per statement: unaccent() is STABLE, so PostgreSQL folded the literal again in every row (ACCENTI(title) =
    /// ACCENTI('…') with a 19,500-character literal cost 450 µs a row, 45 s per 100,000 rows). Over a
    /// property it is computed in every row the filter reads
    /// (ACCENTI(CASEI(summary)) about 1.2 µs a row more than a plain LIKE), so a filter may fold at most
    /// <see cref="Limits.MaxFoldedProperties"/> properties.
    /// </summary>
    private Operand Folded(CallNode call)
    {
        var (sql, _, overProperty) = Fold(call);
        if (!overProperty) return new Operand($"(SELECT {sql})", CqlType.String, call);
        if (++_foldedProperties > Limits.MaxFoldedProperties)
            throw new FilterException(call.At,
                $"the filter makes more than {Limits.MaxFoldedProperties} properties case- or accent-insensitive (CASEI, ACCENTI), " +
                "and each is folded again in every row it reads; search words with q (indexed, case and accents ignored), " +
                "or compare one folded property with an IN list of values");
        return new Operand(sql, CqlType.String, call);
    }

    /// <summary>
    /// The SQL of a CASEI or ACCENTI chain, the property or parameter it starts from, and whether that is a
    /// property rather than a literal.
    /// </summary>
    private (string Sql, string Source, bool OverProperty) Fold(CallNode call)
    {
        var arg = Args(call, 1)[0];
        var (inner, source, overProperty) = arg is CallNode { Name: "casei" or "accenti" } nested ? Fold(nested) : Text(call, arg);
        var sql = call.Name == "casei" ? CaseFolding.Sql(inner, source) : $"public.accent_fold({inner})";
        return (sql, source, overProperty);
    }

    private (string Sql, string Source, bool IsProperty) Text(CallNode call, Node arg)
    {
        var operand = Typed(call, arg, CqlType.String);
        return (operand.Sql, operand.Sql, operand.Property is not null);
    }

    private string Comparison(CallNode call)
    {
        var args = Args(call, 2);
        var (left, right, op) = (args[0], args[1], call.Name);
        // "literal op property" reads as "property op' literal": the property's type then judges the
        // literal, and a DATE's bound depends on the direction of the operator. A DATE goes to the right
        // of a timestamp literal too, where it stands for its whole day: DATE('2016-02-21') < TIMESTAMP(…)
        // means what TIMESTAMP(…) > DATE('2016-02-21') means.
        if (left is not PropertyNode && (right is PropertyNode || IsDate(left) && !IsDate(right)))
            (left, right, op) = (right, left, Mirror(op));
        var value = Comparable(left, op);
        if (BeforeAnyStored(value, right)) return op is ">" or ">=" or "<>" ? $"{value.Sql} IS NOT NULL" : "FALSE";
        if (left is LiteralNode { Value: TimeInstant a } && right is LiteralNode { Value: TimeInstant b } && (a.Early || b.Early))
            return Holds(a.FirstTicks, op, b) ? "TRUE" : "FALSE";
        if (value.Type == CqlType.Timestamp && right is LiteralNode { Value: TimeInstant { IsDate: true } day })
            return DayComparison(value.Sql, op, day);
        if (op == "=" && PaddedEquals(value, right) is { } padded) return padded;
        if (op == "=") value = Indexed(call, left, [right], value);
        var other = SameType(value, Value(right)).Sql;
        return value.ByHead
            ? $"({FoldHead(value.Sql)} = {FoldHead(other)} AND {value.Sql} = {other})"
            : $"{value.Sql} {op} {other}";
    }

    /// <summary>
    /// country = 'SY' as the index on country can serve it. The column is character(2) and the queryable
    /// reads it as text (so that LIKE, &lt; and the rest compare strings as CQL2 says), which no index on the
    /// column serves: a country with few incidents was a walk of every row. A literal without trailing
    /// spaces is equal as character(2) exactly when it is equal as text (the stored codes have none).
    /// </summary>
    private string? PaddedEquals(Operand value, Node right) =>
        value.Property is { Padded: { } column } && right is LiteralNode { Value: string text } && !text.EndsWith(' ')
            ? $"{column} = {Parameter(text)}::bpchar"
            : null;

    private static bool IsDate(Node node) => node is LiteralNode { Value: TimeInstant { IsDate: true } };

    /// <summary>
    /// Two time literals, one in year 0000, compared here: in SQL 0001-01-01T00:00:00Z would be -infinity
    /// (see <see cref="BeforeAnyStored"/>), before them all. A DATE on the right is its whole day.
    /// </summary>
    private static bool Holds(long left, string op, TimeInstant right) => op switch
    {
        "<" => left < right.FirstTicks,
        ">=" => left >= right.FirstTicks,
        "<=" => left <= right.LastTicks,
        ">" => left > right.LastTicks,
        "=" => left >= right.FirstTicks && left <= right.LastTicks,
        _ => left < right.FirstTicks || left > right.LastTicks,
    };

    /// <summary>
    /// A time property against a time in year 0000: no stored time is that early, so the comparison is
    /// decided here. Compared in SQL it would not be: Npgsql stores 0001-01-01T00:00:00Z, the first time
    /// .NET holds, as -infinity, which is before every year 0000 time PostgreSQL can be given.
    /// </summary>
    private static bool BeforeAnyStored(Operand value, Node literal) =>
        value.Property is { Type: CqlType.Timestamp } && literal is LiteralNode { Value: TimeInstant { Early: true } };

    /// <summary>A DATE stands for its whole day: equal means within it, greater means after it.</summary>
    private string DayComparison(string column, string op, TimeInstant day) => op switch
    {
        "<" or ">=" => $"{column} {op} {Time(day, last: false)}",
        "<=" or ">" => $"{column} {op} {Time(day, last: true)}",
        "=" => $"{column} BETWEEN {Time(day, last: false)} AND {Time(day, last: true)}",
        _ => $"{column} NOT BETWEEN {Time(day, last: false)} AND {Time(day, last: true)}",
    };

    private static Operand Property(PropertyNode node)
    {
        var queryable = Queryables.Find(node);
        return new Operand(queryable.Sql, queryable.Type, node, queryable);
    }

    private string Like(CallNode call)
    {
        var args = Args(call, 2);
        var value = Typed(call, args[0], CqlType.String);
        var pattern = args[1];
        var literal = pattern;
        while (literal is CallNode { Name: "casei" or "accenti", Args.Count: 1 } wrapped) literal = wrapped.Args[0];
        if (literal is not LiteralNode { Value: string text })
            throw new FilterException(pattern.At, $"the pattern of LIKE must be a string literal, not {Describe(pattern)}");
        // PostgreSQL's LIKE escapes with a backslash, as CQL2 does; a pattern ending in one fails the whole query.
        if ((text.Length - text.TrimEnd('\\').Length) % 2 == 1)
            throw new FilterException(pattern.At, "the pattern ends with the escape character \\; write \\\\ for a backslash");
        if (pattern is CallNode folded) return $"{value.Sql} LIKE {FoldedPattern(folded, text)}";
        return $"{value.Sql} LIKE {Typed(call, pattern, CqlType.String).Sql}";
    }

    /// <summary>
    /// A LIKE pattern under CASEI or ACCENTI, folded between its wildcards and escapes, never across them: folded
    /// whole, text could become a wildcard or an escape (fullwidth ％ and ＿ fold to % and _, ＼ and ∖ to a
    /// backslash), so 'x＿' matched any 'x' and one character, and '%∖' ended in an escape, which PostgreSQL
    /// refuses at run time (a 400 naming nothing, and a stream retrying for ever). Each run of text between them
    /// is folded, and what folding made of it escaped; the runs go as one array, whatever their number.
    /// </summary>
    private string FoldedPattern(CallNode call, string pattern)
    {
        var (runs, wild) = (new List<string>(), new List<bool>());
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] is '%' or '_')
            {
                if (text.Length > 0) Add(text.ToString(), false);
                text.Clear();
                Add(pattern[i].ToString(), true);
            }
            else text.Append(pattern[i] == '\\' ? pattern[++i] : pattern[i]); // an escaped character is text
        }
        if (text.Length > 0 || runs.Count == 0) Add(text.ToString(), false);

        var chain = new List<string>();
        for (Node node = call; node is CallNode { Name: "casei" or "accenti" } fold; node = fold.Args[0]) chain.Add(fold.Name);
        var sql = "p.run";
        foreach (var name in Enumerable.Reverse(chain)) sql = name == "casei" ? CaseFolding.Sql(sql, "p.run") : $"public.accent_fold({sql})";
        var escaped = $"replace(replace(replace({sql}, '\\', '\\\\'), '%', '\\%'), '_', '\\_')";
        return $"(SELECT string_agg(CASE WHEN p.wild THEN p.run ELSE {escaped} END, '' ORDER BY p.n) " +
               $"FROM unnest({Parameter(runs.ToArray())}::text[], {Parameter(wild.ToArray())}::boolean[]) WITH ORDINALITY AS p(run, wild, n))";

        void Add(string run, bool isWild)
        {
            runs.Add(run);
            wild.Add(isWild);
        }
    }

    private string Between(CallNode call)
    {
        var args = Args(call, 3);
        var value = Comparable(args[0], "BETWEEN");
        var low = SameType(value, Value(args[1]));
        var high = SameType(value, Value(args[2], last: true));
        // A bound in year 0000 (see BeforeAnyStored): every stored time is above it.
        if (BeforeAnyStored(value, args[2])) return "FALSE";
        if (BeforeAnyStored(value, args[1])) return $"{value.Sql} <= {high.Sql}";
        return $"{value.Sql} BETWEEN {low.Sql} AND {high.Sql}";
    }

    private string In(CallNode call)
    {
        var args = Args(call, 2);
        var value = Comparable(args[0], "IN");
        if (args[1] is not ArrayNode list) throw new FilterException(args[1].At, $"IN needs a list of values in parentheses, not {Describe(args[1])}");
        if (list.Items.Count == 0) throw new FilterException(list.At, "the IN list is empty");
        value = Indexed(call, args[0], list.Items, value);
        var items = list.Items.Select(item => item is LiteralNode { Value: TimeInstant { IsDate: true } }
            ? throw new FilterException(item.At, "a DATE in an IN list would be one instant; use BETWEEN for a whole day, or TIMESTAMP")
            : SameType(value, Value(item)).Sql).ToList();
        // A time in year 0000 equals no stored time (see BeforeAnyStored).
        items = [.. items.Where((_, n) => !BeforeAnyStored(value, list.Items[n]))];
        // country IN ('ZW', 'ZA') as the index on country serves it, as PaddedEquals does for =: compared as text,
        // it walked every incident newest first (5.8 s on a million) where country = 'ZW' took milliseconds.
        if (value.Property is { Padded: { } column } && list.Items.All(i => i is LiteralNode { Value: string text } && !text.EndsWith(' ')))
            return $"{column} IN ({string.Join(", ", items.Select(item => item + "::bpchar"))})";
        if (items.Count == 0) return "FALSE";
        return value.ByHead
            ? $"({FoldHead(value.Sql)} IN ({string.Join(", ", items.Select(FoldHead))}) AND {value.Sql} IN ({string.Join(", ", items)}))"
            : $"{value.Sql} IN ({string.Join(", ", items)})";
    }

    private string Spatial(CallNode call, string function)
    {
        var args = Args(call, 2);
        var (first, second) = (Typed(call, args[0], CqlType.Geometry), Typed(call, args[1], CqlType.Geometry));
        var sql = $"{function}({Shape(first)}, {Shape(second)})";
        // Any other shape given whose edge lies at ±180° or a pole meets (or not) the other spellings of that edge too
        // (QueryParser.EdgeAliases), as a search's intersects does: POLYGON((170 0,180 0,180 20,170 20,170 0)) missed a
        // point stored at -180,10 that BBOX(170,0,180,20) and the search found.
        if (function is "ST_Intersects" or "ST_Disjoint")
        {
            foreach (var (shape, other) in new[] { (second, first), (first, second) })
            {
                if (shape.Node is not LiteralNode { Value: Geometry literal } || Literals.IsBbox(literal)
                    || Querying.QueryParser.EdgeAliases(literal) is not { } aliases) continue;
                sql = function == "ST_Intersects"
                    ? $"({sql} OR ST_Intersects({other.Sql}, {Parameter(aliases)}))"
                    : $"({sql} AND ST_Disjoint({other.Sql}, {Parameter(aliases)}))";
            }
        }
        return sql;

        // A BBOX's edge at ±180° or a pole is also spelled at the other meridian, or as the whole pole: whether a shape
        // meets the box (or not) takes those lines in; how it sits against the box (within, contains, equals, …) not.
        string Shape(Operand operand) =>
            function is not ("ST_Intersects" or "ST_Disjoint") && operand.Node is LiteralNode { Value: Geometry box }
                && Literals.WithoutEdgeAliases(box) is { } plain
                ? Parameter(plain)
                : operand.Sql;
    }

    /// <summary>Geodesic: distances are metres on the spheroid, via the stored geography column.</summary>
    private string DWithin(CallNode call)
    {
        var args = Args(call, 4);
        var (first, second) = (Typed(call, args[0], CqlType.Geometry), Typed(call, args[1], CqlType.Geometry));
        if (args[2] is not LiteralNode { Value: long or ExactNumber } distance || Literals.Approximately(distance.Value) < 0)
            throw new FilterException(args[2].At, "the distance of S_DWITHIN must be a number of at least 0");
        var unit = args[3] switch { PropertyNode p => p.Name, LiteralNode { Value: string s } => s, _ => "" };
        if (!MetresPer.TryGetValue(unit, out var metres))
            throw new FilterException(args[3].At, $"the unit of S_DWITHIN must be one of {string.Join(", ", MetresPer.Keys)}");
        var within = Parameter(Math.Min(Literals.Approximately(distance.Value) * metres, AcrossTheEarthMetres));
        var (column, other) = first.Property?.Geography is not null ? (first, second) : (second, first);
        var geography = column.Property?.Geography;

        // A BBOX means what the bbox parameter means, a box of parallels and meridians: a shape is within the
        // distance of it when it meets the box in the plane, as bbox= and S_INTERSECTS have it, or comes that near
        // its rim. Cast to geography whole, its edges became geodesics: BBOX(-100,-10,100,10) was a box round the
        // far side of the world, and a box from pole to pole was refused by PostGIS (a 500).
        if (geography is not null && other.Node is LiteralNode { Value: Geometry bbox } && Literals.IsBbox(bbox))
        {
            // The box around it cuts its edges as geodesics too, so it is given the box with vertices every 0.1°.
            var (rim, whole) = (Geography(other, rim: true), Parameter(Literals.Densified(bbox, rim: false)));
            var near = $"({column.Sql} && incident_dwithin_box({whole}, {within}) OR {IncidentSqlBuilder.ShapesWithin(column.Sql, geography, rim, within)})";
            return $"({near} AND (ST_Intersects({column.Sql}, {other.Sql}) OR ST_DWithin({geography}, {rim}, {within})))";
        }
        var exact = $"ST_DWithin({Geography(first)}, {Geography(second)}, {within})";
        if (geography is null || other.Property is not null) return $"({exact})";
        // The incidents' geometry against a given shape: candidates through the GiST index on geom, by a
        // box around the shape that holds everything within the distance (incident_dwithin_box, 0019),
        // and lines and polygons through their own index. Against a line or polygon, most points are
        // then decided without the geodesic test (NearShape); against a point, that test is cheap.
        // A line's box is the band along it (NearShape.AlongLine): a polygon's holds its inside too.
        var box = other.Node is LiteralNode { Value: LineString or MultiLineString }
            ? NearShape.AlongLine(column.Sql, other.Sql, within)
            : $"{column.Sql} && incident_dwithin_box({other.Sql}, {within})";
        var candidates = $"({box} OR {IncidentSqlBuilder.ShapesWithin(column.Sql, geography, Geography(other), within)})";
        var test = other.Node is LiteralNode { Value: Point } ? exact : NearShape.Within(column.Sql, other.Sql, within, exact);
        return $"({candidates} AND {test})";

        // A BBOX literal compared with another literal is its box with a vertex every 0.1°, as geodesics.
        string Geography(Operand operand, bool rim = false) => operand.Property?.Geography
            ?? (operand.Node is LiteralNode { Value: Geometry box } && Literals.IsBbox(box)
                ? $"{Parameter(Literals.Densified(box, rim))}::geography"
                : $"{operand.Sql}::geography");
    }

    private string TIntersects(CallNode call)
    {
        var args = Args(call, 2);
        // Two properties, or two values (property-property conformance): each side's span against the other's.
        if ((args[0] is PropertyNode) == (args[1] is PropertyNode))
        {
            var (a, b) = (Span(args[0]), Span(args[1]));
            return $"({a.Reaches(b.Start)} AND {b.Reaches(a.Start)})";
        }
        var (left, right) = args[0] is PropertyNode ? (args[0], args[1]) : (args[1], args[0]);
        var value = Value(left);
        if (value.Property is not { Type: CqlType.Timestamp } property)
            throw new FilterException(left.At, $"T_INTERSECTS needs a timestamp property such as occurred_at, not {Describe(value)}");
        var window = right switch
        {
            LiteralNode { Value: TimeInstant instant } => new TimeInterval(instant, instant),
            LiteralNode { Value: TimeInterval interval } => interval,
            _ => throw new FilterException(right.At, $"T_INTERSECTS needs a TIMESTAMP, DATE or INTERVAL, not {Describe(right)}"),
        };

        var conditions = new List<string>();
        // A start in year 0000 is before every stored time, an end there after none (see BeforeAnyStored).
        if (window.End is { Early: true }) return "FALSE";
        if (window.Start is { Early: false } start)
        {
            var from = Time(start, last: false);
            if (property.Until is { } until)
            {
                conditions.Add(IncidentSqlBuilder.Reaches(value.Sql, until, from));
                if (IncidentSqlBuilder.StartFloor(start.First) is { } floor) conditions.Add($"{value.Sql} >= {Parameter(floor)}");
            }
            else conditions.Add($"{value.Sql} >= {from}");
        }
        if (window.End is { } end) conditions.Add($"{value.Sql} <= {Time(end, last: true)}");
        return conditions.Count == 0 ? $"{value.Sql} IS NOT NULL" : "(" + string.Join(" AND ", conditions) + ")";
    }

    /// <summary>
    /// An operand of T_INTERSECTS as where it starts and whether it reaches a time (has a moment at or after it): a
    /// timestamp property (occurred_at over its implied interval, as datetime= reads it), an instant, or an interval.
    /// Two spans intersect when each reaches the other's start.
    /// </summary>
    private (string Start, Func<string, string> Reaches) Span(Node node)
    {
        switch (node)
        {
            case PropertyNode when Value(node) is { Property: { Type: CqlType.Timestamp } property } value:
                return (value.Sql, from => property.Until is { } until ? IncidentSqlBuilder.Reaches(value.Sql, until, from) : $"{value.Sql} >= {from}");
            case LiteralNode { Value: TimeInstant instant }:
                return Interval(new TimeInterval(instant, instant));
            case LiteralNode { Value: TimeInterval interval }:
                return Interval(interval);
            default:
                throw new FilterException(node.At, $"T_INTERSECTS needs a timestamp property such as occurred_at, a TIMESTAMP, DATE or INTERVAL, not {Describe(node)}");
        }

        (string, Func<string, string>) Interval(TimeInterval interval)
        {
            var start = interval.Start is { } first ? Time(first, last: false) : "'-infinity'::timestamptz";
            var end = interval.End is { } last ? Time(last, last: true) : null;
            return (start, from => end is null ? "TRUE" : $"{end} >= {from}");
        }
    }

    /// <summary>An array property, or a list of strings as one text[] parameter.</summary>
    private static string ArraysEqual(string left, string right) => $"({left} @> {right} AND {left} <@ {right})";

    private string Array(CallNode call, int index)
    {
        var arg = Args(call, 2)[index];
        if (arg is not ArrayNode list) return Typed(call, arg, CqlType.Array).Sql;
        // As many as tags= or actors= may list: every row the filter reads is tested against each of them.
        if (list.Items.Count > QueryParser.MaxListValues)
            throw new FilterException(list.At, $"the list holds {list.Items.Count} values; {Name(call)} takes at most {QueryParser.MaxListValues}");
        var strings = list.Items.Select(item => item is LiteralNode { Value: string s }
            ? s
            : throw new FilterException(item.At, $"{Name(call)} lists hold strings, not {Describe(item)}")).ToArray();
        return IncidentSqlBuilder.ElementList(Parameter(strings), strings.Length);
    }

    private Operand Typed(CallNode call, Node arg, CqlType type)
    {
        var operand = Value(arg);
        return operand.Type == type
            ? operand
            : throw new FilterException(operand.Node.At, $"{Name(call)} takes {TypeName(type)} here, not {Describe(operand)}");
    }

    private Operand Comparable(Node node, string op)
    {
        var operand = Value(node);
        return operand.Type is CqlType.String or CqlType.Number or CqlType.Timestamp or CqlType.Boolean
            ? operand
            : throw new FilterException(node.At, $"{Describe(operand)} cannot be compared with {op}");
    }

    private static Operand SameType(Operand expected, Operand actual) => actual.Type == expected.Type
        ? actual
        : throw new FilterException(actual.Node.At, $"{Describe(actual)} cannot be compared with {Describe(expected)}");

    /// <summary>
    /// A TIMESTAMP's or DATE's first or last instant as SQL. One in year 0000 is sent 400 years later
    /// (Npgsql sends no earlier time than year 1) and moved back in PostgreSQL, which holds it exactly.
    /// </summary>
    private string Time(TimeInstant instant, bool last)
    {
        var sql = Parameter(last ? instant.Last : instant.First);
        return instant.Early ? $"({sql} - interval '{(long)Incidents.Rfc3339.GregorianCycle.TotalHours} hours')" : sql;
    }

    /// <summary>
    /// A value as a parameter. An <see cref="ExactNumber"/> travels as its text and is read as numeric, which
    /// PostgreSQL compares with integers exactly (the integer is widened, never the number rounded).
    /// </summary>
    private string Parameter(object value)
    {
        var name = "f" + _parameters.Count;
        _parameters.Add((name, value is ExactNumber exact ? exact.Plain : value));
        return value is ExactNumber ? $"@{name}::numeric" : "@" + name;
    }

    private static IReadOnlyList<Node> Args(CallNode call, int count) => call.Args.Count == count
        ? call.Args
        : throw new FilterException(call.At, $"{Name(call)} takes {count} argument{(count == 1 ? "" : "s")}, not {call.Args.Count}");

    private static string Mirror(string op) => op switch { "<" => ">", "<=" => ">=", ">" => "<", ">=" => "<=", _ => op };

    private static FilterException Unexpected(Node node, string expected) => node is CallNode call && !Known.Contains(call.Name)
        ? new FilterException(call.At, $"{Name(call)} is not supported")
        : new FilterException(node.At, $"expected {expected}, found {Describe(node)}");

    private static CqlType LiteralType(object value) => value switch
    {
        string => CqlType.String,
        long or ExactNumber => CqlType.Number,
        bool => CqlType.Boolean,
        Geometry => CqlType.Geometry,
        _ => throw new InvalidOperationException($"no CQL2 type for a {value.GetType().Name} literal"),
    };

    private static string Name(CallNode call) => call.Name.ToUpperInvariant();

    private static string Describe(Operand operand) =>
        operand.Property is { } q ? $"{q.Name} ({TypeName(q.Type)})" : Describe(operand.Node);

    private static string Describe(Node node) => node switch
    {
        PropertyNode property => $"the property {property.Name}",
        LiteralNode { Value: TimeInstant instant } => instant.IsDate ? "a date" : "a timestamp",
        LiteralNode { Value: TimeInterval } => "an interval",
        LiteralNode literal => TypeName(LiteralType(literal.Value)),
        ArrayNode => "a list",
        CallNode call when Comparisons.Contains(call.Name) => $"a comparison ({call.Name})",
        CallNode call => $"{Name(call)}(…)",
        _ => node.GetType().Name,
    };

    private static string TypeName(CqlType type) => type switch
    {
        CqlType.Array => "an array",
        _ => "a " + type.ToString().ToLowerInvariant(),
    };
}
