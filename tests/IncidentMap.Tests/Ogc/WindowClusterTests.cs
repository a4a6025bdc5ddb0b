using System.Data;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;
using static IncidentMap.Tests.Infrastructure.PlanJson;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// /clusters of a bbox and a time window (with at most event types and countries) reads the incidents whose point
/// lies well inside the bbox from <c>incidents_occurred_points_idx</c> alone, when the planner expects the bbox to
/// hold enough of the window's incidents (<see cref="TileSql.WindowIndexPays"/>): before, its ST_Intersects named
/// geom and every incident of the bbox in the window was read from the table (a z5 bbox over Syria of two years,
/// 41,758 incidents: 3.4-9 s on the bench's million).
/// </summary>
public sealed class WindowClusterPlanTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    private static IncidentQuery Query(string bbox, IReadOnlyList<string>? types = null) => new()
    {
        Bbox = QueryParser.Boxes(bbox.Split(',').Select(double.Parse).ToList(), out _),
        From = new DateTimeOffset(2012, 1, 1, 0, 0, 0, TimeSpan.Zero),
        Until = new DateTimeOffset(2016, 1, 1, 0, 0, 0, TimeSpan.Zero),
        EventTypes = types,
    };

    [Theory]
    [InlineData("36.2,34.2,37.2,35.2", null)]            // round Homs: a quarter of the table
    [InlineData("35,32,45,37", null)]                    // Homs and Baghdad
    [InlineData("35,32,45,37", "battles")]
    public async Task A_bbox_holding_much_of_the_window_is_an_index_only_scan(string bbox, string? type)
    {
        var query = Query(bbox, type is null ? null : [type]);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("VACUUM incidents");
        var (estimateSql, estimateParameters) = TileSql.WindowIndexEstimate(query)!.Value;
        Assert.True(TileSql.WindowIndexPays(await connection.ExecuteScalarAsync<string>(estimateSql, estimateParameters)));

        var (sql, parameters) = TileSql.Clusters(query, 5, 6, 50_000, byWindowIndex: true);
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, parameters) ?? "null");
        var scans = Nodes(plan).Where(n => n["Relation Name"]?.GetValue<string>() == "incidents").ToList();
        // The rectangle's incidents from the window's index, the border's through the GiST index on geom.
        Assert.Contains(scans, n => n["Node Type"]?.GetValue<string>() == "Index Only Scan"
            && n["Index Name"]?.GetValue<string>() == "incidents_occurred_points_idx");
        Assert.All(scans, n => Assert.NotEqual("Seq Scan", n["Node Type"]?.GetValue<string>()));

        // What it reads: under a tenth of the table's path's buffers (the same clusters: WindowClusterTests).
        var (oldSql, oldParameters) = TileSql.Clusters(query, 5, 6, 50_000);
        Assert.DoesNotContain("UNION ALL", oldSql);
        var fast = await Buffers(connection, sql, parameters);
        var slow = await Buffers(connection, oldSql, oldParameters);
        Assert.True(fast * 3 < slow, $"{fast} buffers with the window's index, {slow} without");
    }

    [Theory]
    [InlineData("10,50,11,51")]                          // nothing there: a few rows of the table, not the window's 80,000
    [InlineData("36.70,34.70,36.72,34.72")]              // a small part of Homs
    public async Task A_bbox_holding_little_of_the_window_reads_the_table(string bbox)
    {
        var query = Query(bbox);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (estimateSql, estimateParameters) = TileSql.WindowIndexEstimate(query)!.Value;
        Assert.False(TileSql.WindowIndexPays(await connection.ExecuteScalarAsync<string>(estimateSql, estimateParameters)));
    }

    [Fact]
    public void Only_a_bbox_with_a_window_and_event_types_and_countries_at_most_is_split()
    {
        var window = Query("35,32,43,38");
        Assert.NotNull(TileSql.WindowIndexEstimate(window));
        Assert.NotNull(TileSql.WindowIndexEstimate(window with { Countries = ["SY"], EventTypes = ["riots"] }));
        Assert.Null(TileSql.WindowIndexEstimate(window with { From = null, Until = null }));
        Assert.Null(TileSql.WindowIndexEstimate(window with { Bbox = null }));
        Assert.Null(TileSql.WindowIndexEstimate(window with { Statuses = ["verified"] }));
        Assert.Null(TileSql.WindowIndexEstimate(window with { Bbox = [new Box(-180, -90, 180, 90)] }));
        // Too small for a rectangle a metre inside it.
        Assert.Null(TileSql.WindowIndexEstimate(window with { Bbox = [new Box(36, 34, 36.00001, 34.00001)] }));
        Assert.False(TileSql.WindowIndexPays(null));
        Assert.False(TileSql.WindowIndexPays("[{\"Plan\": {\"Node Type\": \"Seq Scan\", \"Plan Rows\": 5}}]"));
        Assert.True(TileSql.WindowIndexPays("[{\"Plan\": {\"Node Type\": \"Append\", \"Plans\": [{\"Plan Rows\": 100}, {\"Plan Rows\": 5000}]}}]"));
        Assert.False(TileSql.WindowIndexPays("[{\"Plan\": {\"Node Type\": \"Append\", \"Plans\": [{\"Plan Rows\": 100}, {\"Plan Rows\": 5001}]}}]"));
    }
}

