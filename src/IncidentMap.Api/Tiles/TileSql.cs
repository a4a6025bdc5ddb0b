using Dapper;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// Vector tile and cluster SQL. Filters come from <see cref="IncidentSqlBuilder.Where"/>, so every
/// incident filter works on tiles, clusters and hexagon bins too.
/// </summary>
public static class TileSql
{
    /// <summary>Below this zoom, tiles carry clusters instead of incidents.</summary>
    public const int ClusterBelowZoom = 8;

    /// <summary>Clusters form on a grid of 8×8 cells per tile (32 px cells on 256 px tiles).</summary>
    public const int CellsPerTileShift = 3;

    public const int Extent = 4096;
    public const double WorldHalf = 20037508.342789244;
    public const double WorldSize = 2 * WorldHalf;

    /// <summary>Properties of incident features in tiles: small, and enough to style and label.</summary>
    private const string IncidentTileProperties = """
        i.id, i.title, i.event_type, i.sub_event_type,
        -- Seconds since 1970: MapLibre filters and interpolates numbers, not date strings.
        -- Whole seconds, truncated: a rounded 12:34:56.789 would fall outside a filter "before 12:34:57".
        floor(extract(epoch FROM i.occurred_at))::bigint AS occurred_at, i.time_precision,
        i.fatalities_min, i.fatalities_max, i.country, i.geo_precision, i.status
        """;

    /// <param name="tollsByIndex">
    /// For a tile whose filters name only columns of <c>incidents_occurred_points_idx</c> but no time window (<see cref="TollsOnly"/>):
    /// null to let the grid's count of the tile's incidents choose between that index and the table (<see cref="TollsTileMembers"/>),
    /// true or false to take one (tests compare both). Ignored for any other query.
    /// </param>
    public static (string Sql, DynamicParameters Parameters) Tile(IncidentQuery query, int z, int x, int y, bool? tollsByIndex = null)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        parameters.Add("z", z);
        parameters.Add("x", x);
        parameters.Add("y", y);
        if (z >= ClusterBelowZoom)
        {
            return ($"""
                WITH tile AS MATERIALIZED (
                    -- Computed once: in a prepared (generic) plan an inline envelope is rebuilt for every row.
                    -- The area in longitude/latitude is a box too (Web Mercator maps each axis on its
                    -- own, monotonically), so the GiST index on geom finds the tile's incidents.
                    -- The margin is clipped to the world first: past ±180° the transform wraps it round, and
                    -- the first and last columns' boxes became nearly the whole world without the tile itself.
                    SELECT ST_TileEnvelope(@z, @x, @y) AS envelope,
                           ST_Transform(ST_ClipByBox2D(ST_TileEnvelope(@z, @x, @y, margin => 64.0 / {Extent}), ST_TileEnvelope(0, 0, 0)), 4326) AS area
                ), features AS (
                    SELECT ST_AsMVTGeom(i.geom_3857, t.envelope, {Extent}, 64, true) AS geom,
                           {IncidentTileProperties}
                    FROM tile t, incidents i
                    WHERE {where}
                      AND i.geom && t.area
                )
                SELECT ST_AsMVT(features, 'incidents', {Extent}, 'geom', 'id') FROM features WHERE geom IS NOT NULL
                """, parameters);
        }

