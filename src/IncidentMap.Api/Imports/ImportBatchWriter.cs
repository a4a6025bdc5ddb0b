using Dapper;
using Npgsql;

namespace IncidentMap.Api.Imports;

/// <summary>What one batch did; rejected rows are those only the database could judge.</summary>
internal sealed record BatchResult(long Inserted, long Updated, long Unchanged, IReadOnlyList<ImportProblem> Rejected);

/// <summary>
/// Writes batches of validated rows on one connection. Per batch, two transactions. The first
/// stages it (<see cref="StageAsync"/>): binary COPY into a temporary staging table, and what can be
/// judged there (invalid shapes, place fields filled from the point, repeated keys). The second
/// stores it (<see cref="StoreAsync"/>): one statement finds the incidents the staged rows already
/// are, leaves alone those that differ in nothing (no version, change or revision, and no row lock
/// either) or belong to another source, inserts the new ones (not those whose incident of this source
/// an editor deleted, checked in the same statement, and again after it: <see cref="Revived"/>) and
/// upserts the changed ones, taking their keys in order (<see cref="InKeyOrder"/>). New incidents carry
/// the source as their owner (incidents.import_source, migration 0012). The feed and history triggers
/// (one statement each, see migrations 0010 and 0012) record the written rows under the importer's name.
/// </summary>
/// <remarks>
/// Why two transactions: the change feed orders changes by transaction id (docs/change-feed.md), and
/// a transaction takes its id at its first write, temporary tables included. In one transaction the
/// batch took it at the COPY, before reverse geocoding that can take seconds; an import that began
/// later could create incidents and commit meanwhile, and this batch's updates of them, made after,
/// then came before their creation in the feed. The storing transaction takes its id as its one
/// statement begins writing, after its snapshot: any incident it sees committed has a smaller id.
/// </remarks>
internal sealed class ImportBatchWriter : IAsyncDisposable
{
    /// <summary>Columns an import writes: exactly those of an <see cref="Incidents.IncidentDraft"/>.</summary>
    private const string Columns = CopyRows.DraftColumns;

    private static readonly string[] ColumnNames = Columns.Split(',', StringSplitOptions.TrimEntries);

    private static readonly string Current = Prefixed("i.");
    private static readonly string Staged = AsStored("s.", "i.");
    private static readonly string Excluded = AsStored("EXCLUDED.", "i.");

    private static string Prefixed(string prefix) => string.Join(", ", ColumnNames.Select(c => prefix + c));

    /// <summary>
    /// The staged row (or EXCLUDED) as it would be stored over the incident <paramref name="current"/>: a row that
    /// restates the incident's point and derives nothing itself keeps what geocoding derived for the incident, less
    /// what the row changed, as a PUT of what a client read does (IncidentsApi.ReplacedPlace, WithStoredPlace): a place
    /// name it changes is its own (and a country or admin1 settles country_undecided), a new location_name unlinks the
    /// place, and a geo_precision other than the stored one is its own. So an export imported back changes nothing, and
    /// one with a name edited keeps the other marks (it dropped them all, and the place link, so a later move of the
    /// point left the old place's names).
    /// </summary>
    private static string AsStored(string staged, string current)
    {
        // A country changed is left as before (the row's own names, no marks): a PUT then forgets the names derived in
        // the old country and derives them again (IncidentsApi.ForgetOutdatedDerivations), which this does not do.
        string Changed(string column) => $"{staged}{column} IS DISTINCT FROM {current}{column}";
        // Nor a point geocoded from the names, when a name changed: a PUT geocodes the new name again (review).
        var samePoint = $"(cardinality({staged}derived_fields) = 0 AND {staged}geom = {current}geom AND NOT ({Changed("country")}) " +
                        $"AND NOT ('geometry' = ANY({current}derived_fields) AND ({Changed("location_name")} OR {Changed("admin1")})))";
        var marks = $"""
            CASE WHEN cardinality({current}derived_fields) = 0 THEN {current}derived_fields ELSE ARRAY(
                SELECT m FROM unnest({current}derived_fields) WITH ORDINALITY AS u(m, o)
                WHERE NOT (m = 'location_name' AND {Changed("location_name")}) AND NOT (m = 'admin1' AND {Changed("admin1")})
                  AND NOT (m = 'geo_precision' AND {Changed("geo_precision")})
                  AND NOT (m = '{Places.Geocoding.CountryUndecided}' AND {Changed("admin1")})
                ORDER BY o) END
            """;
        return string.Join(", ", ColumnNames.Select(c => c switch
        {
            "place_id" => $"CASE WHEN {samePoint} AND NOT ({Changed("location_name")}) THEN {current}place_id ELSE {staged}place_id END",
            "derived_fields" => $"CASE WHEN {samePoint} THEN {marks} ELSE {staged}derived_fields END",
            _ => staged + c,
        }));
    }

