namespace IncidentMap.Api.Filtering;

/// <summary>
/// Why a filter was refused. <see cref="Position"/> is the 0-based character offset in CQL2 text; for
/// CQL2 JSON (and for an unknown filter language) it is -1 and the message starts with a JSON path.
/// </summary>
public sealed record FilterError(int Position, string Message);

/// <summary>
/// A boolean SQL expression over the table alias <c>i</c>. Client values travel only in
/// <see cref="Parameters"/>, named f0, f1, … and referenced as @f0, @f1, … in <see cref="Sql"/>.
/// </summary>
public sealed record CompiledFilter(string Sql, IReadOnlyList<(string Name, object? Value)> Parameters)
{
    /// <summary>
    /// The filter's conditions, ANDed at its top, that a property equals one of some strings (<c>location_name = 'Homs'</c>,
    /// <c>admin1 IN ('Homs', 'Hama')</c>, <c>ACCENTI(title) = ACCENTI('…')</c>), on the properties whose indexes serve them:
    /// every match meets each, so one whose values are rare bounds the matches (<see cref="Querying.RareValues"/>).
    /// </summary>
    public IReadOnlyList<FilterValues> Values { get; init; } = [];
}

/// <param name="Column">The property (a column of incidents).</param>
/// <param name="Folded">Compared through ACCENTI on both sides (accent_fold_key, migration 0050).</param>
/// <param name="Values">The strings, as written (before ACCENTI).</param>
public sealed record FilterValues(string Column, bool Folded, IReadOnlyList<string> Values);

/// <summary>OGC API – Features Part 3 filters (CQL2, OGC 21-065) compiled to parameterised PostGIS SQL.</summary>
public static class Cql2
{
    public const string TextLanguage = "cql2-text";
    public const string JsonLanguage = "cql2-json";

    /// <summary>Compiles <paramref name="filter"/> written in <paramref name="lang"/> (cql2-text or cql2-json).</summary>
    public static (CompiledFilter? Filter, FilterError? Error) Compile(string filter, string lang)
    {
        try
        {
            // Characters, as positions are counted: 10,010 emoji were refused as longer than 20,000.
            if (filter.Length > Limits.MaxLength && UnitsOfCharacters(filter, Limits.MaxLength) is var units && units < filter.Length)
                throw new FilterException(Location.Text(units), $"the filter is longer than {Limits.MaxLength} characters");
            var root = lang switch
            {
                TextLanguage => Cql2TextParser.Parse(filter),
                JsonLanguage => Cql2JsonReader.Read(filter),
                _ => throw new FilterException(new Location(-1, ""), $"filter-lang '{lang}' is not supported; use {TextLanguage} or {JsonLanguage}"),
            };
            return (SqlCompiler.Compile(root), null);
        }
        catch (FilterException e)
        {
            var message = e.At.Path.Length > 0 ? $"{e.At.Path}: {e.Message}" : e.Message;
            return (null, new FilterError(Characters(filter, e.At.Offset), message));
        }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
        {
            // Whatever else a hostile filter provokes (duplicate JSON members, escapes that are not valid
            // UTF-16, geometry libraries refusing absurd coordinates) is the filter's fault, never a 500.
            return (null, new FilterError(-1, $"the filter cannot be read: {e.Message}"));
        }
    }

    /// <summary>The UTF-16 units of the first <paramref name="characters"/> characters (code points) of <paramref name="text"/>.</summary>
    private static int UnitsOfCharacters(string text, int characters)
    {
        var units = 0;
        for (var n = 0; n < characters && units < text.Length; n++)
            units += char.IsHighSurrogate(text[units]) && units + 1 < text.Length && char.IsLowSurrogate(text[units + 1]) ? 2 : 1;
        return units;
    }

    /// <summary>
    /// A position in the filter as characters (Unicode code points), as the README says and clients that index
    /// text by code point (Python, Rust, JavaScript's spread) count: the parser's offset counts UTF-16 units, so
    /// each emoji before the error moved it one further.
    /// </summary>
    private static int Characters(string filter, int offset)
    {
        if (offset <= 0) return offset;
        var units = Math.Min(offset, filter.Length);
        var pairs = 0;
        for (var i = 1; i < units; i++)
            if (char.IsLowSurrogate(filter[i]) && char.IsHighSurrogate(filter[i - 1])) pairs++;
        return offset - pairs;
    }
}

/// <summary>Where a node came from: an offset in CQL2 text, or a JSON path (offset -1) in CQL2 JSON.</summary>
internal readonly record struct Location(int Offset, string Path)
{
    public static Location Text(int offset) => new(offset, "");
    public static Location Json(string path) => new(-1, path);
}

/// <summary>The one way parsing and compiling fail; <see cref="Cql2.Compile"/> turns it into a <see cref="FilterError"/>.</summary>
internal sealed class FilterException(Location at, string message) : Exception(message)
{
    public Location At { get; } = at;
}

/// <summary>
/// Bounds on what a client may send, so that no filter can exhaust the stack or the planner:
/// both readers enforce them while they build the tree, before anything recurses over it.
/// </summary>
internal sealed class Limits
{
    public const int MaxLength = 20_000;
    public const int MaxDepth = 64;
    public const int MaxTerms = 1_000;

    /// <summary>
    /// Properties a filter may make case- or accent-insensitive (CASEI, ACCENTI): each is folded again in
    /// every row the filter reads, and a filter with 30 of them kept a connection over 40 s on a million
    /// incidents. The compiler counts them, as only it tells a folded property from a folded literal.
    /// </summary>
    public const int MaxFoldedProperties = 4;

    private int _depth;
    private int _terms;

    public T Nested<T>(Location at, Func<T> read)
    {
        if (++_depth > MaxDepth) throw new FilterException(at, $"the filter is nested more than {MaxDepth} levels deep");
        try
        {
            return read();
        }
        finally
        {
            _depth--;
        }
    }

    public T Term<T>(T node) where T : Node
    {
        if (++_terms > MaxTerms) throw new FilterException(node.At, $"the filter has more than {MaxTerms} terms");
        return node;
    }
}
