using System.Globalization;
using System.Text;
using Dapper;

namespace IncidentMap.Api.Querying;

/// <summary>What a sort key is in SQL, and how its value travels inside a cursor.</summary>
public enum KeyKind { Timestamp, Integer, Double, Text }

/// <param name="Indexed">Whether an index on incidents serves this key as the first of a sort (with id after it).</param>
public sealed record SortField(string Name, string Sql, KeyKind Kind, bool NeedsPoint = false, bool Indexed = true);

public static class SortFields
{
    public static readonly IReadOnlyDictionary<string, SortField> All = new[]
    {
        new SortField("occurred_at", "i.occurred_at", KeyKind.Timestamp),
        new SortField("updated_at", "i.updated_at", KeyKind.Timestamp),
        new SortField("created_at", "i.created_at", KeyKind.Timestamp, Indexed: false),
        new SortField("id", "i.id", KeyKind.Integer),
        // Unknown tolls sort below zero. incidents_fatalities_idx (0041) is on this expression.
        new SortField("fatalities", "coalesce(i.fatalities_max, i.fatalities_min, -1)", KeyKind.Integer),
        // Alphabetical as a reader expects (apple, Apple, Émeute, Zebra), not the database's byte order
        // (C: Apple, Zebra, apple, Émeute). The ICU collation is deterministic (ties between different
        // strings break by their bytes), so keyset cursors stay exact.
        new SortField("title", "(i.title COLLATE \"und-x-icu\")", KeyKind.Text, Indexed: false),
        new SortField("distance", "ST_Distance(i.geog, @point)", KeyKind.Double, NeedsPoint: true, Indexed: false),
        // The property it sorts by is distance_m: its name sorts too.
        new SortField("distance_m", "ST_Distance(i.geog, @point)", KeyKind.Double, NeedsPoint: true, Indexed: false),
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);
}

/// <summary>Parameterised SQL compiled from an <see cref="IncidentQuery"/>.</summary>
/// <param name="StablePlan">Whether one plan suits every parameter value, so the statement may be prepared.</param>
public sealed record SqlQuery(string Sql, DynamicParameters Parameters, IReadOnlyList<SortKey> Keys, bool StablePlan = false);

public sealed record SortKey(SortField Field, bool Descending);

/// <summary>
/// Compiles an <see cref="IncidentQuery"/> into SQL. The only place that writes WHERE and ORDER BY for
/// incidents; it emits parameters and whitelisted identifiers only, never client text.
/// </summary>
public static class IncidentSqlBuilder
{
    /// <summary>
    /// The text search configuration of the stored <c>search</c> column (db/migrations/0022: english,
    /// accents ignored; 0025: Arabic vowel marks, tatweel and letter forms folded by search_fold; 0054: search_fold
    /// composes the text (NFC) first, so a word stored or typed decomposed is the word composed). A q must be folded
    /// and parsed the same way, or its words would not meet the stored ones.
    /// </summary>
    public const string SearchConfiguration = "public.incidentmap_search";

    /// <summary>SQL: the text <c>@q</c> as a tsquery over the <c>search</c> column (websearch syntax).</summary>
    public const string TextQuery = "websearch_to_tsquery('" + SearchConfiguration + "'::regconfig, public.search_fold(@q))";

    /// <summary>Longest interval a time_precision implies (a month); bounds the index range of time windows.</summary>
    private static readonly TimeSpan LongestPrecision = TimeSpan.FromDays(31);

    /// <summary>
    /// SQL: an incident's implied interval [<paramref name="start"/>, <paramref name="until"/>) reaches
    /// <paramref name="from"/> or later. The interval is empty when the time is exact (until = start):
    /// then the instant itself counts. Shared by <c>datetime</c> and CQL2's T_INTERSECTS.
    /// </summary>
    internal static string Reaches(string start, string until, string from) => $"({until} > {from} OR {start} >= {from})";

    /// <summary>
    /// The earliest start an incident reaching <paramref name="from"/> can have (no implied interval is
    /// longer than a month): a redundant but sargable bound for the index on the start; null when it
    /// would fall before the calendar.
    /// </summary>
    internal static DateTimeOffset? StartFloor(DateTimeOffset from) =>
        from - DateTimeOffset.MinValue > LongestPrecision ? from - LongestPrecision : null;

    /// <summary>
    /// The most matches for which a page with text search (or tags, or actors) is read matches first (see <see cref="Build(IncidentQuery, long?)"/>).
    /// At this many, sorting them costs about what walking the time index does to fill a page of ten
    /// (a thousand heap rows, against 1/1000 of a million-row table per row of the page).
    /// </summary>
    public const long FewMatches = 1000;

    /// <summary>
    /// A SELECT of the <see cref="Projection"/> plus the sort-key columns.
    /// <para>
    /// With text search (q), tags, actors or a free-text property and a known count of at most <see cref="FewMatches"/> matches (numberMatched,
    /// counted for this page or an earlier one of the same filter), the matches are found first, through
    /// their index, and sorted. Left to itself, PostgreSQL walks the time index newest first and
    /// tests each row, expecting a page within a few thousand rows: it cannot know how rare a word or a
    /// tag is (outside the few hundred most common it assumes 0.1–0.5 % of rows). For a word in one
    /// incident of a million, or none, that walk read the whole table: 4–5 s a page (a tag in none, 6 s).
    /// </para>
    /// </summary>
    public static SqlQuery Build(IncidentQuery query, long? matched = null) =>
        Build(query, Projection(query), MatchesFirst(query, matched), keysFirst: true, nearestFirst: matched is not <= FewMatches);

