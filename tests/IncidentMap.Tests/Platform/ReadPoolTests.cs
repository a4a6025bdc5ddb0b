using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// The pools of short reads close connections a burst left idle, down to one (Db.cs): Npgsql hands out idle
/// connections first in, first out, so a single client's requests went round every connection a burst had
/// opened, each meeting the backend that had slept the longest. A service of its own, whose pools no other
/// test uses; both pools at once, as each takes tens of seconds of waiting.
/// </summary>
public sealed class ReadPoolTests(TrustFactory service) : IClassFixture<TrustFactory>
{
    [Fact]
    public async Task After_a_burst_a_single_clients_reads_settle_on_one_backend_and_stay_there() =>
        await Task.WhenAll(
            SettleAsync(DatabaseServiceCollectionExtensions.ReadsKey),
            SettleAsync(DatabaseServiceCollectionExtensions.AdHocReadsKey));

    private async Task SettleAsync(string pool)
    {
        var source = service.Services.GetRequiredKeyedService<NpgsqlDataSource>(pool);
        var size = new NpgsqlConnectionStringBuilder(source.ConnectionString).MaxPoolSize;
        Assert.True(size >= 2, $"{pool}: the pool holds {size} connection(s): nothing to go round");

        // A burst: every connection of the pool open at once.
        var burst = new List<NpgsqlConnection>();
        for (var n = 0; n < size; n++) burst.Add(await source.OpenConnectionAsync());
        var opened = new HashSet<int>();
        foreach (var connection in burst) opened.Add(await connection.ExecuteScalarAsync<int>("SELECT pg_backend_pid()"));
        foreach (var connection in burst) await connection.DisposeAsync();
        Assert.Equal(size, opened.Count);

        async Task<int> ReadAsync()
        {
            await using var connection = await source.OpenConnectionAsync();
            return await connection.ExecuteScalarAsync<int>("SELECT pg_backend_pid()");
        }
        // Then one client, one read at a time: at first it goes round the burst's connections.
        var first = new HashSet<int>();
        for (var n = 0; n < size; n++) first.Add(await ReadAsync());
        Assert.Equal(size, first.Count);

        // Once they have been idle for 10 counts (one a second), all but one are closed.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        int settled;
        while (true)
        {
            var recent = new HashSet<int>();
            for (var n = 0; n < 20; n++)
            {
                recent.Add(await ReadAsync());
                await Task.Delay(50);
            }
            if (recent.Count == 1)
            {
                settled = recent.Single();
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{pool}: after 30 s one client's reads still go round {recent.Count} backends");
        }

        // The last one is kept, warm, for a client that reads now and then (idle most of the time, across more
        // than one round of counts).
        for (var end = DateTime.UtcNow.AddSeconds(12); DateTime.UtcNow < end;)
        {
            await Task.Delay(400);
            Assert.Equal(settled, await ReadAsync());
        }
    }
}
