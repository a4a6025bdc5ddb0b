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
public sealed class FilterCostTests(ApiFixture api, CostDatabase database) : IClassFixture<CostDatabase>
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
}
