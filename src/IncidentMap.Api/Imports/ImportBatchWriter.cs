using Dapper;
using IncidentMap.Api.Problems;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Api.Imports;

/// <summary>What one batch did; rejected rows are those only the database could judge.</summary>
public sealed record BatchResult(long Inserted, long Updated, long Unchanged, IReadOnlyList<(StagedRow Row, FieldError Problem)> Rejected);

/// <summary>
/// Writes batches of validated rows on one connection. Per batch, in one transaction: binary COPY
/// into a temporary staging table, then a single INSERT … ON CONFLICT DO UPDATE … WHERE (the row
/// differs) into incidents. Rows that differ in nothing are not updated at all, so they get no new
/// version, change or revision; the history triggers record the others under the importer's name.
/// </summary>
public sealed class ImportBatchWriter : IAsyncDisposable
{
    /// <summary>Columns an import writes: exactly those of an <see cref="Incidents.IncidentDraft"/>.</summary>
    private const string Columns = """
        title, summary, event_type, sub_event_type, occurred_at, time_precision, location_name, admin1, admin2,
        country, geo_precision, fatalities_min, fatalities_max, injured_min, injured_max, actors, claimed_by,
        sources, status, tags, external_id, geom
        """;

    private static readonly string Excluded = string.Join(", ", Columns.Split(',', StringSplitOptions.TrimEntries).Select(c => "EXCLUDED." + c));
    private static readonly string Current = string.Join(", ", Columns.Split(',', StringSplitOptions.TrimEntries).Select(c => "i." + c));

    // ON COMMIT DELETE ROWS empties the table at each batch's commit, without catalog churn.
    private const string CreateStaging = """
        CREATE TEMP TABLE import_staging (
            line bigint NOT NULL, record bigint NOT NULL,
            title text, summary text, event_type text, sub_event_type text, occurred_at timestamptz, time_precision text,
            location_name text, admin1 text, admin2 text, country text, geo_precision text,
            fatalities_min integer, fatalities_max integer, injured_min integer, injured_max integer,
            actors text[], claimed_by text, sources jsonb, status text, tags text[], external_id text, geom geometry
        ) ON COMMIT DELETE ROWS
        """;

    // The single-write path asks PostGIS the same (ST_IsValidReason) before storing a non-point geometry.
    private const string RejectInvalidGeometry = """
        DELETE FROM import_staging WHERE GeometryType(geom) <> 'POINT' AND NOT ST_IsValid(geom)
        RETURNING record, 'is not valid: ' || ST_IsValidReason(geom)
        """;

    // Upsert keyed by the live external_id index. An existing incident is only updated when an import
    // of the same source created it and something differs; xmax = 0 tells a fresh insert from an update.
    // The owner check is a scalar subquery, one primary-key lookup per conflicting row: as EXISTS the
    // planner may hash every row the source ever imported, once per batch.
    private static readonly string Upsert = $"""
        WITH upserted AS (
            INSERT INTO incidents AS i ({Columns})
            SELECT {Columns} FROM import_staging
            ON CONFLICT (external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL
            DO UPDATE SET ({Columns}) = ({Excluded}), updated_at = now(), version = i.version + 1
            WHERE (SELECT o.source FROM imported_incidents o WHERE o.incident_id = i.id) = @source
              AND ({Current}) IS DISTINCT FROM ({Excluded})
            RETURNING i.id, i.xmax = 0 AS inserted
        ), owned AS (
            INSERT INTO imported_incidents (incident_id, source) SELECT id, @source FROM upserted WHERE inserted
        )
        SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM upserted
        """;

    // After the upsert: rows whose external_id belongs to an incident this source did not import.
    // LATERAL keeps it one index lookup per staged row: the staging table has no statistics, and a
    // planner guessing a hash join would scan every incident.
    private const string ForeignOwned = """
        SELECT s.record, i.id FROM import_staging s
        CROSS JOIN LATERAL (SELECT id FROM incidents WHERE external_id = s.external_id AND deleted_at IS NULL) i
        WHERE (SELECT o.source FROM imported_incidents o WHERE o.incident_id = i.id) IS DISTINCT FROM @source
        """;

