extern alias bench;
using bench::IncidentMap.Bench;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// bench/run.sh runs outside CI, so its scenarios are checked here: every query's raw SQL, written with its
/// parameters as literals for pgbench and psql, is SQL PostgreSQL plans. The counts over cells pass int[]
/// parameters, which the harness could not write as literals, and the bench stopped at its first scenario.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class BenchScenarioTests(ApiFixture api)
{
    [Fact]
    public async Task Every_scenarios_raw_sql_is_planned_by_postgresql()
    {
        var scenarios = Scenarios.Load();
        Assert.NotEmpty(scenarios);

        Assert.NotNull(api); // the fixture has migrated the database
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.OpenAsync();
        foreach (var query in scenarios.SelectMany(s => s.Queries))
            foreach (var sql in new[] { query.Sql, query.WholeSql, query.CountSql }.Where(q => q is not null).Distinct())
            {
                await using var explain = new NpgsqlCommand("EXPLAIN " + sql, connection);
                await explain.ExecuteNonQueryAsync();
            }
    }

    [Theory]
    [InlineData("bbox=35,32,42,37&limit=1")]
    [InlineData("lat=34.73&lon=36.72&radius=50km&datetime=2025-01-01/2025-12-31")]
    public void A_count_over_cells_is_written_with_its_cells_as_literals(string parameters)
    {
        var values = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(parameters).ToDictionary(p => p.Key, p => p.Value.ToString());

        var query = BenchQuery.From(values);

        Assert.Contains("::integer[]", query.CountSql);
        Assert.DoesNotContain("@cells", query.CountSql);
    }
}