    // Kept from the staging transaction to the storing one (see the remarks above), and emptied as each
    // batch is staged. TRUNCATE gives the table a new file (a catalog row, a fraction of a millisecond per batch);
    // DELETE would leave dead rows that nothing vacuums (temporary tables are not autovacuumed).
    private const string CreateStaging = """
        CREATE TEMP TABLE import_staging (
            line bigint NOT NULL, record bigint NOT NULL, gives_precision boolean NOT NULL,
            title text, summary text, event_type text, sub_event_type text, occurred_at timestamptz, time_precision text,
            location_name text, admin1 text, admin2 text, admin3 text, country text, geo_precision text,
            fatalities_min integer, fatalities_max integer, injured_min integer, injured_max integer,
            actors text[], claimed_by text, sources jsonb, status text, tags text[], external_id text, geom geometry,
            place_id bigint, derived_fields text[]
        )
        """;

    // A crash loses temporary rows anyway: the staging transaction's commit need not wait for the WAL
    // (TRUNCATE writes a catalog row, which would make it wait).
    private const string EmptyStaging = "SET LOCAL synchronous_commit = off; TRUNCATE import_staging";

    // The external_ids this connection has written or judged so far in this import, with the line
    // and record each first came on. ImportLanes sends every row of one external_id to the same
    // lane, so one connection sees them all. Kept by the database, which spills what does not fit
    // in temp_buffers to disk: the importer's memory stays flat however many rows a file has.
    // refused: the database left that first row unwritten (NotWritten), so a repeat of it is not told it is imported.
    private const string CreateSeen = """
        CREATE TEMP TABLE import_seen (external_id text COLLATE "C" PRIMARY KEY, record bigint NOT NULL, line bigint NOT NULL, refused boolean NOT NULL DEFAULT false)
        """;

    // A file holds each incident once: applied in turn, two rows of one external_id would update
    // the incident at every import of the file, where a second import must change nothing. The
    // first valid row of each external_id is remembered (ON CONFLICT DO NOTHING keeps the earliest,
    // earlier batches' or this one's); every other row of it is rejected naming that first line.
    private const string Remember = """
        INSERT INTO import_seen (external_id, record, line)
        SELECT external_id, record, line FROM import_staging ORDER BY record
        ON CONFLICT (external_id) DO NOTHING
        """;

    // Only when Remember left some staged row out, i.e. the batch has a repeat. Scalar subqueries, not a join: one
    // probe of import_seen's key per staged row. Joined, the planner hashed the whole of import_seen for every batch,
    // up to 350 ms a batch late in a million-row file (import_seen has no statistics, as no temporary table has).
    private const string RejectRepeated = """
        DELETE FROM import_staging s
        WHERE s.record <> (SELECT k.record FROM import_seen k WHERE k.external_id = s.external_id)
        RETURNING s.line, s.record, s.external_id,
                  (SELECT k.line FROM import_seen k WHERE k.external_id = s.external_id),
                  (SELECT k.record FROM import_seen k WHERE k.external_id = s.external_id),
                  (SELECT k.refused FROM import_seen k WHERE k.external_id = s.external_id)
        """;

    // The rows NotWritten names, which are the first of their keys (RejectRepeated took the others out): only in
    // batches that have such rows, which are rare, so no work per row.
    private const string RememberRefused = "UPDATE import_seen SET refused = true WHERE external_id = ANY(@keys)";

    // Whether the staged row's key is an incident of this source that an editor deleted: one probe in the index
    // of deleted keys (migration 0017), which holds deleted incidents only. An import keeps such an incident
    // deleted (when no live incident has taken the key since: then that one decides).
    private static string DeletedOfSource(string staged) =>
        $"SELECT FROM incidents d WHERE d.external_id = {staged}external_id AND d.import_source = @source AND d.deleted_at IS NOT NULL";