    /// <summary>
    /// Whether a count of the matches can change the plan of this page: a limit, and a filter on a
    /// column whose index PostgreSQL cannot judge for a rare value (text, tags, actors, and the free-text
    /// properties whose values its statistics do not list: <see cref="RareValues"/>). A page merged from grid
    /// cells (a map's view, a radius) reads its cells whatever the count, so none is taken for it.
    /// </summary>
    public static bool PlanFollowsCount(IncidentQuery query) => CountMayChoosePlan(query) && NewestInCells(query, SortKeys(query.Sort)) is null;

    private static bool CountMayChoosePlan(IncidentQuery query) => query.Limit is not null && (query.Text is not null || RareValues.Judges(query));

    /// <summary>Whether the page is read matches first; <see cref="Build(IncidentQuery, string, bool, bool, bool)"/> drops it for merged cells.</summary>
    private static bool MatchesFirst(IncidentQuery query, long? matched) => CountMayChoosePlan(query) && matched is <= FewMatches;

    public static SqlQuery Build(IncidentQuery query, string projection, bool matchesFirst = false) =>
        Build(query, projection, matchesFirst, keysFirst: true);

    /// <param name="keysFirst">
    /// Whether a page sorted by a key no index serves is sorted out by its ids and keys first (see below); false
    /// only for tests, which compare both forms.
    /// </param>
    /// <param name="nearestFirst">
    /// Whether a page sorted nearest first is read from the ring its nearest matches lie in (<see cref="NearestRing"/>), and one
    /// sorted farthest first within a radius from an outer ring of cells (<see cref="FarthestRing"/>), rather than by sorting
    /// every match; false only for tests, and when the count is known to be small.
    /// </param>
    internal static SqlQuery Build(IncidentQuery query, string projection, bool matchesFirst, bool keysFirst, bool nearestFirst = true)
    {
        var parameters = new DynamicParameters();
        var keys = SortKeys(query.Sort);
        var cells = NewestInCells(query, keys);
        matchesFirst &= cells is null;
        var nearest = nearestFirst && cells is null && !matchesFirst && keysFirst && NearestFirst(query, keys);
        var farthest = nearestFirst && cells is null && !matchesFirst && keysFirst ? FarthestCells(query, keys) : null;
        // Nearest first: the radius is tested, not read through the GiST index (the ring is: see NearestRing).
        var where = Where(query, parameters, areaByIndex: cells is null && !nearest);
        // Farthest first: the ring's cells are read through the cell index, the radius tested (see FarthestRing).
        var ringWhere = farthest is null ? null : Where(query, parameters, areaByIndex: false);

        if (query.After is { } after)
        {
            where.Add(KeysetCondition(keys));
            ringWhere?.Add(KeysetCondition(keys));
            for (var n = 0; n < keys.Count; n++) parameters.Add($"k{n}", FromCursorValue(keys[n].Field.Kind, after.Keys[n]));
        }
        // One extra row tells whether a next page exists without a COUNT.
        // A long: an export's limit may be int.MaxValue (a common "no limit"), and one more overflowed to a negative LIMIT.
        if (query.Limit is { } limit) parameters.Add("limit", (long)limit + 1);

        // The columns, then the sort keys as k0, k1 …, from the matching incidents.
        string Select(string columns)
        {
            var sql = new StringBuilder("SELECT ").Append(columns);
            for (var n = 0; n < keys.Count; n++) sql.Append(", ").Append(keys[n].Field.Sql).Append(" AS k").Append(n);
            // OFFSET 0 keeps the filters in a subquery of their own, planned without the ORDER BY and LIMIT.
            if (matchesFirst) sql.Append("\nFROM (SELECT * FROM incidents i\n  WHERE ").AppendJoin("\n  AND ", where).Append("\n  OFFSET 0) i");
            else sql.Append("\nFROM incidents i\nWHERE ").AppendJoin("\n  AND ", where);
            return sql.ToString();
        }
        var order = string.Join(", ", keys.Select(k => k.Field.Sql + (k.Descending ? " DESC" : "")));

        if (cells is null && query.Limit is <= IncidentQuery.MaxLimit && !matchesFirst && keysFirst && keys.Any(k => !k.Field.Indexed))
        {
            // Keys first: a sort no index serves (titles in ICU order, distances, creation times) reads every
            // candidate, and with the projection in the same SELECT PostgreSQL renders each of them (geometry,
            // sources as text) before the sort keeps a page. So the page's ids are sorted out with their keys
            // alone, and only they are read whole: sortby=title over the bench's million rows took 3.2 s, now the
            // scan and the sort's 0.8 s. Up to a page's largest size: an export's limit of 300,000 took 3.7 s
            // this way against 2.0 s in one step, its rows joined back and sorted again at full width.
            var keyColumns = string.Concat(keys.Select((_, n) => $", k.k{n}"));
            if (nearest)
                return new SqlQuery(
                    $"SELECT {projection}{keyColumns}\nFROM ({NearestRing(query, parameters, where, order)}) k\n" +
                    $"JOIN incidents i ON i.id = k.page_id\nORDER BY {KeyOrder(keys)}",
                    parameters, keys);
            if (farthest is not null)
                return new SqlQuery(
                    $"SELECT {projection}{keyColumns}\nFROM ({FarthestRing(query, parameters, where, ringWhere!, keys, order, farthest)}) k\n" +
                    $"JOIN incidents i ON i.id = k.page_id\nORDER BY {KeyOrder(keys)}",
                    parameters, keys);
            return new SqlQuery(
                $"SELECT {projection}{keyColumns}\nFROM ({Select("i.id AS page_id")}\nORDER BY {order}\nLIMIT @limit) k\n" +
                $"JOIN incidents i ON i.id = k.page_id\nORDER BY {KeyOrder(keys)}",
                parameters, keys);
        }
        var select = Select(projection);
        if (cells is null)
            return new SqlQuery($"{select}\nORDER BY {order}" + (query.Limit is null ? "" : "\nLIMIT @limit"), parameters, keys);

        // One branch per cell (RadiusCells), each read from incidents_cell_idx already in time order;
        // PostgreSQL merges the branches and stops after the page. A sliver of a cell under a box's edge is not
        // walked: its incidents are found by the GiST index on the sliver alone (fenced by OFFSET 0, so the
        // planner does not walk the cell for a page it would never fill), then sorted.
        var branches = new List<string>();
        for (var n = 0; n < cells.Count; n++)
        {
            parameters.Add($"cell{n}", cells[n].Cell);
            if (cells[n].Sliver is not { } sliver)
            {
                branches.Add($"({select}\n  AND i.cell = @cell{n}\nORDER BY {order}\nLIMIT @limit)");
                continue;
            }
            var envelope = AnyBox(parameters, [sliver], $"s{n}", "i.geom && {0}");
            branches.Add($"(SELECT * FROM ({select}\n  AND i.cell = @cell{n}\n  AND {envelope}\n  OFFSET 0) s\nORDER BY {KeyOrder(keys)}\nLIMIT @limit)");
        }
        branches.Add($"({select}\n  AND i.cell = {RadiusCells.OtherShapes}\nORDER BY {order}\nLIMIT @limit)");
        var merged = string.Join("\nUNION ALL\n", branches) + "\nORDER BY " + KeyOrder(keys) + "\nLIMIT @limit";
        // The merge's plan is fixed by the SQL (one branch per cell, a sliver's from the GiST index), whatever the values.
        // Planned for each request instead, the 25-30 branches of an empty box of 1° on grid lines took 23-47 ms a
        // request, against 6-7 ms prepared.
        return new SqlQuery(merged, parameters, keys, StablePlan: true);
    }