        AddGrid(parameters, z + CellsPerTileShift);
        if (GridServes(query))
        {
            var (cells, grid) = GridClusters(parameters, query, z + CellsPerTileShift, [TileCells(z, x, y)]);
            return ($"""
                WITH {cells}, clusters AS (
                    SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint({GridCentre("x")}, {GridCentre("y")}), 3857), ST_TileEnvelope(@z, @x, @y), {Extent}, 0, false) AS geom,
                           {ClusterIdSql} AS id,
                           {GridAggregates}
                    FROM {grid}
                    GROUP BY cx, cy
                )
                SELECT ST_AsMVT(clusters, 'clusters', {Extent}, 'geom', 'id' ORDER BY id) FROM clusters
                """, parameters);
        }
        // A time window (and at most event types, countries and tolls besides) reads the window's incidents from an index
        // that holds every column the clusters use (migration 0051), without the table, if nothing names geom:
        // the test on geom only lets the GiST index find the tile's incidents, and holds for every incident whose
        // point (never empty here) lies in the tile (geom holds the point, and && compares boxes rounded outwards
        // to float4, coarser than the 1e-10° by which a point at the map's edge may stand beyond it).
        var byGeom = WindowOnly(query) ? "" : "\n      AND i.geom && ST_Transform(ST_TileEnvelope(@z, @x, @y), 4326)";
        var members = TollsOnly(query)
            ? TollsTileMembers(parameters, query, where, z, x, y, tollsByIndex)
            : $"""
                members AS (
                    {Members(where)}{byGeom}
                      AND i.point_3857 && ST_TileEnvelope(@z, @x, @y)
                )
                """;
        return ($"""
            WITH {members}, clusters AS (
                SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(avg(px) / 1000, avg(py) / 1000), 3857), ST_TileEnvelope(@z, @x, @y), {Extent}, 0, false) AS geom,
                       {ClusterIdSql} AS id,
                       {ClusterAggregates}
                FROM members
                -- Exact membership by cell index: a point on a tile edge belongs to one tile only.
                WHERE cx >> {CellsPerTileShift} = @x AND cy >> {CellsPerTileShift} = @y
                GROUP BY cx, cy
            )
            SELECT ST_AsMVT(clusters, 'clusters', {Extent}, 'geom', 'id' ORDER BY id) FROM clusters
            """, parameters);
    }

    /// <summary>
    /// Clusters as GeoJSON at a map zoom: the same grid and sums as the tiles, over exactly the incidents
    /// the same filters return from /items (so the counts add up to its numberMatched).
    /// </summary>
    /// <param name="byWindowIndex">
    /// Whether a bbox with a time window reads the incidents whose point lies well inside the bbox from
    /// <c>incidents_occurred_points_idx</c> alone (<see cref="WindowMembers"/>; only where <see cref="WindowAreas"/> splits the
    /// bbox, else ignored): what <see cref="WindowIndexPays"/> decides. The same clusters either way.
    /// </param>
    public static (string Sql, DynamicParameters Parameters) Clusters(IncidentQuery query, int zoom, int precision, int maxClusters,
        bool byWindowIndex = false)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        AddGrid(parameters, zoom + CellsPerTileShift);
        parameters.Add("digits", precision);
        parameters.Add("max_clusters", maxClusters + 1); // one more, to tell an answer that is too large
        if (GridClustersOf(parameters, query, zoom, where) is var (cells, grid))
        {
            return ($$"""
                WITH {{cells}}
                SELECT json_build_object('type', 'Feature', 'id', cx || '/' || cy,
                    'geometry', ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint({{OnMap(GridCentre("x"))}}, {{OnMap(GridCentre("y"))}}), 3857), 4326), @digits)::json,
                    'properties', json_build_object('count', sum(incidents)::bigint, 'fatalities_min_sum', sum(fatalities_min_sum)::bigint,
                        'fatalities_max_sum', sum(fatalities_max_sum)::bigint,
                        'event_type', {{GridEventType}}))::text
                FROM {{grid}}
                GROUP BY cx, cy
                ORDER BY sum(incidents) DESC, cx, cy
                LIMIT @max_clusters
                """, parameters);
        }
        return ($$"""
            WITH members AS (
                {{MembersOf(parameters, query, where, byWindowIndex)}}
            )
            SELECT json_build_object('type', 'Feature', 'id', cx || '/' || cy,
                'geometry', ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint({{OnMap("avg(px) / 1000")}}, {{OnMap("avg(py) / 1000")}}), 3857), 4326), @digits)::json,
                'properties', json_build_object('count', count(*), 'fatalities_min_sum', coalesce(sum(fatalities_min), 0),
                    'fatalities_max_sum', coalesce(sum(fatalities_max), 0),
                    'event_type', mode() WITHIN GROUP (ORDER BY event_type)))::text
            FROM members
            GROUP BY cx, cy
            ORDER BY count(*) DESC, cx, cy
            LIMIT @max_clusters
            """, parameters);
    }

    /// <summary>
    /// The exact number of clusters <see cref="Clusters"/> gives from the grid, without computing them; null
    /// where the grid does not serve the query.
    /// </summary>
    public static (string Sql, DynamicParameters Parameters)? GridClusterCount(IncidentQuery query, int zoom)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        if (GridClustersOf(parameters, query, zoom, where, countOnly: true) is not var (cells, grid)) return null;
        return ($"""
            WITH {cells}
            SELECT count(*) FROM {grid}
            """, parameters);
    }

    /// <summary>
    /// How many clusters the first <paramref name="sampleRows"/> matching incidents (in whatever order the
    /// plan finds them) make on the zoom's grid: <see cref="Clusters"/>'s cells, without their sums,
    /// centres or order. A lower bound of the whole answer's size, exact when fewer incidents match;
    /// reading stops after the sample (see <see cref="ClusterLimit"/>).
    /// </summary>
    public static (string Sql, DynamicParameters Parameters) ClusterCount(IncidentQuery query, int zoom, int sampleRows, bool byWindowIndex = false)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        AddGrid(parameters, zoom + CellsPerTileShift);
        parameters.Add("sample", sampleRows);
        return ($"""
            SELECT count(DISTINCT cy * @cells + cx)
            FROM (
                {MembersOf(parameters, query, where, byWindowIndex, values: false)}
                LIMIT @sample
            ) sample
            """, parameters);
    }

    /// <summary>
    /// The points hexagon bins count (<see cref="HexagonBins"/>): per matching incident, its representative point's
    /// Web Mercator coordinates <c>x</c> and <c>y</c> (null for an empty point, which no hexagon holds), event type and
    /// both tolls, in no order. The bbox is a filter of the query, so a line or polygon that crosses it from a point
    /// outside is among them too. With <paramref name="byPointsIndex"/> (what <see cref="WindowIndexPays"/> decides of
    /// <see cref="WindowIndexEstimate"/> with anyTime), a bbox with at most a time window, event types and countries
    /// reads the points well inside it from <c>incidents_occurred_points_idx</c> alone (<see cref="ByPointsIndex"/>):
    /// the table is 1.1 GB at a million incidents, that index 98 MB.
    /// <para>
    /// The hexagons are assigned and summed in .NET, not here: per point, PostgreSQL's arithmetic over float8
    /// expressions (and the sort for <c>mode()</c>) cost more than reading the point (the world's 200 km bins: 5-21 s).
    /// </para>
    /// </summary>
    public static (string Sql, DynamicParameters Parameters) HexbinPoints(IncidentQuery query, bool byPointsIndex = false)
    {
        var parameters = new DynamicParameters();
        var where = string.Join("\n      AND ", IncidentSqlBuilder.Where(query, parameters));
        static string Points(string where) => $"""
            SELECT ST_X(i.point_3857) AS x, ST_Y(i.point_3857) AS y, i.event_type, i.fatalities_min, i.fatalities_max
                FROM incidents i
                WHERE {where}
            """;
        var sql = (byPointsIndex ? ByPointsIndex(parameters, query, where, anyTime: true, Points) : null) ?? Points(where);
        return (sql, parameters);
    }

    /// <summary>
    /// For each point (<c>@xs</c>, <c>@ys</c>, in Web Mercator) that <see cref="HexagonBins"/> finds within a hair of a
    /// hexagon's edge: its ordinal (from 1) and the first hexagon (i, j) by (i, j) of ST_HexagonGrid (edge <c>@size</c>,
    /// from the origin) laid over the point that holds it (a point on a shared edge touches two, and is counted once).
    /// </summary>
    public const string HexagonsOnEdges = """
        SELECT u.n::int, h.i, h.j
        FROM unnest(@xs::float8[], @ys::float8[]) WITH ORDINALITY u(x, y, n)
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(u.x, u.y), 3857) AS p) q
        CROSS JOIN LATERAL (
            SELECT g.i, g.j FROM ST_HexagonGrid(@size, q.p) g
            WHERE ST_Intersects(q.p, g.geom)
            ORDER BY g.i, g.j LIMIT 1
        ) h
        """;

    /// <summary>
    /// The bins as GeoJSON features, from their hexagon (<c>@i</c>, <c>@j</c> on ST_HexagonGrid's grid of edge <c>@size</c>
    /// from the origin), count and tolls' sums, in the order given (<see cref="HexagonBins"/> sorts them by count,
    /// largest first, then i and j). Each bin's event type is the most frequent, the first by the database's order of
    /// text among equals, as <c>mode() WITHIN GROUP (ORDER BY event_type)</c> picks it: <c>@kinds</c> are the event types
    /// and <c>@kind_counts</c> holds, for each bin in turn, how many of its incidents are of each kind.
    /// </summary>
    public static string HexbinFeatures(int kinds) => $$"""
        SELECT json_build_object('type', 'Feature', 'id', b.i || '/' || b.j,
            -- Counter-clockwise, as RFC 7946 wants exterior rings: ST_ClipByBox2D turns the hexagons it cuts round.
            'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Transform(ST_ClipByBox2D(
                ST_Hexagon(@size, b.i, b.j, ST_SetSRID(ST_MakePoint(0, 0), 3857)), ST_TileEnvelope(0, 0, 0)), 4326)), @digits)::json,
            'properties', json_build_object('count', b.count, 'fatalities_min_sum', b.fatalities_min_sum,
                'fatalities_max_sum', b.fatalities_max_sum,
                'event_type', (SELECT k.kind FROM unnest(@kinds::text[]) WITH ORDINALITY k(kind, m)
                               CROSS JOIN LATERAL (SELECT (@kind_counts::bigint[])[((b.n - 1) * {{kinds}} + k.m)::int] AS incidents) c
                               WHERE c.incidents > 0
                               ORDER BY c.incidents DESC, k.kind LIMIT 1)))::text
        FROM unnest(@i::int[], @j::int[], @count::bigint[], @fatalities_min_sum::bigint[], @fatalities_max_sum::bigint[])
             WITH ORDINALITY b(i, j, count, fatalities_min_sum, fatalities_max_sum, n)
        ORDER BY b.n
        """;

    /// <summary>
    /// A cluster's feature id in tiles (MapLibre's feature-state and promoteId need one): its cell's
    /// column cx and row cy on the zoom's grid, as in the GeoJSON clusters' id "cx/cy", and the zoom, so
    /// that a cell of another zoom never shares it: (cy × 2^(z+3) + cx) × 32 + z.
    /// </summary>
    public const string ClusterIdDoc = "(cy × 2^(z+3) + cx) × 32 + z, where cx/cy is the cluster's cell (the id of /clusters at that zoom)";
    private const string ClusterIdSql = "(cy * @cells + cx) * 32 + @z";

    private const string ClusterAggregates = """
        count(*)::int AS count,
        coalesce(sum(fatalities_min), 0)::bigint AS fatalities_min_sum,
        coalesce(sum(fatalities_max), 0)::bigint AS fatalities_max_sum,
        mode() WITHIN GROUP (ORDER BY event_type) AS event_type
        """;

    /// <summary>
    /// What a cluster sums and places besides its cell (<see cref="Members"/>). A cluster's centre is the mean
    /// of its members' points, taken in whole millimetres of Web Mercator, as the grid sums them (migration
    /// 0040): the mean of the same integers by the same numeric division, so both give the same tile.
    /// </summary>
    private const string MemberValues = "round(ST_X(i.point_3857) * 1000)::bigint AS px, round(ST_Y(i.point_3857) * 1000)::bigint AS py, i.event_type, i.fatalities_min, i.fatalities_max";

    /// <summary>
    /// The grid of cluster sums (migration 0040, <c>incident_grid</c>): per cell of level 10 (1,024 × 1,024
    /// over the Web Mercator map), event type and country, the count, both fatality sums and the sums of the points.
    /// Every cluster grid below zoom 8 (level z + 3) is made of whole level-10 cells.
    /// </summary>
    public const int GridLevel = ClusterBelowZoom - 1 + CellsPerTileShift;

    private const int GridCells = 1 << GridLevel;

    /// <summary>
    /// Whether the grid answers clusters of this query: no filter but event types, countries and statuses (the grid
    /// has no other column; statuses since migration 0056), which is what a map shows when it opens, and its toggle
    /// of verified incidents. Anything else reads the incidents.
    /// </summary>
    public static bool GridServes(IncidentQuery query) =>
        query with
        {
            EventTypes = null, Countries = null, Statuses = null, RelativeTo = null, Sort = SortOrder.Newest, After = null, Limit = IncidentQuery.DefaultLimit,
            Properties = null, Precision = IncidentQuery.DefaultPrecision, Format = OutputFormat.GeoJson, Count = false,
        } == Unfiltered;

    /// <summary>
    /// Whether the query is a time window, with at most event types, countries and tolls besides, all of which
    /// <c>incidents_occurred_points_idx</c> holds: its cluster tiles read the incidents through that index alone.
    /// </summary>
    public static bool WindowOnly(IncidentQuery query) =>
        (query.From is not null || query.Until is not null) && IndexServes(query);

    /// <summary>
    /// Whether every filter of the query names only columns that <c>incidents_occurred_points_idx</c> holds (migration 0051):
    /// a time window, event types, countries and tolls (<c>fatalities</c>, <c>fatalities_min</c>, <c>fatalities_max</c>).
    /// Not statuses: the index has no status (the grid does, migration 0056).
    /// </summary>
    public static bool IndexServes(IncidentQuery query) =>
        query.Statuses is null
        && GridServes(query with { From = null, Until = null, FatalitiesAtLeast = null, FatalitiesAtMost = null, FatalitiesMin = null, FatalitiesMax = null });

    /// <summary>
    /// Whether the query filters on tolls, with at most event types and countries besides, and no time window: what the index
    /// serves (<see cref="IndexServes"/>) and the grid does not. Its cluster tiles read either every live incident's entry of
    /// <c>incidents_occurred_points_idx</c> (no range of it holds a tile) or the tile's incidents from the table
    /// (<see cref="TollsTileMembers"/>).
    /// </summary>
    public static bool TollsOnly(IncidentQuery query) =>
        query.From is null && query.Until is null && !GridServes(query) && IndexServes(query);

    /// <summary>
    /// The members of a cluster tile of <see cref="TollsOnly"/>, in one of two ways, as the CTEs <c>tile_grid</c> and <c>members</c>.
    /// The index holds no time range to narrow it, so its scan reads every live incident's entry (1M on the bench: 1.4-3.4 s
    /// by the machine's load), whereas the table's path reads the tile's incidents found through the GiST index on geom,
    /// a heap page each (a z3 tile over Homs: 518,000 of them, 9-13 s; one over West Africa, 4,000: 0.7 s). So the grid
    /// counts the tile's incidents of the query's event types and countries first (its tolls aside; milliseconds), and
    /// the index is read when they are at least a <see cref="WindowIndexRowsPerHeapRow"/>th of the index's rows
    /// (<c>reltuples</c>). Both branches are in the statement, each gated by that one answer (a one-time filter: the other
    /// branch does not run), and both give the same members: the test on geom only lets the GiST index find the tile's
    /// incidents, and holds for every one whose point lies in the tile (see <see cref="Tile"/>).
    /// </summary>
    private static string TollsTileMembers(DynamicParameters parameters, IncidentQuery query, string where, int z, int x, int y, bool? byIndex)
    {
        var within = GridWithin(parameters, query, [TileCells(z, x, y)]);
        parameters.Add("index_rows_per_heap_row", WindowIndexRowsPerHeapRow);
        var choice = byIndex is { } forced
            ? $"SELECT {(forced ? "true" : "false")} AS by_index"
            : $"""
              SELECT coalesce(sum(incidents), 0) * @index_rows_per_heap_row
                         >= greatest((SELECT reltuples FROM pg_class WHERE oid = 'incidents_occurred_points_idx'::regclass), 0) AS by_index
                  FROM (
                      SELECT incidents FROM incident_grid WHERE {within}
                      UNION ALL
                      SELECT incidents FROM incident_grid_changes WHERE {within}
                  ) g
              """;
        // The index's rows first, fenced by OFFSET 0 and with nothing but the tile to test: given the query's filters, the
        // planner took the index of a country or an event type and read their incidents from the table (a z2 tile of
        // country=SY: 114,000 heap pages, 22 s). Its rows are all live (the index's own condition), as the filters ask.
        var indexRows = $"""
            (SELECT i.event_type, i.country, i.fatalities_min, i.fatalities_max, i.point_3857, NULL::timestamptz AS deleted_at
                     FROM incidents i
                     WHERE i.deleted_at IS NULL AND i.point_3857 && ST_TileEnvelope(@z, @x, @y)
                     OFFSET 0) i
            """;
        return $"""
            tile_grid AS MATERIALIZED (
                {choice}
            ), members AS (
                {Members(where, from: indexRows)}
                  AND (SELECT by_index FROM tile_grid)
                UNION ALL
                {Members(where)}
                  AND i.geom && ST_Transform(ST_TileEnvelope(@z, @x, @y), 4326)
                  AND i.point_3857 && ST_TileEnvelope(@z, @x, @y)
                  AND NOT (SELECT by_index FROM tile_grid)
            )
            """;
    }

    /// <summary>
    /// Whether the query is a bbox and a time window, with at most event types, countries and tolls besides: /clusters of it
    /// may read the incidents whose point lies well inside the bbox from <c>incidents_occurred_points_idx</c> alone
    /// (<see cref="WindowMembers"/>). A bbox of the whole world is no test at all, and needs no split.
    /// </summary>
    public static bool WindowWithBbox(IncidentQuery query) => BboxWithIndexedFilters(query, anyTime: false);

    /// <summary>
    /// <see cref="WindowWithBbox"/>, or with <paramref name="anyTime"/> also a bbox with no time window (at most event
    /// types and countries besides): all that <c>incidents_occurred_points_idx</c> can answer but the bbox, whose
    /// rectangles inside it its points serve (<see cref="WindowMembers"/>). Hexagon bins read it so over all time
    /// too, a walk of the whole index (1,000,000 points in 0.3-0.8 s on the bench) instead of the table.
    /// </summary>
    public static bool BboxWithIndexedFilters(IncidentQuery query, bool anyTime) =>
        query.Bbox is { Count: > 0 } boxes && !boxes.Any(b => b is { MinLon: -180, MinLat: -90, MaxLon: 180, MaxLat: 90 })
        // Not statuses, which the grid now holds (migration 0056) and the index does not.
        && (anyTime ? query.Statuses is null && GridServes(query with { Bbox = null, From = null, Until = null }) : WindowOnly(query with { Bbox = null }));

    /// <summary>
    /// How many entries of the window's index one heap row read is worth, about: the window's index-only walk reads every
    /// incident of the window (1.0-1.7 µs each on the bench's million, load 5-20), the table's path the bbox's
    /// incidents one heap page each (35-90 µs each). Measured in psql, docs/query-performance.md.
    /// </summary>
    public const double WindowIndexRowsPerHeapRow = 50;

    /// <summary>
    /// An <c>EXPLAIN (FORMAT JSON)</c> of two counts the planner estimates: the query's matches (bbox and window), then
    /// the window's (the query without its bbox); null where /clusters of the query cannot read the window's index
    /// (<see cref="WindowWithBbox"/>, <see cref="WindowAreas"/>). <see cref="WindowIndexPays"/> reads it.
    /// </summary>
    /// <param name="anyTime">Also a bbox without a time window (<see cref="BboxWithIndexedFilters"/>): hexagon bins.</param>
    public static (string Sql, DynamicParameters Parameters)? WindowIndexEstimate(IncidentQuery query, bool anyTime = false)
    {
        if (!BboxWithIndexedFilters(query, anyTime) || WindowAreas(query) is null) return null;
        var parameters = new DynamicParameters();
        var inBbox = string.Join("\n  AND ", IncidentSqlBuilder.Where(query, parameters));
        var inWindow = string.Join("\n  AND ", IncidentSqlBuilder.Where(query with { Bbox = null }, parameters));
        return ($"""
            EXPLAIN (FORMAT JSON)
            SELECT 1 FROM incidents i WHERE {inBbox}
            UNION ALL
            SELECT 2 FROM incidents i WHERE {inWindow}
            """, parameters);
    }

    /// <summary>
    /// Whether the window's index-only walk is the cheaper way to the clusters, from the plan of
    /// <see cref="WindowIndexEstimate"/>: when the window holds at most <see cref="WindowIndexRowsPerHeapRow"/> times the
    /// incidents the bbox and window hold together (the bbox holds at least a fiftieth of the window's incidents). A
    /// small bbox of a long window (a town over ten years) reads its few incidents from the table as before, rather
    /// than the whole window's index. A plan of any other shape: false, the table's path as before.
    /// </summary>
    public static bool WindowIndexPays(string? planJson)
    {
        if (planJson is null) return false;
        try
        {
            var plan = System.Text.Json.Nodes.JsonNode.Parse(planJson)?[0]?["Plan"];
            if (plan?["Node Type"]?.GetValue<string>() != "Append" || plan["Plans"] is not System.Text.Json.Nodes.JsonArray { Count: 2 } branches)
                return false;
            var inBbox = branches[0]?["Plan Rows"]?.GetValue<double>();
            var inWindow = branches[1]?["Plan Rows"]?.GetValue<double>();
            return inBbox is > 0 && inWindow is >= 0 && inWindow <= WindowIndexRowsPerHeapRow * inBbox;
        }
        catch (Exception error) when (error is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    /// <summary>A rectangle in Web Mercator metres, edges included.</summary>
    internal readonly record struct MercatorBox(double West, double South, double East, double North);

    /// <summary>
    /// The bbox's boxes split for <see cref="WindowMembers"/>: for each box of the area, the rectangle of Web Mercator
    /// at least <c>Margin</c> (a metre) inside it (none for a box too small, or an alias: another spelling of the area's
    /// edge), and boxes in longitude and latitude along the edges of each box, reaching 1e-7° into its rectangle, that
    /// hold the rest (a box without a rectangle whole). Null when no box has a rectangle (the table alone then answers).
    /// <para>
    /// A point whose Web Mercator coordinates lie in a rectangle lies inside the bbox by at least 0.8 mm (a metre of
    /// Mercator at 85°; the transforms round to about a nanometre), so its incident intersects the bbox: an incident's
    /// point (<c>point_3857</c>, migration 0027) is on its geometry, <c>ST_PointOnSurface</c> of the part on the map, a
    /// vertex of a line, a member of a multipoint, inside a polygon; the clipping at the map's edge (±85.0511287799°)
    /// adds vertices only there, beyond every rectangle (never nearer the map's edge than a metre), where points just
    /// past the edge are stored too. As the grid's cells (<see cref="GridAreas"/>), but to the metre, not to a cell.
    /// </para>
    /// </summary>
    internal static (List<MercatorBox> Inner, List<Box> Border)? WindowAreas(IncidentQuery query)
    {
        if (query.Bbox is not { Count: > 0 } boxes) return null;
        const double Margin = 1;                 // metres
        const double Overlap = 1e-7;             // degrees the border boxes reach into the rectangles
        double Longitude(double x) => x * 180 / WorldHalf;
        double Latitude(double y) => Math.Atan(Math.Sinh(y / WorldHalf * Math.PI)) * 180 / Math.PI;
        var inner = new List<MercatorBox>();
        var border = new List<Box>();
        foreach (var box in boxes)
        {
            if (box.Alias)
            {
                border.Add(box);
                continue;
            }
            var (x0, y0) = Mercator(box.MinLon, box.MinLat);
            var (x1, y1) = Mercator(box.MaxLon, box.MaxLat);
            var (west, south, east, north) = (x0 + Margin, y0 + Margin, Math.Min(x1, WorldHalf) - Margin, Math.Min(y1, WorldHalf) - Margin);
            if (!(west < east && south < north))
            {
                border.Add(box);
                continue;
            }
            inner.Add(new MercatorBox(west, south, east, north));
            border.Add(box with { MinLat = Math.Min(Latitude(north) - Overlap, box.MaxLat) });
            border.Add(box with { MaxLat = Math.Max(Latitude(south) + Overlap, box.MinLat) });
            border.Add(box with { MaxLon = Math.Max(Longitude(west) + Overlap, box.MinLon) });
            border.Add(box with { MinLon = Math.Min(Longitude(east) - Overlap, box.MaxLon) });
        }
        return inner.Count == 0 ? null : (inner, border);
    }

    /// <summary>
    /// The members of /clusters (<see cref="Members"/>) of a bbox and a time window in two parts: the incidents of the
    /// window whose point lies in a rectangle well inside the bbox (<see cref="WindowAreas"/>), which therefore
    /// intersect it, with no test on geom, so that <c>incidents_occurred_points_idx</c> alone serves them (migration
    /// 0051: it holds the window's columns, event type, country, both tolls and the point); and the rest of the
    /// query's matches, found through the GiST index on geom by the boxes along the bbox's edges, whose point lies in
    /// no rectangle. A matching incident whose point lies outside the rectangles has a point of its geometry in the
    /// bbox, and its bounding box holds both: so either that point lies outside the rectangle too, in a border box,
    /// or the bounding box reaches from inside the rectangle to outside it, across a border box (which reaches 1e-7°
    /// into the rectangle, far more than the transforms' rounding); <c>&amp;&amp;</c> compares bounding boxes
    /// rounded outwards. So each matching incident is in exactly one part, and the sums are those of the table's path.
    /// Null where the query is no such bbox.
    /// </summary>
    private static string? WindowMembers(DynamicParameters parameters, IncidentQuery query, string where, bool values) =>
        ByPointsIndex(parameters, query, where, anyTime: false, w => Members(w, values));

    /// <summary>
    /// The rows <paramref name="rowsOf"/> selects (a <c>SELECT … FROM incidents i WHERE</c> its argument) of the query's
    /// matches, in the two parts <see cref="WindowMembers"/> describes: those whose point lies well inside the bbox through
    /// <c>incidents_occurred_points_idx</c> alone, and the rest through the index on geom. Null where the query is no
    /// such bbox (<see cref="BboxWithIndexedFilters"/>, <see cref="WindowAreas"/>).
    /// </summary>
    private static string? ByPointsIndex(DynamicParameters parameters, IncidentQuery query, string where, bool anyTime, Func<string, string> rowsOf)
    {
        if (!BboxWithIndexedFilters(query, anyTime) || WindowAreas(query) is not var (inner, border)) return null;
        var inWindow = string.Join("\n      AND ", IncidentSqlBuilder.Where(query with { Bbox = null }, parameters));
        var inside = new List<string>();
        for (var n = 0; n < inner.Count; n++)
        {
            // Exact comparisons of the point's coordinates: && on point_3857 compares boxes rounded outwards to float4.
            inside.Add($"ST_X(i.point_3857) BETWEEN @inner_west{n} AND @inner_east{n} AND ST_Y(i.point_3857) BETWEEN @inner_south{n} AND @inner_north{n}");
            parameters.Add($"inner_west{n}", inner[n].West);
            parameters.Add($"inner_south{n}", inner[n].South);
            parameters.Add($"inner_east{n}", inner[n].East);
            parameters.Add($"inner_north{n}", inner[n].North);
        }
        var near = new List<string>();
        for (var n = 0; n < border.Count; n++)
        {
            near.Add($"i.geom && ST_MakeEnvelope(@edge_west{n}, @edge_south{n}, @edge_east{n}, @edge_north{n}, 4326)");
            parameters.Add($"edge_west{n}", border[n].MinLon);
            parameters.Add($"edge_south{n}", border[n].MinLat);
            parameters.Add($"edge_east{n}", border[n].MaxLon);
            parameters.Add($"edge_north{n}", border[n].MaxLat);
        }
        var anyInside = "(" + string.Join(" OR ", inside.Select(c => $"({c})")) + ")";
        return $"""
            {rowsOf(inWindow)}
                  AND {anyInside}
                UNION ALL
                -- The bbox's matches whose point lies in no rectangle: near its edges, or a line or polygon from outside.
                {rowsOf(where)}
                  AND ({string.Join(" OR ", near)})
                  AND NOT {anyInside}
            """;
    }

    /// <summary>The members of /clusters: <see cref="WindowMembers"/> when asked and possible, else <see cref="Members"/>.</summary>
    private static string MembersOf(DynamicParameters parameters, IncidentQuery query, string where, bool byWindowIndex, bool values = true) =>
        (byWindowIndex ? WindowMembers(parameters, query, where, values) : null) ?? Members(where, values);

    /// <summary>
    /// Whether /clusters at <paramref name="zoom"/> comes from the grid: a grid of level 10 or coarser, and
    /// <see cref="GridServes"/> but for a bbox. A bbox cuts through cells: the cells wholly inside it come
    /// from the grid, the matching incidents of the rest from the table (<see cref="GridAreas"/>).
    /// </summary>
    public static bool GridServesClusters(IncidentQuery query, int zoom) => zoom < ClusterBelowZoom && GridServes(query with { Bbox = null });

    /// <summary>Inclusive columns and rows of level-10 cells.</summary>
    private readonly record struct GridRange(long West, long East, long North, long South);

    /// <summary>The level-10 cells of tile (z, x, y) below zoom 8: [x, x + 1) × 2^(10 - z) wide, and as high.</summary>
    private static GridRange TileCells(int z, int x, int y) =>
        new(x << (GridLevel - z), ((x + 1) << (GridLevel - z)) - 1, y << (GridLevel - z), ((y + 1) << (GridLevel - z)) - 1);

    /// <summary>
    /// The level-10 cells whose incidents all match the query's bbox (every cell without one), and boxes in
    /// longitude and latitude that cover the rest of the bbox, whose incidents are read from the table (null
    /// without a bbox); null when no cell lies wholly inside the bbox (the table alone then answers).
    /// A cell is inside when it is at least a metre inside the bbox in Web Mercator (a point's cell and its
    /// longitude and latitude come from different roundings), and never an edge cell of the map, where
    /// points just beyond the map are clamped in. A point in such a cell lies inside the bbox, so its
    /// incident intersects it whatever its shape.
    /// </summary>
    private static (List<GridRange> Inner, List<Box>? Border)? GridAreas(IncidentQuery query)
    {
        if (query.Bbox is not { Count: > 0 } boxes) return ([new GridRange(0, GridCells - 1, 0, GridCells - 1)], null);
        const double Margin = 1;                 // metres
        const double Overlap = 1e-7;             // degrees the border boxes reach into the cells inside
        var cell = WorldSize / GridCells;
        double Longitude(double x) => (x - WorldHalf) * 180 / WorldHalf;
        double Latitude(double fromNorth) => Math.Atan(Math.Sinh((WorldHalf - fromNorth) / WorldHalf * Math.PI)) * 180 / Math.PI;
        var inner = new List<GridRange>();
        var border = new List<Box>();
        foreach (var box in boxes)
        {
            // Another spelling of the area's edge (a line: the other meridian, or a pole, whose Mercator y is
            // infinite) holds no cell: its incidents come from the table.
            if (box.Alias)
            {
                border.Add(box);
                continue;
            }
            var (x0, y0) = Mercator(box.MinLon, box.MinLat);
            var (x1, y1) = Mercator(box.MaxLon, box.MaxLat);
            var west = Math.Max((long)Math.Ceiling((x0 + WorldHalf + Margin) / cell), 1);
            var east = Math.Min((long)Math.Floor((x1 + WorldHalf - Margin) / cell) - 1, GridCells - 2);
            var north = Math.Max((long)Math.Ceiling((WorldHalf - y1 + Margin) / cell), 1);
            var south = Math.Min((long)Math.Floor((WorldHalf - y0 - Margin) / cell) - 1, GridCells - 2);
            if (west > east || north > south)
            {
                border.Add(box);
                continue;
            }
            inner.Add(new GridRange(west, east, north, south));
            var (innerWest, innerEast) = (Longitude(west * cell), Longitude((east + 1) * cell));
            var (innerNorth, innerSouth) = (Latitude(north * cell), Latitude((south + 1) * cell));
            border.Add(box with { MinLat = Math.Min(innerNorth - Overlap, box.MaxLat) });
            border.Add(box with { MaxLat = Math.Max(innerSouth + Overlap, box.MinLat) });
            border.Add(box with { MaxLon = Math.Max(innerWest + Overlap, box.MinLon) });
            border.Add(box with { MinLon = Math.Min(innerEast - Overlap, box.MaxLon) });
        }
        return inner.Count == 0 ? null : (inner, border);
    }

    /// <summary>
    /// The matching incidents that no grid cell of <paramref name="inner"/> holds, found through the boxes
    /// round those cells (<paramref name="border"/>), as rows of the grid, one per incident. A line or
    /// polygon of the bbox whose representative point lies outside it is found there too: its bounding box
    /// holds that point and a point inside the bbox, so it crosses the bbox's edge, which the border holds,
    /// and <c>&amp;&amp;</c> compares bounding boxes (a multipoint with a part deep inside is no exception).
    /// </summary>
    private static string BorderMembers(DynamicParameters parameters, string where, List<Box> border, List<GridRange> inner)
    {
        var near = new List<string>();
        for (var n = 0; n < border.Count; n++)
        {
            near.Add($"i.geom && ST_MakeEnvelope(@border_west{n}, @border_south{n}, @border_east{n}, @border_north{n}, 4326)");
            parameters.Add($"border_west{n}", border[n].MinLon);
            parameters.Add($"border_south{n}", border[n].MinLat);
            parameters.Add($"border_east{n}", border[n].MaxLon);
            parameters.Add($"border_north{n}", border[n].MaxLat);
        }
        var inside = string.Join(" OR ", inner.Select((_, n) =>
            $"(incident_grid_cx(i.point_3857) BETWEEN @grid_west{n} AND @grid_east{n} AND incident_grid_cy(i.point_3857) BETWEEN @grid_north{n} AND @grid_south{n})"));
        return $"""
            SELECT incident_grid_cy(i.point_3857), incident_grid_cx(i.point_3857), i.event_type, 1::bigint,
                   coalesce(i.fatalities_min, 0)::bigint, coalesce(i.fatalities_max, 0)::bigint,
                   round(ST_X(i.point_3857) * 1000)::bigint::numeric, round(ST_Y(i.point_3857) * 1000)::bigint::numeric
            FROM incidents i
            WHERE {where}
              AND NOT ST_IsEmpty(i.point_3857)
              AND ({string.Join(" OR ", near)})
              AND NOT ({inside})
            """;
    }

    private static readonly IncidentQuery Unfiltered = new();

    /// <summary>
    /// The grid's clusters of /clusters at <paramref name="zoom"/> (<see cref="GridClusters"/>), with the
    /// incidents of a bbox outside its cells; null where the grid does not serve the query.
    /// </summary>
    private static (string Cte, string Relation)? GridClustersOf(DynamicParameters parameters, IncidentQuery query, int zoom, string where,
        bool countOnly = false)
    {
        if (!GridServesClusters(query, zoom) || GridAreas(query) is not { } areas) return null;
        var border = areas.Border is { } strips ? BorderMembers(parameters, where, strips, areas.Inner) : null;
        return GridClusters(parameters, query, zoom + CellsPerTileShift, areas.Inner, border, countOnly);
    }

    /// <summary>
    /// A CTE <c>grid_cells</c> of the grid's sums over level-10 cells in <paramref name="ranges"/>, folded and
    /// deltas alike, and the rows of <paramref name="border"/>, regrouped into cells cx/cy of
    /// <paramref name="level"/> by cell and event type; and the relation to aggregate per cluster.
    /// </summary>
    private static (string Cte, string Relation) GridClusters(DynamicParameters parameters, IncidentQuery query, int level,
        List<GridRange> ranges, string? border = null, bool countOnly = false)
    {
        parameters.Add("grid_shift", GridLevel - level);
        var within = GridWithin(parameters, query, ranges);
        var rest = border is null ? "" : $"""

                    UNION ALL
                    -- The matching incidents of the bbox outside those cells.
                    {border}
            """;
        var rows = $"""
                    SELECT {GridColumns} FROM incident_grid WHERE {within}
                    UNION ALL
                    -- Deltas not folded yet (incident_grid_compact()).
                    SELECT {GridColumns} FROM incident_grid_changes WHERE {within}{rest}
            """;
        // Counting, one row per cluster, summing nothing but the count (a cluster's kinds are never negative,
        // so a cell has one when its total is positive); else one row per cluster and event type.
        var (columns, groups) = countOnly
            ? ("cx >> @grid_shift, cy >> @grid_shift", "1, 2")
            : ("""
               cx >> @grid_shift AS cx, cy >> @grid_shift AS cy, event_type,
                      sum(incidents) AS incidents, sum(fatalities_min_sum) AS fatalities_min_sum,
                      sum(fatalities_max_sum) AS fatalities_max_sum, sum(x_mm_sum) AS x_mm_sum, sum(y_mm_sum) AS y_mm_sum
               """, "1, 2, 3");
        return ($"""
            grid_cells AS (
                SELECT {columns}
                FROM (
                    {rows}
                ) g
                GROUP BY {groups}
                HAVING sum(incidents) > 0
            )
            """, "grid_cells");
    }

    /// <summary>
    /// The condition on the grid's rows (<c>incident_grid</c> and <c>incident_grid_changes</c>) for the level-10 cells in
    /// <paramref name="ranges"/> and the query's event types, countries and statuses.
    /// </summary>
    private static string GridWithin(DynamicParameters parameters, IncidentQuery query, List<GridRange> ranges)
    {
        for (var n = 0; n < ranges.Count; n++)
        {
            parameters.Add($"grid_west{n}", (short)ranges[n].West);
            parameters.Add($"grid_east{n}", (short)ranges[n].East);
            parameters.Add($"grid_north{n}", (short)ranges[n].North);
            parameters.Add($"grid_south{n}", (short)ranges[n].South);
        }
        var types = "";
        if (query.EventTypes is { } eventTypes)
        {
            parameters.Add("grid_types", eventTypes.ToArray());
            types += " AND event_type = ANY(@grid_types)";
        }
        if (query.Countries is { } countries)
        {
            // Codes the parser checked: two capitals, as stored ('' is the grid's "no country", which none matches).
            parameters.Add("grid_countries", countries.ToArray());
            types += " AND country = ANY(@grid_countries)";
        }
        if (query.Statuses is { } statuses)
        {
            // Values the parser checked, as stored (migration 0056 keys the grid by status).
            parameters.Add("grid_statuses", statuses.ToArray());
            types += " AND status = ANY(@grid_statuses)";
        }
        return "(" + string.Join(" OR ", ranges.Select((_, n) =>
            $"cx BETWEEN @grid_west{n} AND @grid_east{n} AND cy BETWEEN @grid_north{n} AND @grid_south{n}")) + ")" + types;
    }

    /// <summary>The grid's columns that clusters sum, in the order <see cref="BorderMembers"/> gives them.</summary>
    private const string GridColumns = "cy, cx, event_type, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum";

    /// <summary>
    /// A centre in metres kept on the map: members' millimetres are rounded, so a cluster of incidents at longitude
    /// -180 averaged 0.2 mm past the map's edge, which ST_Transform turned into +180, the far side of the world.
    /// </summary>
    private static string OnMap(string metres) => $"least(greatest({metres}, -{WorldHalf}), {WorldHalf})";

    /// <summary>A cluster's centre on one axis from the grid: as <c>avg(px) / 1000</c> over its members.</summary>
    private static string GridCentre(string axis) => $"sum({axis}_mm_sum) / sum(incidents) / 1000";

    /// <summary>The most frequent event type, the first by name among equals, as <c>mode()</c> picks it.</summary>
    private const string GridEventType = "(array_agg(event_type ORDER BY incidents DESC, event_type))[1]";

    private const string GridAggregates = $"""
        sum(incidents)::int AS count,
        sum(fatalities_min_sum)::bigint AS fatalities_min_sum,
        sum(fatalities_max_sum)::bigint AS fatalities_max_sum,
        {GridEventType} AS event_type
        """;

    /// <summary>
    /// The matching incidents with their cell on the grid: column cx from the west, row cy from the north.
    /// Indexes are clamped to the grid: a point on the east or south edge of the map would be one past
    /// the last, and one on the north edge (latitude 85.0511287798° and up to the limit) may be stored
    /// a hair above the map's edge (see migration 0027), one before the first.
    /// </summary>
    /// <param name="values">With <see cref="MemberValues"/>; without, for counting cells (a parallel scan
    /// hands every selected column to the leader, used or not: the count took twice as long).</param>
    /// <param name="from">The relation <c>i</c> the members come from: the table, or a subquery of it.</param>
    private static string Members(string where, bool values = true, string from = "incidents i") => $"""
        SELECT least(greatest(floor((ST_X(i.point_3857) + {WorldHalf}) / @cell)::bigint, 0), @cells - 1) AS cx,
                       least(greatest(floor(({WorldHalf} - ST_Y(i.point_3857)) / @cell)::bigint, 0), @cells - 1) AS cy{(values ? ", " + MemberValues : "")}
                FROM {from}
                WHERE {where}
                  AND NOT ST_IsEmpty(i.point_3857)
        """;

    /// <summary>
    /// The latitude of Web Mercator's edges, atan(sinh π) in degrees (85.0511287798° as most tools round it):
    /// where the square map of <see cref="WorldSize"/> ends.
    /// </summary>
    public static readonly double MaxLatitude = Math.Atan(Math.Sinh(Math.PI)) * 180 / Math.PI;

    /// <summary>Web Mercator metres of a longitude and latitude, the latitude clamped to the map's edges (<see cref="MaxLatitude"/>).</summary>
    public static (double X, double Y) Mercator(double lon, double lat)
    {
        lat = Math.Clamp(lat, -MaxLatitude, MaxLatitude);
        return (lon * WorldHalf / 180, Math.Log(Math.Tan((90 + lat) * Math.PI / 360)) * WorldHalf / Math.PI);
    }

    private static void AddGrid(DynamicParameters parameters, int level)
    {
        parameters.Add("cells", 1L << level);
        parameters.Add("cell", WorldSize / (1L << level));
    }
}
