using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Work a written row must not pay (migration 0036), checked by counting function calls with
/// PostgreSQL's own statistics (<c>track_functions = all</c>, this transaction's counts), not by timing.
/// An import writes thousands of rows in one statement: the feed position is computed once per
/// statement, and <c>search_fold</c> is inlined into the search document instead of running through the
/// SQL-function executor four times a row.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RowCostTests(ApiFixture api)
{
    private const int Rows = 40;

    [Fact]
    public async Task A_statement_writing_many_incidents_computes_its_feed_position_once_and_folds_search_text_inline()
    {
        Assert.NotNull(api);
        var (connection, tx) = await CountingCallsAsync();
        await using var _ = connection;
        var tag = $"rowcost-{Guid.NewGuid():N}";

        var ids = (await connection.QueryAsync<long>("""
            INSERT INTO incidents (title, summary, event_type, occurred_at, geom, tags, location_name)
            SELECT 'Shelling near Homs ' || g, 'ضَرْبة في حمص', 'battles', '2016-02-21T07:30:00Z',
                   ST_SetSRID(ST_MakePoint(36.7 + g / 1000.0, 34.7), 4326), ARRAY[@tag], 'Homs'
            FROM generate_series(1, @rows) AS g
            RETURNING id
            """, new { tag, rows = Rows }, tx)).ToList();
        Assert.Equal(Rows, ids.Count);
        Assert.Equal(1, await CallsAsync(connection, tx, "incident_feed_xid"));

        var updated = await connection.ExecuteAsync(
            "UPDATE incidents SET fatalities_min = 1, fatalities_max = 2, version = version + 1 WHERE id = ANY(@ids)", new { ids }, tx);
        Assert.Equal(Rows, updated);
        Assert.Equal(2, await CallsAsync(connection, tx, "incident_feed_xid"));

        // Inlined, search_fold is never called as a function; the document still folds the Arabic marks.
        Assert.Equal(0, await CallsAsync(connection, tx, "search_fold"));
        Assert.Equal(Rows, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE id = ANY(@ids) AND search @@ to_tsquery('public.incidentmap_search', search_fold('حمص'))",
            new { ids }, tx));

        // Every row still has its feed entries, under the one position of each statement.
        var positions = await connection.QueryAsync<(string Kind, long Entries, long Positions)>(
            "SELECT kind, count(*), count(DISTINCT xid::text) FROM incident_changes WHERE incident_id = ANY(@ids) GROUP BY kind ORDER BY kind",
            new { ids }, tx);
        Assert.Equal([("created", Rows, 1L), ("updated", Rows, 1L)], positions);

        await tx.RollbackAsync();
    }

    [Fact]
    public async Task A_statement_that_writes_no_incident_takes_no_transaction_id()
    {
        Assert.NotNull(api);
        var (connection, tx) = await CountingCallsAsync();
        await using var _ = connection;

        Assert.Equal(0, await connection.ExecuteAsync("UPDATE incidents SET version = version + 1 WHERE id = -1", transaction: tx));
        Assert.Equal(0, await connection.ExecuteAsync(
            "INSERT INTO incidents (title, event_type, occurred_at, geom) SELECT 'never', 'battles', now(), ST_SetSRID(ST_MakePoint(0, 0), 4326) WHERE false", transaction: tx));

        Assert.Equal(0, await CallsAsync(connection, tx, "incident_feed_xid"));
        Assert.Null(await connection.ExecuteScalarAsync<string?>("SELECT pg_current_xact_id_if_assigned()::text", transaction: tx));
        await tx.RollbackAsync();
    }

    /// <summary>
    /// Migration 0038 wrote the check on import_source without the bounded repetition {0,99}, which PostgreSQL's
    /// regular expressions run at ten times the cost; it accepts and refuses exactly what the old pattern did.
    /// </summary>
    [Fact]
    public async Task The_import_source_check_accepts_and_refuses_what_the_old_pattern_did()
    {
        Assert.NotNull(api);
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        string[] sources =
        [
            "bench", "a", "7", "acled:2016-02", "A.b_c:d-e", "x" + new string('y', 98), "x" + new string('y', 99),
            "x" + new string('y', 100), "", ".bench", "-bench", "_bench", ":bench", "ben ch", "bénch", "bench\n", "\nbench", "bench/x", "ḥimṣ",
        ];
        var verdicts = new List<(string Source, bool Old, bool Stored)>();
        foreach (var source in sources)
        {
            var old = await connection.ExecuteScalarAsync<bool>(
                "SELECT @source ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'", new { source }, tx);
            await connection.ExecuteAsync("SAVEPOINT one", transaction: tx);
            bool stored;
            try
            {
                await connection.ExecuteAsync("""
                    INSERT INTO incidents (title, event_type, occurred_at, geom, import_source)
                    VALUES ('source check', 'battles', now(), ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), @source)
                    """, new { source }, tx);
                stored = true;
            }
            catch (PostgresException e) when (e is { SqlState: PostgresErrorCodes.CheckViolation, ConstraintName: "incidents_import_source_check" })
            {
                stored = false;
            }
            await connection.ExecuteAsync("ROLLBACK TO SAVEPOINT one", transaction: tx);
            verdicts.Add((source, old, stored));
        }
        Assert.Equal(verdicts.Select(v => (v.Source, v.Old, v.Old)), verdicts);
        Assert.Equal(7, verdicts.Count(v => v.Stored));
        await tx.RollbackAsync();
    }

    /// <summary>A connection in a transaction (rolled back) that counts its function calls.</summary>
    private static async Task<(NpgsqlConnection, NpgsqlTransaction)> CountingCallsAsync()
    {
        var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.OpenAsync();
        var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SET LOCAL track_functions = 'all'", transaction: tx);
        return (connection, tx);
    }

    private static Task<long> CallsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string function) =>
        connection.ExecuteScalarAsync<long>(
            "SELECT coalesce(pg_stat_get_xact_function_calls(@function::regproc), 0)", new { function }, tx);
}
