using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Bench;

/// <summary>
/// <c>generate</c>: replaces the incidents of the bench database with synthetic ones, by binary COPY.
/// Everything runs in one transaction, so a failed load leaves the table (and its indexes) as it was.
/// </summary>
public static class Loader
{
    private const string Columns =
        "title, summary, event_type, sub_event_type, occurred_at, time_precision, location_name, admin1, country, " +
        "geo_precision, fatalities_min, fatalities_max, injured_min, injured_max, actors, claimed_by, sources, status, " +
        "tags, external_id, geom";

    public static async Task GenerateAsync(NpgsqlDataSource db, long rows, int seed)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        // Everything the bench writes has an external id starting with "bench"; anything else may be real data.
        if (await new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM incidents WHERE external_id IS NULL OR external_id NOT LIKE 'bench%')", connection).ScalarAsync<bool>())
            throw new InvalidOperationException("incidents holds rows the bench did not write; refusing to truncate a database that is not a bench database");

        // Maintaining every secondary index row by row costs far more than building each once after the load.
        var indexes = new List<(string Name, string Definition)>();
        await using (var command = new NpgsqlCommand(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE schemaname = current_schema() AND tablename = 'incidents'
              AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'incidents'::regclass)
            ORDER BY indexname
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) indexes.Add((reader.GetString(0), reader.GetString(1)));
        }

        // CASCADE: tables that refer to incidents (the change feed) hold only rows about bench incidents.
        await ExecuteAsync(connection, "TRUNCATE incidents RESTART IDENTITY CASCADE");
        foreach (var (name, _) in indexes) await ExecuteAsync(connection, $"DROP INDEX \"{name}\"");

        var clock = Stopwatch.StartNew();
        // FREEZE (allowed because the table was truncated in this transaction) writes the rows already
        // frozen and all-visible, so the benchmark does not pay for first-read hint-bit writes.
        await using (var importer = await connection.BeginBinaryImportAsync($"COPY incidents ({Columns}) FROM STDIN (FORMAT binary, FREEZE)"))
        {
            var incidents = new SyntheticIncidents(seed, rows);
            for (long n = 1; n <= rows; n++)
            {
                Write(importer, incidents.Next(n));
                if (n % 100_000 == 0) Progress.Say($"generate: {n:N0} rows copied, {n / clock.Elapsed.TotalSeconds:N0} rows/s");
            }
            await importer.CompleteAsync();
        }
        var copied = clock.Elapsed;
        Console.WriteLine($"copied {rows:N0} rows in {copied.TotalSeconds:N1} s: {rows / copied.TotalSeconds:N0} rows/s");

        foreach (var (name, definition) in indexes)
        {
            var started = clock.Elapsed;
            await ExecuteAsync(connection, definition);
            Progress.Say($"generate: index {name} built in {(clock.Elapsed - started).TotalSeconds:N1} s");
        }
        // The cluster grid's sums of the copied rows (migration 0040), folded from the trigger's deltas: after
        // waiting for a fold a running service may have begun (the function alone would skip).
        await ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(7215529004736301163)");
        await ExecuteAsync(connection, "SELECT incident_grid_compact()");
        await ExecuteAsync(connection, "ANALYZE incidents, incident_grid");
        await transaction.CommitAsync();
        Console.WriteLine($"loaded, indexed and analysed {rows:N0} rows in {clock.Elapsed.TotalSeconds:N1} s: {rows / clock.Elapsed.TotalSeconds:N0} rows/s overall");
    }

    private static void Write(NpgsqlBinaryImporter importer, SyntheticIncident i)
    {
        importer.StartRow();
        importer.Write(i.Title, NpgsqlDbType.Text);
        importer.Write(i.Summary, NpgsqlDbType.Text);
        importer.Write(i.EventType, NpgsqlDbType.Text);
        importer.Write(i.SubEventType, NpgsqlDbType.Text);
        importer.Write(i.OccurredAt, NpgsqlDbType.TimestampTz);
        importer.Write(i.TimePrecision, NpgsqlDbType.Text);
        WriteNullable(importer, i.LocationName, NpgsqlDbType.Text);
        WriteNullable(importer, i.Admin1, NpgsqlDbType.Text);
        WriteNullable(importer, i.Country, NpgsqlDbType.Char);
        importer.Write(i.GeoPrecision, NpgsqlDbType.Text);
        WriteNullable(importer, i.FatalitiesMin, NpgsqlDbType.Integer);
        WriteNullable(importer, i.FatalitiesMax, NpgsqlDbType.Integer);
        WriteNullable(importer, i.InjuredMin, NpgsqlDbType.Integer);
        WriteNullable(importer, i.InjuredMax, NpgsqlDbType.Integer);
        importer.Write(i.Actors, NpgsqlDbType.Array | NpgsqlDbType.Text);
        WriteNullable(importer, i.ClaimedBy, NpgsqlDbType.Text);
        importer.Write(i.Sources, NpgsqlDbType.Jsonb);
        importer.Write(i.Status, NpgsqlDbType.Text);
        importer.Write(i.Tags, NpgsqlDbType.Array | NpgsqlDbType.Text);
        importer.Write(i.ExternalId, NpgsqlDbType.Text);
        importer.Write(i.Geom, NpgsqlDbType.Geometry);
    }

    private static void WriteNullable<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type)
    {
        if (value is null) importer.WriteNull();
        else importer.Write(value, type);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
