using System.Globalization;
using Dapper;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Changes;

/// <summary>A position in the change feed: the writing transaction's id and the change's sequence number.</summary>
public readonly record struct FeedCursor(ulong Xid, long Position) : IComparable<FeedCursor>
{
    public override string ToString() => $"{Xid}-{Position}";

    public static bool TryParse(string? text, out FeedCursor cursor)
    {
        cursor = default;
        var dash = text?.IndexOf('-') ?? -1;
        // .NET number parsing tolerates trailing NULs; a cursor is digits only.
        if (dash <= 0 || !text!.Replace("-", "").All(char.IsAsciiDigit)) return false;
        if (!ulong.TryParse(text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var xid)
            || !long.TryParse(text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var position)) return false;
        cursor = new FeedCursor(xid, position);
        return true;
    }

    public int CompareTo(FeedCursor other) => (Xid, Position).CompareTo((other.Xid, other.Position));
}

/// <summary>One change: what happened to which incident, and the incident as it is now (null once deleted).</summary>
public sealed record Change(FeedCursor Cursor, string Kind, long Id, int Version, DateTime ChangedAt, string? Feature);

/// <summary>A page of changes; <paramref name="Expired"/>: retention purged changes after the cursor
/// (read in the same snapshot as the page, so a purge between a check and the read cannot hide).</summary>
public sealed record ChangePage(IReadOnlyList<Change> Changes, FeedCursor Next, bool Expired = false)
{
    /// <summary>The page was taken from the incidents the filter matches (<see cref="ChangeFeed.FewMatches"/>), not by walking the feed.</summary>
    internal bool TookMatches { get; init; }
}