    /// <summary>
    /// The same page, computed whole before its first row is sent. Left to itself PostgreSQL sends a page
    /// as it finds the rows, in 8 KB packets, and a reader that keeps up is woken for every packet: on
    /// a machine whose cores are all busy those wake-ups cost more than rendering the page. Computed
    /// whole (a materialized CTE, then a sort that must read it all before it returns a row), the page
    /// arrives in one burst. Only for bounded pages (a LIMIT): the CTE holds the whole page.
    /// </summary>
    public static SqlQuery Whole(SqlQuery page) => page with
    {
        Sql = "WITH page AS MATERIALIZED (\n" + page.Sql + "\n)\nSELECT * FROM page\nORDER BY " + KeyOrder(page.Keys),
    };

    /// <summary>
    /// A page sorted nearest first (<c>sortby=distance</c>, then id), of live incidents, that a ring round the point can serve
    /// (<see cref="NearestRing"/>).
    /// </summary>
    private static bool NearestFirst(IncidentQuery query, IReadOnlyList<SortKey> keys) =>
        query is { Near: not null, Limit: <= IncidentQuery.MaxLimit, IncludeDeleted: false, Id: null }
        && keys.Count == 2 && keys[0].Field.NeedsPoint && !keys[0].Descending && keys[1].Field.Name == "id" && !keys[1].Descending;

    /// <summary>Farther than any two places on the spheroid are apart (half a meridian is 20,004 km): the ring of no radius.</summary>
    private const double AcrossTheEarthMetres = 20_040_000;

    /// <summary>
    /// The ids and keys of a page sorted nearest first, read from a ring round the point instead of sorting every match.
    /// <para>
    /// A page of the nearest incidents within 1,000 km of Homs computed the geodesic distance of each of the 315,000
    /// matches and sorted them: 3-5 s a page on the bench's million rows. The page needs only the nearest
    /// <c>limit + 1</c>. So the GiST index on geom is walked nearest first in the plane (KNN, <c>geom &lt;-&gt; point</c>, bounded by
    /// the box round the radius), and the first <c>limit + 1</c> matches it finds (all the filters and the cursor
    /// applied) give the ring: the largest of their geodesic distances. The plane's order is not the spheroid's, but it
    /// does not have to be: any <c>limit + 1</c> matches within a distance prove that the nearest <c>limit + 1</c> lie within it. Then
    /// every match within the ring (through the GiST index, by the box round it, and lines and polygons by their own
    /// index) is sorted by the same <c>ST_Distance</c> the page sorts by, so the ring's test and the order never disagree.
    /// </para>
    /// <para>
    /// Fewer than <c>limit + 1</c> found (the box holds lines whose geodesic edges bulge into the circle from outside it, so
    /// the walk may miss some): the ring is the whole radius (or the Earth), and the page is the sort of every match, as before.
    /// </para>
    /// </summary>
    private static string NearestRing(IncidentQuery query, DynamicParameters parameters, List<string> where, string order)
    {
        parameters.Add("farthest", query.RadiusMetres ?? AcrossTheEarthMetres);
        var filters = string.Join("\n    AND ", where);
        var key = SortFields.All["distance"].Sql;
        return $"""
            SELECT i.id AS page_id, {key} AS k0, i.id AS k1
            FROM (SELECT CASE WHEN count(*) < @limit THEN @farthest ELSE max({key.Replace("i.", "n.")}) END AS ring
                  FROM (SELECT i.geog FROM incidents i
                        WHERE {filters}
                          AND i.geom && incident_dwithin_box(@point::geometry, @farthest)
                        ORDER BY i.geom <-> @point::geometry
                        LIMIT @limit) n) r
            CROSS JOIN incidents i
            WHERE {filters}
              AND (i.geom && incident_dwithin_box(@point::geometry, r.ring) OR {ShapesWithin("i.geom", "i.geog", "@point", "r.ring")})
              AND (r.ring >= @farthest OR {key} <= r.ring)
            ORDER BY {order}
            LIMIT @limit
            """;
    }

