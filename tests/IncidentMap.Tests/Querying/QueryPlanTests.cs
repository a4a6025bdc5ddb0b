using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static IncidentMap.Tests.Infrastructure.PlanJson;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// A database of its own with <see cref="Rows"/> synthetic incidents: four clusters of points (Homs, Aleppo,
/// Baghdad, Sana'a, each its place and admin1), times spread over ten years, four event types and
/// sub-event types, two claimants, titles from a few words (one in a thousand mentions a "zeppelin"). Created once for <see cref="QueryPlanTests"/> and dropped after.
/// </summary>
public sealed class PlanDatabase : IAsyncLifetime
{
    public const int Rows = 200_000;

    private OwnDatabase _database = null!;

    public NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("plan", commandTimeoutSeconds: 120);
        await new Migrator(DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        // The SQL builder's parameters include geometries, which need the service's Dapper type handler.
        GeometryTypeHandler.Register();

        // Short transactions of 5,000 rows: the change feed's commit-visibility horizon is cluster-wide (it
        // waits for the oldest running transaction id), so one long load here would stall the feed that
        // other tests read in the shared test database.
        await using var connection = await DataSource.OpenConnectionAsync();
        for (var first = 1; first <= Rows; first += 5_000)
        {
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, occurred_at, country, fatalities_max, geom, tags, actors,
                                       location_name, admin1, sub_event_type, claimed_by)
                SELECT
                    (ARRAY['Car bomb', 'Airstrike', 'Clashes', 'Protest', 'Shelling'])[1 + g % 5]
                        || ' near the ' || (ARRAY['market', 'checkpoint', 'school', 'mosque', 'bridge', 'village', 'port'])[1 + g % 7]
                        || CASE WHEN g % 1000 = 0 THEN ' zeppelin' ELSE '' END,
                    (ARRAY['battles', 'explosions_remote_violence', 'protests', 'riots'])[1 + g % 4],
                    timestamptz '2010-01-01 00:00:00+00' + random() * interval '3650 days',
                    'SY',
                    g % 50,
                    ST_SetSRID(ST_MakePoint(c.lon + (random() + random() - 1) * 0.5, c.lat + (random() + random() - 1) * 0.5), 4326),
                    ARRAY[(ARRAY['shelling', 'airstrike', 'protest'])[1 + g % 3]],
                    ARRAY[(ARRAY['Army', 'Militia', 'Police'])[1 + g % 3]],
                    c.place, c.place || ' Governorate',
                    (ARRAY['Armed clash', 'Shelling/artillery/missile attack', 'Peaceful protest', 'Mob violence'])[1 + g % 4],
                    (ARRAY['Group A', 'Group B'])[1 + g % 2]
                FROM generate_series(@first, @last) AS g
                JOIN (VALUES (0, 36.72, 34.73, 'Homs'), (1, 37.16, 36.20, 'Aleppo'), (2, 44.36, 33.31, 'Baghdad'), (3, 44.20, 15.37, 'Sanaa'))
                    AS c(n, lon, lat, place) ON c.n = g % 4
                """, new { first, last = first + 4_999 });
        }
        // ANALYZE samples 30,000 rows by default, in which "zeppelin" (one row in a thousand) comes up
        // about 30 times, near the cut-off of the search column's element statistics: now and then
        // it was left out, and q=zeppelin was planned as a walk of the time index. A target of 1000
        // samples every row here (300 × 1000 ≥ Rows), so the statistics, and the plans, are the same every run.
        await connection.ExecuteAsync("ALTER TABLE incidents ALTER COLUMN search SET STATISTICS 1000");
        // Vacuumed too, as autovacuum leaves a table after a load: which pages are all-visible decides whether
        // an index-only scan (the counts over cells or time) pays, and autovacuum's own pass came at any time.
        await connection.ExecuteAsync("VACUUM ANALYZE incidents", commandTimeout: 120);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}

/// <summary>The SQL the query builder writes is served by the indexes meant for each kind of filter.</summary>
public sealed class QueryPlanTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    [Theory]
    [InlineData("lat=34.73&lon=36.72&radius=2km", "incidents_geom_idx")]
    [InlineData("lat=34.73&lon=36.72&radius=2km&sortby=distance", "incidents_geom_idx")]
    [InlineData("lat=34.73&lon=36.72&radius=25km", "incidents_cell_idx")]
    [InlineData("lat=34.73&lon=36.72&radius=25km&sortby=occurred_at&datetime=2014-01-01/..", "incidents_cell_idx")]
    [InlineData("lat=34.73&lon=37.3&radius=25km&sortby=distance", "incidents_geom_idx")] // at the edge of a cluster: a few thousand candidates
    [InlineData("filter=S_DWITHIN(geometry, POINT(36.72 34.73), 2, kilometers)", "incidents_geom_idx")]
    // Lines and polygons, whose geodesic edges may bulge out of the box, through their own index (0019).
    [InlineData("lat=34.73&lon=36.72&radius=2km", "incidents_shape_geog_idx")]
    [InlineData("lat=34.73&lon=36.72&radius=2km&sortby=distance", "incidents_shape_geog_idx")]
    [InlineData("filter=S_DWITHIN(geometry, LINESTRING(36.70 34.73, 36.74 34.73), 2, kilometers)", "incidents_geom_idx")]
    [InlineData("filter=S_DWITHIN(geometry, LINESTRING(36.70 34.73, 36.74 34.73), 2, kilometers)", "incidents_shape_geog_idx")]
    [InlineData("bbox=36.71,34.72,36.73,34.74", "incidents_geom_idx")]
    [InlineData("bbox=36.5,34.5,37,35", "incidents_cell_idx")]             // a city's view, merged from cells
    [InlineData("bbox=36.5,34.5,37,35&sortby=occurred_at", "incidents_cell_idx")]
    [InlineData("datetime=2015-03-01/2015-03-01", "incidents_occurred_idx")]
    [InlineData("datetime=2015-03-01T10:00:00Z/2015-03-01T12:00:00Z", "incidents_occurred_idx")]
    [InlineData("q=zeppelin", "incidents_search_idx")]
    // A country with no incident here (all are SY): country is character(2), and compared as text the index
    // on it could not serve; the time index was walked through every row.
    [InlineData("country=YE", "incidents_country_idx")]
    [InlineData("country=YE&country=IQ", "incidents_country_idx")]
    [InlineData("filter=country = 'YE'", "incidents_country_idx")]
    [InlineData("filter=country IN ('YE', 'IQ')", "incidents_country_idx")]
    // The deadliest first (0041): without the index every incident was sorted, 3.1 s a page of a million.
    [InlineData("sortby=-fatalities", "incidents_fatalities_idx")]
    [InlineData("sortby=fatalities&event_type=battles", "incidents_fatalities_idx")]
    public async Task Query_is_served_by_the_index_for_its_filter(string parameters, string index)
    {
        var sql = Page(parameters);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql.Sql, sql.Parameters) ?? "null");

        var used = IndexNames(plan).ToList();
        Assert.True(used.Contains(index), $"{parameters}: plan uses [{string.Join(", ", used)}], not {index}:\n{plan}");
    }

    // A street tile: a city tile holds a tenth of this table, where the planner may rightly scan it all.
    [Theory]
    [InlineData(14, 9863, 6504)] // Homs
    public async Task A_tile_finds_its_incidents_through_the_index_on_geom(int z, int x, int y)
    {
        var (query, _) = QueryParser.Parse(new Dictionary<string, string>(), DateTimeOffset.UtcNow);
        var (sql, parameters) = IncidentMap.Api.Tiles.TileSql.Tile(query!, z, x, y);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, parameters) ?? "null");

        Assert.Contains("incidents_geom_idx", IndexNames(plan));
    }

    [Fact]
    public async Task Hexagon_bins_find_their_incidents_through_the_index_on_geom()
    {
        // As the endpoint asks: its bbox is a filter too (lines crossing it from a point outside are counted).
        var (query, _) = QueryParser.Parse(new Dictionary<string, string> { ["bbox"] = "36.6,34.6,36.8,34.8" }, DateTimeOffset.UtcNow);
        // From the table (a bbox holding little of the table, or a filter incidents_occurred_points_idx lacks: HexbinPointsIndexPlanTests).
        var (sql, parameters) = IncidentMap.Api.Tiles.TileSql.HexbinPoints(query!);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, parameters) ?? "null");

        Assert.Contains("incidents_geom_idx", IndexNames(plan));
    }

    [Theory]
    [InlineData("lat=34.73&lon=36.72&radius=25km&limit=100")] // merged from cells, newest first
    [InlineData("lat=34.73&lon=36.72&radius=25km&limit=100&sortby=occurred_at")]
    [InlineData("lat=34.73&lon=36.72&radius=3km&limit=100&sortby=distance")]
    [InlineData("bbox=36.6,34.6,36.8,34.8&limit=1000")]
    [InlineData("bbox=36.61,34.52,36.93,34.81&limit=100")] // merged from cells, slivers under the north edge
    [InlineData("bbox=36.6,34.6,36.8,34.8&limit=200&sortby=title,-fatalities")] // ties in both keys, mixed directions
    [InlineData("q=zeppelin&limit=50&sortby=-fatalities")]
    public async Task A_page_computed_whole_holds_the_same_rows_in_the_same_order(string parameters)
    {
        var page = Page(parameters);
        var whole = IncidentSqlBuilder.Whole(page);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var streamed = (await connection.QueryAsync<long>(page.Sql, page.Parameters)).ToList();
        var computedWhole = (await connection.QueryAsync<long>(whole.Sql, whole.Parameters)).ToList();
        Assert.True(streamed.Count > 1, $"{parameters}: the page is empty or a single row; nothing to compare");
        Assert.Equal(streamed, computedWhole);

        // Computed whole: a sort over the page, which reads every row before it returns the first, and
        // inside it the same index as the streamed page.
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + whole.Sql, whole.Parameters) ?? "null");
        var top = plan![0]!["Plan"]!;
        Assert.Equal("Sort", top["Node Type"]!.GetValue<string>());
        var streamedPlan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + page.Sql, page.Parameters) ?? "null");
        Assert.Equal(IndexNames(streamedPlan).Distinct().Order(), IndexNames(plan).Distinct().Order());
    }

    [Fact]
    public async Task Pages_are_computed_whole_while_there_are_as_many_in_flight_as_cores()
    {
        var source = database.DataSource;
        var reader = ReaderOver(source);
        var page = Page("bbox=36.6,34.6,36.8,34.8&limit=10");

        var held = new List<RowStream>();
        try
        {
            for (var n = 1; n < Environment.ProcessorCount; n++)
            {
                held.Add(await reader.OpenPageAsync(page, CancellationToken.None));
                Assert.False(held[^1].Whole, $"page {n} of {Environment.ProcessorCount - 1} in flight on {Environment.ProcessorCount} cores was computed whole");
            }
            await using (var busy = await reader.OpenPageAsync(page, CancellationToken.None))
            {
                Assert.True(busy.Whole, $"with {Environment.ProcessorCount} pages in flight the page streamed");
                Assert.True(busy.HasRow);
            }
        }
        finally
        {
            foreach (var rows in held) await rows.DisposeAsync();
        }
        // Every page disposed: the next one streams again, however many the test held.
        await using var alone = await reader.OpenPageAsync(page, CancellationToken.None);
        Assert.Equal(Environment.ProcessorCount == 1, alone.Whole);
    }

    [Fact]
    public async Task Rows_disposed_twice_leave_the_connections_next_user_alone()
    {
        // One connection: the second page gets the first one's connection, and Npgsql's reader object with it.
        var builder = new NpgsqlConnectionStringBuilder(database.DataSource.ConnectionString) { MaxPoolSize = 1 };
        var password = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString).Password;
        builder.Password = password;
        await using var source = new NpgsqlDataSourceBuilder(builder.ConnectionString).UseNetTopologySuite().Build();
        var reader = ReaderOver(source);
        var page = Page("bbox=36.6,34.6,36.8,34.8&limit=20");

        var first = await reader.OpenPageAsync(page, CancellationToken.None);
        await first.DisposeAsync();
        await using var second = await reader.OpenPageAsync(page, CancellationToken.None);
        await first.DisposeAsync();

        var rows = 0;
        while (second.HasRow)
        {
            rows++;
            await second.ReadAsync(CancellationToken.None);
        }
        Assert.Equal(21, rows); // the page and the one row that tells a next page exists
    }

    [Fact]
    public async Task Synthetic_data_is_loaded_and_the_plans_see_it()
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(PlanDatabase.Rows, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents"));
        Assert.True(await connection.ExecuteScalarAsync<float>("SELECT reltuples FROM pg_class WHERE relname = 'incidents'") > 150_000);
    }

    /// <summary>The SQL the API builds for an items query string.</summary>
    private static SqlQuery Page(string parameters, long? matched = null) => IncidentSqlBuilder.Build(Query(parameters), matched);

    private static IncidentQuery Query(string parameters) => QueryHelpers.ParsedQuery(parameters);

    private async Task<List<string>> PlanIndexesAsync(SqlQuery sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql.Sql, sql.Parameters) ?? "null");
        return IndexNames(plan).Distinct().ToList();
    }

    // Two common words that no title holds together ("market mosque": each title names one place) are,
    // to the planner, in one row of fifty: it walks the time index, testing each row, and reads the
    // whole table for a page. So does a word outside its statistics on a large table (5,000 of a
    // million assumed, for a word in none: 4–5 s a page). Once the count says how few match, the
    // matches are found through the search index and sorted.
    [Theory]
    [InlineData("q=market mosque&limit=10", 0)]
    [InlineData("q=market mosque&limit=10&sortby=occurred_at", 0)]
    [InlineData("q=airstrike clashes&limit=100", 0)]
    public async Task A_page_of_few_text_matches_is_read_through_the_search_index(string parameters, long matched) =>
        await ReadMatchesFirstAsync(parameters, matched, "incidents_search_idx");

    // The same for a tag or an actor that no incident has (each of these has one of three, in a third of them).
    [Theory]
    [InlineData("tags=quokka&limit=10", "incidents_tags_idx")]
    [InlineData("actors=Nobody&limit=10", "incidents_actors_idx")]
    public async Task A_page_of_few_tag_or_actor_matches_is_read_through_their_index(string parameters, string index) =>
        await ReadMatchesFirstAsync(parameters, 0, index);

    // A hundred tags or actors (the most a list takes) in no incident, each with an accent and so asked composed and
    // decomposed: 200 values, each of which PostgreSQL's statistics do not list and so take for 0.5 % of the rows.
    // Compared as the value itself they looked like 63 % of the table, and the count read every row, testing each
    // against all 200 (8 s on the bench's million rows; the audit's 20,000 tags, 50 s). Read by a sub-select, they
    // are looked up in the GIN index, for the count and for the page the count then chooses.
    [Theory]
    [InlineData("tags", "incidents_tags_idx")]
    [InlineData("actors", "incidents_actors_idx")]
    public async Task A_hundred_values_in_no_incident_are_counted_and_paged_through_the_gin_index(string parameter, string index)
    {
        var parameters = string.Join("&", Enumerable.Range(0, QueryParser.MaxListValues).Select(n => $"{parameter}={Uri.EscapeDataString($"Café {n}")}")) + "&limit=10";
        var (countSql, values) = IncidentSqlBuilder.Count(Query(parameters));
        await using (var connection = await database.DataSource.OpenConnectionAsync())
        {
            var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + countSql, values) ?? "null");
            Assert.DoesNotContain(Scans(plan), s => s.Type == "Seq Scan");
            Assert.Contains(index, IndexNames(plan));
        }
        await ReadMatchesFirstAsync(parameters, 0, index);
    }

    // A place, admin1, admin2, claimant or sub-event type in no incident (0041): PostgreSQL takes a value its
    // statistics do not list to be as common as the unlisted ones on average (0.2 % of the bench's million
    // places), and walked the time index through every row for a page: 1.0 s. Counted, it is read through the
    // column's B-tree; the count itself is too.
    [Theory]
    [InlineData("location_name=Sayeda Zeinab&limit=10", "incidents_location_name_idx")]
    [InlineData("location_name=Sayeda Zeinab&location_name=Sayyida Zaynab&limit=10", "incidents_location_name_idx")]
    [InlineData("admin1=Rif Dimashq&limit=10", "incidents_admin1_idx")]
    [InlineData("admin2=Markaz Rif Dimashq&limit=10", "incidents_admin2_idx")]
    [InlineData("claimed_by=Nobody&limit=10", "incidents_claimed_by_idx")]
    [InlineData("sub_event_type=Chemical weapon&limit=10&sortby=occurred_at", "incidents_sub_event_type_idx")]
    // The same values in a CQL2 filter: judged and counted as the parameters are (CompiledFilter.Values). Walked, a page
    // of location_name IN ('Nowhere', 'Elsewhere') took 1.2-3.4 s on the bench's million rows, its count 6 ms.
    [InlineData("filter=location_name IN ('Sayeda Zeinab', 'Sayyida Zaynab')&limit=10", "incidents_location_name_idx")]
    [InlineData("filter=location_name = 'Sayeda Zeinab'&limit=10", "incidents_location_name_idx")]
    [InlineData("filter=admin1 = 'Rif Dimashq' AND event_type = 'battles'&limit=10", "incidents_admin1_idx")]
    // ACCENTI of a place or a title, through the B-trees on the head of accent_fold_key (0053): it read every row folding each.
    [InlineData("filter=ACCENTI(location_name) = ACCENTI('Sayéda Zeinab')&limit=10", "incidents_location_name_fold_idx")]
    [InlineData("filter=ACCENTI(title) = ACCENTI('Bömb near the zeppelin')&limit=10", "incidents_title_fold_idx")]
    public async Task A_page_of_few_property_matches_is_read_through_the_propertys_index(string parameters, string index)
    {
        Assert.NotEqual(Page(parameters).Sql, Page(parameters, 0).Sql);
        var used = await PlanIndexesAsync(Page(parameters, 0));
        Assert.Contains(index, used);
        Assert.DoesNotContain("incidents_occurred_idx", used);
        Assert.Equal(Page(parameters).Sql, Page(parameters, IncidentSqlBuilder.FewMatches + 1).Sql);

        var (countSql, values) = IncidentSqlBuilder.Count(Query(parameters));
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + countSql, values) ?? "null");
        var scans = Scans(plan).ToList();
        Assert.True(scans.Count > 0 && scans.All(s => s.Index == index), $"{parameters}: the count scans [{string.Join(", ", scans)}]");
    }

    // Which tags, actors and property values the statistics list as common (RareValues): a page of any other is
    // counted first, without count=true, so that the count can choose the plan above. Here every incident has one
    // of three tags, one of three actors, one of four places (and their admin1) and sub-event types, one of two
    // claimants, and no admin2.
    [Theory]
    [InlineData("tags=shelling", false)]
    [InlineData("tags=quokka", true)]
    [InlineData("tags=quokka&tags=airstrike", false)] // any of them: airstrike's third matches
    [InlineData("tags=quokka&tags=dodo", true)]
    [InlineData("actors=Nobody", true)]
    [InlineData("actors=army", true)]                 // tags and actors match as written: "Army" is another
    [InlineData("tags=shelling&actors=Nobody", true)] // both must match: no more than Nobody's
    [InlineData("tags=shelling&actors=Police", false)]
    [InlineData("q=zeppelin", false)]                  // words are planned from their own statistics
    [InlineData("location_name=Homs", false)]
    [InlineData("location_name=Sayeda Zeinab", true)]
    [InlineData("location_name=Sayeda Zeinab&location_name=Homs", false)]
    [InlineData("admin1=Homs Governorate", false)]
    [InlineData("admin1=Homs", true)]
    [InlineData("admin2=Homs", true)]                 // every admin2 is NULL: no value is common
    [InlineData("claimed_by=Group A", false)]
    [InlineData("claimed_by=group a", true)]
    [InlineData("sub_event_type=Armed clash", false)]
    [InlineData("sub_event_type=Armed clash&tags=quokka", true)]
    [InlineData("sub_event_type=Chemical weapon&tags=shelling", true)]
    [InlineData("filter=location_name = 'Sayeda Zeinab'", true)]
    [InlineData("filter=location_name IN ('Homs', 'Sayeda Zeinab')", false)]
    [InlineData("filter=location_name IN ('Homs', 'Sayeda Zeinab') AND claimed_by = 'Nobody'", true)]
    [InlineData("filter=location_name = 'Sayeda Zeinab' OR event_type = 'battles'", false)] // not every match has the place
    [InlineData("filter=NOT (location_name = 'Sayeda Zeinab')", false)]
    [InlineData("filter=ACCENTI(location_name) = ACCENTI('Hómś')", false)]
    [InlineData("filter=ACCENTI(location_name) = ACCENTI('Höms City')", true)]
    [InlineData("filter=ACCENTI(title) = ACCENTI('Car bomb near the market')", false)]
    [InlineData("filter=ACCENTI(title) = ACCENTI('Car bomb near the moon')", true)]
    public async Task Values_outside_the_common_ones_are_rare(string parameters, bool rare)
    {
        var source = database.DataSource;
        var reader = new IncidentReader(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));
        Assert.Equal(rare, await new RareValues(reader).AllRareAsync(Query(parameters), default));
    }

    [Fact]
    public async Task Nothing_is_rare_in_a_table_without_statistics()
    {
        await using var empty = await OwnDatabase.CreateAsync("rare");
        await using (var connection = await empty.DataSource.OpenConnectionAsync())
        {
            // Only the columns the statistics are read for; a table just created, or never analysed, has none.
            await connection.ExecuteAsync("CREATE TABLE incidents (tags text[], actors text[]); INSERT INTO incidents VALUES ('{shelling}', '{Army}')");
            Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_stats WHERE tablename = 'incidents'"));
        }
        var source = empty.DataSource;
        var reader = new IncidentReader(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));
        Assert.False(await new RareValues(reader).AllRareAsync(Query("tags=quokka"), default));
    }

    private async Task ReadMatchesFirstAsync(string parameters, long matched, string index)
    {
        Assert.Contains("incidents_occurred_idx", await PlanIndexesAsync(Page(parameters)));

        var used = await PlanIndexesAsync(Page(parameters, matched));
        Assert.Contains(index, used);
        Assert.DoesNotContain("incidents_occurred_idx", used);

        // Above FewMatches the count changes nothing.
        Assert.Equal(Page(parameters).Sql, Page(parameters, IncidentSqlBuilder.FewMatches + 1).Sql);
    }

    // Read matches first, every page holds the same rows in the same order as the walk, across pages.
    [Theory]
    [InlineData("q=zeppelin&limit=30")]
    [InlineData("q=zeppelin&limit=30&sortby=occurred_at")]
    [InlineData("q=zeppelin&limit=30&sortby=-fatalities,title")]
    public async Task Pages_read_matches_first_hold_the_rows_the_walk_finds(string parameters)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (countSql, countParameters) = IncidentSqlBuilder.Count(Query(parameters));
        var matched = await connection.ExecuteScalarAsync<long>(countSql, countParameters);
        Assert.InRange(matched, 100, IncidentSqlBuilder.FewMatches);

        async Task<List<IReadOnlyList<long>>> PagesAsync(long? count)
        {
            var pages = new List<IReadOnlyList<long>>();
            var query = Query(parameters);
            while (true)
            {
                var sql = IncidentSqlBuilder.Build(query, count);
                var rows = (await connection.QueryAsync(sql.Sql, sql.Parameters)).Cast<IDictionary<string, object>>().ToList();
                var page = rows.Take(30).ToList();
                pages.Add([.. page.Select(r => (long)r["id"])]);
                if (rows.Count <= 30) return pages;
                var last = page[^1];
                var keys = sql.Keys.Select((k, n) => IncidentSqlBuilder.ToCursorValue(k.Field.Kind, last[$"k{n}"])).ToArray();
                query = query with { After = new PageCursor(query.SortText, keys) };
            }
        }
        var walked = await PagesAsync(null);
        var matchesFirst = await PagesAsync(matched);
        Assert.Equal(walked.Sum(p => p.Count), matched);
        Assert.Equal(walked, matchesFirst);
        Assert.NotEqual(Page(parameters).Sql, Page(parameters, matched).Sql);
    }

    // Every sort key marked as indexed is served by an index, in either direction: a page of it sorts nothing.
    // The others are sorted keys first (below). created_at was marked indexed with no index on it.
    public static TheoryData<string> SortNames => [.. SortFields.All.Values.Where(f => !f.NeedsPoint).Select(f => f.Name)];

    [Theory]
    [MemberData(nameof(SortNames))]
    public async Task A_sort_key_marked_indexed_has_an_index_and_the_others_are_sorted_keys_first(string name)
    {
        var field = SortFields.All[name];
        foreach (var sort in new[] { name, "-" + name })
        {
            var page = Page($"sortby={sort}&limit=10");
            await using var connection = await database.DataSource.OpenConnectionAsync();
            var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + page.Sql, page.Parameters) ?? "null");
            var sorts = Nodes(plan).Count(n => (string?)n["Node Type"] is "Sort" or "Incremental Sort");
            if (field.Indexed) Assert.True(sorts == 0, $"sortby={sort}: the plan sorts:\n{plan}");
            else Assert.Contains("page_id", page.Sql);
        }
    }

    // A sort no index serves (titles in ICU order, distances) reads its page's ids and keys first and the rows
    // whole after: every page holds the rows the one-step form holds, in its order, and gives the same cursor.
    [Theory]
    [InlineData("sortby=title&limit=40")]                                         // 35 titles: ties broken by id
    [InlineData("sortby=-title,fatalities&limit=40&datetime=2015-01-01/2015-12-31")]
    [InlineData("sortby=fatalities,title&limit=40&country=SY")]
    [InlineData("sortby=-created_at&limit=40")]
    [InlineData("lat=34.73&lon=36.72&radius=3km&sortby=distance&limit=40")]
    [InlineData("lat=34.73&lon=36.72&radius=3km&sortby=-distance_m&limit=40&properties=title,distance_m")]
    public async Task Pages_sorted_keys_first_hold_the_rows_of_the_one_step_sort(string parameters)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        async Task<List<List<object>>> PagesAsync(bool keysFirst)
        {
            var pages = new List<List<object>>();
            var query = Query(parameters);
            while (pages.Count < 3)
            {
                var sql = IncidentSqlBuilder.Build(query, IncidentSqlBuilder.Projection(query), matchesFirst: false, keysFirst);
                var rows = (await connection.QueryAsync(sql.Sql, sql.Parameters)).Cast<IDictionary<string, object>>().ToList();
                var page = rows.Take(query.Limit!.Value).ToList();
                // Every column, the rendered ones and the keys.
                pages.Add([.. page.SelectMany(r => r.Values)]);
                if (rows.Count <= query.Limit) break;
                var last = page[^1];
                var keys = sql.Keys.Select((k, n) => IncidentSqlBuilder.ToCursorValue(k.Field.Kind, last[$"k{n}"])).ToArray();
                query = query with { After = new PageCursor(query.SortText, keys) };
            }
            return pages;
        }
        var query = Query(parameters);
        Assert.NotEqual(IncidentSqlBuilder.Build(query, IncidentSqlBuilder.Projection(query), false, keysFirst: false).Sql, Page(parameters).Sql);
        var oneStep = await PagesAsync(keysFirst: false);
        var keysFirst = await PagesAsync(keysFirst: true);
        Assert.Equal(3, oneStep.Count);
        Assert.Equal(oneStep, keysFirst);
    }

    /// <summary>An IncidentReader whose three pools are <paramref name="source"/>.</summary>
    private static IncidentReader ReaderOver(NpgsqlDataSource source) =>
        new(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));

    // numberMatched of a bbox read every incident in it from the table (all of Syria, 200,000 of a million:
    // 2.3-6.8 s). The cells wholly inside the box are now counted from the cell index alone (0037).
    [Theory]
    [InlineData("bbox=36,34,37.5,35.5")]
    [InlineData("bbox=36,34,37.5,35.5&datetime=2015-01-01/2016-12-31")]
    [InlineData("bbox=36.1,34.1,37.4,36.4&datetime=../2016-12-31")]
    [InlineData("lat=34.73&lon=36.72&radius=50km")]
    [InlineData("lat=34.73&lon=36.72&radius=100km&datetime=2015-01-01/2016-12-31")]
    public async Task An_area_count_reads_the_cells_inside_the_area_from_the_index_alone(string parameters) =>
        await AssertCountedFromIndexAsync(parameters, "incidents_cell_idx");

    // A year's count read every incident of the year from the table (a million rows: 1.0-1.5 s). Any
    // index that starts with occurred_at, or holds it after a column this table has one value of, will do.
    [Theory]
    [InlineData("datetime=2015-01-01/2015-12-31")]
    [InlineData("datetime=2015-06-01T12:00:00Z/..")]
    public async Task A_window_count_reads_the_incidents_starting_in_it_from_an_index_alone(string parameters) =>
        await AssertCountedFromIndexAsync(parameters, null);

    // The temporal functions on occurred_at against a value (SqlCompiler.Temporal.cs): a period's last microsecond is
    // greatest(occurred_at, occurred_until - 1 µs), which no index holds, so each comparison of it with a literal also
    // bounds occurred_at (no period is longer than a month). Without that bound the count read every row (a Seq Scan)
    // and a page walked the time index from the newest incident, testing each.
    [Theory]
    [InlineData("filter=T_BEFORE(occurred_at, DATE('2010-03-01'))")]
    [InlineData("filter=T_AFTER(occurred_at, DATE('2019-11-01'))")]
    [InlineData("filter=T_DURING(occurred_at, INTERVAL('2015-03-01', '2015-03-31'))")]
    [InlineData("filter=T_MEETS(occurred_at, INTERVAL('2015-03-01', '..'))")]
    [InlineData("filter=T_FINISHES(occurred_at, INTERVAL('2015-03-01', '2015-03-31'))")]
    [InlineData("filter=T_EQUALS(occurred_at, DATE('2015-03-01'))")]
    public async Task A_temporal_function_on_occurred_at_reads_its_window_through_the_time_index(string parameters)
    {
        var (countSql, values) = IncidentSqlBuilder.Count(Query(parameters));
        var page = Page(parameters + "&limit=10");

        await using var connection = await database.DataSource.OpenConnectionAsync();
        foreach (var (kind, sql, arguments) in new[] { ("count", countSql, (object)values), ("page", page.Sql, page.Parameters) })
        {
            var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, arguments) ?? "null");
            var nodes = Nodes(plan).ToList();
            Assert.True(!nodes.Any(n => (string?)n["Node Type"] == "Seq Scan")
                && nodes.Any(n => ((string?)n["Index Name"])?.StartsWith("incidents_occurred", StringComparison.Ordinal) == true
                    && ((string?)n["Index Cond"])?.Contains("occurred_at", StringComparison.Ordinal) == true), $"{kind} of {parameters}:\n{plan}");
        }
    }

    private async Task AssertCountedFromIndexAsync(string parameters, string? index)
    {
        var (sql, values) = IncidentSqlBuilder.Count(Query(parameters));

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, values) ?? "null");

        var scans = Scans(plan).ToList();
        Assert.True(scans.Any(s => s.Type == "Index Only Scan" && (index is null || s.Index == index)), $"{parameters}: [{string.Join(", ", scans)}]:\n{plan}");
        Assert.DoesNotContain(scans, s => s.Index == "incidents_geom_idx" || s.Type == "Seq Scan");
    }

    private static IEnumerable<(string Type, string? Index)> Scans(JsonNode? node) => node switch
    {
        JsonObject o when o["Node Type"]?.GetValue<string>() is { } type && type.Contains("Scan", StringComparison.Ordinal) && o["Relation Name"]?.GetValue<string>() == "incidents" =>
            [(type, o["Index Name"]?.GetValue<string>()), .. o.SelectMany(p => Scans(p.Value))],
        JsonObject o => o.SelectMany(p => Scans(p.Value)),
        JsonArray a => a.SelectMany(Scans),
        _ => [],
    };

    // The stats summary's latest five: a walk of the time index when many incidents match, and for few
    // (the count is known by then) found as the places were and sorted: the walk's branch never runs. Before,
    // a tag in no incident walked the whole table for its latest five: 1.4 s a summary on a million.
    [Theory]
    [InlineData("tags=quokka", false)]
    [InlineData("actors=Nobody", false)]
    [InlineData("q=market mosque", false)] // two words that no title holds together
    [InlineData("tags=shelling", true)]
    public async Task The_summarys_latest_five_walk_the_time_index_only_for_many_matches(string parameters, bool walked)
    {
        var values = new DynamicParameters();
        var sql = IncidentMap.Api.Stats.StatsApi.SummarySql(Query(parameters), values);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, values) ?? "null");

        var walks = Nodes(plan).Where(n => (string?)n["Index Name"] == "incidents_occurred_idx").ToList();
        Assert.True(walks.Count > 0, $"{parameters}: no walk of the time index in the plan at all:\n{plan}");
        Assert.Equal(walked, walks.Any(n => (long)n["Actual Loops"]! > 0));
    }

    // sortby=distance reads a ring round the point (IncidentSqlBuilder.NearestRing) instead of sorting every match: every
    // page, followed by its cursor, is the geodesic truth, a brute-force sort of the matches by ST_Distance on the spheroid.
    [Theory]
    [InlineData("lat=34.73&lon=36.72&radius=1000km&sortby=distance&limit=50", "TRUE", 1_000_000d)]
    [InlineData("lat=34.73&lon=36.72&sortby=distance_m&limit=40", "TRUE", null)]                         // no radius: the whole Earth
    [InlineData("lat=35.5&lon=40&radius=600km&sortby=distance&limit=30&event_type=riots", "event_type = 'riots'", 600_000d)] // between the clusters
    [InlineData("lat=34.73&lon=36.72&radius=300km&sortby=distance&limit=25&filter=fatalities_max < 3", "fatalities_max < 3", 300_000d)]
    [InlineData("lat=15.37&lon=44.2&radius=40km&sortby=distance,id&limit=100&tags=protest", "tags && '{protest}'", 40_000d)]
    [InlineData("lat=-40&lon=-100&radius=1000km&sortby=distance&limit=10", "TRUE", 1_000_000d)]         // none
    public async Task Nearest_first_pages_are_the_geodesic_truth(string parameters, string condition, double? radius)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var first = Query(parameters);
        var (limit, point) = (first.Limit!.Value, first.Near!);
        Assert.Contains("<->", Page(parameters).Sql);
        var truth = (await connection.QueryAsync<(long Id, double Distance)>(
            $"""
            SELECT id, ST_Distance(geog, ST_SetSRID(ST_MakePoint(@x, @y), 4326)::geography) FROM incidents
            WHERE deleted_at IS NULL AND {condition}
              AND (@radius::float8 IS NULL OR ST_DWithin(geog, ST_SetSRID(ST_MakePoint(@x, @y), 4326)::geography, @radius::float8))
            ORDER BY 2, 1 LIMIT @rows
            """, new { x = point.X, y = point.Y, radius, rows = limit * 4 })).ToList();

        var read = new List<(long, double)>();
        var query = first;
        for (var pages = 0; pages < 4; pages++)
        {
            var sql = IncidentSqlBuilder.Build(query);
            var rows = (await connection.QueryAsync(sql.Sql, sql.Parameters)).Cast<IDictionary<string, object>>().ToList();
            var page = rows.Take(limit).ToList();
            read.AddRange(page.Select(r => ((long)r["id"], (double)r["k0"])));
            if (rows.Count <= limit) break;
            var last = page[^1];
            var keys = sql.Keys.Select((k, n) => IncidentSqlBuilder.ToCursorValue(k.Field.Kind, last[$"k{n}"])).ToArray();
            query = query with { After = new PageCursor(query.SortText, keys) };
        }
        Assert.Equal(truth, read);
        if (radius == 1_000_000d && point.Y > 0) Assert.Equal(limit * 4, read.Count);
    }

    // The page of the nearest ten within 1,000 km of Homs (a quarter of this table matches) reads a few dozen rows, not the
    // circle: sorting all 315,000 matches of the bench's million rows took 2.4-5.1 s a page.
    [Theory]
    [InlineData("lat=34.73&lon=36.72&radius=1000km&sortby=distance&limit=10")]
    [InlineData("lat=34.73&lon=36.72&sortby=distance&limit=10&event_type=battles")]
    [InlineData("lat=33.31&lon=44.36&radius=500km&sortby=distance&limit=100")]
    public async Task A_nearest_first_page_reads_a_ring_not_the_circle(string parameters)
    {
        var sql = Page(parameters);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql.Sql, sql.Parameters) ?? "null");
        var read = Nodes(plan).Where(n => (string?)n["Relation Name"] == "incidents")
            .Sum(n => (long)n["Actual Rows"]! * (long)n["Actual Loops"]! + ((long?)n["Rows Removed by Filter"] ?? 0));
        Assert.True(read < 5_000, $"{parameters}: {read} rows read:\n{plan}");
    }

    // A search's line, points or sliver is read through boxes that hold it (ShapeCover), not through its whole box: LINESTRING(35 32,
    // 43 38) read the 208,000 incidents of its box on the bench's million rows for a count of none (7 s), and its page walked
    // the time index (4.3 s). The shapes pass through incidents here, so that they hold some; the count and the pages find
    // exactly what ST_Intersects alone finds.
    [Theory]
    [InlineData("line")]
    [InlineData("multipoint")]
    [InlineData("sliver")]
    public async Task A_thin_search_shape_finds_what_its_whole_box_finds_reading_a_share_of_it(string kind)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var points = (await connection.QueryAsync<(double X, double Y)>(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE location_name IN ('Homs', 'Baghdad') ORDER BY id LIMIT 6")).ToList();
        var factory = new NetTopologySuite.Geometries.GeometryFactory(new NetTopologySuite.Geometries.PrecisionModel(), 4326);
        var at = points.OrderBy(p => p.X).Select(p => new NetTopologySuite.Geometries.Coordinate(p.X, p.Y)).ToArray();
        NetTopologySuite.Geometries.Geometry shape = kind switch
        {
            "line" => factory.CreateLineString(at),
            "multipoint" => factory.CreateMultiPointFromCoords(at),
            _ => factory.CreatePolygon([at[0], at[^1], new(at[^1].X + 0.001, at[^1].Y + 0.002), at[0].Copy()]),
        };
        Assert.NotNull(ShapeCover.Boxes(shape));
        var query = new IncidentQuery { Intersects = shape, Limit = 1000 };

        var truth = (await connection.QueryAsync<long>(
            "SELECT id FROM incidents WHERE deleted_at IS NULL AND ST_Intersects(geom, @shape) ORDER BY occurred_at DESC, id DESC",
            new { shape })).ToList();
        Assert.True(truth.Count >= (kind == "sliver" ? 2 : 6), $"{kind}: {truth.Count} matches");
        var page = IncidentSqlBuilder.Build(query);
        Assert.Equal(truth, (await connection.QueryAsync(page.Sql, page.Parameters)).Select(r => (long)((IDictionary<string, object>)r)["id"]).ToList());
        var (countSql, values) = IncidentSqlBuilder.Count(query);
        Assert.Equal(truth.Count, await connection.ExecuteScalarAsync<long>(countSql, values));

        // The shape's box, from Homs to Baghdad, holds half of this table.
        foreach (var (sql, parameters) in new[] { (countSql, values), (page.Sql, page.Parameters) })
        {
            var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, parameters) ?? "null");
            var read = Nodes(plan).Where(n => (string?)n["Relation Name"] == "incidents")
                .Sum(n => (long)n["Actual Rows"]! * (long)n["Actual Loops"]! + ((long?)n["Rows Removed by Filter"] ?? 0));
            Assert.True(read < 5_000, $"{kind}: {read} rows read:\n{plan}");
        }
    }


    private static IEnumerable<string> IndexNames(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Key == "Index Name" && p.Value is JsonValue v ? [v.GetValue<string>()] : IndexNames(p.Value)),
        JsonArray a => a.SelectMany(IndexNames),
        _ => [],
    };
}
