using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Hostile;

/// <summary>The first-row bound of <see cref="IncidentReader.OpenAsync"/> ends with the first row: the rest may take longer.</summary>
public sealed class FirstRowTimeoutTests
{
    [Fact]
    public async Task Rows_after_the_first_may_take_longer_than_the_first_row_bound()
    {
        // Statements of their own, over no table: the test database serves.
        await using var source = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        var reader = new IncidentReader(source, source, source, new DatabaseResilience(NullLogger<DatabaseResilience>.Instance, source, source, source));
        // PostgreSQL sends rows in 8 KB packets: the first two rows of 10 KB leave at once, the tail of the
        // third only when the fourth is made, a second later.
        var slowSecondRow = new SqlQuery(
            "SELECT g, repeat('x', 10000), CASE WHEN g = 4 THEN pg_sleep(1) END FROM generate_series(1, 5) AS g",
            new DynamicParameters(), []);

        await using var rows = await reader.OpenAsync(slowSecondRow, CancellationToken.None, longRead: true,
            statementTimeout: TimeSpan.FromMinutes(1), firstRowTimeout: TimeSpan.FromMilliseconds(300));
        var read = 0;
        while (rows.HasRow)
        {
            read++;
            await rows.ReadAsync(CancellationToken.None);
        }
        Assert.Equal(5, read);

        // And without a first row in time, the bound's own exception (not a TimeoutException: the breaker counts those).
        var slowFirstRow = slowSecondRow with { Sql = "SELECT pg_sleep(2), repeat('x', 10000)" };
        var error = await Assert.ThrowsAsync<FirstRowTimeoutException>(() => reader.OpenAsync(slowFirstRow, CancellationToken.None,
            longRead: true, statementTimeout: TimeSpan.FromMinutes(1), firstRowTimeout: TimeSpan.FromMilliseconds(300)));
        Assert.Equal(TimeSpan.FromMilliseconds(300), error.Limit);
    }
}
