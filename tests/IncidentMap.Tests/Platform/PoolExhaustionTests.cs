using Dapper;
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
    public async Task A_real_deadlock_is_contention_neither_retried_nor_counted_by_the_breaker()
    {
        // Two sessions each take one advisory lock and then ask for the other's: PostgreSQL's deadlock
        // detector ends one of them with 40P01, which Npgsql calls transient.
        await using var dataSource = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        await using var first = await dataSource.OpenConnectionAsync();
        await using var second = await dataSource.OpenConnectionAsync();
        await using var firstTx = await first.BeginTransactionAsync();
        await using var secondTx = await second.BeginTransactionAsync();
        var (one, two) = (Random.Shared.NextInt64(), Random.Shared.NextInt64());
        await first.ExecuteAsync("SELECT pg_advisory_xact_lock(@one)", new { one }, firstTx);
        await second.ExecuteAsync("SELECT pg_advisory_xact_lock(@two)", new { two }, secondTx);

        var crossed = await Task.WhenAll(
            Outcome(first.ExecuteAsync("SELECT pg_advisory_xact_lock(@two)", new { two }, firstTx)),
            Outcome(second.ExecuteAsync("SELECT pg_advisory_xact_lock(@one)", new { one }, secondTx)));

        var deadlock = Assert.IsType<PostgresException>(Assert.Single(crossed, e => e is not null));
        Assert.Equal(PostgresErrorCodes.DeadlockDetected, deadlock.SqlState);
        Assert.True(deadlock.IsTransient, "Npgsql calls it transient; the service must not count it as a fault");
        Assert.True(DatabaseResilience.Contention(deadlock));
        Assert.False(DatabaseResilience.IsTransient(deadlock));
    }

    private static async Task<Exception?> Outcome(Task task)
    {
        try { await task; return null; }
        catch (Exception e) { return e; }
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
