using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace IncidentMap.Api.Imports;

public enum ImportFormat { Csv, GeoJson, NdJson }

/// <summary>
/// What to import and as whom. <paramref name="Source"/> names the dataset (e.g. <c>acled</c>): an
/// import only ever updates incidents that an import of the same source created. Null means the
/// file's default: <c>acled</c> for an ACLED export, otherwise <c>import</c>.
/// </summary>
/// <param name="Job">The import job (<see cref="ImportJobs"/>) whose counts each batch adds its stored rows to, in its own transaction.</param>
public sealed record ImportOptions(ImportFormat Format, string? Source, string Actor, long? Job = null)
{
    /// <summary>Names of sources (and of API keys): \z, not $, which would also let a name end in a line break.</summary>
    public static readonly Regex SourcePattern = new(@"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}\z", RegexOptions.CultureInvariant);

    /// <summary>The source of a file that is not an ACLED export, when none is given (and of one that could not be read far enough to tell).</summary>
    public const string DefaultSource = "import";

    /// <summary>What <see cref="SourcePattern"/> allows, for the messages that refuse a source.</summary>
    public const string SourceRule = "must be 1 to 100 letters, digits or . _ : - (starting with a letter or digit)";
}

// Every import's problem is made here, and the client's text in it is cut here as a problem's is (FieldError.CutField,
// FieldError.CutDetail): the field and column to 200 characters, each quoted value to 100 and the reason to 1,000, so
// that the synchronous answer, the job's stored report and the import command's report alike stay small. A CSV column
// named by 100,000 characters came back whole three times in one answer (300 KB), and was stored whole in the job's
// row; an NDJSON feature's unknown member name was listed whole in rejected_rows. Cutting again what was cut (a stored
// report read back) changes nothing.
/// <summary>One problem with one row: where it is in the file, which field, why.</summary>
/// <param name="Line">Line of the file where the row starts (CSV header = line 1).</param>
/// <param name="Record">The row's position among the file's rows or features, from 1.</param>
/// <param name="Field">The incident field, as single writes name it (<c>properties.fatalities_min</c>).</param>
/// <param name="Column">For CSV, the column(s) the field was read from.</param>
public sealed record ImportProblem(long Line, long Record, string Field, string? Column, string Reason)
{
    /// <summary>Line of the file where the row starts (CSV header = line 1).</summary>
    [JsonPropertyName("line")] public long Line { get; } = Line;

    /// <summary>The row's position among the file's rows or features, from 1.</summary>
    [JsonPropertyName("record")] public long Record { get; } = Record;

    /// <summary>The incident field, as single writes name it (<c>properties.fatalities_min</c>).</summary>
    [JsonPropertyName("field")] public string Field { get; } = Problems.FieldError.CutField(Field);

    /// <summary>For CSV, the column(s) the field was read from.</summary>
    [JsonPropertyName("column"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Column { get; } = Column is null ? null : Problems.FieldError.CutField(Column);

    [JsonPropertyName("reason")] public string Reason { get; } = Problems.FieldError.CutDetail(Reason);
}

/// <summary>The outcome of an import. <c>Error</c> is set when the import ended part-way: the file stopped being readable, or the import was stopped (field <c>import</c>: the server shutting down, the import command interrupted).</summary>
/// <param name="RejectedRows">Every problem of the first 10,000 rejected rows in file order (fewer rows when they have over 100,000 problems together), by line; a row may have several.</param>
/// <param name="RejectedRowsOmitted">Rejected rows left out of <c>rejected_rows</c> (rows, not problems): all are counted in <c>rejected</c>.</param>
public sealed record ImportReport(
    [property: JsonPropertyName("source")] string? Source,
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("inserted")] long Inserted,
    [property: JsonPropertyName("updated")] long Updated,
    [property: JsonPropertyName("unchanged")] long Unchanged,
    [property: JsonPropertyName("rejected")] long Rejected,
    [property: JsonPropertyName("rejected_rows")] IReadOnlyList<ImportProblem> RejectedRows,
    [property: JsonPropertyName("rejected_rows_omitted")] long RejectedRowsOmitted,
    [property: JsonPropertyName("error")] ImportProblem? Error)
{
    /// <summary>The field of the <see cref="Error"/> of an import that ended part-way at a batch boundary: asked
    /// to stop (<see cref="ImportStop"/>), or a batch failed in the database (<see cref="ImportFailure"/>).</summary>
    public const string StoppedField = "import";
}

/// <summary>The file cannot be read further (bad header, broken JSON): the import stops at this line.</summary>
public sealed class ImportFormatException(string field, string reason, long line) : Exception($"line {line}: {field} {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
    public long Line { get; } = line;
}

/// <summary>
/// The upload stopped being readable part-way for a reason of its transfer, not of its content: past the body
/// limit, arriving too slowly, broken off. The import ends there, as at a file that cannot be read on, with
/// the rows before it imported. <see cref="Exception.Message"/> says why, as the report's reason for the body.
/// </summary>
public sealed class ImportBodyException(string reason, Exception inner) : IOException(reason, inner);

/// <summary>
/// Live counters of a running import, safe to read from another thread (progress bar, job row)
/// while the import runs. Only the first <see cref="MaxListedRows"/> rejected rows in file order are
/// kept with their problems; the rest are counted, so a file of a million bad rows cannot exhaust memory.
/// </summary>
public sealed class ImportTally
{
    /// <summary>Rejected rows a report lists, the first in file order.</summary>
    public const int MaxListedRows = 10_000;

