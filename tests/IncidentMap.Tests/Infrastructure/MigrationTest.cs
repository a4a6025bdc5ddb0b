using IncidentMap.Api.Database;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// A test of one migration, on a database of its own migrated in two steps: before each test, every migration
/// before <paramref name="version"/>, so that the test can write what the migration will find; then, when the
/// test calls <see cref="MigrateAsync"/>, that migration and every later one.
/// </summary>
/// <param name="prefix">Names the database (<see cref="OwnDatabase.CreateAsync"/>).</param>
/// <param name="version">The migration under test, e.g. "0052".</param>
public abstract class MigrationTest(string prefix, string version) : IAsyncLifetime
{
    private OwnDatabase _database = null!;
    private Migrator _migrator = null!;

    /// <summary>The database's superuser data source.</summary>
    protected NpgsqlDataSource DataSource => _database.DataSource;

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync(prefix);
        _migrator = new Migrator(_database.DataSource, NullLogger<Migrator>.Instance);
        await _migrator.MigrateAsync([.. Migrator.Embedded.Where(m => string.CompareOrdinal(m.Version, version) < 0)]);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    /// <summary>Applies the migration under test and every later one; how many were applied.</summary>
    protected Task<int> MigrateAsync() => _migrator.MigrateAsync();
}
