using System.Threading.Channels;
using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Imports;

/// <summary>
/// Deals valid rows into batches for several writers, each on its own connection, so that the
/// database works on more than one batch at a time (one backend uses one core; most of an
/// import's time is the database's). An external_id always goes to the same lane, so two writers
/// never wait on each other's keys. Per lane at most three batches are in memory (being
/// filled, waiting, being written), whatever the file's size; the writer disposes of each batch.
/// </summary>
internal sealed class ImportLanes
{
    private readonly Lane[] _lanes;

    public ImportLanes(int lanes, int batchSize)
    {
        _lanes = Enumerable.Range(0, Math.Max(1, lanes)).Select(_ => new Lane(batchSize)).ToArray();
    }

    public int Count => _lanes.Length;

    public ChannelReader<CopyRows> Batches(int lane) => _lanes[lane].Sent.Reader;

    /// <summary>Adds a valid row (with its external_id) to its lane's batch, first sending that batch when it is full.</summary>
    /// <param name="givesPrecision">Whether the row gave its geo_precision (<see cref="CopyRows.Add"/>).</param>
    public ValueTask AddAsync(long line, long record, IncidentDraft draft, bool givesPrecision, CancellationToken ct)
    {
        var key = draft.ExternalId!;
        var lane = _lanes[(uint)StringComparer.Ordinal.GetHashCode(key) % (uint)_lanes.Length];
        return lane.AddAsync(line, record, draft, givesPrecision, ct);
    }

    /// <summary>Sends the partly filled batches and tells the writers that no more will come.</summary>
    public async Task CompleteAsync(CancellationToken ct)
    {
        foreach (var lane in _lanes) await lane.CompleteAsync(ct);
    }

    /// <summary>Ends every lane with the reader's failure; the writers stop after their current batch.</summary>
    public void Fail(Exception error)
    {
        foreach (var lane in _lanes) lane.Fail(error);
    }

    /// <summary>Ends every lane without sending its partly filled batch, whose first row the tally notes as not imported
    /// (an import asked to stop; the writers drop the batches they have not begun).</summary>
    public void Abandon(ImportTally tally)
    {
        foreach (var lane in _lanes) lane.Abandon(tally);
    }

    private sealed class Lane(int batchSize)
    {
        private CopyRows _batch = new();

        public Channel<CopyRows> Sent { get; } =
            Channel.CreateBounded<CopyRows>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });

        public async ValueTask AddAsync(long line, long record, IncidentDraft draft, bool givesPrecision, CancellationToken ct)
        {
            // A batch is one INSERT … ON CONFLICT, which may touch a row only once: the writer
            // rejects every row of an external_id but the first (ImportBatchWriter.RejectRepeated).
            if (_batch.Count == batchSize) await SendAsync(ct);
            _batch.Add(line, record, draft, givesPrecision);
        }

        public async ValueTask SendAsync(CancellationToken ct)
        {
            if (_batch.Count == 0) return;
            await Sent.Writer.WriteAsync(_batch, ct);
            _batch = new CopyRows();
        }

        public async ValueTask CompleteAsync(CancellationToken ct)
        {
            await SendAsync(ct);
            Sent.Writer.TryComplete();
            _batch.Dispose();
        }

        public void Fail(Exception error)
        {
            Sent.Writer.TryComplete(error);
            _batch.Dispose();
        }

        public void Abandon(ImportTally tally)
        {
            if (_batch.Count > 0) tally.NotImported(_batch.First.Line, _batch.First.Record);
            Sent.Writer.TryComplete();
            _batch.Dispose();
        }
    }
}