    private readonly NpgsqlConnection _connection;
    private readonly ImportOptions _options;

    private ImportBatchWriter(NpgsqlConnection connection, ImportOptions options)
    {
        _connection = connection;
        _options = options;
    }

    public static async Task<ImportBatchWriter> OpenAsync(NpgsqlDataSource dataSource, ImportOptions options, CancellationToken ct)
    {
        var connection = await dataSource.OpenConnectionAsync(ct);
        try
        {
            // A batch of large polygons can take longer than the service's default statement timeout.
            await connection.ExecuteAsync(new CommandDefinition("SET statement_timeout = '10min'; " + CreateStaging, cancellationToken: ct));
            return new ImportBatchWriter(connection, options);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<BatchResult> WriteAsync(IReadOnlyList<StagedRow> rows, CancellationToken ct)
    {
        await using var tx = await _connection.BeginTransactionAsync(ct);
        await _connection.ExecuteAsync(new CommandDefinition(
            "SELECT set_config('incidentmap.actor', @actor, true)", new { actor = _options.Actor }, tx, cancellationToken: ct));
        await CopyAsync(rows, ct);

        var byRecord = rows.ToDictionary(r => r.Record);
        var rejected = new List<(StagedRow, FieldError)>();
        foreach (var (record, reason) in await _connection.QueryAsync<(long, string)>(new CommandDefinition(RejectInvalidGeometry, transaction: tx, cancellationToken: ct)))
            rejected.Add((byRecord[record], new FieldError("geometry", reason)));

        var parameters = new { source = _options.Source };
        var (inserted, updated) = await _connection.QuerySingleAsync<(long, long)>(new CommandDefinition(Upsert, parameters, tx, cancellationToken: ct));
        var untouched = rows.Count - rejected.Count - inserted - updated;
        var foreign = untouched == 0 ? [] : await _connection.QueryAsync<(long, long)>(new CommandDefinition(ForeignOwned, parameters, tx, cancellationToken: ct));
        foreach (var (record, owner) in foreign)
        {
            var row = byRecord[record];
            rejected.Add((row, new FieldError("properties.external_id",
                $"'{row.Draft.ExternalId}' is already incident {owner}, which no import from source '{_options.Source}' created")));
        }
        await tx.CommitAsync(ct);
        return new BatchResult(inserted, updated, rows.Count - rejected.Count - inserted - updated, rejected);
    }

    private async Task CopyAsync(IReadOnlyList<StagedRow> rows, CancellationToken ct)
    {
        await using var copy = await _connection.BeginBinaryImportAsync(
            $"COPY import_staging (line, record, {Columns}) FROM STDIN (FORMAT binary)", ct);
        foreach (var (line, record, d) in rows)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(line, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(record, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(d.Title, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.Summary, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.EventType, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.SubEventType, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.OccurredAt, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(d.TimePrecision, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.LocationName, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.Admin1, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.Admin2, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.Country, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.GeoPrecision, NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.FatalitiesMin, NpgsqlDbType.Integer, ct);
            await WriteAsync(copy, d.FatalitiesMax, NpgsqlDbType.Integer, ct);
            await WriteAsync(copy, d.InjuredMin, NpgsqlDbType.Integer, ct);
            await WriteAsync(copy, d.InjuredMax, NpgsqlDbType.Integer, ct);
            await copy.WriteAsync(d.Actors, NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            await WriteAsync(copy, d.ClaimedBy, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.Sources, NpgsqlDbType.Jsonb, ct);
            await copy.WriteAsync(d.Status, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.Tags, NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.ExternalId!, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(d.Geometry, NpgsqlDbType.Geometry, ct);
        }
        await copy.CompleteAsync(ct);
    }

    private static Task WriteAsync(NpgsqlBinaryImporter copy, string? value, NpgsqlDbType type, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);

    private static Task WriteAsync(NpgsqlBinaryImporter copy, int? value, NpgsqlDbType type, CancellationToken ct) =>
        value is { } number ? copy.WriteAsync(number, type, ct) : copy.WriteNullAsync(ct);

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}
