using Dapper;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>The seed command as run.sh runs it at every start: on a database of its own, whose ids no other test draws.</summary>
public sealed class SeedCommandTests
{
    [Fact]
    public async Task Seeding_again_stores_nothing_and_draws_no_ids()
    {
        // Each start of run.sh seeds the sample again; its incidents were skipped by ON CONFLICT DO
        // NOTHING, which still drew an id for each: after three starts the next incident was id 151.
        await using var database = await OwnDatabase.CreateAsync("seed");
        var path = Path.Combine(ApiFixture.RepositoryRoot(), "db", "sample", "incidents.geojson");
        var environment = ServiceProcess.Logins(database.Name);
        environment["Gazetteer__Path"] = "";

        var first = await ServiceProcess.RunAsync(environment, "seed", path);
        Assert.True(first.Exit == 0, first.Err);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (stored, lastId) = await connection.QuerySingleAsync<(long, long)>("SELECT count(*), max(id) FROM incidents");
        var drawn = await connection.ExecuteScalarAsync<long>("SELECT last_value FROM incidents_id_seq");

        var second = await ServiceProcess.RunAsync(environment, "seed", path);

        Assert.True(second.Exit == 0, second.Err);
        Assert.True(stored > 0);
        Assert.Equal(lastId, drawn);
        Assert.Equal((stored, lastId), await connection.QuerySingleAsync<(long, long)>("SELECT count(*), max(id) FROM incidents"));
        Assert.Equal(drawn, await connection.ExecuteScalarAsync<long>("SELECT last_value FROM incidents_id_seq"));
    }
}