    /// <summary>
    /// How many incidents (of any kind, before filters) the outer cells of <see cref="FarthestRing"/> are to hold for each row of a page:
    /// some of them lie outside the circle, and a filter passes only some.
    /// </summary>
    internal const int FarthestRingRowsPerRow = 16;

    /// <summary>The most cells of a circle's box <see cref="FarthestRing"/> weighs (a circle of 1,000 km round Homs has 6,600).</summary>
    private const int FarthestRingMaxCells = 10_000;

    /// <summary>
    /// The cells <see cref="FarthestRing"/> reads for a page sorted farthest first (<c>sortby=-distance</c>, then id either way) of
    /// live incidents within a radius, farthest first (<see cref="RadiusCells.Ring"/>), those wholly nearer than the cursor
    /// left out; null for any other page, or a circle near a pole, over a quarter of the world or of too many cells.
    /// </summary>
    private static List<(int Cell, double Nearest, double Farthest)>? FarthestCells(IncidentQuery query, IReadOnlyList<SortKey> keys)
    {
        if (query is not { Near: { } near, RadiusMetres: { } radius, Limit: <= IncidentQuery.MaxLimit, IncludeDeleted: false, Id: null }
            || keys.Count != 2 || !keys[0].Field.NeedsPoint || !keys[0].Descending || keys[1].Field.Name != "id")
            return null;
        var ring = RadiusCells.Ring(near.Y, near.X, radius, FarthestRingMaxCells);
        // After a cursor at distance k0, only incidents at k0 or nearer are left: a cell whose every point is farther holds none.
        if (ring is not null && query.After is { } after && Convert.ToDouble(after.Keys[0], CultureInfo.InvariantCulture) is var k0)
            ring.RemoveAll(c => c.Nearest > k0);
        return ring;
    }

    /// <summary>
    /// The ids and keys of a page sorted farthest first within a radius, read from the cells of an outer ring instead of sorting
    /// every match.
    /// <para>
    /// A page of the farthest incidents within 300 km of Homs computed the geodesic distance of each of the 188,000 matches
    /// and sorted them: 1.4-2.3 s a page on the bench's million rows. The page needs only the farthest <c>limit + 1</c>. The
    /// circle's cells are walked farthest first (by the least distance a point of each can lie at), each counted from the cell
    /// index (0037, live incidents), until they hold <see cref="FarthestRingRowsPerRow"/> × (<c>limit + 1</c>); the least
    /// distance of the last is <c>d</c>. Then every match at <c>d</c> or farther is read: the points from the cells not wholly
    /// nearer than <c>d</c> (each cell's farthest corner, a bound with 1% to spare), lines, polygons and multipoints (cell -1)
    /// through their own index, every filter and the cursor applied, and sorted by the same <c>ST_Distance</c> the page sorts by.
    /// When there are at least <c>limit + 1</c> of them they are the page's: every match they leave out is nearer than
    /// <c>d</c>, and sorts after them all. When there are fewer (a filter most incidents of the ring fail, or a ring mostly
    /// outside the circle), every match is sorted as before; when the whole circle held fewer than the walk wanted,
    /// <c>d</c> is 0 and the ring is every match.
    /// </para>
    /// </summary>
    private static string FarthestRing(IncidentQuery query, DynamicParameters parameters, List<string> where, List<string> ringWhere,
        IReadOnlyList<SortKey> keys, string order, List<(int Cell, double Nearest, double Farthest)> ring)
    {
        parameters.Add("far_cells", ring.Select(c => c.Cell).ToArray());
        parameters.Add("far_nearest", ring.Select(c => c.Nearest).ToArray());
        parameters.Add("far_farthest", ring.Select(c => c.Farthest).ToArray());
        parameters.Add("far_enough", FarthestRingRowsPerRow * ((long)query.Limit!.Value + 1));
        var key = SortFields.All["distance"].Sql;
        var filters = string.Join("\n              AND ", ringWhere);
        var everywhere = string.Join("\n      AND ", where);
        return $"""
            WITH RECURSIVE walk(n, counted) AS (
                SELECT 0, 0::bigint
                UNION ALL
                SELECT w.n + 1, w.counted + (SELECT count(*) FROM (SELECT FROM incidents c
                                                                  WHERE c.deleted_at IS NULL AND c.cell = (@far_cells::integer[])[w.n + 1]
                                                                  LIMIT @far_enough) c)
                FROM walk w
                WHERE w.counted < @far_enough AND w.n < cardinality(@far_cells::integer[])
            ),
            ring AS MATERIALIZED (
                SELECT CASE WHEN max(counted) >= @far_enough THEN (@far_nearest::float8[])[max(n)] ELSE 0 END AS d FROM walk
            ),
            far AS MATERIALIZED (
                SELECT i.id AS page_id, {key} AS k0, i.id AS k1
                FROM incidents i
                WHERE {filters}
                  AND i.cell = ANY(ARRAY(SELECT f.cell FROM unnest(@far_cells::integer[], @far_farthest::float8[]) f(cell, farthest)
                                         WHERE f.farthest >= (SELECT d FROM ring)))
                  AND {key} >= (SELECT d FROM ring)
                UNION ALL
                SELECT i.id AS page_id, {key} AS k0, i.id AS k1
                FROM incidents i
                WHERE {filters}
                  AND i.cell = {RadiusCells.OtherShapes} AND {ShapesWithin("i.geom", "i.geog", "@point", "@radius")}
                  AND {key} >= (SELECT d FROM ring)
                ORDER BY {KeyOrder(keys)}
                LIMIT @limit
            ),
            exact AS MATERIALIZED (
                SELECT (SELECT d FROM ring) = 0 OR (SELECT count(*) FROM far) >= @limit AS whole
            )
            SELECT * FROM far WHERE (SELECT whole FROM exact)
            UNION ALL
            (SELECT i.id AS page_id, {key} AS k0, i.id AS k1
             FROM incidents i
             WHERE {everywhere}
               AND NOT (SELECT whole FROM exact)
             ORDER BY {order}
             LIMIT @limit)
            """;
    }

