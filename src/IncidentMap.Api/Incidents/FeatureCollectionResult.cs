using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Incidents;

/// <summary>
/// Streams a GeoJSON FeatureCollection: each Feature (built by PostgreSQL) is copied to the response
/// as it is read, so memory stays flat however many incidents match. <c>numberReturned</c> and the
/// <c>next</c> link follow the features because they are known only at the end.
/// </summary>
public sealed class FeatureCollectionResult(RowStream rows, IncidentQuery query, Func<string, string> linkWithCursor, string selfLink) : IResult
{
    private const int FlushThreshold = 64 * 1024;

    public async Task ExecuteAsync(HttpContext context)
    {
        await using var _ = rows;
        var ct = context.RequestAborted;
        var response = context.Response;
        response.ContentType = "application/geo+json";
        var pipe = response.BodyWriter;
        var unflushed = 0L;

        Write(pipe, "{\"type\":\"FeatureCollection\",\"features\":[", ref unflushed);
        var returned = 0;
        var keys = IncidentSqlBuilder.SortKeys(query.Sort);
        object?[]? lastKeys = null;
        var featureColumn = 0;
        var firstKey = rows.Reader.FieldCount - keys.Count;
        while (rows.HasRow)
        {
            if (returned == query.Limit)
            {
                break;
            }
            if (returned > 0) Write(pipe, ",", ref unflushed);
            Write(pipe, rows.Reader.GetString(featureColumn), ref unflushed);
            lastKeys = new object?[keys.Count];
            for (var n = 0; n < keys.Count; n++)
                lastKeys[n] = IncidentSqlBuilder.ToCursorValue(keys[n].Kind, rows.Reader.GetValue(firstKey + n));
            returned++;
            if (unflushed > FlushThreshold)
            {
                await pipe.FlushAsync(ct);
                unflushed = 0;
            }
            await rows.ReadAsync(ct);
        }
        // The extra row the builder asked for is still current when there is a next page.
        var hasNext = rows.HasRow && returned == query.Limit;

        using var footer = new MemoryStream();
        using (var json = new Utf8JsonWriter(footer))
        {
            json.WriteStartObject();
            json.WriteNumber("numberReturned", returned);
            json.WriteString("timeStamp", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));
            json.WriteStartArray("links");
            WriteLink(json, "self", selfLink, "This document");
            if (hasNext && lastKeys is not null)
                WriteLink(json, "next", linkWithCursor(new PageCursor(query.Sort.ToString(), lastKeys).Encode()), "Next page");
            json.WriteEndArray();
            json.WriteEndObject();
        }
        // Splice the footer object's members after the features array: "],<members>}".
        Write(pipe, "],", ref unflushed);
        var bytes = footer.GetBuffer().AsSpan(1, (int)footer.Length - 1);
        pipe.Write(bytes);
        await pipe.FlushAsync(ct);
    }

    private static void WriteLink(Utf8JsonWriter json, string rel, string href, string title)
    {
        json.WriteStartObject();
        json.WriteString("href", href);
        json.WriteString("rel", rel);
        json.WriteString("type", "application/geo+json");
        json.WriteString("title", title);
        json.WriteEndObject();
    }

    private static void Write(PipeWriter pipe, string text, ref long unflushed)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        var span = pipe.GetSpan(max);
        var written = Encoding.UTF8.GetBytes(text, span);
        pipe.Advance(written);
        unflushed += written;
    }
}