    // Reverse geocoding as single writes do it (Geocoding.ReverseAsync runs the same function), for
    // the staged rows that lack a place field, in one statement: before the rows are compared with the
    // stored incidents, so a second import of the file changes nothing. A row that says nothing of its
    // incident's place but what is stored (the same point, each place name the stored one, or left out
    // where the stored one was derived) keeps what was derived for the incident (kept): places added to
    // the gazetteer since (a nearer one) would otherwise make every such row of a file imported again a
    // new version (audit). That includes a row that restates its incident's point and place names, as a
    // PUT of what a client read keeps what was derived (AsStored). A row that leaves out a geo_precision derived for
    // its incident keeps that too (a PUT derives it again from the place: the same); one that gives a precision other
    // than the stored one makes it its own, no longer marked derived (IncidentsApi.WithStoredPlace). The row's draft says
    // "exact" for a precision left out, so gives_precision tells the two apart. (It took "exact" and kept the mark: a
    // geocoded incident's point imported back became a new version, "exact" yet still marked derived.)
    private const string FillPlaces = $"""
        WITH kept AS (
            UPDATE import_staging s SET (location_name, admin1, country, place_id, geo_precision, derived_fields) = (
                SELECT i.location_name, i.admin1, i.country, i.place_id, p.geo_precision,
                       CASE WHEN p.geo_precision IS DISTINCT FROM i.geo_precision
                            THEN array_remove(i.derived_fields, 'geo_precision') ELSE i.derived_fields END
                FROM incidents i
                CROSS JOIN LATERAL (SELECT CASE WHEN NOT s.gives_precision AND 'geo_precision' = ANY (i.derived_fields)
                                                THEN i.geo_precision ELSE s.geo_precision END AS geo_precision) p
                WHERE i.external_id = s.external_id AND i.deleted_at IS NULL)
            WHERE (s.location_name IS NULL OR s.admin1 IS NULL OR s.country IS NULL) AND cardinality(s.derived_fields) = 0
              -- Scalar subqueries, not a join: the planner cannot turn them into one that scans every incident.
              AND (SELECT i.id FROM incidents i
                   WHERE i.external_id = s.external_id AND i.deleted_at IS NULL AND i.geom = s.geom
                     AND (s.location_name IS NOT DISTINCT FROM i.location_name OR (s.location_name IS NULL AND 'location_name' = ANY (i.derived_fields)))
                     AND (s.admin1 IS NOT DISTINCT FROM i.admin1 OR (s.admin1 IS NULL AND 'admin1' = ANY (i.derived_fields)))
                     AND (s.country IS NOT DISTINCT FROM i.country OR (s.country IS NULL AND 'country' = ANY (i.derived_fields)))) IS NOT NULL
            RETURNING s.record
        )
        UPDATE import_staging s SET (location_name, admin1, country, place_id, derived_fields) = (
            SELECT f.location_name, f.admin1, f.country, f.place_id, f.derived_fields
            FROM incident_place_fill(s.geom, s.location_name, s.admin1, s.country, s.place_id, s.derived_fields, {Places.Gazetteer.FillThresholds}) f)
        WHERE (s.location_name IS NULL OR s.admin1 IS NULL OR s.country IS NULL)
          AND s.record NOT IN (SELECT record FROM kept)
        """;

    // The single-write path asks PostGIS the same (ST_IsValidReason) before storing a non-point geometry.
    private const string RejectInvalidGeometry = """
        DELETE FROM import_staging WHERE GeometryType(geom) <> 'POINT' AND NOT ST_IsValid(geom)
        RETURNING line, record, 'is not valid: ' || ST_IsValidReason(geom)
        """;

    // existing: the live incident of each staged external_id, whether an import of this source owns
    // it and whether it already equals the staged row. Those are settled without writing: an
    // unchanged row is counted, a foreign one rejected. Only new and changed rows are written, so
    // re-importing a file neither updates nor even locks its rows.
    // LATERAL and scalar subqueries keep every lookup one index probe per staged row: the staging
    // table has no statistics, and a planner guessing a hash join would scan every incident.
    // edited: an editor changed the incident since this source's import last wrote it (migration
    // 0018); the import keeps the editor's version and names the row, unless the file agrees with it.
    private const string EditedSince = "i.version <> coalesce(i.imported_version, i.version)";

