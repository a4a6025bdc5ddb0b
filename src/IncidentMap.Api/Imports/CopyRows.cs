using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using IncidentMap.Api.Incidents;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;

namespace IncidentMap.Api.Imports;

/// <summary>
/// A batch of validated rows encoded as PostgreSQL's binary COPY stream (header, tuples, trailer)
/// for the columns <c>line, record, gives_precision, </c><see cref="DraftColumns"/>. Rows are encoded by the reading
/// thread as soon as they are validated, into pooled 64 KiB chunks: a batch waiting for its writer
/// is a few megabytes of bytes, not ten thousand drafts of small objects that every garbage
/// collection would have to trace and promote, and the writer only copies bytes to the connection.
/// </summary>
internal sealed class CopyRows : IDisposable
{
    /// <summary>The incident columns of a row, in the order they are encoded (those of an <see cref="IncidentDraft"/>).</summary>
    public const string DraftColumns = """
        title, summary, event_type, sub_event_type, occurred_at, time_precision, location_name, admin1, admin2,
        admin3, country, geo_precision, fatalities_min, fatalities_max, injured_min, injured_max, actors, claimed_by,
        sources, status, tags, external_id, geom, place_id, derived_fields
        """;

    private const short FieldCount = 28; // line, record, gives_precision and the 25 draft columns
    private const int ChunkSize = 64 * 1024; // below the large object heap's threshold
    private const uint TextOid = 25;
    private const uint EwkbSrid = 0x20000000;
    private static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    // The signature "PGCOPY\n\377\r\n\0", no flags, no header extension; the trailer is a field count of -1.
    private static readonly byte[] Header = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xff, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];
    private static readonly byte[] Trailer = [0xff, 0xff];

    private readonly List<(byte[] Chunk, int Used)> _full = [];
    private byte[] _chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
    private int _used;

    /// <summary>Rows in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Line and record of the batch's first row, the earliest in the file (rows come in file order):
    /// where a stopped import that drops the batch reports it stopped.</summary>
    public (long Line, long Record) First { get; private set; }

    /// <summary>Whether a row has a geometry other than a point (only those can be invalid).</summary>
    public bool HasShapes { get; private set; }

    /// <summary>Whether a row lacks location_name, admin1 or country (only those are reverse geocoded).</summary>
    public bool LacksPlaceFields { get; private set; }

    /// <param name="givesPrecision">Whether the row gave its geo_precision: <paramref name="d"/> has "exact" for one left
    /// out, which a row with its incident's point keeps from the incident where it was derived (ImportBatchWriter.FillPlaces).</param>
    public void Add(long line, long record, IncidentDraft d, bool givesPrecision)
    {
        if (Count == 0) First = (line, record);
        LacksPlaceFields |= d.LocationName is null || d.Admin1 is null || d.Country is null;
        Int16(FieldCount);
        Int64(line);
        Int64(record);
        Boolean(givesPrecision);
        Text(d.Title);
        Text(d.Summary);
        Text(d.EventType);
        Text(d.SubEventType);
        Int64((d.OccurredAt.UtcTicks - PostgresEpochTicks) / TimeSpan.TicksPerMicrosecond); // timestamptz: microseconds since 2000
        Text(d.TimePrecision);
        Text(d.LocationName);
        Text(d.Admin1);
        Text(d.Admin2);
        Text(d.Admin3);
        Text(d.Country);
        Text(d.GeoPrecision);
        Int32(d.FatalitiesMin);
        Int32(d.FatalitiesMax);
        Int32(d.InjuredMin);
        Int32(d.InjuredMax);
        TextArray(d.Actors);
        Text(d.ClaimedBy);
        Jsonb(d.Sources);
        Text(d.Status);
        TextArray(d.Tags);
        Text(d.ExternalId);
        Geometry(d.Geometry);
        Int64(d.PlaceId);
        TextArray(d.DerivedFields);
        Count++;
    }

    /// <summary>Writes the whole COPY stream: header, the rows, trailer.</summary>
    public async Task WriteToAsync(Stream copy, CancellationToken ct)
    {
        await copy.WriteAsync(Header, ct);
        foreach (var (chunk, used) in _full) await copy.WriteAsync(chunk.AsMemory(0, used), ct);
        await copy.WriteAsync(_chunk.AsMemory(0, _used), ct);
        await copy.WriteAsync(Trailer, ct);
    }

    /// <summary>Gives the chunks back to the pool; the batch is empty afterwards.</summary>
    public void Dispose()
    {
        foreach (var (chunk, _) in _full) ArrayPool<byte>.Shared.Return(chunk);
        _full.Clear();
        if (_chunk.Length > 0) ArrayPool<byte>.Shared.Return(_chunk);
        _chunk = [];
        _used = 0;
        Count = 0;
    }

    /// <summary>The next <paramref name="size"/> bytes of the stream, contiguous (a field never straddles chunks).</summary>
    private Span<byte> Take(int size)
    {
        if (_chunk.Length - _used < size)
        {
            _full.Add((_chunk, _used));
            _chunk = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, size));
            _used = 0;
        }
        var span = _chunk.AsSpan(_used, size);
        _used += size;
        return span;
    }

    private void Int16(short value) => BinaryPrimitives.WriteInt16BigEndian(Take(2), value);

    private void Boolean(bool value)
    {
        var span = Take(5);
        BinaryPrimitives.WriteInt32BigEndian(span, 1);
        span[4] = value ? (byte)1 : (byte)0;
    }

    private void Null() => BinaryPrimitives.WriteInt32BigEndian(Take(4), -1);

    // Every field is its length, then its bytes.
    private void Int64(long value)
    {
        var span = Take(12);
        BinaryPrimitives.WriteInt32BigEndian(span, 8);
        BinaryPrimitives.WriteInt64BigEndian(span[4..], value);
    }

    private void Int64(long? value)
    {
        if (value is { } number) Int64(number);
        else Null();
    }

    private void Int32(int? value)
    {
        if (value is not { } number)
        {
            Null();
            return;
        }
        var span = Take(8);
        BinaryPrimitives.WriteInt32BigEndian(span, 4);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], number);
    }

    private void Text(string? value)
    {
        if (value is null)
        {
            Null();
            return;
        }
        var length = Encoding.UTF8.GetByteCount(value);
        var span = Take(4 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        Encoding.UTF8.GetBytes(value, span[4..]);
    }

    // jsonb's binary form is a version byte (1) before the JSON text.
    private void Jsonb(string json)
    {
        var length = Encoding.UTF8.GetByteCount(json);
        var span = Take(5 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, 1 + length);
        span[4] = 1;
        Encoding.UTF8.GetBytes(json, span[5..]);
    }

    // A one-dimensional text[] without nulls: dimensions, null flag, element type, then (length,
    // lower bound) of the dimension and the elements; an empty array has no dimension.
    private void TextArray(string[] items)
    {
        var length = items.Length == 0 ? 12 : 20;
        foreach (var item in items) length += 4 + Encoding.UTF8.GetByteCount(item);
        var span = Take(4 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], items.Length == 0 ? 0 : 1);
        BinaryPrimitives.WriteInt32BigEndian(span[8..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], TextOid);
        if (items.Length == 0) return;
        BinaryPrimitives.WriteInt32BigEndian(span[16..], items.Length);
        BinaryPrimitives.WriteInt32BigEndian(span[20..], 1);
        var at = 24;
        foreach (var item in items)
        {
            var written = Encoding.UTF8.GetBytes(item, span[(at + 4)..]);
            BinaryPrimitives.WriteInt32BigEndian(span[at..], written);
            at += 4 + written;
        }
    }

    // PostGIS reads EWKB: points (nearly every imported row) are written here, other shapes by NetTopologySuite.
    private void Geometry(Geometry geometry)
    {
        if (geometry is Point point)
        {
            var span = Take(4 + 25);
            BinaryPrimitives.WriteInt32BigEndian(span, 25);
            span[4] = 1; // little-endian
            BinaryPrimitives.WriteUInt32LittleEndian(span[5..], 1 | EwkbSrid);
            BinaryPrimitives.WriteInt32LittleEndian(span[9..], geometry.SRID);
            BinaryPrimitives.WriteDoubleLittleEndian(span[13..], point.X);
            BinaryPrimitives.WriteDoubleLittleEndian(span[21..], point.Y);
            return;
        }
        HasShapes = true;
        var bytes = new WKBWriter(ByteOrder.LittleEndian, handleSRID: true, emitZ: false, emitM: false).Write(geometry);
        var field = Take(4 + bytes.Length);
        BinaryPrimitives.WriteInt32BigEndian(field, bytes.Length);
        bytes.CopyTo(field[4..]);
    }
}
