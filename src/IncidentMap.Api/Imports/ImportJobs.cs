using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Npgsql;

namespace IncidentMap.Api.Imports;

/// <summary>An import job as <c>GET /collections/incidents/imports/{id}</c> shows it.</summary>
public sealed record ImportJobDoc(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("created_by")] string? CreatedBy,
    [property: JsonPropertyName("bytes_read")] long BytesRead,
    [property: JsonPropertyName("bytes_total")] long BytesTotal,
    [property: JsonPropertyName("progress")] double Progress,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt,
    [property: JsonPropertyName("finished_at")] DateTime? FinishedAt,
    [property: JsonPropertyName("report")] ImportReport Report);

/// <summary>
/// Imports that run after their request has been answered. The upload is spooled to a temporary
/// file first (<see cref="ImportSpool"/>, so a slow client never holds a database transaction open), then
/// imported in the background while the job row is updated every second. Each batch adds the rows it
/// stored to the job's counts in its own transaction (<see cref="ImportOptions.Job"/>), so the counts are
/// those of the rows committed, whenever the process ends. The spool is local to this process: when the
/// host begins stopping, a running job stops at a batch boundary (<see cref="ImportStop"/>) and is
/// recorded as failed, saying how far it got and that the file must be sent again; a job whose row has
/// not been updated for <see cref="StaleAfter"/> lost its process otherwise (killed) and reads as failed,
/// and the next start of the service removes the spools such a process left (<see cref="ImportSpool.RemoveStray"/>).
/// </summary>
public sealed partial class ImportJobs(NpgsqlDataSource dataSource, Importer importer, ImportStop stop, ILogger<ImportJobs> logger) : IHostedService
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(2);

    private static readonly JsonSerializerOptions Json = new();

    private readonly CancellationTokenSource _aborting = new();
    private readonly ConcurrentDictionary<long, Task> _running = new();

    /// <summary>Creates the job for a spooled upload and starts it; the job disposes of the spool (which deletes it) when done.</summary>
    public async Task<long> StartJobAsync(FileStream spool, ImportOptions options, Action finished, CancellationToken ct)
    {
        long id;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
            id = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
                INSERT INTO import_jobs (format, created_by, bytes_total, report) VALUES (@format, @actor, @bytes, @report::jsonb)
                RETURNING id
                """, new
                {
                    format = options.Format.ToString().ToLowerInvariant(), actor = options.Actor, bytes = spool.Length,
                    // The source asked for is the job's from its first answer (a default one is known once the file is read).
                    report = JsonSerializer.Serialize(new ImportReport(options.Source, 0, 0, 0, 0, 0, [], 0, null), Json),
                },
                cancellationToken: ct));
        _running[id] = Task.Run(async () =>
        {
            try
            {
                await RunAsync(id, spool, options with { Job = id });
            }
            finally
            {
                _running.TryRemove(id, out _);
                finished();
            }
        }, CancellationToken.None);
        return id;
    }

    private async Task RunAsync(long id, FileStream spool, ImportOptions options)
    {
        var tally = new ImportTally();
        string status;
        ImportReport report;
        try
        {
            await using var file = spool;
            var import = importer.RunAsync(file, options, tally, _aborting.Token, stop);
            while (await Task.WhenAny(import, Task.Delay(Heartbeat)) != import)
                await UpdateAsync(id, "running", tally, tally.ToReport() with { RejectedRows = [] });
            report = await import;
            status = report.Error is null ? "succeeded" : "failed";
            if (report.Error is { Field: ImportReport.StoppedField } stopped)
                logger.LogWarning("Import job {Id} ({Source}, by {Actor}) {Reason}", id, report.Source, options.Actor, stopped.Reason);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Import job {Id} failed", id);
            var reason = e is OperationCanceledException ? "the server stopped during the import; import the file again (imports are idempotent)"
                : e is NpgsqlException ? "the database failed during the import; import the file again (imports are idempotent)"
                : "an unexpected error stopped the import; it has been logged";
            report = tally.ToReport() with { Error = new ImportProblem(0, tally.Rows, "job", null, reason) };
            status = "failed";
        }
        try
        {
            await UpdateAsync(id, status, tally, report);
        }
        catch (PostgresException e)
        {
            // The report itself was refused: the job still ends, with its counts and the reason, rather
            // than reading "running" until it looks abandoned.
            logger.LogError(e, "Could not store the report of import job {Id}; storing its counts only", id);
            try
            {
                await UpdateAsync(id, "failed", tally, tally.ToReport() with
                {
                    RejectedRows = [],
                    Error = new ImportProblem(0, tally.Rows, "job", null, "the import's report could not be stored; it has been logged"),
                });
            }
            catch (Exception again) when (again is NpgsqlException or OperationCanceledException)
            {
                logger.LogError(again, "Could not record the end of import job {Id}", id);
            }
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Could not record the end of import job {Id}", id);
        }
    }

    /// <summary>
    /// The job's row as the tally has it, but for the counts of stored rows, which the batches keep in their own
    /// transactions: the tally learns of a batch only after its commit, so its counts can be behind, never ahead.
    /// </summary>
    private async Task UpdateAsync(long id, string status, ImportTally tally, ImportReport report)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            UPDATE import_jobs SET status = @status, bytes_read = @bytes, updated_at = now(),
                   report = @report::jsonb || jsonb_strip_nulls(jsonb_build_object(
                       'inserted', report -> 'inserted', 'updated', report -> 'updated', 'unchanged', report -> 'unchanged')),
                   finished_at = CASE WHEN @status = 'running' THEN NULL ELSE now() END
            WHERE id = @id
            """, new { id, status, bytes = tally.BytesRead(), report = Storable(JsonSerializer.Serialize(report, Json)) });
    }

    /// <summary>
    /// The report as jsonb takes it: a reason may quote the file's own bytes, and jsonb refuses the NUL
    /// character (<c>\u0000</c>, 22P05), which a CSV cell can hold. Each escaped NUL becomes U+FFFD, the
    /// replacement character; an escaped backslash before "u0000" (an even run of backslashes) is text, not a NUL.
    /// </summary>
    internal static string Storable(string json) => EscapedNul().Replace(json, m => m.Groups[1].Value + "\\uFFFD");

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<!\\)((?:\\\\)*)\\u0000")]
    private static partial System.Text.RegularExpressions.Regex EscapedNul();

    public async Task<ImportJobDoc?> GetAsync(long id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<JobRow>(new CommandDefinition("""
            SELECT id, status, format, created_by AS createdby, bytes_read AS bytesread, bytes_total AS bytestotal, report::text AS report,
                   created_at AS createdat, updated_at AS updatedat, finished_at AS finishedat, now() - updated_at > @stale AS stale
            FROM import_jobs WHERE id = @id
            """, new { id, stale = StaleAfter }, cancellationToken: ct));
        if (row is null) return null;
        var report = row.Report == "{}"
            ? new ImportReport(null, 0, 0, 0, 0, 0, [], 0, null)
            : JsonSerializer.Deserialize<ImportReport>(row.Report, Json)!;
        var status = row.Status;
        if (status == "running" && row.Stale)
        {
            status = "failed";
            report = report with { Error = new ImportProblem(0, report.Rows, "job", null,
                "interrupted: the server running it stopped; import the file again (imports are idempotent)") };
        }
        // The share of the upload read. Rows are written behind the reader (a few batches per
        // writer), so a running job stays below 1 until its last rows are stored.
        var progress = row.BytesTotal == 0 ? 1 : Math.Round((double)row.BytesRead / row.BytesTotal, 4);
        if (status == "running") progress = Math.Min(progress, 0.99);
        return new ImportJobDoc(row.Id, status, row.Format, row.CreatedBy, row.BytesRead, row.BytesTotal, progress,
            row.CreatedAt, row.UpdatedAt, row.FinishedAt, report);
    }

    /// <summary>Removes the spools that processes killed during their jobs left behind.</summary>
    public Task StartAsync(CancellationToken ct)
    {
        if (ImportSpool.RemoveStray() is > 0 and var removed)
            logger.LogInformation("Removed {Count} upload(s) that import jobs of a stopped process left in {Folder}", removed, Path.GetTempPath());
        return Task.CompletedTask;
    }

    /// <summary>
    /// Waits for the running jobs, which were asked to stop as soon as the host began stopping: this runs
    /// only once the server has drained its requests. Past the host's shutdown timeout, the batches they
    /// are still writing are cancelled.
    /// </summary>
    public async Task StopAsync(CancellationToken ct)
    {
        using var abort = ct.Register(_aborting.Cancel);
        await Task.WhenAll(_running.Values).WaitAsync(ct).ContinueWith(_ => { }, CancellationToken.None);
    }

    private sealed class JobRow
    {
        public long Id { get; set; }
        public string Status { get; set; } = "";
        public string Format { get; set; } = "";
        public string? CreatedBy { get; set; }
        public long BytesRead { get; set; }
        public long BytesTotal { get; set; }
        public string Report { get; set; } = "{}";
        public DateTime CreatedAt { get; set; }
        public DateTime UpdatedAt { get; set; }
        public DateTime? FinishedAt { get; set; }
        public bool Stale { get; set; }
    }
}
