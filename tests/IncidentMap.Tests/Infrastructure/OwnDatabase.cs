using Npgsql;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// An empty database of its own on the test cluster, for tests that other tests' writes would disturb
/// (migrations, query plans over known data, the change feed's tail); dropped when disposed.
/// <see cref="DataSource"/> is the superuser's; a service on it logs in as its own role
/// (<see cref="ApiFixture.Logins"/>), which the Migrator grants to.
/// </summary>
public sealed class OwnDatabase : IAsyncDisposable
{
    private readonly string _name;

    public NpgsqlDataSource DataSource { get; }

    private OwnDatabase(string name, NpgsqlDataSource dataSource) => (_name, DataSource) = (name, dataSource);

    /// <summary>The database's name, for <see cref="ApiFixture.Logins"/>.</summary>
    public string Name => _name;

    /// <param name="prefix">Names the database (<c>incidentmap_{prefix}_…</c>), so a leftover says which test made it.</param>
    /// <param name="commandTimeoutSeconds">For a test that loads much data.</param>
    public static async Task<OwnDatabase> CreateAsync(string prefix, int? commandTimeoutSeconds = null)
    {
        var name = $"incidentmap_{prefix}_{Guid.NewGuid().ToString("N")[..12]}";
        await using (var admin = NpgsqlDataSource.Create(ApiFixture.ConnectionString))
            await admin.CreateCommand($"CREATE DATABASE {name}").ExecuteNonQueryAsync();
        var builder = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Database = name };
        if (commandTimeoutSeconds is { } timeout) builder.CommandTimeout = timeout;
        return new OwnDatabase(name, new NpgsqlDataSourceBuilder(builder.ConnectionString).UseNetTopologySuite().Build());
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await using var admin = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        await admin.CreateCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)").ExecuteNonQueryAsync();
    }
}
