using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// A pool whose connections are all busy is not a database fault (resource-exhaustion audit): counted
/// as one, a few slow reads opened the breaker and every other request got a 503.
/// </summary>
public sealed class PoolExhaustionTests
{
    [Fact]
    public async Task Npgsqls_pool_exhaustion_is_recognised_and_neither_retried_nor_counted_by_the_breaker()
    {
        var builder = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { MaxPoolSize = 1, Timeout = 1 };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var held = await dataSource.OpenConnectionAsync();

        var exhausted = await Assert.ThrowsAsync<NpgsqlException>(async () => await dataSource.OpenConnectionAsync());

        Assert.True(DatabaseResilience.PoolExhausted(exhausted), exhausted.Message);
        Assert.True(exhausted.IsTransient, "Npgsql calls it transient; the service must not");
        Assert.False(DatabaseResilience.IsTransient(exhausted));
    }

    [Fact]
    public async Task A_database_that_cannot_be_reached_still_counts_as_a_fault()
    {
        var builder = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Port = ServiceProcess.FreePort(), Timeout = 2, Pooling = false };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);

        var refused = await Assert.ThrowsAsync<NpgsqlException>(async () => await dataSource.OpenConnectionAsync());

        Assert.False(DatabaseResilience.PoolExhausted(refused));
        Assert.True(DatabaseResilience.IsTransient(refused), refused.ToString());
    }
}
