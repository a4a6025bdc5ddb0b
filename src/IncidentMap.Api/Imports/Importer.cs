using System.Runtime.ExceptionServices;
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
/// <see cref="ImportBatchWriter"/>. One thread reads and validates while <see cref="ImportSettings.Writers"/>
/// connections write batches (see <see cref="ImportLanes"/>); memory holds a few batches per
/// writer, whatever the file's size.
/// </summary>
public sealed class Importer(NpgsqlDataSource dataSource, DataVersion dataVersion, ImportSettings settings, Places.Gazetteer gazetteer, ILogger<Importer> logger)
{
    /// <summary>Rows per batch (one transaction each): large enough for COPY to pay off, small enough
    /// that each transaction is short (the change feed waits for running transactions).</summary>
    public const int BatchSize = 10_000;

    /// <summary>Runs an import to the end and reports it. Rows never fail the import; a file that
    /// cannot be read on ends it with <see cref="ImportReport.Error"/>, after importing the rows before.
    /// A <paramref name="stop"/> ends it at a batch boundary with a report saying so (<see cref="ImportStop"/>),
    /// and so does a batch the database could not write (<see cref="ImportFailure"/>, noted in the tally's
    /// <see cref="ImportTally.Failure"/>); <paramref name="ct"/> abandons it at once, rolling back the batches being written.</summary>
    public async Task<ImportReport> RunAsync(Stream input, ImportOptions options, ImportTally tally, CancellationToken ct, ImportStop? stop = null)
    {
        var counting = new CountingStream(input);
        tally.BytesRead = () => counting.BytesRead;
        tally.Source = options.Source; // named in the report even when the file cannot be read at all
        IFeatureSource rows;
        try
        {
            // Before any format reads it: a CSV of UTF-16 with its byte order mark was decoded as UTF-16 and imported,
            // NDJSON's lines were each rejected as "not valid JSON", a CSV header named columns of letters and NULs.
            if (JsonBody.Utf16Or32((await counting.PeekAsync(4, ct)).Span)) throw new ImportFormatException("body", NotUtf8, 1);
            rows = await OpenAsync(counting, options.Format, ct);
        }
        catch (ImportFormatException e)
        {
            tally.Fail(new ImportProblem(e.Line, 0, e.Field, null, e.Reason));
            return Unopened(tally, options);
        }
        catch (ImportBodyException e)
        {
            tally.Fail(new ImportProblem(1, 1, "body", null, e.Message));
            return Unopened(tally, options);
        }
        catch (Exception e) when (e is InvalidDataException or IncompleteDataException)
        {
            // A compressed input is checked to its end before any of it is read (CheckedFirst): nothing was imported.
            tally.Fail(new ImportProblem(1, 1, "body", null, DecompressionReason(e)));
            return Unopened(tally, options);
        }
        using var _ = rows;
        options = options with { Source = options.Source ?? rows.DefaultSource };
        tally.Source = options.Source;
        var lanes = new ImportLanes(settings.Writers, settings.BatchRows);
        var keyColumn = rows.ColumnOf("properties.external_id");
        stop ??= new ImportStop("import the same file again to complete the import");

        // A stop, or a batch the database could not write, halts the import: the reader ends, each
        // other writer commits the batch it is writing and drops the rest, and the report says where
        // it stopped. Any other failing writer (a bug) stops the reader and the other writers at once,
        // which would otherwise wait for room in, or for batches from, their channels forever.
        using var halting = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(failed.Token, halting.Token);
        Exception? failure = null;
        var writing = Enumerable.Range(0, lanes.Count).Select(lane => Task.Run(async () =>
        {
            try
            {
                await WriteAsync(lanes.Batches(lane), options, keyColumn, tally, halting.Token, failed.Token);
            }
            catch (ImportBatchFailedException)
            {
                await halting.CancelAsync();
            }
            catch (Exception e)
            {
                // The first failure is the one worth reporting; the others are the cancellation it caused.
                Interlocked.CompareExchange(ref failure, e, null);
                await failed.CancelAsync();
            }
        }, CancellationToken.None)).ToArray();
        try
        {
            await ReadAsync(rows, lanes, new ImportGeocoder(gazetteer), tally, reading.Token);
            await lanes.CompleteAsync(reading.Token);
        }
        catch (OperationCanceledException) when (halting.IsCancellationRequested && !failed.IsCancellationRequested)
        {
            // Halted: the batches not sent yet are dropped, as the writers drop those they have not begun.
            lanes.Abandon(tally);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A writer failed; its error is thrown below.
        }
        catch (Exception e)
        {
            // The reader failed (the upload broke off): the writers end too, and the reader's error is reported.
            lanes.Fail(e);
            await Task.WhenAll(writing);
            throw;
        }
        await Task.WhenAll(writing);
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        await FoldClusterGridAsync();
        // Rows are left unimported only when the import halted before the writers had written every batch.
        if (tally.FirstNotImported is { } left)
        {
            var ended = tally.Failure;
            var reason = ended is null ? stop.Reason(left.Line, left.Record, tally) : stop.Describe($"failed {ended.Value.Cause}", left.Line, left.Record, tally);
            if (ended is not null)
            {
                tally.Ending?.Invoke(tally.ToReport());
                logger.LogWarning(ended.Value.Error, "Import from {Source} by {Actor} {Reason}", options.Source, options.Actor, reason);
            }
            tally.Fail(new ImportProblem(left.Line, left.Record, ImportReport.StoppedField, null, reason));
            return tally.ToReport();
        }
        return Logged(tally, options);
    }