/// <summary>
/// /clusters of a bbox and a window read through the window's index (<see cref="TileSql.Clusters"/> with
/// <c>byWindowIndex</c>) are byte for byte those read from the table, and so is the count of their cells
/// (<see cref="TileSql.ClusterCount"/>): over points on the bbox's edges and corners, a nanometre and a micrometre
/// inside and outside them, lines and polygons that cross an edge from a point outside, a polygon round the whole
/// bbox, a multipoint with its point far away, points beyond the map's edge, bboxes across the antimeridian, on
/// ±180 and up to a pole, at zooms 0 to 12, with event types and countries. Rows are inserted in a transaction that
/// is rolled back, at a time no other test uses.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class WindowClusterTests(ApiFixture api)
{
    [Fact]
    public async Task Clusters_of_a_bbox_and_a_window_answer_with_every_match()
    {
        // Committed (the service reads them), at a minute of 1983 no other test uses, and deleted after.
        var when = new DateTimeOffset(1983, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(Random.Shared.Next(500_000));
        await using var connection = await api.Database.OpenConnectionAsync();
        try
        {
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, country, occurred_at, geom, fatalities_min, fatalities_max)
                SELECT 'window cluster api ' || g, 'battles', 'SY', @when, ST_SetSRID(ST_MakePoint(35.5 + g % 7, 32.5 + g % 5), 4326), 1, g
                FROM generate_series(1, 20) g
                UNION ALL
                SELECT 'window cluster api line', 'riots', 'SY', @when, ST_GeomFromText('LINESTRING(30 30, 31 31, 36 33)', 4326), 0, 0
                """, new { when });
            var window = Uri.EscapeDataString($"{when.AddHours(-1):yyyy-MM-ddTHH:mm:ssZ}/{when.AddHours(1):yyyy-MM-ddTHH:mm:ssZ}");
            var response = await api.CreateClient().GetAsync($"/collections/incidents/clusters?zoom=5&bbox=35,32,43,38&datetime={window}");
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            var features = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["features"]!.AsArray();
            Assert.Equal(21, features.Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
            Assert.Equal(210, features.Sum(f => f!["properties"]!["fatalities_max_sum"]!.GetValue<int>()));
        }
        finally
        {
            await connection.ExecuteAsync("DELETE FROM incidents WHERE title LIKE 'window cluster api%' AND occurred_at = @when", new { when });
        }
    }

    private static readonly string[] Bboxes =
    [
        "35,32,43,38", "36.5,34.5,36.9,34.9", "170,-50,-170,60", "100,-10,180,10", "-180,-10,-100,10",
        "-20,80,20,90", "-30,-90,30,-70", "-180,-85,180,85", "0,0,0.001,0.001", "-179.9,-80,179.9,80",
    ];

    [Fact]
    public async Task Window_clusters_of_a_bbox_through_the_index_are_those_from_the_table()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var when = new DateTimeOffset(1985, 5, 2 + Random.Shared.Next(20), 7, 30, 0, TimeSpan.Zero);
        // Points near every edge and corner of every bbox: on it, 1e-9° and 1e-6° (under the rectangle's metre) to
        // either side, and 0.01° to either side.
        var near = new List<string>();
        foreach (var text in Bboxes)
        {
            var b = text.Split(',').Select(double.Parse).ToArray();
            foreach (var lon in new[] { b[0], b[2], (b[0] + b[2]) / 2 })
            foreach (var lat in new[] { b[1], b[3], (b[1] + b[3]) / 2 })
            foreach (var dlon in new[] { 0, 1e-9, -1e-9, 1e-6, -1e-6, 0.01, -0.01 })
            foreach (var dlat in new[] { 0, 1e-9, -1e-6, 0.01 })
            {
                var (x, y) = (lon + dlon, lat + dlat);
                if (x is >= -180 and <= 180 && y is >= -90 and <= 90)
                    near.Add(FormattableString.Invariant($"POINT({x:R} {y:R})"));
            }
        }
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, country, occurred_at, geom, fatalities_min, fatalities_max)
            SELECT 'window cluster ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3], (ARRAY['FJ', NULL, 'TO'])[1 + g % 3],
                   @when, ST_SetSRID(ST_MakePoint(-180 + random() * 360, -89 + random() * 178), 4326),
                   CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 END, CASE WHEN g % 4 = 0 THEN NULL ELSE g % 7 + 2 END
            FROM generate_series(1, 400) g
            UNION ALL
            -- Dense where the bboxes are, so that their cells hold many.
            SELECT 'window cluster dense ' || g, (ARRAY['battles', 'riots', 'protests'])[1 + g % 3], (ARRAY['SY', 'FJ', NULL])[1 + g % 3],
                   @when, ST_SetSRID(ST_MakePoint(35 + random() * 8, 32 + random() * 6), 4326), g % 5, g % 5 + 1
            FROM generate_series(1, 300) g
            UNION ALL
            SELECT 'window cluster edge ' || e.n, (ARRAY['battles', 'riots'])[1 + e.n % 2], (ARRAY['SY', 'FJ', NULL])[1 + e.n % 3], @when,
                   ST_GeomFromText(e.wkt, 4326), e.n % 3, e.n % 3 + 1
            FROM unnest(@near::text[]) WITH ORDINALITY AS e(wkt, n)
            UNION ALL
            SELECT 'window cluster shape ' || s.n, 'protests', 'TO', @when, ST_GeomFromText(s.wkt, 4326), 1, 2
            FROM (VALUES
                -- A line into the bbox whose point (the vertex nearest its centroid) lies outside it.
                (1, 'LINESTRING(30 30, 31 31, 36 33)'), (2, 'LINESTRING(44 39, 44.5 39.5, 42 37)'),
                -- Polygons: round the whole bbox, across its edge with the point outside, a sliver along its edge.
                (3, 'POLYGON((20 20, 60 20, 60 50, 20 50, 20 20))'), (4, 'POLYGON((42 30, 50 30, 50 40, 42 40, 42 30))'),
                (5, 'POLYGON((35 31.9, 43 31.9, 43 32.0000001, 35 32.0000001, 35 31.9))'),
                -- A multipoint with one member inside and its point far away; one with every member outside but its box over the bbox.
                (6, 'MULTIPOINT((36 33), (-120 -40), (-121 -41), (-122 -42))'), (7, 'MULTIPOINT((30 30), (50 50))'),
                -- Across the antimeridian, on it, and up to the pole.
                (8, 'LINESTRING(179.5 1, -179.5 2)'), (9, 'POINT(180 0)'), (10, 'POINT(-180 0)'), (11, 'LINESTRING(10 84, 10 89)'),
                (12, 'POINT(5 85.06)'), (13, 'POINT(5 85.0511287798)'), (14, 'POINT(-5 -89.5)'), (15, 'POINT(0 90)'),
                (16, 'LINESTRING(-25 -60, 25 -80)'), (17, 'POLYGON((175 -20, 180 -20, 180 20, 175 20, 175 -20))'),
                (18, 'POINT(0.0005 0.0005)'), (19, 'GEOMETRYCOLLECTION(POINT(40 35), LINESTRING(0 0, 1 1))')
            ) AS s(n, wkt)
            """, new { when, near = near.ToArray() }, tx);

        var window = new IncidentQuery { From = when.AddHours(-1), Until = when.AddHours(1) };
        var (compared, split) = (0, 0);
        foreach (var text in Bboxes)
        foreach (var (types, countries) in new (IReadOnlyList<string>?, IReadOnlyList<string>?)[] { (null, null), (["riots", "protests"], null), (null, ["FJ", "SY"]) })
        {
            var query = window with { Bbox = QueryParser.Boxes(text.Split(',').Select(double.Parse).ToList(), out _), EventTypes = types, Countries = countries };
            Assert.True(TileSql.WindowWithBbox(query), text);
            foreach (var zoom in new[] { 0, 3, 5, 7, 9, 12 })
            {
                var (oldSql, oldParameters) = TileSql.Clusters(query, zoom, 9, 50_000);
                var (fastSql, fastParameters) = TileSql.Clusters(query, zoom, 9, 50_000, byWindowIndex: true);
                Assert.DoesNotContain("UNION ALL", oldSql);
                if (fastSql.Contains("UNION ALL")) split++;
                var expected = (await connection.QueryAsync<string>(oldSql, oldParameters, tx)).ToList();
                var actual = (await connection.QueryAsync<string>(fastSql, fastParameters, tx)).ToList();
                Assert.True(expected.SequenceEqual(actual), $"bbox {text} zoom {zoom} types {types?.Count} countries {countries?.Count}:\n{string.Join("\n", expected)}\n---\n{string.Join("\n", actual)}");
                if (expected.Count > 0) compared++;

                var (oldCount, oldCountParameters) = TileSql.ClusterCount(query, zoom, 100_002);
                var (fastCount, fastCountParameters) = TileSql.ClusterCount(query, zoom, 100_002, byWindowIndex: true);
                Assert.Equal(await connection.ExecuteScalarAsync<long>(oldCount, oldCountParameters, tx),
                    await connection.ExecuteScalarAsync<long>(fastCount, fastCountParameters, tx));
            }
        }
        Assert.True(compared > 100, $"only {compared} answers held clusters");
        Assert.True(split > 150, $"only {split} answers were split");
        await tx.RollbackAsync();
    }
}