    /// <summary>ORDER BY over the key columns a page selects (k0, k1 …).</summary>
    private static string KeyOrder(IReadOnlyList<SortKey> keys) =>
        string.Join(", ", keys.Select((k, n) => $"k{n}" + (k.Descending ? " DESC" : "")));

    /// <summary>
    /// The grid cells to merge when a page is the newest (or oldest) incidents in a radius or in a bbox (a
    /// map's view), filtered by nothing that an index serves better than walking time order (text, CQL2,
    /// shapes, an id, both a radius and a box); otherwise null, and the area's candidates are found by the
    /// GiST index and sorted, or the time index is walked, as PostgreSQL judges.
    /// </summary>
    private static IReadOnlyList<RadiusCells.MergedCell>? NewestInCells(IncidentQuery query, IReadOnlyList<SortKey> keys)
    {
        if (query.Limit is null || keys.Count != 2 || keys[0].Field.Name != "occurred_at" || keys[1].Descending != keys[0].Descending) return null;
        if (query.Text is not null || query.Filter is not null || query.Intersects is not null || query.Id is not null || query.IncludeDeleted) return null;
        var boxed = query.Bbox is { Count: > 0 };
        return query switch
        {
            { Near: { } near, RadiusMetres: { } radius } when !boxed => RadiusCells.Covering(near.Y, near.X, radius)?.Select(c => new RadiusCells.MergedCell(c, null)).ToList(),
            { RadiusMetres: null, Bbox: { } boxes } when boxed => RadiusCells.CoveringBoxes(boxes),
            _ => null,
        };
    }

    /// <summary>SELECT count(*) over the same filters (cursor ignored).</summary>
    public static (string Sql, DynamicParameters Parameters) Count(IncidentQuery query)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n  AND ", Where(query, parameters));
        var plain = ($"SELECT count(*) FROM incidents i WHERE {where}", parameters);
        // A map's view, a journalist's radius or polygon and a dashboard's period: one area (a bbox, a radius or
        // a shape), a time window, or both, and no other filter. The query's conditions must be those alone, so
        // that a filter added later is never left out of a count.
        var alone = new IncidentQuery
        {
            Bbox = query.Bbox, Near = query.Near, RadiusMetres = query.RadiusMetres, Intersects = query.Intersects, From = query.From, Until = query.Until,
        };
        if (string.Join("\n  AND ", Where(alone, new DynamicParameters())) != where) return plain;
        var areas = (query.Bbox is { Count: > 0 } ? 1 : 0) + (query.RadiusMetres is null ? 0 : 1) + (query.Intersects is null ? 0 : 1);
        var cells = areas != 1 ? null
            : query.Bbox is { Count: > 0 } boxes ? CellSplit.OfBoxes(boxes)
            : query is { Near: { } near, RadiusMetres: { } radius } ? CellSplit.OfCircle(near.Y, near.X, radius)
            // Another spelling of its edge (QueryParser.EdgeAliases) lies outside the shape's cells: counted from the table.
            : query.Intersects is { } shape ? (QueryParser.EdgeAliases(shape) is null ? CellSplit.OfShape(shape) : null)
            : null;
        // An area with no cell inside it counts as before; so does a window with no start, which the time index serves as it is.
        if (areas > 0 ? cells is null : query.From is null) return plain;

        // Incidents starting in the window reach it, which the index (occurred_at, id), or (cell, occurred_at,
        // id) of the cells inside the area, tells alone. Those starting before it (at most a month: from_floor)
        // reach it when they last past it, which only the table says. Then the area's rim, read and tested.
        var until = query.Until is null ? "" : " AND i.occurred_at < @until";
        var sql = new StringBuilder("SELECT ").Append(Counted(cells, until + (query.From is null ? "" : " AND i.occurred_at >= @from")));
        if (query.From is not null)
            sql.Append("\n     + ").Append(Counted(cells, $" AND i.occurred_at >= @from_floor AND i.occurred_at < @from AND {Reaches("i.occurred_at", "i.occurred_until", "@from")}{until}"));
        if (cells is not null)
        {
            parameters.Add("cells_from", cells.From);
            parameters.Add("cells_to", cells.To);
            parameters.Add("cells_rim", cells.Rim);
            // The rim's points through the cell index (not a spatial index over the whole area); lines and
            // polygons through whichever index suits them.
            sql.Append("\n     + (SELECT count(*) FROM (SELECT * FROM incidents i WHERE i.deleted_at IS NULL AND i.cell = ANY(@cells_rim) OFFSET 0) i\n")
                .Append("        WHERE ").Append(where).Append(')')
                .Append($"\n     + (SELECT count(*) FROM incidents i WHERE i.cell = {RadiusCells.OtherShapes}\n  AND ").Append(where).Append(')');
        }
        return (sql.ToString(), parameters);