/// <summary>
/// Reads the change feed. Only changes of transactions below the horizon — the oldest transaction
/// of this database still running (incident_feed_horizon, db/migrations/0005) — are returned, in
/// (xid, position) order; a transaction that commits after a reader's cursor was issued always sorts
/// after it, so nothing is ever skipped. See docs/change-feed.md.
/// </summary>
public sealed class ChangeFeed(IncidentReader reader, FeedHorizon horizon)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>The feed position of "now": everything visible so far is behind it.</summary>
    public async Task<FeedCursor> HeadAsync(CancellationToken ct)
    {
        var parameters = horizon.WithFloor(out var floor);
        return horizon.Reached((await reader.ScalarAsync<string>($"SELECT ({FeedHorizon.Sql})::text", parameters, ct))!, floor);
    }

    /// <summary>
    /// Whether retention has purged changes after the cursor (the reader must reload), or the cursor is
    /// ahead of anything the feed gave out: read on from it, the feed would skip the changes before it.
    /// The feed gives out the cursors of changes below its horizon and the horizon itself as
    /// <c>horizon-0</c>. So a cursor is one it gave out (or could
    /// have: any <c>x-0</c> at or below the horizon skips nothing) when it is
    /// <list type="bullet">
    /// <item>at or before the purge marker (before it is a 410; rows before it may be gone),</item>
    /// <item><c>x-0</c> with x at or below the highest horizon given out so far, or</item>
    /// <item>the position of a change below it (one primary-key lookup).</item>
    /// </list>
    /// <c>448497-99999999</c> beside a next_cursor of <c>448497-0</c> is none of these: it would skip
    /// every change transaction 448497 goes on to write.
    /// </summary>
    public async Task<(bool Expired, bool Ahead)> CheckAsync(FeedCursor cursor, CancellationToken ct)
    {
        var parameters = new DynamicParameters();
        parameters.Add("xid", cursor.Xid.ToString(CultureInfo.InvariantCulture));
        parameters.Add("position", cursor.Position);
        var state = await reader.ListAsync<CursorState>(CursorStateSql, parameters, ct);
        return (state[0].Expired, state[0].Ahead);
    }

    /// <summary>
    /// The check of <see cref="CheckAsync"/>. It compares with the highest horizon the feed can have given
    /// out so far (<c>incident_feed_horizon_reached</c>, db/migrations/0039), not with the horizon a read
    /// would take now: that one can stand lower for a moment (the safe side for reading), and a cursor
    /// given out a moment before would be refused.
    /// </summary>
    internal const string CursorStateSql = """
        WITH h AS (SELECT incident_feed_horizon_reached() AS xmin),
             purged AS (SELECT (xid, position) >= (@xid::xid8, @position) AS reached,
                               (xid, position) > (@xid::xid8, @position) AS after
                        FROM incident_changes_purged)
        SELECT coalesce((SELECT after FROM purged), false) AS expired,
               NOT (coalesce((SELECT reached FROM purged), false)
                    OR (@position = 0 AND @xid::xid8 <= h.xmin)
                    OR (@xid::xid8 < h.xmin AND EXISTS (
                            SELECT 1 FROM incident_changes c WHERE c.xid = @xid::xid8 AND c.position = @position))) AS ahead
        FROM h
        """;

    private sealed record CursorState(bool Expired, bool Ahead);

    /// <summary>
    /// The changes after <paramref name="after"/> that match <paramref name="filters"/>, judged by each
    /// incident as it is now. A deleted incident's content is an editor's to see (as its history is):
    /// for anyone else (<paramref name="seesDeleted"/> false) its changes are listed whatever the
    /// filters, since whether a filter let them through answered a question about that content, and
    /// <c>summary LIKE 'a%'</c>, <c>'ab%'</c> … read it back letter by letter (security audit).
    /// </summary>
    public async Task<ChangePage> ReadAsync(IncidentQuery filters, FeedCursor after, int limit, bool seesDeleted, CancellationToken ct) =>
        await ReadAsync(filters, after, limit, seesDeleted, WalkAtMost, ct);

    /// <summary>
    /// Changes after a cursor that a filtered page walks in feed order at most, testing each one's incident,
    /// before it looks for the matching incidents first (<see cref="FewMatches"/>). Each step of the walk reads an
    /// incident from the table: 10,000 of them take some tens of milliseconds.
    /// </summary>
    internal const int WalkAtMost = 10_000;

    /// <summary>
    /// Below this many matching incidents (deleted ones included, for a reader who is not an editor), a page far
    /// behind the head lists the changes of those incidents instead of walking the feed: a walk passes about
    /// limit × (changes ÷ matches) changes, each an incident read from the table.
    /// </summary>
    internal const int FewMatches = 1_000;

    /// <param name="walkAtMost">See <see cref="WalkAtMost"/>; tests lower it to take the other way over few changes.</param>
    internal async Task<ChangePage> ReadAsync(IncidentQuery filters, FeedCursor after, int limit, bool seesDeleted, int walkAtMost, CancellationToken ct)
    {
        var query = filters with { IncludeDeleted = true };
        var parameters = horizon.WithFloor(out var floor);
        var where = IncidentSqlBuilder.Where(query, parameters);
        var filter = string.Join("\n      AND ", where);
        var matches = seesDeleted ? filter : $"(i.deleted_at IS NOT NULL OR ({filter}))";
        parameters.Add("after_xid", after.Xid.ToString(CultureInfo.InvariantCulture));
        parameters.Add("after_position", after.Position);
        parameters.Add("feed_limit", limit);
        // A filtered page far behind the head may take the matching incidents first (see FewMatches): whether it
        // is far behind only chooses the statement, so it is asked apart (an index-only count of the feed's key,
        // stopping at walkAtMost), and the statement itself decides from what its own snapshot holds.
        var matchesFirst = where.Count > 1 && await ChangesAfterAsync(after, walkAtMost, ct) >= walkAtMost;
        // One statement, one snapshot: the horizon and the rows below it are read together, so the
        // horizon never runs ahead of what the rows show; the floor it may be raised to was read by a statement
        // that finished before this one began, so the rows below it are in this snapshot too (FeedHorizon).
        string sql;
        if (!matchesFirst)
        {
            sql = $"""
                WITH horizon AS (
                    SELECT {FeedHorizon.Sql} AS xmin,
                           EXISTS (SELECT 1 FROM incident_changes_purged p WHERE (p.xid, p.position) > (@after_xid::xid8, @after_position)) AS expired
                )
                SELECT h.xmin::text AS horizon, h.expired, f.*
                FROM horizon h
                LEFT JOIN LATERAL (
                    SELECT c.xid::text AS xid, c.position, c.kind, c.incident_id AS id, c.version, c.changed_at AS changedat,
                           i.deleted_at IS NULL AS live, {IncidentSqlBuilder.Projection(query)}
                    FROM incident_changes c
                    JOIN incidents i ON i.id = c.incident_id
                    WHERE (c.xid, c.position) > (@after_xid::xid8, @after_position)
                      AND c.xid < h.xmin
                      AND {matches}
                    ORDER BY c.xid, c.position
                    LIMIT @feed_limit
                ) f ON true
                """;
        }
        else
        {
            // The walk above passes every change after the cursor and reads its incident from the table, until
            // the page is full: for a filter few incidents match, from an old cursor, that was the whole feed (a
            // million changes, 2-17 s). Here the matching incidents are found first, through whatever index suits
            // the filter, at most FewMatches + 1 of them; when they are fewer, the page is their changes, found by
            // the incident's id among the changes after the cursor (the feed's own table, read in order, without
            // touching incidents), and only the page's incidents are then read. Otherwise the walk runs as above.
            // Only the branch taken runs (a one-time filter on `few`).
            parameters.Add("feed_few", FewMatches);
            sql = $"""
                WITH horizon AS (
                    SELECT {FeedHorizon.Sql} AS xmin,
                           EXISTS (SELECT 1 FROM incident_changes_purged p WHERE (p.xid, p.position) > (@after_xid::xid8, @after_position)) AS expired
                ), matched AS MATERIALIZED (
                    -- Live and deleted apart, so that each part is found through an index (migration 0051 indexes
                    -- the deleted ones): `deleted_at IS NOT NULL OR …` is served by none, and read the whole table.
                    SELECT m.id FROM (
                        (SELECT i.id FROM incidents i WHERE i.deleted_at IS NULL AND {filter} LIMIT @feed_few + 1)
                        UNION ALL
                        (SELECT i.id FROM incidents i WHERE i.deleted_at IS NOT NULL{(seesDeleted ? $" AND {filter}" : "")} LIMIT @feed_few + 1)
                    ) m
                    LIMIT @feed_few + 1
                ), way AS (
                    SELECT h.xmin, h.expired, (SELECT count(*) FROM matched) <= @feed_few AS few FROM horizon h
                )
                SELECT w.xmin::text AS horizon, w.expired, f.*, w.few
                FROM way w
                LEFT JOIN LATERAL (
                    SELECT c.xid::text AS xid, c.position, c.kind, c.incident_id AS id, c.version, c.changed_at AS changedat,
                           i.deleted_at IS NULL AS live, {IncidentSqlBuilder.Projection(query)}
                    FROM (
                        (SELECT c.xid, c.position, c.kind, c.incident_id, c.version, c.changed_at
                         FROM incident_changes c
                         JOIN incidents i ON i.id = c.incident_id
                         WHERE NOT w.few
                           AND (c.xid, c.position) > (@after_xid::xid8, @after_position)
                           AND c.xid < w.xmin
                           AND {matches}
                         ORDER BY c.xid, c.position
                         LIMIT @feed_limit)
                        UNION ALL
                        (SELECT c.xid, c.position, c.kind, c.incident_id, c.version, c.changed_at
                         FROM matched m
                         CROSS JOIN LATERAL (
                             SELECT c.* FROM incident_changes c
                             WHERE c.incident_id = m.id
                               AND (c.xid, c.position) > (@after_xid::xid8, @after_position)
                               AND c.xid < w.xmin
                               OFFSET 0  -- per matching incident, through incident_changes_incident_idx
                         ) c
                         WHERE w.few
                         ORDER BY c.xid, c.position
                         LIMIT @feed_limit)
                    ) c
                    JOIN incidents i ON i.id = c.incident_id
                    ORDER BY c.xid, c.position
                ) f ON true
                """;
        }
        var render = new IncidentRowWriter(query);
        var rows = await reader.ListAsync(sql, parameters, row => new Row(
            row.GetString(0),
            row.GetBoolean(1),
            matchesFirst && row.GetBoolean(row.FieldCount - 1),
            row.IsDBNull(2) ? null : row.GetString(2),
            row.IsDBNull(3) ? null : row.GetInt64(3),
            row.IsDBNull(4) ? null : row.GetString(4),
            row.IsDBNull(5) ? null : row.GetInt64(5),
            row.IsDBNull(6) ? null : row.GetInt32(6),
            row.IsDBNull(7) ? null : row.GetDateTime(7),
            !row.IsDBNull(8) && row.GetBoolean(8) ? render.FeatureJson(row, at: 9) : null), ct,
            // Polls repeat the walk all day; it walks the feed in (xid, position) order whatever the filters. Taking the
            // matches first is planned for the filter's values, so that a rare value is found through its index.
            stablePlan: !matchesFirst);
        var changes = rows.Where(r => r.Xid is not null)
            .Select(r => new Change(new FeedCursor(ulong.Parse(r.Xid!, CultureInfo.InvariantCulture), r.Position!.Value),
                r.Kind!, r.Id!.Value, r.Version!.Value, r.ChangedAt!.Value, r.Feature))
            .ToList();

        var head = horizon.Reached(rows[0].Horizon, floor);
        var next = changes.Count > 0 ? changes[^1].Cursor : after;
        // Everything below the horizon has been seen: later polls may start there.
        if (changes.Count < limit && head.CompareTo(next) > 0) next = head;
        return rows[0].Expired ? new ChangePage([], after, Expired: true) : new ChangePage(changes, next) { TookMatches = rows[0].Few };
    }

    /// <summary>How many changes lie after the cursor, counting no further than <paramref name="atMost"/>.</summary>
    private async Task<long> ChangesAfterAsync(FeedCursor after, int atMost, CancellationToken ct)
    {
        var parameters = new DynamicParameters();
        parameters.Add("after_xid", after.Xid.ToString(CultureInfo.InvariantCulture));
        parameters.Add("after_position", after.Position);
        parameters.Add("at_most", atMost);
        return await reader.ScalarAsync<long>("""
            SELECT count(*) FROM (
                SELECT FROM incident_changes c WHERE (c.xid, c.position) > (@after_xid::xid8, @after_position) LIMIT @at_most
            ) c
            """, parameters, ct, stablePlan: true);
    }

    private sealed record Row(string Horizon, bool Expired, bool Few, string? Xid, long? Position, string? Kind, long? Id, int? Version, DateTime? ChangedAt, string? Feature);
}
