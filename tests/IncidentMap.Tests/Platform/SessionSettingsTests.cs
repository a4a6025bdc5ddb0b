using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>What every session of the service's pools is started with (startup parameters, no round-trip).</summary>
[Collection(ApiCollection.Name)]
public sealed class SessionSettingsTests(ApiFixture api)
{
    public static TheoryData<string?> Pools => [null, DatabaseServiceCollectionExtensions.ReadsKey, DatabaseServiceCollectionExtensions.AdHocReadsKey];

    [Theory]
    [MemberData(nameof(Pools))]
    public async Task Every_pool_runs_without_JIT_under_the_statement_timeout_in_UTC(string? pool)
    {
        var source = pool is null ? api.Services.GetRequiredService<NpgsqlDataSource>() : api.Services.GetRequiredKeyedService<NpgsqlDataSource>(pool);
        await using var connection = await source.OpenConnectionAsync();

        var (jit, timeout, zone) = await connection.QuerySingleAsync<(string, string, string)>(
            "SELECT current_setting('jit'), current_setting('statement_timeout'), current_setting('TimeZone')");

        // JIT compiled a 300-term filter's expressions for 0.6 s of a 4.9 s statement that took 3.75 s without it.
        Assert.Equal("off", jit);
        Assert.NotEqual("0", timeout);
        Assert.Equal("UTC", zone);
    }
}
