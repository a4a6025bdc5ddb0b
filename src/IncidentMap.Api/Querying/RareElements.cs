using Dapper;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Whether the tags (or actors) a query asks for are rare, judged by the elements PostgreSQL's statistics
/// list as common (<c>pg_stats.most_common_elems</c>), read at most every <see cref="KeepFor"/>.
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
/// </summary>
public sealed class RareElements(IncidentReader reader)
{
    public static readonly TimeSpan KeepFor = TimeSpan.FromMinutes(5);

    private sealed record Common(IReadOnlySet<string>? Tags, IReadOnlySet<string>? Actors, long ReadAt);

    private volatile Common? _common;

    /// <summary>
    /// True when the query's matches are all rare: every tag it asks for is one the statistics do not list
    /// as common, or every actor. False when the statistics do not know the column (never analysed).
    /// </summary>
    public async Task<bool> AllRareAsync(IncidentQuery query, CancellationToken ct)
    {
        if (query.Tags is not { Count: > 0 } && query.Actors is not { Count: > 0 }) return false;
        var common = _common;
        // Read again after KeepFor; and every time while nothing is known (a new or small database that
        // autovacuum has not analysed yet: the read costs less than a millisecond).
        if (common is null || Environment.TickCount64 - common.ReadAt > KeepFor.TotalMilliseconds
            || common is { Tags: null, Actors: null })
            _common = common = await ReadAsync(ct);
        return Rare(query.Tags, common.Tags) || Rare(query.Actors, common.Actors);
    }

    private static bool Rare(IReadOnlyList<string>? asked, IReadOnlySet<string>? common) =>
        asked is { Count: > 0 } && common is not null && asked.All(a => !common.Contains(a));

    private async Task<Common> ReadAsync(CancellationToken ct)
    {
        // A column with statistics but no common element (every one seen too few times) has an empty set;
        // a column without statistics, none (null): nothing is known of it.
        var rows = await reader.ListAsync(
            """
            SELECT attname::text, coalesce(most_common_elems::text::text[], '{}')
            FROM pg_stats
            WHERE (quote_ident(schemaname) || '.' || quote_ident(tablename))::regclass = 'incidents'::regclass
              AND attname IN ('tags', 'actors') AND NOT inherited
            """, new DynamicParameters(), row => (Column: row.GetString(0), Elements: (string[])row.GetValue(1)), ct);
        IReadOnlySet<string>? Of(string column) =>
            rows.FirstOrDefault(r => r.Column == column).Elements is { } elements ? elements.ToHashSet(StringComparer.Ordinal) : null;
        return new Common(Of("tags"), Of("actors"), Environment.TickCount64);
    }
}
