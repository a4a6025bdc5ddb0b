using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Incidents;

/// <summary>
/// Streams incidents in the query's format. Each row is rendered by <see cref="IncidentRowWriter"/>
/// into the response as it is read, so memory stays flat however many incidents match. In a
/// FeatureCollection, <c>numberReturned</c> and the <c>next</c> link follow the features because
/// they are known only at the end.
/// </summary>
public sealed class IncidentListResult(
    RowStream rows, IncidentQuery query, long? numberMatched, string selfLink, Func<string, object> nextLink,
    IReadOnlyList<object> alternateLinks, IDisposable? exportLease = null) : IResult
{
    private const int FlushThreshold = 64 * 1024;

    /// <summary>How much of a page computed whole may wait unsent: a typical page (100 features, ~120 KB) whole, and never a large one.</summary>
    private const int PageFlushThreshold = 1024 * 1024;
    private const char RecordSeparator = '\u001e';

    /// <summary>Links written as the incidents' pages write them: application/geo+json, not geo\u002Bjson; &amp;, not \u0026.</summary>
    private static readonly JsonSerializerOptions LinkJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// A small, already bounded set of rendered Features (clusters, bins, places) as one FeatureCollection;
    /// with <paramref name="links"/>, a page of a collection, which also says when it was made; with
    /// <paramref name="numberMatched"/>, how many the whole collection holds (GDAL and QGIS take a
    /// layer's feature count from it instead of paging through). The features are built in SQL, and
    /// written compactly here, as pages of incidents are (<see cref="JsonText"/>).
    /// </summary>
    public static IResult Small(IReadOnlyCollection<string> features, IEnumerable<object>? links = null, long? numberMatched = null)
    {
        var body = new StringBuilder("{\"type\":\"FeatureCollection\",\"features\":[");
        body.AppendJoin(',', features.Select(JsonText.Compact)).Append(']');
        if (links is not null) body.Append(",\"links\":[").AppendJoin(',', links.Select(l => JsonSerializer.Serialize(l, LinkJson))).Append(']');
        if (numberMatched is { } matched) body.Append(",\"numberMatched\":").Append(matched);
        body.Append(",\"numberReturned\":").Append(features.Count);
        if (links is not null) body.Append(",\"timeStamp\":\"").Append(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)).Append('"');
        return TypedResults.Text(body.Append('}').ToString(), IncidentsApi.GeoJson, Encoding.UTF8);
    }

    public static string ContentType(OutputFormat format) => format switch
    {
        OutputFormat.Csv => "text/csv; charset=utf-8; header=present",
        OutputFormat.GeoJsonSeq => "application/geo+json-seq",
        OutputFormat.NdJson => "application/x-ndjson",
        _ => IncidentsApi.GeoJson,
    };

    /// <summary>The headers that say what the body is; a HEAD answers them too (RFC 9110 §9.3.2).</summary>
    public static void Describe(HttpResponse response, OutputFormat format)
    {
        response.ContentType = ContentType(format);
        if (format == OutputFormat.Csv) response.Headers.ContentDisposition = "inline; filename=\"incidents.csv\"";
    }

    public async Task ExecuteAsync(HttpContext context)
    {
        await using var _ = rows;
        using var lease = exportLease;
        var ct = context.RequestAborted;
        Describe(context.Response, query.Format);
        // Start the response now: if the database fails mid-page, the connection is aborted and the
        // client sees a broken transfer, instead of an error document glued to half a collection.
        await context.Response.StartAsync(ct);
        var pipe = context.Response.BodyWriter;
        using var writer = new ChunkWriter(pipe);
        var render = new IncidentRowWriter(query);

        var (prefix, separator, suffix) = query.Format switch
        {
            OutputFormat.GeoJson => ("{\"type\":\"FeatureCollection\",\"features\":[", ",", ""),
            OutputFormat.GeoJsonSeq => (RecordSeparator.ToString(), "\n" + RecordSeparator, "\n"),
            OutputFormat.NdJson => ("", "\n", "\n"),
            _ => (render.CsvHeader + "\r\n", "\r\n", "\r\n"),
        };

        var keys = render.ColumnCount;
        var sortKeys = IncidentSqlBuilder.SortKeys(query.Sort);
        object?[]? last = null;
        var returned = 0;
        // A page computed whole (the cores are busy, see IncidentReader.OpenPageAsync) is also sent
        // whole (up to PageFlushThreshold), after its connection is back in the pool. Otherwise the
        // response is flushed as it renders, so sending overlaps the query.
        var whole = rows.Whole;
        var flushThreshold = whole ? PageFlushThreshold : FlushThreshold;
        while (rows.HasRow && (query.Limit is null || returned < query.Limit))
        {
            writer.Write(returned == 0 ? prefix : separator);
            if (query.Format == OutputFormat.Csv) render.WriteCsv(rows.Reader, writer);
            else render.WriteFeature(rows.Reader, writer);
            if (query.Format == OutputFormat.GeoJson)
            {
                last = new object?[sortKeys.Count];
                for (var n = 0; n < sortKeys.Count; n++)
                    last[n] = IncidentSqlBuilder.ToCursorValue(sortKeys[n].Field.Kind, rows.Reader.GetValue(keys + n));
            }
            returned++;
            if (writer.Unflushed > flushThreshold) await writer.FlushAsync(ct);
            await rows.ReadAsync(ct);
        }
        // The builder fetched one row beyond the limit: if it is there, so is a next page.
        var hasNext = rows.HasRow && last is not null;
        if (whole) await rows.DisposeAsync(); // then again at the end, which does nothing

        if (query.Format != OutputFormat.GeoJson)
        {
            if (returned > 0) writer.Write(suffix);
            else if (query.Format == OutputFormat.Csv) writer.Write(prefix);
            await writer.FlushAsync(ct);
            return;
        }

        if (returned == 0) writer.Write(prefix);
        using var footer = new MemoryStream();
        using (var json = new Utf8JsonWriter(footer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (numberMatched is { } matched) json.WriteNumber("numberMatched", matched);
            json.WriteNumber("numberReturned", returned);
            json.WriteString("timeStamp", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));
            json.WriteStartArray("links");
            WriteLink(json, new { href = selfLink, rel = "self", type = IncidentsApi.GeoJson, title = "This page" });
            foreach (var alternate in alternateLinks) WriteLink(json, alternate);
            if (hasNext) WriteLink(json, nextLink(new PageCursor(query.SortText, last!).Encode()));
            json.WriteEndArray();
            json.WriteEndObject();
        }
        // Splice the footer object's members after the features array: "],<members>}".
        writer.Write("],");
        writer.Write(Encoding.UTF8.GetString(footer.GetBuffer().AsSpan(1, (int)footer.Length - 1)));
        await writer.FlushAsync(ct);
    }

    private static void WriteLink(Utf8JsonWriter json, object link) => JsonSerializer.Serialize(json, link);

    /// <summary>
    /// A private buffer in front of the response pipe. Kestrel's pipe takes a lock on every GetMemory
    /// and Advance, which the JSON writer calls many times per feature; here the pipe sees one copy
    /// per 32 KiB instead.
    /// </summary>
    private sealed class ChunkWriter(PipeWriter pipe) : IBufferWriter<byte>, IDisposable
    {
        private const int ChunkSize = 32 * 1024;
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        private int _written;
        private long _copied;

        /// <summary>Bytes written since the last flush to the client.</summary>
        public long Unflushed => _copied + _written;

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            var start = Reserve(sizeHint); // may replace _buffer: read it only afterwards
            return _buffer.AsMemory(start);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            var start = Reserve(sizeHint);
            return _buffer.AsSpan(start);
        }

        public void Write(string text)
        {
            if (text.Length == 0) return;
            var span = GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
            Advance(Encoding.UTF8.GetBytes(text, span));
        }

        public async ValueTask FlushAsync(CancellationToken ct)
        {
            CopyToPipe();
            await pipe.FlushAsync(ct);
            _copied = 0;
        }

        public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);

        /// <summary>Makes room for <paramref name="sizeHint"/> bytes and returns where they start.</summary>
        private int Reserve(int sizeHint)
        {
            sizeHint = Math.Max(sizeHint, 1);
            if (_buffer.Length - _written >= sizeHint) return _written;
            CopyToPipe();
            if (_buffer.Length < sizeHint)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);
            }
            return 0;
        }

        private void CopyToPipe()
        {
            if (_written == 0) return;
            pipe.Write(_buffer.AsSpan(0, _written));
            _copied += _written;
            _written = 0;
        }
    }
}
