using System.Text.Json;
using System.Threading.Channels;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using Npgsql;

namespace IncidentMap.Api.Imports;

/// <summary>
/// Bulk import: rows stream from the file, are validated one by one by <see cref="IncidentInput"/>
/// (the rules of single writes), and are upserted by (source, external_id) in batches through
/// <see cref="ImportBatchWriter"/>. Reading and validating the next batch overlaps with writing the
/// previous one; at most three batches (being read, waiting, being written) are in memory, whatever the file's size.
/// </summary>
public sealed class Importer(NpgsqlDataSource dataSource, DataVersion dataVersion, ILogger<Importer> logger)
{
    /// <summary>Rows per batch (one transaction each): large enough for COPY to pay off, small enough
    /// that each transaction is short (the change feed waits for running transactions).</summary>
    public const int BatchSize = 10_000;

    /// <summary>Runs an import to the end and reports it. Rows never fail the import; a file that
    /// cannot be read on ends it with <see cref="ImportReport.Error"/>, after importing the rows before.</summary>
    public async Task<ImportReport> RunAsync(Stream input, ImportOptions options, ImportTally tally, CancellationToken ct)
    {
        var counting = new CountingStream(input);
        tally.BytesRead = () => counting.BytesRead;
        IFeatureSource rows;
        try
        {
            rows = await OpenAsync(counting, options.Format, ct);
        }
        catch (ImportFormatException e)
        {
            tally.Fail(new ImportProblem(e.Line, 0, e.Field, null, e.Reason));
            return tally.ToReport();
        }
        using var _ = rows;
        options = options with { Source = options.Source ?? rows.DefaultSource };
        tally.Source = options.Source;
        var batches = Channel.CreateBounded<List<StagedRow>>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });

        // A failing writer (the database) stops the reader, which would otherwise wait for room in the channel forever.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writing = Task.Run(async () =>
        {
            try
            {
                await WriteAsync(batches.Reader, options, tally, stop.Token);
            }
            catch
            {
                await stop.CancelAsync();
                throw;
            }
        }, CancellationToken.None);
        try
        {
            await ReadAsync(rows, batches.Writer, tally, stop.Token);
            batches.Writer.Complete();
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The writer failed; awaiting it below throws its error, the one worth reporting.
        }
        catch (Exception e)
        {
            // The reader failed (the upload broke off): the writer ends too, and the reader's error is reported.
            batches.Writer.TryComplete(e);
            await Task.WhenAny(writing);
            throw;
        }
        await writing;
        var report = tally.ToReport();
        logger.LogInformation("Import from {Source} by {Actor}: {Rows} rows, {Inserted} inserted, {Updated} updated, {Unchanged} unchanged, {Rejected} rejected",
            options.Source, options.Actor, report.Rows, report.Inserted, report.Updated, report.Unchanged, report.Rejected);
        return report;
    }

    private static async Task<IFeatureSource> OpenAsync(Stream input, ImportFormat format, CancellationToken ct) => format switch
    {
        ImportFormat.Csv => await CsvFeatureSource.OpenAsync(input, ct),
        ImportFormat.NdJson => new FeatureLinesSource(input),
        _ => new FeatureCollectionSource(input),
    };

    private static async Task ReadAsync(IFeatureSource source, ChannelWriter<List<StagedRow>> batches, ImportTally tally, CancellationToken ct)
    {
        var batch = new List<StagedRow>(BatchSize);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        long record = 0;
        try
        {
            while (await source.ReadAsync(ct))
            {
                record++;
                tally.RowRead();
                var (draft, problems) = Validate(source);
                if (draft is null)
                {
                    tally.Reject(problems.Select(p => new ImportProblem(source.Line, record, p.Field, source.ColumnOf(p.Field), p.Detail)));
                    continue;
                }
                // A batch is one INSERT … ON CONFLICT, which may touch a row only once: a repeated
                // external_id starts a new batch, so the later row updates the earlier, as in file order.
                if (batch.Count == BatchSize || !keys.Add(draft.ExternalId!))
                {
                    await batches.WriteAsync(batch, ct);
                    batch = new List<StagedRow>(BatchSize);
                    keys.Clear();
                    keys.Add(draft.ExternalId!);
                }
                batch.Add(new StagedRow(source.Line, record, draft));
            }
        }
        catch (ImportFormatException e)
        {
            // Everything before the unreadable part is imported; the report says where reading stopped.
            tally.Fail(new ImportProblem(e.Line, record + 1, e.Field, null, e.Reason));
        }
        if (batch.Count > 0) await batches.WriteAsync(batch, ct);
    }

    /// <summary>The row through the single-write validation, plus what imports need besides.</summary>
    private static (IncidentDraft? Draft, List<FieldError> Problems) Validate(IFeatureSource source)
    {
        var problems = new List<FieldError>(source.Problems);
        if (source.Feature is not { } feature) return (null, problems);
        var (draft, errors) = IncidentInput.Parse(feature);
        // A value the CSV mapping already refused was left out of the Feature; "is required" for it would say the same twice.
        var refused = problems.Select(p => FieldPath.Key(p.Field)).ToHashSet();
        // Single writes name a problem with the whole body ""; here that is the row's feature.
        problems.AddRange(errors.Where(e => !refused.Contains(FieldPath.Key(e.Field)))
            .Select(e => e.Field.Length == 0 ? e with { Field = "feature" } : e));
        if (draft is not null && draft.ExternalId is null)
            problems.Add(new FieldError("properties.external_id", "is required in an import: it is how a later import of the same file finds the incident again"));
        return problems.Count == 0 ? (draft, problems) : (null, problems);
    }

    private async Task WriteAsync(ChannelReader<List<StagedRow>> batches, ImportOptions options, ImportTally tally, CancellationToken ct)
    {
        await using var writer = await ImportBatchWriter.OpenAsync(dataSource, options, ct);
        await foreach (var batch in batches.ReadAllAsync(ct))
        {
            var result = await writer.WriteAsync(batch, ct);
            foreach (var (row, problem) in result.Rejected)
                tally.Reject([new ImportProblem(row.Line, row.Record, problem.Field, null, problem.Detail)]);
            tally.Stored(result.Inserted, result.Updated, result.Unchanged);
            if (result.Inserted + result.Updated > 0) dataVersion.Advance();
        }
    }
}

/// <summary>A valid row waiting for its batch: the draft and where it came from.</summary>
public sealed record StagedRow(long Line, long Record, IncidentDraft Draft);

/// <summary>Counts the bytes read through it, for progress by size.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    private long _read;

    public long BytesRead => Interlocked.Read(ref _read);

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
        Counted(await inner.ReadAsync(buffer, ct));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    private int Counted(int read)
    {
        Interlocked.Add(ref _read, read);
        return read;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
