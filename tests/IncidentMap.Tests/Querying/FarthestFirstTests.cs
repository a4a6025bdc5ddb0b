using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using static IncidentMap.Tests.Infrastructure.PlanJson;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// A database of its own for <see cref="FarthestFirstTests"/>: 24,000 points round Homs and 6,000 across the antimeridian (on a
/// 0.05° grid, so that many share a place and a distance), four event types, a few deleted, and lines, polygons and
/// multipoints, some reaching into the circles from outside them.
/// </summary>
public sealed class FarthestDatabase : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public Npgsql.NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("far", commandTimeoutSeconds: 120);
        await new Migrator(DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        GeometryTypeHandler.Register();
        await using var connection = await DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, country, fatalities_max, geom, deleted_at)
            SELECT 'Point ' || g, (ARRAY['battles', 'explosions_remote_violence', 'protests', 'riots'])[1 + g % 4],
                   timestamptz '2015-01-01 00:00:00+00' + g * interval '1 hour', 'SY', g % 7,
                   ST_SetSRID(ST_MakePoint(round((32 + random() * 9.5)::numeric * 20) / 20, round((31 + random() * 7.5)::numeric * 20) / 20), 4326),
                   CASE WHEN g % 97 = 0 THEN now() END
            FROM generate_series(1, 24000) g;

            -- Across the antimeridian round (-17, 179.8): longitudes 176 to 184, written west of 180 as -180 to -176.
            INSERT INTO incidents (title, event_type, occurred_at, country, fatalities_max, geom)
            SELECT 'Pacific ' || g, (ARRAY['battles', 'protests', 'riots'])[1 + g % 3],
                   timestamptz '2016-01-01 00:00:00+00' + g * interval '1 hour', 'FJ', g % 5,
                   ST_SetSRID(ST_MakePoint(((round((176 + random() * 8)::numeric * 10) / 10 + 180)::numeric % 360) - 180,
                                           round((-21 + random() * 8)::numeric * 10) / 10), 4326)
            FROM generate_series(1, 6000) g;

            -- Lines (some from far outside the circles into them), polygons and multipoints.
            INSERT INTO incidents (title, event_type, occurred_at, country, fatalities_max, geom)
            SELECT 'Shape ' || g, (ARRAY['battles', 'protests', 'riots'])[1 + g % 3],
                   timestamptz '2017-01-01 00:00:00+00' + g * interval '1 day', 'SY', g % 4,
                   CASE g % 3
                       WHEN 0 THEN ST_SetSRID(ST_MakeLine(ST_MakePoint(30 + g % 13, 30 + g % 9), ST_MakePoint(36 + (g % 7) * 0.5, 33 + (g % 5) * 0.4)), 4326)
                       WHEN 1 THEN ST_Buffer(ST_SetSRID(ST_MakePoint(33 + (g % 17) * 0.4, 32 + (g % 11) * 0.5), 4326), 0.05 + (g % 4) * 0.1)
                       ELSE ST_SetSRID(ST_Collect(ST_MakePoint(34 + (g % 19) * 0.3, 32 + (g % 13) * 0.4), ST_MakePoint(37 + (g % 5) * 0.2, 35)), 4326)
                   END
            FROM generate_series(1, 240) g;
            INSERT INTO incidents (title, event_type, occurred_at, country, geom)
            SELECT 'Pacific line ' || g, 'battles', timestamptz '2018-01-01 00:00:00+00' + g * interval '1 day', 'FJ',
                   ST_SetSRID(ST_MakeLine(ST_MakePoint(170 + g % 9, -25 + g % 11), ST_MakePoint(179 + (g % 3) * 0.3, -17 + (g % 4) * 0.5)), 4326)
            FROM generate_series(1, 60) g;
            -- In the ring of 300 km round Homs (34.73, 36.72), 299.5-299.9 km out: a line north, from there out of the circle, a
            -- small polygon east, a multipoint south; and a line that crosses the circle (nearer than any page here).
            INSERT INTO incidents (title, event_type, occurred_at, country, geom)
            SELECT t, 'battles', timestamptz '2019-01-01 00:00:00+00' + n * interval '1 day', 'SY', g
            FROM (SELECT 'SRID=4326;POINT(36.72 34.73)'::geography AS homs) h,
            LATERAL (VALUES
                (1, 'Rim line', ST_MakeLine(ST_Project(homs, 299600, 0)::geometry, ST_Project(homs, 400000, 0.1)::geometry)),
                (2, 'Rim polygon', ST_Buffer(ST_Project(homs, 299750, pi() / 2), 30)::geometry),
                (3, 'Rim points', ST_Collect(ST_Project(homs, 299650, pi())::geometry, ST_Project(homs, 299800, pi() + 0.2)::geometry)),
                (4, 'Crossing line', 'SRID=4326;LINESTRING(33 34.5, 40.5 34.9)'::geometry)) s(n, t, g);
            """);
        await connection.ExecuteAsync("VACUUM ANALYZE incidents", commandTimeout: 120);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}

/// <summary>
/// <c>sortby=-distance</c> within a radius reads an outer ring of cells (<see cref="IncidentSqlBuilder"/>'s FarthestRing) instead of
/// sorting every match: every page, followed by its cursor, is the brute-force geodesic sort.
/// </summary>
public sealed class FarthestFirstTests(FarthestDatabase database) : IClassFixture<FarthestDatabase>
{
    [Theory]
    [InlineData("lat=34.73&lon=36.72&radius=300km&sortby=-distance&limit=20", "TRUE", true)]
    [InlineData("lat=34.73&lon=36.72&radius=300km&sortby=-distance,id&limit=30", "TRUE", true)]          // ties by id ascending
    [InlineData("lat=34.73&lon=36.72&radius=200km&sortby=-distance_m&limit=25&event_type=riots", "event_type = 'riots'", true)]
    [InlineData("lat=35.2&lon=37.5&radius=150km&sortby=-distance&limit=40&filter=fatalities_max < 3", "fatalities_max < 3", true)]
    [InlineData("lat=33.4&lon=35.1&radius=250km&sortby=-distance&limit=15", "TRUE", true)]                // lines, polygons and multipoints in the ring
    [InlineData("lat=-17&lon=179.8&radius=250km&sortby=-distance&limit=25", "TRUE", true)]               // across the antimeridian
    [InlineData("lat=-17.2&lon=-179.9&radius=120km&sortby=-distance,id&limit=10&event_type=battles", "event_type = 'battles'", true)]
    [InlineData("lat=34.73&lon=36.72&radius=300km&sortby=-distance&limit=20&fatalities_max=6&event_type=riots", "fatalities_max = 6 AND event_type = 'riots'", false)] // the ring holds too few: every match sorted
    [InlineData("lat=34.73&lon=36.72&radius=25km&sortby=-distance&limit=20", "TRUE", true)]               // the circle's cells hold fewer than the ring asks: the ring is the circle
    public async Task Farthest_first_pages_are_the_geodesic_truth(string parameters, string condition, bool ring)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var first = Query(parameters);
        var (limit, point, radius) = (first.Limit!.Value, first.Near!, first.RadiusMetres!.Value);
        var idAscending = parameters.Contains(",id", StringComparison.Ordinal);
        var truth = (await connection.QueryAsync<(long Id, double Distance)>(
            $"""
            SELECT id, ST_Distance(geog, ST_SetSRID(ST_MakePoint(@x, @y), 4326)::geography) FROM incidents
            WHERE deleted_at IS NULL AND {condition}
              AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(@x, @y), 4326)::geography, @radius)
            ORDER BY 2 DESC, 1 {(idAscending ? "" : "DESC")} LIMIT @rows
            """, new { x = point.X, y = point.Y, radius, rows = limit * 5 })).ToList();
        Assert.True(truth.Count >= limit * 2, $"{parameters}: {truth.Count} matches");
        // Ties: some pages must break them by id.
        if (limit >= 20 && condition == "TRUE") Assert.True(truth.GroupBy(t => t.Distance).Any(g => g.Count() > 1), $"{parameters}: no ties");

        var read = new List<(long, double)>();
        var query = first;
        for (var pages = 0; pages < 5; pages++)
        {
            var sql = IncidentSqlBuilder.Build(query);
            Assert.Contains("far_cells", sql.Sql);
            var rows = (await connection.QueryAsync(sql.Sql, sql.Parameters)).Cast<IDictionary<string, object>>().ToList();
            var page = rows.Take(limit).ToList();
            read.AddRange(page.Select(r => ((long)r["id"], (double)r["k0"])));
            if (pages == 0) Assert.Equal(ring, await RingServedAsync(sql));
            if (rows.Count <= limit) break;
            var last = page[^1];
            var keys = sql.Keys.Select((k, n) => IncidentSqlBuilder.ToCursorValue(k.Field.Kind, last[$"k{n}"])).ToArray();
            query = query with { After = new PageCursor(query.SortText, keys) };
        }
        Assert.Equal(truth, read);
        if (parameters.StartsWith("lat=34.73&lon=36.72&radius=300km", StringComparison.Ordinal) && ring)
            Assert.True((await connection.QueryAsync<string>("SELECT title FROM incidents WHERE id = ANY(@ids)", new { ids = read.Select(r => r.Item1).ToArray() }))
                .Count(t => t.StartsWith("Rim", StringComparison.Ordinal)) == 3, "the shapes at the rim are not on the pages");

        // numberMatched is counted as before.
        var (countSql, values) = IncidentSqlBuilder.Count(first);
        Assert.Equal(await connection.ExecuteScalarAsync<long>(
            $"""
            SELECT count(*) FROM incidents WHERE deleted_at IS NULL AND {condition}
              AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(@x, @y), 4326)::geography, @radius)
            """, new { x = point.X, y = point.Y, radius }), await connection.ExecuteScalarAsync<long>(countSql, values));
    }

    // The page of the farthest 20 within 300 km of Homs reads the outer ring's cells, not the circle's 9,500 incidents.
    [Fact]
    public async Task A_farthest_first_page_reads_a_ring_not_the_circle()
    {
        var sql = IncidentSqlBuilder.Build(Query("lat=34.73&lon=36.72&radius=300km&sortby=-distance&limit=20"));
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql.Sql, sql.Parameters) ?? "null");
        var read = Nodes(plan).Where(n => (string?)n["Relation Name"] == "incidents" && (string?)n["Node Type"] != "Index Only Scan")
            .Sum(n => (long)n["Actual Rows"]! * (long)n["Actual Loops"]! + ((long?)n["Rows Removed by Filter"] ?? 0));
        var circle = await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE deleted_at IS NULL AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(36.72, 34.73), 4326)::geography, 300000)");
        Assert.True(read < circle / 2, $"{read} rows read of the circle's {circle}:\n{plan}");
    }

    /// <summary>Whether the page came from the ring (the branch sorting every match never ran).</summary>
    private async Task<bool> RingServedAsync(SqlQuery sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql.Sql, sql.Parameters) ?? "null");
        var gates = Nodes(plan).Where(n => (string?)n["One-Time Filter"] is { } f && f.StartsWith("(NOT", StringComparison.Ordinal)).ToList();
        Assert.Single(gates);
        return (long)gates[0]["Actual Rows"]! == 0 && !Nodes(gates[0]).Skip(1).Any(n => (long?)n["Actual Loops"] > 0);
    }

    private static IncidentQuery Query(string parameters) => QueryHelpers.ParsedQuery(parameters);
}