    private static readonly string Existing = $"""
        existing AS MATERIALIZED (
            SELECT s.record, i.import_source IS NOT DISTINCT FROM @source AS ours,
                   ({Current}) IS NOT DISTINCT FROM ({Staged}) AS same,
                   {EditedSince} AS edited
            FROM import_staging s
            CROSS JOIN LATERAL (SELECT * FROM incidents i WHERE i.external_id = s.external_id AND i.deleted_at IS NULL) i
        )
        """;

    // Both inserts take their rows in the order of their keys (bytewise: cheaper to sort than by a
    // language's collation, and the same in every database): each key's row lock, or the entry in the
    // unique index a concurrent writer of the same key waits for, is taken in that order, so two
    // batches of the same keys (two imports at once, one of a file in another order) wait for each
    // other instead of deadlocking.
    private const string InKeyOrder = "ORDER BY external_id COLLATE \"C\"";

    // The upsert keeps its own owner and difference checks: a concurrent writer may have stored
    // the key since this statement's snapshot, and ON CONFLICT sees it. xmax = 0 tells a fresh
    // insert from an update.
    private static string Upserted(string rows) => $"""
        upserted AS (
            INSERT INTO incidents AS i ({Columns}, import_source, imported_version)
            SELECT {Columns}, @source, 1 FROM import_staging s
            WHERE {rows}
            {InKeyOrder}
            ON CONFLICT (external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL
            DO UPDATE SET ({Columns}) = ({Excluded}), updated_at = now(), version = i.version + 1, imported_version = i.version + 1
            WHERE i.import_source = @source AND NOT {EditedSince}
              AND ({Current}) IS DISTINCT FROM ({Excluded})
            RETURNING i.id, i.xmax = 0 AS inserted
        )
        """;

    private const string Counts = """
        (SELECT count(*) FROM existing WHERE ours AND same) AS unchanged,
        (SELECT count(*) FROM existing WHERE NOT ours) AS foreign,
        (SELECT count(*) FROM existing WHERE ours AND NOT same AND edited) AS edited
        """;

    // Every row goes through ON CONFLICT: right whatever concurrent writers do.
    private static readonly string Upsert = $"""
        WITH {Existing}, {Upserted("record NOT IN (SELECT record FROM existing WHERE same OR NOT ours OR edited) " +
                                   $"AND (record IN (SELECT record FROM existing) OR NOT EXISTS ({DeletedOfSource("s.")}))")}
        SELECT (SELECT count(*) FROM upserted WHERE inserted) AS inserted,
               (SELECT count(*) FROM upserted WHERE NOT inserted) AS updated,
               {Counts}
        """;

    // The usual case, tried first: keys that no live incident had in this statement's snapshot are
    // inserted plainly, skipping ON CONFLICT's speculative insertion (3 µs of PostgreSQL CPU a row
    // in a clean import). Should a concurrent writer store one of those keys
    // meanwhile, the unique index refuses the insert (23505) and the batch falls back to Upsert.
    private static readonly string InsertThenUpsert = $"""
        WITH {Existing}, fresh AS (
            INSERT INTO incidents ({Columns}, import_source, imported_version)
            SELECT {Columns}, @source, 1 FROM import_staging s
            WHERE record NOT IN (SELECT record FROM existing) AND NOT EXISTS ({DeletedOfSource("s.")})
            {InKeyOrder}
            RETURNING 1
        ), {Upserted("record IN (SELECT record FROM existing WHERE ours AND NOT same AND NOT edited)")}
        SELECT (SELECT count(*) FROM fresh) + (SELECT count(*) FROM upserted WHERE inserted) AS inserted,
               (SELECT count(*) FROM upserted WHERE NOT inserted) AS updated,
               {Counts}
        """;

    // The staged rows left unwritten: their external_id is an incident that no import of this source
    // created (foreign), or one of its own that an editor changed since and the file does not agree with,
    // or one of its own that an editor deleted (the latest, when the key was deleted more than once).
    private static readonly string NotWritten = $"""
        SELECT s.line, s.record, s.external_id, i.id, i.version, i.import_source IS DISTINCT FROM @source AS foreign, NULL::timestamptz AS deleted_at
        FROM import_staging s
        CROSS JOIN LATERAL (SELECT * FROM incidents i WHERE i.external_id = s.external_id AND i.deleted_at IS NULL) i
        WHERE i.import_source IS DISTINCT FROM @source OR ({EditedSince} AND ({Current}) IS DISTINCT FROM ({Staged}))
        UNION ALL
        SELECT s.line, s.record, s.external_id, d.id, d.version, false, d.deleted_at
        FROM import_staging s
        CROSS JOIN LATERAL (
            SELECT id, version, deleted_at FROM incidents d
            WHERE d.external_id = s.external_id AND d.import_source = @source AND d.deleted_at IS NOT NULL
            ORDER BY d.deleted_at DESC LIMIT 1) d
        WHERE NOT EXISTS (SELECT FROM incidents l WHERE l.external_id = s.external_id AND l.deleted_at IS NULL)
        """;

