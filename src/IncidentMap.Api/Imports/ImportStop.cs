namespace IncidentMap.Api.Imports;

/// <summary>
/// Asks running imports to stop at a batch boundary, and says why in their reports. Cancelling an
/// import's token would roll back the batches being written and leave no report; a stop lets each
/// writer commit the batch it has begun, drops the rest, and reports the first row left unimported
/// (<see cref="ImportReport.StoppedField"/>). Imports are idempotent by (source, external_id), so
/// importing the same file again completes a stopped one. The service's stop is requested when the
/// host begins stopping (<see cref="ImportsApi.AddIncidentImports"/>), the import command's by a signal.
/// </summary>
/// <param name="remedy">What completes the import, as the report ends: "send the same file again to complete the import".</param>
public sealed class ImportStop(string remedy)
{
    private readonly CancellationTokenSource _requested = new();
    private string? _cause;

    public CancellationToken Token => _requested.Token;

    /// <summary>Asks every import watching <see cref="Token"/> to stop. The first cause is the one reported.</summary>
    /// <param name="cause">How the report's reason goes on from "stopped": "because the server is shutting down", "by SIGINT (Ctrl+C)".</param>
    /// <returns>False when a stop had already been asked for.</returns>
    public bool Request(string cause)
    {
        if (Interlocked.CompareExchange(ref _cause, cause, null) is not null) return false;
        _requested.Cancel();
        return true;
    }

    /// <summary>The reason of a stopped import's report, which stopped before row <paramref name="record"/> (at <paramref name="line"/>).</summary>
    internal string Reason(long line, long record, ImportTally tally) => Describe($"stopped {_cause}", line, record, tally);

    /// <summary>
    /// The reason of the report of an import that ended part-way at a batch boundary: asked to stop, or failed
    /// in the database (<see cref="ImportFailure"/>). Either way importing the same file again completes it.
    /// </summary>
    /// <param name="ended">How it ended: "stopped by SIGTERM", "failed because …".</param>
    internal string Describe(string ended, long line, long record, ImportTally tally) =>
        $"{ended}, before line {line} (row {record}): every row before it was imported, later ones in part " +
        $"({tally.Inserted + tally.Updated + tally.Unchanged} rows stored, {tally.Rejected} rejected); " +
        $"{remedy} (the rows already stored come back unchanged)";
}
