using System.Buffers.Text;
using System.Text.Json;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Opaque keyset cursor carried in <c>next</c> links: the sort it belongs to and the sort-key values
/// of the last row returned (the primary key last, so the position is unique and paging is stable
/// while new incidents arrive).
/// </summary>
public sealed record PageCursor(string Sort, object?[] Keys)
{
    public string Encode()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new { s = Sort, k = Keys });
        return Base64Url.EncodeToString(json);
    }

    public static bool TryDecode(string text, out PageCursor? cursor)
    {
        cursor = null;
        try
        {
            var bytes = Base64Url.DecodeFromChars(text);
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("s", out var s) || s.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("k", out var k) || k.ValueKind != JsonValueKind.Array)
                return false;
            var keys = k.EnumerateArray().Select(e => e.ValueKind switch
            {
                JsonValueKind.Number when e.TryGetInt64(out var l) => (object?)l,
                JsonValueKind.Number => e.GetDouble(),
                JsonValueKind.String => e.GetString(),
                JsonValueKind.Null => null,
                _ => throw new FormatException(),
            }).ToArray();
            cursor = new PageCursor(s.GetString()!, keys);
            return true;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
