using System.Diagnostics;
using System.Net;
using System.Text;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Filtering;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// A database of its own with <see cref="Rows"/> points scattered over a box round (20 E, 10 N), a few
/// of whose titles carry accents, for measuring what a filter costs per row without other tests' rows
/// (or their locks) in the way. Created once for <see cref="FilterCostTests"/> and dropped after.
/// </summary>
public sealed class CostDatabase : IAsyncLifetime
{
    public const int Rows = 40_000;

    /// <summary>Rows whose title is "Émeute près du marché" (one in a hundred); the others are ASCII.</summary>
    public const int Accented = Rows / 100;

    private OwnDatabase _database = null!;

    public NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("cost", commandTimeoutSeconds: 120);
        await new Migrator(DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        GeometryTypeHandler.Register();
        // Short transactions, as PlanDatabase loads: the change feed's horizon is cluster-wide.
        await using var connection = await DataSource.OpenConnectionAsync();
        for (var first = 1; first <= Rows; first += 5_000)
        {
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, summary, event_type, occurred_at, geom)
                SELECT CASE WHEN g % 100 = 0 THEN 'Émeute près du marché' ELSE 'Clashes near the market' END,
                       'Clashes near the market involving local militias. At least two people were killed and five injured.',
                       'battles', timestamptz '2016-01-01 00:00:00+00' + g * interval '1 minute',
                       ST_SetSRID(ST_MakePoint(19.4 + 1.2 * random(), 9.4 + 1.2 * random()), 4326)
                FROM generate_series(@first, @last) AS g
                """, new { first, last = first + 4_999 });
        }
        await connection.ExecuteAsync("ANALYZE incidents", commandTimeout: 120);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    /// <summary>count(*) of the incidents a query string selects, as the API counts numberMatched, under a statement timeout.</summary>
    public async Task<long> CountAsync(IReadOnlyDictionary<string, string> parameters, TimeSpan timeout)
    {
        var (query, errors) = QueryParser.Parse(parameters, DateTimeOffset.UtcNow);
        Assert.True(query is not null, string.Join("; ", errors));
        var (sql, values) = IncidentSqlBuilder.Count(query!);
        await using var connection = await DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync($"SET statement_timeout = {(long)timeout.TotalMilliseconds}");
        return await connection.ExecuteScalarAsync<long>(sql, values);
    }
}

/// <summary>
/// What a filter may cost: the work per row a filter asks for is bounded (a 400 naming the position of
/// what is over a bound), and what can be computed once per statement is not computed in every row.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class FilterCostTests(ApiFixture api, CostDatabase database, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<CostDatabase>
{
    /// <summary>The documented bound on properties folded by CASEI or ACCENTI (README, OpenAPI).</summary>
    private const int FoldedBound = 4;

    private static readonly Dictionary<string, string> Text = new() { ["filter-lang"] = Cql2.TextLanguage };

    private static string Folded(int n) => string.Join(" OR ",
        Enumerable.Range(0, n).Select(k => $"ACCENTI(CASEI({(k % 2 == 0 ? "title" : "summary")})) LIKE ACCENTI(CASEI('%émeute{k}%'))"));

    /// <summary>Where the last of the OR'd terms starts: the fifth folded property, one over the bound.</summary>
    private static int FifthTerm(string filter) => filter.LastIndexOf(" OR ", StringComparison.Ordinal) + " OR ".Length;

    [Fact]
    public void Four_folded_properties_compile_and_a_fifth_is_refused_at_its_position()
    {
        Cql2Assert.Compiles(Folded(FoldedBound));

        var filter = Folded(FoldedBound + 1);
        Cql2Assert.Fails(filter, FifthTerm(filter), $"more than {FoldedBound} properties case- or accent-insensitive");
    }

    [Theory]
    // A chain folds its property once, in either order; a literal folded costs nothing per row.
    [InlineData("CASEI(ACCENTI(title)) = 'x' OR ACCENTI(CASEI(summary)) = 'x' OR CASEI(location_name) = 'x' OR ACCENTI(admin1) = 'x'")]
    [InlineData("ACCENTI(CASEI(location_name)) IN (ACCENTI(CASEI('Ḥimṣ')), ACCENTI(CASEI('Homs')), ACCENTI(CASEI('Hims')), ACCENTI(CASEI('حمص')), ACCENTI(CASEI('Emesa')), CASEI('Homs, Syria'))")]
    [InlineData("ACCENTI(CASEI(title)) LIKE ACCENTI(CASEI('%a%')) AND ACCENTI('x') = ACCENTI('y') AND CASEI('a') = CASEI('A') AND CASEI('b') = CASEI('B')")]
    public void Folded_literals_and_chains_count_as_their_properties(string filter) => Cql2Assert.Compiles(filter);

    [Fact]
    public void The_bound_holds_in_cql2_json_with_the_path_of_the_fifth()
    {
        static string Like(int k) => $$"""{"op":"like","args":[{"op":"accenti","args":[{"op":"casei","args":[{"property":"title"}]}]},"%x{{k}}%"]}""";
        var json = $$"""{"op":"or","args":[{{string.Join(",", Enumerable.Range(0, 5).Select(Like))}}]}""";
        var error = Cql2Assert.Fails(json, -1, "properties case- or accent-insensitive", Cql2.JsonLanguage);
        Assert.StartsWith("$.args[4].args[0]:", error.Message);
    }

    [Fact]
    public async Task A_filter_folding_too_many_properties_is_a_400_naming_filter_and_the_position()
    {
        var filter = Folded(FoldedBound + 1);
        using var client = api.CreateClient();
        var response = await client.GetAsync("/collections/incidents/items?filter=" + Uri.EscapeDataString(filter));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains($"at position {FifthTerm(filter)}:", problem["detail"]!.GetValue<string>());

        // The same filter in a search body, where a URL's length does not stop it first.
        var body = new StringContent(new System.Text.Json.Nodes.JsonObject { ["filter"] = filter }.ToJsonString(), Encoding.UTF8, "application/json");
        await ProblemAssert.IsProblemAsync(await client.PostAsync("/collections/incidents/search", body), HttpStatusCode.BadRequest, "filter");
    }

    /// <summary>
    /// unaccent() is STABLE, so PostgreSQL folded a literal again in every row: with a literal of 19,500
    /// characters that was 450 µs a row, 18 s over these rows. Folded once per statement, the count takes
    /// milliseconds, well inside the two seconds it is given here.
    /// </summary>
    [Fact]
    public async Task A_folded_literal_is_folded_once_per_statement_not_in_every_row()
    {
        var literal = string.Concat(Enumerable.Repeat("Ḥimṣ ", 3_900));
        var none = await database.CountAsync(
            new Dictionary<string, string>(Text) { ["filter"] = $"ACCENTI(title) = ACCENTI('{literal}')" }, TimeSpan.FromSeconds(2));
        Assert.Equal(0, none);

        // Folding still means what it did: accents and case ignored on both sides.
        var riots = await database.CountAsync(
            new Dictionary<string, string>(Text) { ["filter"] = "ACCENTI(CASEI(title)) LIKE ACCENTI(CASEI('EMEUTE PRES%'))" }, TimeSpan.FromSeconds(10));
        Assert.Equal(CostDatabase.Accented, riots);
    }

    /// <summary>
    /// A ring of <paramref name="n"/> vertices (closed) round (cx, cy), in WKT coordinates of two decimals
    /// (as a border traced at about 1 km): a star whose every other vertex is 3 % nearer the centre.
    /// </summary>
    private static string Star(int n, double cx, double cy, double radius) => "(" + string.Join(",",
        Enumerable.Range(0, n).Select(k => k == n - 1 ? 0 : k).Select(k => (Angle: 2 * Math.PI * k / (n - 1), R: radius * (k % 2 == 0 ? 1 : 0.97)))
            .Select(v => FormattableString.Invariant($"{cx + v.R * Math.Cos(v.Angle):0.##} {cy + v.R * Math.Sin(v.Angle):0.##}"))) + ")";

    /// <summary>
    /// Every point of the cost database lies within 0.85° of (20 E, 10 N): deep inside a star of 1.5°,
    /// and deep in the hole of a star from 1.5° to 3°. Either way each point is decided by planar tests
    /// (NearShape): a prepared point in polygon inside, a planar distance to the rings in the hole. The
    /// geodesic test costs 25 µs a point inside a zigzag of 1,200 vertices and about 100 µs in its hole.
    /// So S_DWITHIN must cost a fraction of the geodesic test over the same points (2026-11-30: 1/16 in the
    /// hole). It was compared with S_INTERSECTS, a prepared planar test, at under three times its cost, until
    /// a machine ran the planar distance in the hole at five times it (5 µs a point against 1.2): the planar
    /// distance to 1,200 vertices is not prepared, and what it costs beside a prepared test varies by CPU.
    /// </summary>
    [Theory]
    [InlineData("inside a polygon", 1_200, 0)]
    [InlineData("in the hole of a polygon", 600, 600)]
    public async Task Points_far_from_the_rim_of_a_big_shape_are_decided_by_S_DWITHIN_without_the_geodesic_test(string where, int outer, int hole)
    {
        var shape = hole == 0
            ? $"POLYGON({Star(outer, 20, 10, 1.5)})"
            : $"POLYGON({Star(outer, 20, 10, 3)},{Star(hole, 20, 10, 1.5)})";
        var within = new Dictionary<string, string>(Text) { ["filter"] = $"S_DWITHIN(geometry, {shape}, 1, kilometers)" };
        var intersects = new Dictionary<string, string>(Text) { ["filter"] = $"S_INTERSECTS(geometry, {shape})" };

        Assert.Equal(hole == 0 ? CostDatabase.Rows : 0, await database.CountAsync(within, TimeSpan.FromSeconds(60)));
        var (dwithin, planar) = (await FastestAsync(within), await FastestAsync(intersects));
        var parameters = new DynamicParameters();
        parameters.Add("shape", shape);
        var geodesic = await FastestAsync(
            "SELECT count(*) FROM incidents i WHERE ST_DWithin(i.geog, ST_GeomFromText(@shape, 4326)::geography, 1000)", parameters);
        output.WriteLine($"{where}: S_DWITHIN {dwithin.TotalMilliseconds:0} ms, S_INTERSECTS {planar.TotalMilliseconds:0} ms, the geodesic test {geodesic.TotalMilliseconds:0} ms");
        Assert.True(4 * dwithin < geodesic,
            $"{where}: S_DWITHIN took {dwithin.TotalMilliseconds:0} ms, the geodesic test alone {geodesic.TotalMilliseconds:0} ms over {CostDatabase.Rows} points");
    }

    /// <summary>
    /// The shortest of three executions of the count (the machine is shared: the slower runs measure the
    /// neighbours), without planning and without JIT compilation: fixed costs of a few hundred ms that
    /// would hide the cost per row, which is what differs.
    /// </summary>
    private async Task<TimeSpan> FastestAsync(IReadOnlyDictionary<string, string> parameters)
    {
        var (query, errors) = QueryParser.Parse(parameters, DateTimeOffset.UtcNow);
        Assert.True(query is not null, string.Join("; ", errors));
        var (sql, values) = IncidentSqlBuilder.Count(query!);
        return await FastestAsync(sql, values);
    }

    private async Task<TimeSpan> FastestAsync(string sql, DynamicParameters values)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("SET jit = off");
        var fastest = double.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            var plan = System.Text.Json.Nodes.JsonNode.Parse(
                await connection.ExecuteScalarAsync<string>("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, values) ?? "null");
            fastest = Math.Min(fastest, plan![0]!["Execution Time"]!.GetValue<double>());
        }
        return TimeSpan.FromMilliseconds(fastest);
    }

    /// <summary>
    /// A square from 10 to 11 E and 0 to 1 N, written with 5 vertices and with 1,200: the extra ones lie
    /// on its west, east and south edges, which are a meridian, a meridian and the equator, so both
    /// spell the same geodesic shape. Incidents just inside and outside 5 km of it, inside near its
    /// rim, far off, and two lines get the same answer from both, the answer of the geodesic test.
    /// </summary>
    [Fact]
    public async Task S_DWITHIN_of_a_big_polygon_selects_exactly_what_the_geodesic_test_selects()
    {
        using var client = api.CreateClient();
        var tag = "near-shape-" + Guid.NewGuid().ToString("N")[..12];
        // metres per degree at the equator: 110,574 along a meridian, 111,319 along the equator.
        static System.Text.Json.Nodes.JsonObject Line(double y, double fromX, double toX) =>
            Features.Geometry(FormattableString.Invariant($$"""{"type":"LineString","coordinates":[[{{fromX}},{{y}}],[{{toX}},{{y}}]]}"""));
        var places = new Dictionary<string, System.Text.Json.Nodes.JsonObject>
        {
            ["deep inside"] = Features.Point(10.5, 0.5),
            ["inside, 550 m from the west edge"] = Features.Point(10.005, 0.5),
            ["inside, 550 m from the north edge"] = Features.Point(10.5, 0.995),
            ["250 m west"] = Features.Point(9.997754, 0.5),
            ["350 m west"] = Features.Point(9.996856, 0.5),
            ["4.95 km west"] = Features.Point(9.955531, 0.5),
            ["5.05 km west"] = Features.Point(9.954633, 0.5),
            ["4.95 km south"] = Features.Point(10.5, -0.044766),
            ["5.05 km south"] = Features.Point(10.5, -0.045671),
            ["11 km west"] = Features.Point(9.9, 0.5),
            ["far east"] = Features.Point(13, 0.5),
            ["a line reaching 3.3 km west"] = Line(0.5, 9.9, 9.97),
            ["a line 11 km west"] = Line(0.3, 9.8, 9.9),
        };
        var ids = new Dictionary<long, string>();
        foreach (var (name, geometry) in places)
        {
            var feature = Features.Valid(name, geometry);
            feature["properties"]!["tags"] = new System.Text.Json.Nodes.JsonArray(tag);
            ids[await client.CreateAsync(feature)] = name;
        }

        static IEnumerable<string> Edge(double fromX, double fromY, double toX, double toY) => Enumerable.Range(0, 400)
            .Select(k => FormattableString.Invariant($"{fromX + (toX - fromX) * k / 400:0.#####} {fromY + (toY - fromY) * k / 400:0.#####}"));
        var big = "POLYGON((" + string.Join(",", Edge(10, 1, 10, 0).Concat(Edge(10, 0, 11, 0)).Concat(Edge(11, 0, 11, 1)).Append("11 1").Append("10 1")) + "))";
        const string small = "POLYGON((10 1,10 0,11 0,11 1,10 1))";
        Assert.True(big.Length < 20_000 && big.Count(c => c == ',') >= 1_200, $"{big.Length} characters");

        async Task<SortedSet<string>> Selected(string polygon, int metres)
        {
            var body = new System.Text.Json.Nodes.JsonObject
            {
                ["filter"] = $"S_DWITHIN(geometry, {polygon}, {metres}, meters)", ["tags"] = tag, ["limit"] = 100,
            };
            var page = await client.PostAsync("/collections/incidents/search", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            var text = await page.Content.ReadAsStringAsync();
            Assert.True(page.IsSuccessStatusCode, text);
            return new SortedSet<string>(System.Text.Json.Nodes.JsonNode.Parse(text)!["features"]!.AsArray()
                .Select(f => ids[f!["id"]!.GetValue<long>()]));
        }

        await using var connection = await api.Database.OpenConnectionAsync();
        async Task<SortedSet<string>> Geodesic(int metres) => new((await connection.QueryAsync<long>(
            "SELECT id FROM incidents WHERE id = ANY(@ids) AND ST_DWithin(geog, ST_GeomFromText(@small, 4326)::geography, @metres)",
            new { ids = ids.Keys.ToArray(), small, metres = (double)metres })).Select(id => ids[id]));

        var inside = new[] { "deep inside", "inside, 550 m from the west edge", "inside, 550 m from the north edge" };
        // 5 km: a point in the planar shape is within; 300 m: it must be 0.01° from the rim as well.
        foreach (var (metres, expected) in new[]
        {
            (5000, inside.Concat(["250 m west", "350 m west", "4.95 km west", "4.95 km south", "a line reaching 3.3 km west"])),
            (300, inside.Append("250 m west")),
        })
        {
            var geodesic = await Geodesic(metres);
            Assert.Equal(new SortedSet<string>(expected), geodesic);
            Assert.Equal(geodesic, await Selected(small, metres));
            Assert.Equal(geodesic, await Selected(big, metres));
        }
    }

    [Fact]
    public void A_geometry_in_a_filter_has_at_most_ten_thousand_vertices()
    {
        // A filter's 20,000 characters hold about 5,000 vertices today, so the bound is met here, below the parser.
        static string Wkt(int vertices) => $"LINESTRING({string.Join(",", Enumerable.Range(0, vertices).Select(k => FormattableString.Invariant($"{k % 180} {k / 180 % 90}")))})";
        static string Json(int vertices) => $$"""{"type":"MultiPoint","coordinates":[{{string.Join(",", Enumerable.Range(0, vertices).Select(k => $"[{k % 180},{k / 180 % 90}]"))}}]}""";

        Assert.Equal(10_000, Literals.Wkt(Wkt(10_000), Location.Text(7)).NumPoints);
        var wkt = Assert.Throws<FilterException>(() => Literals.Wkt(Wkt(10_001), Location.Text(7)));
        Assert.Equal(7, wkt.At.Offset);
        Assert.Contains("has 10001 vertices; a geometry in a filter may have at most 10000", wkt.Message);

        var json = Assert.Throws<FilterException>(() =>
            Literals.GeoJson(System.Text.Json.Nodes.JsonNode.Parse(Json(10_001))!.AsObject(), Location.Json("$.args[1]")));
        Assert.Equal("$.args[1]", json.At.Path);
        Assert.Contains("at most 10000", json.Message);
    }
}