    /// <summary>Problems of the listed rows together: a row is listed with all its problems, and rows of very many
    /// problems each (a feature of thousands of unknown properties) are listed fewer, so memory stays bounded.</summary>
    public const int MaxListedProblems = 100_000;

    // The listed rows by record, the last in file order on top: rows arrive out of order (the reader rejects
    // rows long before the database stage rejects earlier ones), and a row that arrives before the last
    // listed one takes its place. Every rejected row before _cutoff is listed, none from it on.
    private readonly PriorityQueue<ImportProblem[], long> _listed = new(Comparer<long>.Create((a, b) => b.CompareTo(a)));
    private readonly Lock _gate = new();
    private long _listedProblems;
    private long _cutoff = long.MaxValue;
    private long _omitted;
    private long _rows, _inserted, _updated, _unchanged, _rejected;
    private ImportProblem? _error;
    private (long Line, long Record)? _firstNotImported;
    private (string Cause, Exception Error)? _failure;

    /// <summary>The source the rows are imported under, once the file's layout has decided a default.</summary>
    public string? Source { get; internal set; }

    /// <summary>Bytes of the input read so far (set by the importer; progress by size).</summary>
    public Func<long> BytesRead { get; internal set; } = () => 0;

    /// <summary>
    /// Called with the report just before the importer logs how the import ended: the import command ends its progress
    /// bar's line there, which the log line was glued onto on a terminal.
    /// </summary>
    public Action<ImportReport>? Ending { get; set; }

    public long Rows => Interlocked.Read(ref _rows);
    public long Inserted => Interlocked.Read(ref _inserted);
    public long Updated => Interlocked.Read(ref _updated);
    public long Unchanged => Interlocked.Read(ref _unchanged);
    public long Rejected => Interlocked.Read(ref _rejected);

    internal void RowRead() => Interlocked.Increment(ref _rows);

    internal void Stored(long inserted, long updated, long unchanged)
    {
        Interlocked.Add(ref _inserted, inserted);
        Interlocked.Add(ref _updated, updated);
        Interlocked.Add(ref _unchanged, unchanged);
    }

    /// <summary>Rejects one row for the given problems (at least one, all of that row).</summary>
    internal void Reject(IEnumerable<ImportProblem> problems)
    {
        var row = problems.ToArray();
        var record = row[0].Record;
        Interlocked.Increment(ref _rejected);
        lock (_gate)
        {
            if (record >= _cutoff)
            {
                _omitted++;
                return;
            }
            _listed.Enqueue(row, record);
            _listedProblems += row.Length;
            while (_listed.Count > MaxListedRows || _listedProblems > MaxListedProblems)
            {
                var last = _listed.Dequeue();
                _listedProblems -= last.Length;
                _cutoff = last[0].Record;
                _omitted++;
            }
        }
    }

    /// <summary>A row a stopped import left unimported: one it had read, or the first of a batch no writer began.</summary>
    internal void NotImported(long line, long record)
    {
        lock (_gate)
            if (_firstNotImported is not { } first || record < first.Record) _firstNotImported = (line, record);
    }

    /// <summary>The earliest row left unimported: every row before it was stored or rejected.</summary>
    internal (long Line, long Record)? FirstNotImported
    {
        get { lock (_gate) return _firstNotImported; }
    }

    /// <summary>The database failure that ended the import part-way (<see cref="ImportFailure"/>): the first one, when
    /// several writers failed (a database that went away fails them all).</summary>
    internal (string Cause, Exception Error)? Failure
    {
        get { lock (_gate) return _failure; }
    }

    internal void Failed(string cause, Exception error)
    {
        lock (_gate) _failure ??= (cause, error);
    }

    internal void Fail(ImportProblem error)
    {
        lock (_gate) _error = error;
    }

    public ImportReport ToReport()
    {
        lock (_gate)
        {
            // Rows are rejected by the reader and by the database stage, which run concurrently.
            var listed = _listed.UnorderedItems.OrderBy(row => row.Priority).SelectMany(row => row.Element).ToList();
            return new ImportReport(Source, Rows, Inserted, Updated, Unchanged, Rejected, listed, _omitted, _error);
        }
    }
}
