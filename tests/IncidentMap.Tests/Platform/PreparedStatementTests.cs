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
/// hostile suite's <c>near=%00</c> had failed on the same connection. Only the prepared-reads pool
/// prepares, and its reads forget their prepared statements after a server error.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class PreparedStatementTests(ApiFixture api)
{
    private const string Sql = "SELECT g FROM generate_series(1, 3) AS g WHERE @name::text <> ''";

    [Theory]
    [InlineData("rows")]
    [InlineData("scalar")]
    [InlineData("page")]
    public async Task A_prepared_read_that_fails_as_it_is_prepared_leaves_the_statement_usable(string path)
    {
        // One connection prepared like the service's prepared-reads pool: every run below shares it.
        var builder = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { MaxPoolSize = 1, MaxAutoPrepare = 64, AutoPrepareMinUsages = 2 };
        await using var source = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
        var reader = new IncidentReader(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));
        // Unique text, so no earlier run in this session has prepared it.
        var sql = $"{Sql} /* {path} {Guid.NewGuid():N} */";

        async Task<long> Run(string name)
        {
            var parameters = new DynamicParameters(new { name });
            switch (path)
            {
                case "rows":
                    return (await reader.ListAsync(sql, parameters, row => row.GetInt32(0), CancellationToken.None, stablePlan: true)).Count;
                case "scalar":
                    return await reader.ScalarAsync<long>($"SELECT count(*) FROM ({sql}) AS s", parameters, CancellationToken.None, stablePlan: true);
                default:
                    await using (var rows = await reader.OpenAsync(new SqlQuery(sql, parameters, [], StablePlan: true), CancellationToken.None))
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

    [Fact]
    public async Task Only_the_prepared_reads_pool_prepares_statements()
    {
        async Task<long> PreparedAfterThreeRuns(NpgsqlDataSource pool)
        {
            await using var connection = await pool.OpenConnectionAsync();
            var sql = $"SELECT count(*) FROM pg_class WHERE relname = @name /* {Guid.NewGuid():N} */";
            for (var run = 0; run < 3; run++) await connection.ExecuteScalarAsync<long>(sql, new { name = "incidents" });
            return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%' || @tag || '%'",
                new { tag = sql[^35..] });
        }

        Assert.Equal(0, await PreparedAfterThreeRuns(api.Services.GetRequiredService<NpgsqlDataSource>()));
        Assert.Equal(0, await PreparedAfterThreeRuns(api.Services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseServiceCollectionExtensions.AdHocReadsKey)));
        Assert.Equal(1, await PreparedAfterThreeRuns(api.Services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseServiceCollectionExtensions.ReadsKey)));
    }
}
