using Dapper;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Whether the tags, actors or free-text property values (sub_event_type, admin1, admin2, admin3, location_name,
/// claimed_by) a query asks for are rare, judged by what PostgreSQL's statistics list as common: the
/// elements of the array columns (<c>pg_stats.most_common_elems</c>) and the values of the others
/// (<c>most_common_vals</c>), read at most every <see cref="KeepFor"/>.
/// <para>
/// A page of a tag with no count known (<c>count=false</c>, or a later page after the data changed) is
/// planned by PostgreSQL as a walk of the time index newest first, testing each row. For a tag outside its
/// list of common elements it assumes 0.5 % of rows and expects a page within a few thousand; for a tag in
/// no incident, or in a story's fifty, the walk read the whole table: 1.2 s a page of the bench's million
/// rows, 5.2 s cold. ANALYZE lists every element it sees more than a few times in its sample (about
/// 0.01 % of rows and up), up to a thousand of them, so one it does not list is rare, unless it came after
/// the last ANALYZE. Then the matches are counted first (through the GIN index: a few ms for a rare tag),
/// and a small count has the page found through the index and sorted
/// (<see cref="IncidentSqlBuilder.FewMatches"/>); a large one, where the statistics are stale, keeps the walk.
/// </para>
/// <para>
/// A property value is the same trap (migration 0041): a value the statistics do not list is taken to be as
/// common as the average of the unlisted ones, 0.2 % of the bench's million rows for a place, so a place in
/// none (<c>location_name=Sayeda Zeinab</c>) walked every row, 1.0 s a page. Such a value is counted first
/// through the column's B-tree: a few ms, and at most the least common listed value's share of the rows.
/// </para>
/// </summary>
public sealed class RareValues(IncidentReader reader)
{
    public static readonly TimeSpan KeepFor = TimeSpan.FromMinutes(5);

    /// <summary>The filters judged, each by its column's statistics.</summary>
    private static readonly (string Column, Func<IncidentQuery, IReadOnlyList<string>?> Asked)[] Filters =
    [
        ("tags", q => q.Tags),
        ("actors", q => q.Actors),
        ("sub_event_type", q => q.SubEventTypes),
        ("admin1", q => q.Admin1),
        ("admin2", q => q.Admin2),
        ("admin3", q => q.Admin3),
        ("location_name", q => q.LocationNames),
        ("claimed_by", q => q.ClaimedBy),
    ];

    /// <summary>Per column, what its statistics list as common; a column without statistics is absent.</summary>
    private sealed record Common(IReadOnlyDictionary<string, IReadOnlySet<string>> Columns, long ReadAt);

    private volatile Common? _common;

    /// <summary>Whether the query filters on any column <see cref="AllRareAsync"/> judges.</summary>
    public static bool Judges(IncidentQuery query) => Filters.Any(f => f.Asked(query) is { Count: > 0 }) || query.Filter?.Values is { Count: > 0 };

    /// <summary>
    /// The columns whose statistics are read: those of the parameters, and title, which a CQL2 filter's
    /// <c>ACCENTI(title) = ACCENTI('…')</c> is judged by (<see cref="Filtering.CompiledFilter.Values"/>).
    /// </summary>
    private static readonly string[] Columns = [.. Filters.Select(f => f.Column), "title"];

    /// <summary>
    /// Text without its combining marks, as near ACCENTI (accent_fold) as judging rarity needs: a value judged rare by
    /// mistake is counted first, one judged common walked, and the answer is the same either way.
    /// </summary>
    private static string Folded(string text) =>
        string.Concat(text.Normalize(System.Text.NormalizationForm.FormD)
                .Where(c => System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.NonSpacingMark))
            .Normalize(System.Text.NormalizationForm.FormC);

    /// <summary>Whether every value of a CQL2 filter's condition is outside what the column's statistics list as common.</summary>
    private static bool Rare(Filtering.FilterValues condition, IReadOnlySet<string> listed) => condition.Folded
        ? condition.Values.Select(Folded).All(v => !listed.Any(l => Folded(l) == v))
        : condition.Values.All(v => !listed.Contains(v));

    /// <summary>
    /// True when the query's matches are all rare: for some filter it has, every value it asks for is one
    /// the statistics do not list as common (filters are ANDed, so one such filter bounds the matches).
    /// False when the statistics do not know the column (never analysed).
    /// </summary>
    public async Task<bool> AllRareAsync(IncidentQuery query, CancellationToken ct)
    {
        if (!Judges(query)) return false;
        var common = _common;
        // Read again after KeepFor; and every time while nothing is known (a new or small database that
        // autovacuum has not analysed yet: the read costs less than a millisecond).
        if (common is null || Environment.TickCount64 - common.ReadAt > KeepFor.TotalMilliseconds || common.Columns.Count == 0)
            _common = common = await ReadAsync(ct);
        return Filters.Any(f => f.Asked(query) is { Count: > 0 } asked
                                && common.Columns.TryGetValue(f.Column, out var listed)
                                && asked.All(a => !listed.Contains(a)))
               || (query.Filter?.Values ?? []).Any(v => common.Columns.TryGetValue(v.Column, out var listed) && Rare(v, listed));
    }

    private async Task<Common> ReadAsync(CancellationToken ct)
    {
        // A column with statistics but nothing common (every value seen too few times, or every one NULL) has
        // an empty set; a column without statistics is left out: nothing is known of it.
        var rows = await reader.ListAsync(
            """
            SELECT s.attname::text,
                   coalesce(CASE WHEN s.attname IN ('tags', 'actors') THEN s.most_common_elems::text ELSE s.most_common_vals::text END::text[], '{}')
            FROM pg_stats s
            -- The incidents table the session sees, by name: a cast of every row's name to regclass could fail on a
            -- table another session drops meanwhile.
            JOIN pg_class c ON c.relname = s.tablename AND c.oid = 'incidents'::regclass
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
            WHERE s.attname = ANY(@columns) AND NOT s.inherited
            """, new DynamicParameters(new { columns = Columns }),
            row => (Column: row.GetString(0), Values: (string[])row.GetValue(1)), ct);
        return new Common(
            rows.ToDictionary(r => r.Column, r => (IReadOnlySet<string>)r.Values.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal),
            Environment.TickCount64);
    }
}