        // Whole runs of cells along each row, else the whole table.
        static string Counted(CellSplit? cells, string condition) => cells is null
            ? $"(SELECT count(*) FROM incidents i WHERE i.deleted_at IS NULL{condition})"
            : $"""
              (SELECT coalesce(sum(c.n), 0)::bigint FROM unnest(@cells_from, @cells_to) r(lo, hi)
                     CROSS JOIN LATERAL (SELECT count(*) AS n FROM incidents i
                                         WHERE i.deleted_at IS NULL AND i.cell BETWEEN r.lo AND r.hi{condition}) c)
              """;
    }

    /// <summary>The filter conditions of a query; shared by lists, counts and every later read path.</summary>
    /// <param name="areaByIndex">
    /// Whether the radius or bbox condition may drive the GiST index on geom (through a box around the circle,
    /// or the bbox). Merged cell branches must not: PostgreSQL, taking the area and the cell as independent,
    /// would rather find and sort every incident of the area in each branch.
    /// </param>
    public static List<string> Where(IncidentQuery query, DynamicParameters parameters, bool areaByIndex = true)
    {
        var where = query.IncludeDeleted ? new List<string> { "true" } : ["i.deleted_at IS NULL"];
        parameters.Add("precision", query.Precision);

        if (query.Id is { } id)
        {
            where.Add("i.id = @id");
            parameters.Add("id", id);
        }

        if (query.Near is { } near)
        {
            parameters.Add("point", new Database.GeographyValue(near));
            if (query.RadiusMetres is { } radius)
            {
                // Geodesic (spheroid) distance. Candidates come from the GiST index on geom, through boxes
                // that hold the circle (RadiusCells.Bounds), and lines and polygons from their own index,
                // unless the cell index drives the scan.
                if (areaByIndex)
                    where.Add($"({AnyBox(parameters, RadiusCells.Bounds(near.Y, near.X, radius), "r", "i.geom && {0}")} OR {ShapesWithin("i.geom", "i.geog", "@point", "@radius")})");
                where.Add(WithinOnSpheroid);
                parameters.Add("radius", radius);
            }
        }

        // ST_Envelope turns a box of no width or height into the line or point it is: as a degenerate
        // polygon, a point bbox intersected nothing, not even an incident exactly there.
        // Merged cells: _ST_Intersects is the same test without the index hook, and the box is built once (an
        // InitPlan), not for every row as a prepared statement's generic plan would (its parameters are not folded).
        // The whole world (QGIS's and a zoomed-out map's view) holds every incident, whose coordinates writes keep
        // within it: no test at all. ST_Intersects on every row made stats 2 to 5 times slower for the same answer,
        // and tipped the summary's plan to a walk of an index in random order (7 s against 1.4 on a million).
        if (query.Bbox is { Count: > 0 } boxes && !boxes.Any(b => b is { MinLon: -180, MinLat: -90, MaxLon: 180, MaxLat: 90 }))
            where.Add(AnyBox(parameters, boxes, "", areaByIndex ? "ST_Intersects(i.geom, ST_Envelope({0}))" : "_ST_Intersects(i.geom, (SELECT ST_Envelope({0})))"));

        if (query.Intersects is { } shape)
        {
            parameters.Add("shape", shape);
            var aliases = QueryParser.EdgeAliases(shape);
            if (aliases is not null)
            {
                where.Add("(ST_Intersects(i.geom, @shape) OR ST_Intersects(i.geom, @shape_aliases))");
                parameters.Add("shape_aliases", aliases);
            }
            else where.Add("ST_Intersects(i.geom, @shape)");
            // A line, a few points or a thin polygon: candidates from the boxes that hold it (ShapeCover), not from its whole box.
            var cover = ShapeCover.Boxes(shape);
            if (cover is not null && aliases is not null) cover = ShapeCover.Boxes(aliases) is { } aliasCover ? [.. cover, .. aliasCover] : null;
            if (cover is not null)
            {
                where.Add("i.geom && ANY(@shape_boxes)");
                parameters.Add("shape_boxes", ShapeCover.AsGeometries(cover, shape.Factory));
            }
        }

        // The incident's interval is [occurred_at, occurred_until), or the instant occurred_at when exact;
        // it must overlap the window [from, until).
        if (query.Until is { } until)
        {
            where.Add("i.occurred_at < @until");
            parameters.Add("until", until);
        }
        if (query.From is { } from)
        {
            where.Add(Reaches("i.occurred_at", "i.occurred_until", "@from"));
            where.Add("i.occurred_at >= @from_floor");
            parameters.Add("from", from);
            parameters.Add("from_floor", StartFloor(from) ?? DateTimeOffset.MinValue);
        }

        AnyOf(where, parameters, "i.event_type", "event_type", query.EventTypes);
        AnyOf(where, parameters, "i.sub_event_type", "sub_event_type", query.SubEventTypes);
        // country is character(2). Against a text parameter PostgreSQL compares country::text, which the
        // index on country cannot serve: a country with few incidents or none walked the whole time index
        // for a page (country=ZW on a million rows: 1.3-2.7 s) and counted over the whole table.
        AnyOf(where, parameters, "i.country", "country", query.Countries, type: "bpchar");
        AnyOf(where, parameters, "i.admin1", "admin1", query.Admin1);
        AnyOf(where, parameters, "i.status", "status", query.Statuses);
        AnyOf(where, parameters, "i.time_precision", "time_precision", query.TimePrecisions);
        AnyOf(where, parameters, "i.geo_precision", "geo_precision", query.GeoPrecisions);
        AnyOf(where, parameters, "i.location_name", "location_name", query.LocationNames);
        AnyOf(where, parameters, "i.admin2", "admin2", query.Admin2);
        AnyOf(where, parameters, "i.admin3", "admin3", query.Admin3);
        AnyOf(where, parameters, "i.external_id", "external_id", query.ExternalIds);
        AnyOf(where, parameters, "i.claimed_by", "claimed_by", query.ClaimedBy);
        if (query.Tags is { Count: > 0 } tags)
        {
            where.Add("i.tags && " + ElementList("@tags", tags.Count));
            parameters.Add("tags", tags.ToArray());
        }
        if (query.Actors is { Count: > 0 } actors)
        {
            where.Add("i.actors && " + ElementList("@actors", actors.Count));
            parameters.Add("actors", actors.ToArray());
        }

        // A toll is the interval [min, max] (unknown min = 0, unknown max = unbounded); it matches when it
        // overlaps the asked range. Incidents with no figure at all never match a fatalities filter.
        if (query.FatalitiesAtLeast is not null || query.FatalitiesAtMost is not null)
            where.Add("(i.fatalities_min IS NOT NULL OR i.fatalities_max IS NOT NULL)");
        if (query.FatalitiesAtLeast is { } atLeast)
        {
            where.Add("coalesce(i.fatalities_max, 2147483647) >= @fatalities_from");
            parameters.Add("fatalities_from", atLeast);
        }
        if (query.FatalitiesAtMost is { } atMost)
        {
            where.Add("coalesce(i.fatalities_min, 0) <= @fatalities_to");
            parameters.Add("fatalities_to", atMost);
        }
        if (query.FatalitiesMin is { } mins)
        {
            where.Add("i.fatalities_min = ANY(@fatalities_min)");
            parameters.Add("fatalities_min", mins.ToArray());
        }
        if (query.FatalitiesMax is { } maxes)
        {
            where.Add("i.fatalities_max = ANY(@fatalities_max)");
            parameters.Add("fatalities_max", maxes.ToArray());
        }

        if (query.Filter is { } filter)
        {
            where.Add("(" + filter.Sql + ")");
            foreach (var (name, value) in filter.Parameters) parameters.Add(name, value);
        }

        if (query.Text is { } text)
        {
            where.Add("i.search @@ " + TextQuery);
            parameters.Add("q", text);
        }
        return where;
    }

    /// <summary>
    /// "Within @radius on the spheroid", deciding most rows with the sphere, a third of the cost: a
    /// great-circle distance (mean radius) is within 0.6% of the geodesic one (a degree of meridian is
    /// 110,574 m at the equator and 111,694 m at the poles against 111,195 m on the sphere), so only rows
    /// within 0.7% of the rim need the exact test.
    /// </summary>
    private const string WithinOnSpheroid = """
        (_ST_DWithin(i.geog, @point, @radius * 0.993, false)
           OR (_ST_DWithin(i.geog, @point, @radius * 1.007, false) AND _ST_DWithin(i.geog, @point, @radius, true)))
        """;

    /// <summary>
    /// Lines and polygons within <paramref name="metres"/> of <paramref name="shape"/> (a geography), a
    /// superset on the sphere, through the GiST index on geog that holds only them (migration 0019). Their
    /// edges are geodesics that bulge towards the pole beyond the box of their vertices, so a box around
    /// a circle can miss them; a point's box is exact.
    /// </summary>
    internal static string ShapesWithin(string geom, string geog, string shape, string metres) =>
        $"(GeometryType({geom}) <> 'POINT' AND ST_DWithin({geog}, {shape}, {metres} * 1.007, false))";

    /// <summary><paramref name="test"/> of any of the boxes ({0} is the box); parameters prefixed per use.</summary>
    private static string AnyBox(DynamicParameters parameters, IReadOnlyList<Box> boxes, string prefix, string test)
    {
        var parts = new List<string>();
        for (var n = 0; n < boxes.Count; n++)
        {
            // Parameter names are case-insensitive: keep them distinct in letters, not case.
            var (west, south, east, north) = ($"{prefix}west{n}", $"{prefix}south{n}", $"{prefix}east{n}", $"{prefix}north{n}");
            parts.Add(string.Format(CultureInfo.InvariantCulture, test, $"ST_MakeEnvelope(@{west}, @{south}, @{east}, @{north}, 4326)"));
            parameters.Add(west, boxes[n].MinLon);
            parameters.Add(south, boxes[n].MinLat);
            parameters.Add(east, boxes[n].MaxLon);
            parameters.Add(north, boxes[n].MaxLat);
        }
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" OR ", parts) + ")";
    }

    /// <summary>
    /// The most strings an array column (tags, actors) is compared with as the value itself; more are hidden from
    /// the planner's estimate (<see cref="ElementList"/>). Up to here PostgreSQL's estimate still tells a common tag
    /// (walk the time index) from a rare one (the GIN index): a value its statistics do not list counts 0.5 % at most,
    /// so ten such are 5 %, well short of the share past which it reads the whole table.
    /// </summary>
    internal const int EstimatedElements = 10;

    /// <summary>
    /// SQL for a text[] <paramref name="parameter"/> of <paramref name="count"/> strings that an array column is
    /// compared with (<c>&amp;&amp;</c>, <c>@&gt;</c> …). PostgreSQL estimates an overlap by adding up each value's
    /// share of the rows and gives every value its statistics do not list 0.5 %: on the bench's million rows 200 tags
    /// in no incident looked like 63 % of the table, so it read every row rather than the GIN index, testing each
    /// row's tags against every value (8 s for 200, 23 s for 1,000, 60 s for 3,000). Past
    /// <see cref="EstimatedElements"/> the list is read by a sub-select, which PostgreSQL does not look into: it takes
    /// 1 % and keeps to the index (1,000 tags in none: 2 ms; all 23 of the bench's, 750,000 matches, 1.5 s, against
    /// 2.0 s reading the table).
    /// </summary>
    internal static string ElementList(string parameter, int count) =>
        count <= EstimatedElements ? parameter : $"(SELECT {parameter}::text[])";

    /// <param name="type">The column's type, when it is not text, for the parameter to be cast to.</param>
    private static void AnyOf(List<string> where, DynamicParameters parameters, string column, string name, IReadOnlyList<string>? values,
        string? type = null)
    {
        if (values is not { Count: > 0 }) return;
        if (values.Count == 1)
        {
            where.Add($"{column} = @{name}" + (type is null ? "" : $"::{type}"));
            parameters.Add(name, values[0]);
        }
        else
        {
            where.Add($"{column} = ANY(@{name}" + (type is null ? ")" : $"::{type}[])"));
            parameters.Add(name, values.ToArray());
        }
    }

    /// <summary>
    /// The columns <see cref="IncidentRowWriter"/> renders: id; x and y for points; for other shapes their
    /// GeoJSON geometry (or WKT for CSV) rounded to the query's precision; then one column per property.
    /// </summary>
    public static string Projection(IncidentQuery query)
    {
        var shape = query.Format == OutputFormat.Csv ? "ST_AsText(i.geom, @precision)" : "ST_AsGeoJSON(i.geom, @precision)";
        var sql = new StringBuilder("i.id,\n  CASE WHEN GeometryType(i.geom) = 'POINT' THEN ST_X(i.geom) END,")
            .Append(" CASE WHEN GeometryType(i.geom) = 'POINT' THEN ST_Y(i.geom) END,")
            .Append(" CASE WHEN GeometryType(i.geom) <> 'POINT' THEN ").Append(shape).Append(" END");
        foreach (var column in OutputColumns(query)) sql.Append(",\n  ").Append(column.Sql);
        return sql.ToString();
    }

    public static IReadOnlyList<OutputColumn> OutputColumns(IncidentQuery query)
    {
        var columns = query.Properties is null ? Columns.All.ToList() : query.Properties.Where(Columns.ByName.ContainsKey).Select(p => Columns.ByName[p]).ToList();
        if (query.Near is not null && (query.Properties is null || query.Properties.Contains(Columns.Distance.Name)))
            columns.Add(Columns.Distance);
        return columns;
    }

    /// <summary>The sort fields, then the primary key as tie-breaker (unique position, stable paging).</summary>
    public static IReadOnlyList<SortKey> SortKeys(IReadOnlyList<SortOrder> sort)
    {
        var keys = sort.Select(s => new SortKey(SortFields.All[s.Field], s.Descending)).ToList();
        if (keys.All(k => k.Field.Name != "id")) keys.Add(new SortKey(SortFields.All["id"], keys.Count > 0 && keys[^1].Descending));
        return keys;
    }

    /// <summary>
    /// "After the cursor" in sort order. One direction: a row-value comparison, which a btree on the
    /// same columns serves directly. Mixed directions: the expanded lexicographic form.
    /// </summary>
    private static string KeysetCondition(IReadOnlyList<SortKey> keys)
    {
        if (keys.All(k => k.Descending == keys[0].Descending))
        {
            var columns = string.Join(", ", keys.Select(k => k.Field.Sql));
            var values = string.Join(", ", keys.Select((_, n) => $"@k{n}"));
            return $"({columns}) {(keys[0].Descending ? "<" : ">")} ({values})";
        }
        var alternatives = new List<string>();
        for (var n = 0; n < keys.Count; n++)
        {
            var terms = keys.Take(n).Select((k, m) => $"{k.Field.Sql} = @k{m}").ToList();
            terms.Add($"{keys[n].Field.Sql} {(keys[n].Descending ? "<" : ">")} @k{n}");
            alternatives.Add("(" + string.Join(" AND ", terms) + ")");
        }
        return "(" + string.Join(" OR ", alternatives) + ")";
    }

    public static bool CursorMatches(PageCursor cursor, IReadOnlyList<SortOrder> sort)
    {
        var keys = SortKeys(sort);
        return cursor.Sort == string.Join(",", sort) && cursor.Keys.Length == keys.Count
               && keys.Select((k, n) => IsValidCursorValue(k.Field.Kind, cursor.Keys[n])).All(ok => ok);
    }

    public static object? ToCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp => value is DateTime t ? (t.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10 : null,
        _ => value,
    };

    /// <summary>Microseconds since 1970 that .NET and PostgreSQL can both represent (years 1 to 9999).</summary>
    private const long MinMicros = -62_135_596_800_000_000, MaxMicros = 253_402_300_799_999_999;

    private static bool IsValidCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp => value is long micros && micros is >= MinMicros and <= MaxMicros,
        KeyKind.Integer => value is long,
        KeyKind.Double => value is double d ? double.IsFinite(d) : value is long,
        KeyKind.Text => value is string text && Incidents.IncidentInput.IsStorableText(text),
        _ => false,
    };

    private static object? FromCursorValue(KeyKind kind, object? value) => kind switch
    {
        KeyKind.Timestamp => DateTime.UnixEpoch.AddTicks((long)value! * 10),
        KeyKind.Double => Convert.ToDouble(value),
        _ => value,
    };
}
