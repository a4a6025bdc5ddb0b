using System.Buffers;
using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IncidentMap.Api.Querying;

/// <summary>
/// JSON that PostgreSQL writes, as the service writes its own: without the spaces and line breaks
/// PostgreSQL puts between tokens (<c>json_build_object</c> writes <c>{"id" : 1}</c>, <c>json_agg</c> a
/// line break after each element, jsonb <c>{"id": 1}</c>). Clusters, hexbins, places, history and the
/// stats summary are built in SQL; pages of incidents are written in .NET (<see cref="IncidentRowWriter"/>),
/// compactly. One way of writing everywhere, and nothing to pay for it but one pass over the text.
/// </summary>
public static class JsonText
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><paramref name="json"/> without white space between its tokens; white space inside strings stays.</summary>
    public static string Compact(string json)
    {
        var text = ArrayPool<char>.Shared.Rent(json.Length);
        try
        {
            json.CopyTo(text);
            var length = Compact(text.AsSpan(0, json.Length));
            return length == json.Length ? json : new string(text, 0, length);
        }
        finally { ArrayPool<char>.Shared.Return(text); }
    }

    /// <summary>
    /// Compacts UTF-8 JSON in place (it only shrinks) and returns its new length. For a column's bytes as
    /// PostgreSQL sent them (an incident's sources, jsonb), on every row of a page or an export.
    /// </summary>
    public static int Compact(Span<byte> utf8) => Compact<byte>(utf8);

    /// <summary>Drops the white space outside strings (JSON's four: space, tab, line feed, carriage return), in place.</summary>
    private static int Compact<T>(Span<T> json) where T : unmanaged, IBinaryInteger<T>
    {
        T quote = T.CreateTruncating('"'), backslash = T.CreateTruncating('\\');
        T space = T.CreateTruncating(' '), tab = T.CreateTruncating('\t'), lineFeed = T.CreateTruncating('\n'), carriageReturn = T.CreateTruncating('\r');
        var written = 0;
        var inString = false;
        var escaped = false;
        foreach (var c in json)
        {
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == backslash) escaped = true;
                else if (c == quote) inString = false;
            }
            else if (c == space || c == lineFeed || c == carriageReturn || c == tab) continue;
            else if (c == quote) inString = true;
            json[written++] = c;
        }
        return written;
    }

    /// <summary>
    /// A GeoJSON Feature stored as jsonb (an incident's earlier version, migration 0006), with its
    /// members in the order a read of the incident writes them: type, id, geometry, then the properties
    /// in <paramref name="propertyOrder"/>. jsonb keeps keys sorted by length instead, which put tags
    /// first and title second. Members not in the order (none today) follow, as stored.
    /// </summary>
    public static string OrderedFeature(string jsonb, IReadOnlyList<string> propertyOrder)
    {
        if (JsonNode.Parse(jsonb) is not JsonObject stored) return Compact(jsonb);
        var feature = Ordered(stored, ["type", "id", "geometry", "properties"]);
        if (feature["properties"] is JsonObject properties) feature["properties"] = Ordered(properties, propertyOrder);
        return feature.ToJsonString(Relaxed);
    }

    /// <summary>A new object of <paramref name="source"/>'s members (taken out of it), those named in <paramref name="order"/> first, in that order.</summary>
    private static JsonObject Ordered(JsonObject source, IReadOnlyList<string> order)
    {
        var ordered = new JsonObject();
        foreach (var name in order.Where(source.ContainsKey).Concat(source.Select(m => m.Key).Where(k => !order.Contains(k))).ToList())
        {
            var value = source[name];
            source.Remove(name);
            ordered[name] = value;
        }
        return ordered;
    }
}
