using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Migrations that write rows leave the planner fresh statistics of them (Migrator.AnalyzeAsync), so the
/// service's first plans after an upgrade are not chosen from the rows a migration replaced; a start with
/// nothing to apply costs no ANALYZE.
/// </summary>
public sealed class MigrationStatisticsTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public async Task InitializeAsync() => _database = await OwnDatabase.CreateAsync("analyze");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    /// <summary>A backfill, as 0028 was: rows written by the migration itself, one value in ten rare.</summary>
    private static readonly Migrator.Migration Backfill = new("9999", "9999_backfill", """
        CREATE TABLE backfilled (id bigint NOT NULL, kind text NOT NULL);
        INSERT INTO backfilled SELECT g, CASE WHEN g % 10 = 0 THEN 'rare' ELSE 'common' END FROM generate_series(1, 5000) g;
        """, "backfill");

    private const string Statistics = """
        SELECT c.reltuples, pg_stat_get_analyze_count(c.oid) AS analyzed,
               (SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'public' AND tablename = 'backfilled' AND attname = 'kind') AS common
        FROM pg_class c WHERE c.oid = 'backfilled'::regclass
        """;

    [Fact]
    public async Task Applying_a_migration_that_writes_rows_leaves_their_statistics_and_a_start_with_nothing_new_does_not_analyze_again()
    {
        var migrator = new Migrator(_database.DataSource, NullLogger<Migrator>.Instance);
        Assert.Equal(Migrator.Embedded.Count + 1, await migrator.MigrateAsync([.. Migrator.Embedded, Backfill]));

        await using (var connection = await _database.DataSource.OpenConnectionAsync())
        {
            var (rows, analyzed, common) = await connection.QuerySingleAsync<(float, long, string?)>(Statistics);
            Assert.Equal(5000f, rows);          // -1 (never analysed) without it
            Assert.Equal(1L, analyzed);         // a manual ANALYZE: autovacuum's would count as autoanalyze
            Assert.Equal("{common,rare}", common);
        }

        Assert.Equal(0, await migrator.MigrateAsync([.. Migrator.Embedded, Backfill]));

        await using (var connection = await _database.DataSource.OpenConnectionAsync())
            Assert.Equal(1L, (await connection.QuerySingleAsync<(float, long, string?)>(Statistics)).Item2);
    }
}