    // Incidents this transaction created (version 1, its xmin: the storing transaction has no subtransactions)
    // whose key is an incident of this source that an editor deleted. The write's own check sees the deletions
    // committed before its snapshot; one that commits while the statement runs frees the key in the unique index
    // of live incidents, which then lets the insert through. Every such deletion has committed by the end of the
    // statement (an insert meeting a key whose deletion is in progress waits for it), so this later look sees it.
    private static readonly string Revived = $"""
        SELECT EXISTS (
            SELECT FROM import_staging s
            WHERE EXISTS ({DeletedOfSource("s.")})
              AND EXISTS (SELECT FROM incidents n WHERE n.external_id = s.external_id AND n.deleted_at IS NULL
                            AND n.version = 1 AND n.xmin = xid(pg_current_xact_id_if_assigned())))
        """;

    // The rows a batch stored, added to its import job's counts in the batch's transaction (ImportOptions.Job),
    // so that they are those of the committed rows whenever the process ends. Last before the commit: batches
    // of the job's writers update its one row, and each holds its lock only while committing.
    private const string CountInJob = """
        UPDATE import_jobs SET report = report || jsonb_build_object(
            'inserted', coalesce((report ->> 'inserted')::bigint, 0) + @inserted,
            'updated', coalesce((report ->> 'updated')::bigint, 0) + @updated,
            'unchanged', coalesce((report ->> 'unchanged')::bigint, 0) + @unchanged)
        WHERE id = @job
        """;

    private readonly NpgsqlConnection _connection;
    private readonly ImportOptions _options;
    private readonly string? _keyColumn;
    private readonly int _commandTimeout;
    private readonly ILogger _logger;

    private ImportBatchWriter(NpgsqlConnection connection, ImportOptions options, string? keyColumn, int commandTimeout, ILogger logger)
    {
        _connection = connection;
        _options = options;
        _keyColumn = keyColumn;
        _commandTimeout = commandTimeout;
        _logger = logger;
    }