    /// <summary>
    /// Folds the batches' cluster sums now rather than at the service's next pass (the command-line import may
    /// run with no service at all). The rows are committed whatever happens here, and readers sum the deltas
    /// anyway: a failure costs tiles time, not data, and does not fail the import.
    /// </summary>
    private async Task FoldClusterGridAsync()
    {
        try
        {
            await Tiles.ClusterGrid.CompactAsync(dataSource, CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogWarning("Folding the cluster grid after an import failed (the service folds it later): {Message}", e.Message);
        }
    }

    /// <summary>
    /// The report of a file that could not be opened (its header, its encoding, its compression): under the source given,
    /// else the default one (not recognised as an ACLED export, it is no ACLED export). It said "source": null and
    /// logged "Import from (null)".
    /// </summary>
    private ImportReport Unopened(ImportTally tally, ImportOptions options)
    {
        options = options with { Source = options.Source ?? ImportOptions.DefaultSource };
        tally.Source = options.Source;
        return Logged(tally, options);
    }

    /// <summary>One line per import. One that stored rows and then could not read its file to the end is a warning: its
    /// client may never see the answer (an upload broken off), and the rows stay stored.</summary>
    private ImportReport Logged(ImportTally tally, ImportOptions options)
    {
        var report = tally.ToReport();
        tally.Ending?.Invoke(report);
        if (report.Error is { } error)
            logger.Log(report.Inserted + report.Updated > 0 ? LogLevel.Warning : LogLevel.Information,
                "Import from {Source} by {Actor} ended at line {Line}, where its {Field} {Reason}: {Rows} rows, {Inserted} inserted, {Updated} updated, {Unchanged} unchanged, {Rejected} rejected",
                report.Source, options.Actor, error.Line, error.Field, error.Reason, report.Rows, report.Inserted, report.Updated, report.Unchanged, report.Rejected);
        else
            logger.LogInformation("Import from {Source} by {Actor}: {Rows} rows, {Inserted} inserted, {Updated} updated, {Unchanged} unchanged, {Rejected} rejected",
                report.Source, options.Actor, report.Rows, report.Inserted, report.Updated, report.Unchanged, report.Rejected);
        return report;
    }

    /// <summary>
    /// Why a file in UTF-16 or UTF-32 (their byte order mark, or a NUL in its first two bytes, as <see cref="JsonBody"/>
    /// judges a single write's body) is not imported: every format is read as UTF-8. An upload so refused is a 415, as a single write's is.
    /// </summary>
    public const string NotUtf8 = "is UTF-16 or UTF-32 (it starts with their byte order mark or a NUL byte); imports are read as UTF-8 only: " +
                                  "save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) and send it again";

    private static async Task<IFeatureSource> OpenAsync(Stream input, ImportFormat format, CancellationToken ct) => format switch
    {
        ImportFormat.Csv => await CsvFeatureSource.OpenAsync(input, ct),
        ImportFormat.NdJson => new FeatureLinesSource(input),
        _ => new FeatureCollectionSource(input),
    };

    private static async Task ReadAsync(IFeatureSource source, ImportLanes lanes, ImportGeocoder geocoder, ImportTally tally, CancellationToken ct)
    {
        long record = 0;
        var holding = false;
        try
        {
            while (await source.ReadAsync(ct))
            {
                record++;
                holding = true;
                tally.RowRead();
                // Rows that are all rejected would otherwise be read on until the next buffer to fill.
                ct.ThrowIfCancellationRequested();
                var (draft, problems) = await ValidateAsync(source, geocoder, ct);
                if (draft is null)
                    tally.Reject(problems.Select(p => new ImportProblem(source.Line, record, p.Field, source.ColumnOf(p.Field), p.Detail)));
                else
                    await lanes.AddAsync(source.Line, record, draft, GivesPrecision(draft, source.Feature), ct);
                holding = false;
            }
        }
        catch (OperationCanceledException)
        {
            // The row in hand, else the next one (which starts after the line of the last): where a stopped import reports it stopped.
            if (holding) tally.NotImported(source.Line, record);
            else tally.NotImported(source.Line + 1, record + 1);
            throw;
        }
        catch (ImportFormatException e)
        {
            // Everything before the unreadable part is imported; the report says where reading stopped.
            tally.Fail(new ImportProblem(e.Line, record + 1, e.Field, null, e.Reason));
        }
        catch (ImportBodyException e)
        {
            // The upload's transfer ended it (the body limit, too slow, broken off): the rows read so far are imported.
            tally.Fail(new ImportProblem(source.Line + 1, record + 1, "body", null, e.Message));
        }
        catch (Exception e) when (e is InvalidDataException or IncompleteDataException)
        {
            // A compressed upload that does not decompress, or ends before its end (CompleteDecompression).
            tally.Fail(new ImportProblem(source.Line + 1, record + 1, "body", null, DecompressionReason(e)));
        }
    }

    /// <summary>
    /// Whether the row gave its geo_precision, where that matters: a row with its own point that lacks a place
    /// name may keep what was derived for its incident, geo_precision too when it left that out (ImportBatchWriter.FillPlaces).
    /// A draft has "exact" for one left out, as for one given; true for every other row.
    /// </summary>
    private static bool GivesPrecision(IncidentDraft draft, JsonElement? feature) =>
        draft.DerivedFields.Length > 0 || (draft.LocationName is not null && draft.Admin1 is not null && draft.Country is not null)
        || feature is not { ValueKind: JsonValueKind.Object } f
        || (f.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object
            && properties.TryGetProperty("geo_precision", out var precision) && precision.ValueKind != JsonValueKind.Null);

    private static string DecompressionReason(Exception e) =>
        e is IncompleteDataException ? e.Message : $"does not decompress as its Content-Encoding says ({e.Message})";

    /// <summary>
    /// The row through the single-write path: a place name with no geometry geocoded, then validated;
    /// plus what imports need besides. Reverse geocoding (place fields from the point) runs in the
    /// database, over a whole batch at once (<see cref="ImportBatchWriter"/>).
    /// </summary>
    private static async ValueTask<(IncidentDraft? Draft, List<FieldError> Problems)> ValidateAsync(
        IFeatureSource source, ImportGeocoder geocoder, CancellationToken ct)
    {
        var problems = new List<FieldError>(source.Problems);
        if (source.Feature is not { } feature) return (null, problems);
        // The name is looked up even when other values are wrong, so that the row is refused for
        // those alone (not also for a geometry it did not need), and a refused name beside them. Not when
        // the row's own geometry was refused (bad WKT, half a point): it has one, so nothing is geocoded.
        var (prepared, refusal) = problems.Any(p => FieldPath.Key(p.Field) == "geometry")
            ? (Places.Geocoding.Unchanged(feature), null)
            : await geocoder.GeocodeAsync(feature, ct);
        if (refusal is not null)
        {
            problems.Add(new FieldError(Places.Geocoding.Refusal.Field, refusal.Reason));
            prepared = Places.Geocoding.Unchanged(feature);
        }
        using var owned = prepared!.Owned;
        var (draft, errors) = IncidentInput.Parse(prepared.Feature);
        // The refused name says why the row has no point.
        if (refusal is not null) errors.RemoveAll(e => e.Field == "geometry");
        // A value the CSV mapping already refused was left out of the Feature; "is required" for it would say the same twice.
        var refused = problems.Select(p => FieldPath.Key(p.Field)).ToHashSet();
        // Single writes name a problem with the whole body ""; here that is the row's feature.
        problems.AddRange(errors.Where(e => !refused.Contains(FieldPath.Key(e.Field)))
            .Select(e => e.Field.Length == 0 ? e with { Field = "feature" } : e));
        if (draft is not null && draft.ExternalId is null)
            problems.Add(new FieldError("properties.external_id", "is required in an import: it is how a later import of the same file finds the incident again (incidents written one by one may have none; give each row a key of your own, such as its id column)"));
        return problems.Count == 0 ? (draft! with { PlaceId = prepared.PlaceId, DerivedFields = prepared.Derived }, problems) : (null, problems);
    }

    /// <summary>Writes one lane's batches; the connection is opened with the first batch, so a small import uses few.
    /// Once <paramref name="stopping"/>, the batches not yet begun are dropped, noted as not imported. A batch the
    /// database could not write (<see cref="ImportFailure"/>) is noted too, and ends the lane with <see cref="ImportBatchFailedException"/>.</summary>
    private async Task WriteAsync(ChannelReader<CopyRows> batches, ImportOptions options, string? keyColumn, ImportTally tally,
        CancellationToken stopping, CancellationToken ct)
    {
        ImportBatchWriter? writer = null;
        try
        {
            await foreach (var batch in batches.ReadAllAsync(ct))
            {
                BatchResult result;
                using (batch)
                {
                    if (stopping.IsCancellationRequested)
                    {
                        tally.NotImported(batch.First.Line, batch.First.Record);
                        continue;
                    }
                    try
                    {
                        writer ??= await ImportBatchWriter.OpenAsync(dataSource, options, keyColumn, settings.BatchTimeout, logger, ct);
                        result = await writer.WriteAsync(batch, ct);
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested && ImportFailure.Cause(e, settings.BatchTimeout) is { } cause)
                    {
                        tally.NotImported(batch.First.Line, batch.First.Record);
                        tally.Failed(cause, e);
                        throw new ImportBatchFailedException();
                    }
                }
                foreach (var problem in result.Rejected) tally.Reject([problem]);
                tally.Stored(result.Inserted, result.Updated, result.Unchanged);
                if (result.Inserted + result.Updated > 0) dataVersion.Advance();
            }
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync();
        }
    }
}

/// <summary>A lane's batch failed in the database (<see cref="ImportTally.Failure"/> says how): the import halts.</summary>
internal sealed class ImportBatchFailedException : Exception;

/// <summary>Counts the bytes read through it, for progress by size.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    private long _read;

    /// <summary>The bytes <see cref="PeekAsync"/> read, given out again by the reads after it.</summary>
    private byte[] _head = [];
    private int _headStart;

    public long BytesRead => Interlocked.Read(ref _read);

    /// <summary>Up to <paramref name="count"/> bytes from the start (fewer only at the end of the input), which reading then gives again.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> PeekAsync(int count, CancellationToken ct)
    {
        var head = new byte[count];
        var length = 0;
        while (length < count && Counted(await inner.ReadAsync(head.AsMemory(length), ct)) is var read and > 0) length += read;
        _head = head[..length];
        _headStart = 0;
        return _head;
    }

    /// <summary>Copies what is left of the peeked bytes; 0 when none are.</summary>
    private int FromHead(Span<byte> buffer)
    {
        var length = Math.Min(buffer.Length, _head.Length - _headStart);
        _head.AsSpan(_headStart, length).CopyTo(buffer);
        _headStart += length;
        return length;
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        _headStart < _head.Length ? FromHead(buffer.AsSpan(offset, count)) : Counted(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
        _headStart < _head.Length ? FromHead(buffer.Span) : Counted(await inner.ReadAsync(buffer, ct));

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
