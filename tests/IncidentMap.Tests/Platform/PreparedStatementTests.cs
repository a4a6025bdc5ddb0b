using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Npgsql 10.0.3 leaves a statement half-prepared on its connection when the run that auto-prepares
/// it fails at Bind (npgsql/npgsql#6391): the statement's next run there fails with "Received
/// unexpected backend message DataRow". In CI that was a 500 for <c>near=NaN</c>, right after the
/// hostile suite's <c>near=%00</c> had failed on the same connection. Both short-read pools prepare,
/// and their reads forget their prepared statements after a server error.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class PreparedStatementTests(ApiFixture api)
{
    private const string Sql = "SELECT g FROM generate_series(1, 3) AS g WHERE @name::text <> ''";

    [Theory]
    [InlineData("rows", true)]
    [InlineData("scalar", true)]
    [InlineData("page", true)]
    [InlineData("rows", false)]
    [InlineData("scalar", false)]
    [InlineData("page", false)]
    public async Task A_prepared_read_that_fails_as_it_is_prepared_leaves_the_statement_usable(string path, bool stablePlan)
    {
        // One connection prepared like the service's prepared-reads pool: every run below shares it.
        var builder = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { MaxPoolSize = 1, MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 };
        await using var source = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
        var reader = new IncidentReader(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));
        // Unique text, so no earlier run in this session has prepared it.
        var sql = $"{Sql} /* {path} {stablePlan} {Guid.NewGuid():N} */";

        async Task<long> Run(string name)
        {
            var parameters = new DynamicParameters(new { name });
            switch (path)
            {
                case "rows":
                    return (await reader.ListAsync(sql, parameters, row => row.GetInt32(0), CancellationToken.None, stablePlan)).Count;
                case "scalar":
                    return await reader.ScalarAsync<long>($"SELECT count(*) FROM ({sql}) AS s", parameters, CancellationToken.None, stablePlan);
                default:
                    await using (var rows = await reader.OpenAsync(new SqlQuery(sql, parameters, [], StablePlan: stablePlan), CancellationToken.None))
                    {
                        var count = 0;
                        for (var more = rows.HasRow; more; more = await rows.ReadAsync(CancellationToken.None)) count++;
                        return count;
                    }
            }
        }

        Assert.Equal(3, await Run("first"));
        // The second run prepares the statement, and PostgreSQL refuses its NUL at Bind.
        var refused = await Assert.ThrowsAsync<PostgresException>(() => Run("\0"));
        Assert.Equal(PostgresErrorCodes.CharacterNotInRepertoire, refused.SqlState);
        Assert.Equal(3, await Run("third"));
        Assert.Equal(3, await Run("fourth"));
    }

    /// <summary>
    /// The prepared-reads pool runs one generic plan for every value; the ad-hoc pool prepares too (its
    /// statements skip parsing), but plans each run for its own values, as an unprepared statement is:
    /// a generic plan of a bbox page read the whole box and sorted it (228 ms instead of 70). The main
    /// pool prepares nothing.
    /// </summary>
    [Fact]
    public async Task The_read_pools_prepare_and_only_the_ad_hoc_one_plans_each_run_for_its_values()
    {
        async Task<(long Statements, long Generic, long Custom)> AfterSixRuns(NpgsqlDataSource pool)
        {
            await using var connection = await pool.OpenConnectionAsync();
            var sql = $"SELECT count(*) FROM pg_class WHERE relname = @name /* {Guid.NewGuid():N} */";
            for (var run = 0; run < 6; run++) await connection.ExecuteScalarAsync<long>(sql, new { name = "incidents" });
            return await connection.QuerySingleAsync<(long, long, long)>(
                "SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements WHERE statement LIKE '%' || @tag || '%'",
                new { tag = sql[^35..] });
        }

        Assert.Equal((0, 0, 0), await AfterSixRuns(api.Services.GetRequiredService<NpgsqlDataSource>()));
        // Npgsql prepares on the second run (AutoPrepareMinUsages = 2): five runs prepared.
        Assert.Equal((1, 0, 5), await AfterSixRuns(api.Services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseServiceCollectionExtensions.AdHocReadsKey)));
        Assert.Equal((1, 5, 0), await AfterSixRuns(api.Services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseServiceCollectionExtensions.ReadsKey)));
    }
}