    /// <param name="keyColumn">The file's column of external_id (CSV), named in rejections.</param>
    /// <param name="batchTimeout">How long a batch's statement may run (<see cref="ImportSettings.BatchTimeout"/>).</param>
    public static async Task<ImportBatchWriter> OpenAsync(NpgsqlDataSource dataSource, ImportOptions options, string? keyColumn, TimeSpan batchTimeout,
        ILogger logger, CancellationToken ct)
    {
        // The database's own timeout ends a statement and leaves the connection usable; the client's, a little later,
        // is there for a database that no longer answers. Every command of a batch passes it: Npgsql's default (30 s)
        // would break the connection under a batch that waits for locks or indexes large shapes.
        var commandTimeout = (int)Math.Ceiling((batchTimeout + TimeSpan.FromSeconds(30)).TotalSeconds);
        var connection = await dataSource.OpenConnectionAsync(ct);
        try
        {
            // work_mem: a batch's rows are sorted by key (InKeyOrder), a few megabytes, which PostgreSQL's default (4 MB) would sort on disk.
            await connection.ExecuteAsync(new CommandDefinition(
                $"SET statement_timeout = {(long)batchTimeout.TotalMilliseconds}; SET work_mem = '32MB'; {CreateStaging}; {CreateSeen}",
                commandTimeout: commandTimeout, cancellationToken: ct));
            return new ImportBatchWriter(connection, options, keyColumn, commandTimeout, logger);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<BatchResult> WriteAsync(CopyRows rows, CancellationToken ct)
    {
        var (rejected, repeats) = await StageAsync(rows, ct);
        var (outcome, notWritten) = await StoreAsync(rows.Count - rejected.Count - repeats.Count, ct);
        // A repeat is told the fate of the first row of its key, which may be in this very batch.
        var refused = notWritten.Select(p => p.Record).ToHashSet();
        rejected.AddRange(repeats.Select(r => Repeated(r, r.FirstRefused || refused.Contains(r.FirstRecord))));
        rejected.AddRange(notWritten);
        return new BatchResult(outcome.Inserted, outcome.Updated, rows.Count - rejected.Count - outcome.Inserted - outcome.Updated, rejected);
    }

    /// <summary>A row whose external_id an earlier row of the file has; its first row, and whether the database refused that one.</summary>
    private sealed record Repeat(long Line, long Record, string ExternalId, long FirstLine, long FirstRecord, bool FirstRefused);

    private ImportProblem Repeated(Repeat r, bool firstRefused) =>
        new(r.Line, r.Record, "properties.external_id", _keyColumn, (firstRefused
            ? $"'{r.ExternalId}' is on line {r.FirstLine} of this file already, which was rejected; a file holds each incident once, so this row is not imported either"
            : $"'{r.ExternalId}' is on line {r.FirstLine} of this file already; a file holds each incident once (the first is imported)")
            + (_keyColumn == AcledLayout.KeyColumn ? MonadicHint : ""));

    /// <summary>
    /// Why an ACLED file repeats an event id, as it almost always does: ACLED's "monadic" export has one row
    /// per actor of each event (the same event_id_cnty on consecutive rows, differing in the actor columns),
    /// where the importer reads the dyadic one, a row per event with both actors. (Only an ACLED export has
    /// the key column event_id_cnty: its header picks <see cref="AcledLayout"/>.)
    /// </summary>
    internal const string MonadicHint =
        ". This looks like ACLED's monadic export (one row per actor of each event): download the dyadic export (one row per event, both actors on it) and import that, or each event keeps only its first row's actors";

    /// <summary>The batch into the staging table, in a transaction that writes no incident; the rows it rejects, and the repeated keys it took out.</summary>
    private async Task<(List<ImportProblem> Rejected, List<Repeat> Repeats)> StageAsync(CopyRows rows, CancellationToken ct)
    {
        await using var tx = await _connection.BeginTransactionAsync(ct);
        await _connection.ExecuteAsync(Command(EmptyStaging, null, tx, ct));
        await using (var copy = await _connection.BeginRawBinaryCopyAsync($"COPY import_staging (line, record, gives_precision, {Columns}) FROM STDIN (FORMAT binary)", ct))
        {
            copy.WriteTimeout = copy.ReadTimeout = _commandTimeout * 1000;
            await rows.WriteToAsync(copy, ct);
        }

        var rejected = new List<ImportProblem>();
        if (rows.HasShapes)
            foreach (var (line, record, reason) in await _connection.QueryAsync<(long, long, string)>(Command(RejectInvalidGeometry, null, tx, ct)))
                rejected.Add(new ImportProblem(line, record, "geometry", null, reason));
        if (rows.LacksPlaceFields)
            await _connection.ExecuteAsync(Command(FillPlaces, Places.Gazetteer.FillParameters, tx, ct));
        // Every staged row remembered means no key came twice, in this batch or before it: nothing to reject.
        var remembered = await _connection.ExecuteAsync(Command(Remember, null, tx, ct));
        List<Repeat> repeats = remembered == rows.Count - rejected.Count
            ? []
            : (await _connection.QueryAsync<(long, long, string, long, long, bool)>(Command(RejectRepeated, null, tx, ct)))
                .Select(r => new Repeat(r.Item1, r.Item2, r.Item3, r.Item4, r.Item5, r.Item6)).ToList();
        await tx.CommitAsync(ct);
        return (rejected, repeats);
    }

    /// <summary>Tries of a batch's storing transaction that deadlocks (or fails to serialize) with other writers.</summary>
    public const int Attempts = 5;

    /// <summary>The <paramref name="staged"/> rows into incidents, in one transaction; the rows it leaves unwritten.</summary>
    private async Task<(UpsertOutcome, List<ImportProblem>)> StoreAsync(long staged, CancellationToken ct)
    {
        var parameters = new { source = _options.Source };
        var conflicts = 0;
        // Again while an editor's deletion slipped past the write (Revived): the next try sees it and keeps the
        // incident deleted. Each try needs another of the batch's keys deleted meanwhile, so this ends.
        while (true)
        {
            UpsertOutcome outcome;
            var tx = await BeginStoringAsync(ct);
            try
            {
                try
                {
                    outcome = await _connection.QuerySingleAsync<UpsertOutcome>(Command(InsertThenUpsert, parameters, tx, ct));
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    // Again in a new transaction, not back to a savepoint: the first one's id predates the commit of
                    // the writer whose key it met, whose incidents the upsert may now update (see the remarks above).
                    await tx.DisposeAsync();
                    tx = await BeginStoringAsync(ct);
                    outcome = await _connection.QuerySingleAsync<UpsertOutcome>(Command(Upsert, parameters, tx, ct));
                }
                if (outcome.Inserted > 0 && await _connection.ExecuteScalarAsync<bool>(Command(Revived, parameters, tx, ct)))
                    continue;
                var rejected = new List<ImportProblem>();
                // Rows of other sources, editor-changed and editor-deleted rows are rare: named by a second look only
                // when there are any, or when rows are left that the upsert did not account for.
                if (outcome.Foreign + outcome.Edited > 0 || outcome.Inserted + outcome.Updated + outcome.Unchanged + outcome.Foreign + outcome.Edited < staged)
                {
                    var keys = new List<string>();
                    foreach (var (line, record, externalId, id, version, foreign, deletedAt) in await _connection.QueryAsync<(long, long, string, long, int, bool, DateTime?)>(
                                 Command(NotWritten, parameters, tx, ct)))
                    {
                        rejected.Add(new ImportProblem(line, record, "properties.external_id", _keyColumn, Unwritten(externalId, id, version, foreign, deletedAt)));
                        keys.Add(externalId);
                    }
                    if (keys.Count > 0) await _connection.ExecuteAsync(Command(RememberRefused, new { keys = keys.ToArray() }, tx, ct));
                }
                if (_options.Job is { } job)
                    await _connection.ExecuteAsync(Command(CountInJob, new
                    {
                        job, inserted = outcome.Inserted, updated = outcome.Updated,
                        unchanged = staged - rejected.Count - outcome.Inserted - outcome.Updated,
                    }, tx, ct));
                await tx.CommitAsync(ct);
                return (outcome, rejected);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure
                                              && ++conflicts < Attempts)
            {
                // Batches lock their keys in one order (InKeyOrder), but a writer of several incidents in
                // another order (an editor's transaction, SQL) or a batch's two inserts can still close a cycle,
                // and PostgreSQL then ends one transaction of it. The batch is one transaction: rolled back
                // and written again, it is as if it had waited. After a pause that another try does not share.
                await tx.DisposeAsync();
                _logger.LogWarning("Import batch from {Source}: {Reason}; trying again ({Try} of {Tries})", _options.Source, e.MessageText, conflicts + 1, Attempts);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(50, 250) * conflicts), ct);
            }
            finally
            {
                await tx.DisposeAsync();
            }
        }
    }

    /// <summary>Why a row <see cref="NotWritten"/> names was left unwritten.</summary>
    private string Unwritten(string externalId, long id, int version, bool foreign, DateTime? deletedAt) =>
        deletedAt is { } deleted
            ? $"'{externalId}' was incident {id}, deleted at {deleted:yyyy-MM-dd'T'HH:mm:ss'Z'}; an import does not bring back a deleted incident"
            : foreign
                ? $"'{externalId}' is already incident {id}, which no import from source '{_options.Source}' created"
                : $"'{externalId}' is incident {id}, changed by an editor (now version {version}) since source '{_options.Source}' last imported it; " +
                  "the import keeps the editor's version (edit it by hand to take the file's)";

    /// <summary>A storing transaction, its changes recorded under the importer's name.</summary>
    private async Task<NpgsqlTransaction> BeginStoringAsync(CancellationToken ct)
    {
        var tx = await _connection.BeginTransactionAsync(ct);
        try
        {
            await _connection.ExecuteAsync(Command("SELECT set_config('incidentmap.actor', @actor, true)", new { actor = _options.Actor }, tx, ct));
            return tx;
        }
        catch
        {
            await tx.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The upsert's counts; <see cref="Foreign"/> rows belong to incidents of another source,
    /// <see cref="Edited"/> ones to this source's incidents that an editor changed since.
    /// </summary>
    private sealed record UpsertOutcome(long Inserted, long Updated, long Unchanged, long Foreign, long Edited);

    /// <summary>A command of a batch, with the batch's timeout.</summary>
    private CommandDefinition Command(string sql, object? parameters, NpgsqlTransaction tx, CancellationToken ct) =>
        new(sql, parameters, tx, _commandTimeout, cancellationToken: ct);

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}
