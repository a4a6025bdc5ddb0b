using System.Text.Json;
using System.Text.Json.Nodes;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// Reads CQL2 JSON ({"op": …, "args": […]}, {"property": …}, {"timestamp": …}, {"date": …},
/// {"interval": […]}, {"bbox": […]}, GeoJSON geometries, plain strings, numbers, booleans and
/// arrays) into the same tree as the text parser. Locations are JSON paths such as $.args[1].
/// </summary>
internal sealed class Cql2JsonReader
{
    /// <summary>
    /// Each level of operations is an object and its args array, and coordinates nest further: deep
    /// enough that <see cref="Limits.MaxDepth"/> is what a deep filter meets, with its clearer message.
    /// </summary>
    private const int MaxJsonDepth = 4 * Limits.MaxDepth;

    private readonly Limits _limits = new();

    public static Node Read(string json)
    {
        JsonNode? root;
        // .NET's words for no JSON at all ("Expected the input to start with a valid JSON token, when isFinalBlock is true").
        if (string.IsNullOrWhiteSpace(json)) throw new FilterException(Location.Json("$"), "is empty: give a CQL2 JSON expression");
        try
        {
            // A member given twice is refused as the JSON is read, not when the object is first used (where it was
            // .NET's "An item with the same key has already been added").
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = MaxJsonDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new FilterException(Location.Json("$"), $"not valid JSON: {Describe(e)}");
        }
        return new Cql2JsonReader().Expression(root, "$");
    }

    /// <summary>What the JSON reader found wrong, in its words but without its own vocabulary (LineNumber, reader options).</summary>
    internal static string Describe(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        message = message.Replace(" Change the reader options.", "", StringComparison.Ordinal).Replace(" which is not supported in this mode", "", StringComparison.Ordinal).TrimEnd('.');
        if (message.StartsWith("Duplicate property '", StringComparison.Ordinal) && message.IndexOf("' encountered", StringComparison.Ordinal) is > 20 and var end)
            message = $"the member '{message[20..end]}' is given twice";
        return e.LineNumber is { } line ? $"{message} (line {line + 1}, byte {e.BytePositionInLine + 1})" : message;
    }

    private Node Expression(JsonNode? json, string path)
    {
        var at = Location.Json(path);
        return json switch
        {
            JsonObject obj => Object(obj, path),
            JsonArray array => _limits.Nested(at, () => Term(new ArrayNode(Items(array, path), at))),
            JsonValue value => value.GetValueKind() switch
            {
                // JSON's \u0000 or a lone surrogate escape decodes to text PostgreSQL refuses: said here, at its path,
                // not by the database (a 400 that named no parameter).
                JsonValueKind.String => Storable(value) is { } text
                    ? Term(new LiteralNode(text, at))
                    : throw new FilterException(at, "the string contains a NUL character or invalid Unicode"),
                JsonValueKind.Number => Term(new LiteralNode(Number(value, at), at)),
                JsonValueKind.True or JsonValueKind.False => Term(new LiteralNode(value.GetValue<bool>(), at)),
                var kind => throw new FilterException(at, $"{kind} is not a CQL2 expression"),
            },
            _ => throw new FilterException(at, "null is not a CQL2 expression"),
        };
    }

    /// <summary>The string, or null when PostgreSQL could not store it (NUL, or a lone surrogate, which reading it refuses).</summary>
    private static string? Storable(JsonValue value)
    {
        try
        {
            return value.GetValue<string>() is var text && Incidents.IncidentInput.IsStorableText(text) ? text : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private Node Object(JsonObject obj, string path)
    {
        var at = Location.Json(path);
        if (obj.ContainsKey("op"))
        {
            OnlyMembers(obj, path, "op", "args");
            var name = Member<string>(obj, "op", path);
            if (obj["args"] is not JsonArray args) throw new FilterException(Location.Json(path + ".args"), "an operation needs an args array");
            return _limits.Nested(at, () => Term(new CallNode(name.ToLowerInvariant(), Items(args, path + ".args"), at)));
        }
        if (obj.ContainsKey("property")) return Term(new PropertyNode(Member<string>(OnlyMembers(obj, path, "property"), "property", path), at));
        if (obj.ContainsKey("timestamp")) return Literal(Literals.Timestamp(Member<string>(OnlyMembers(obj, path, "timestamp"), "timestamp", path), at), at);
        if (obj.ContainsKey("date")) return Literal(Literals.Date(Member<string>(OnlyMembers(obj, path, "date"), "date", path), at), at);
        if (obj.ContainsKey("interval")) return Interval(OnlyMembers(obj, path, "interval"), path);
        // A GeoJSON geometry may carry a bbox member of its own (RFC 7946 §5): its type decides.
        if (obj.ContainsKey("type")) return Literal(Literals.GeoJson(obj, at), at);
        if (obj.ContainsKey("bbox")) return Literal(Literals.Bbox(Values<double>(OnlyMembers(obj, path, "bbox"), "bbox", path), at), at);
        throw new FilterException(at, "expected an object with op, property, timestamp, date, interval, bbox, or a GeoJSON geometry");
    }

    /// <summary>
    /// The object, when it has no member but <paramref name="names"/>: one more (<c>"extra": 1</c>, a misspelt
    /// <c>"arg"</c>) was ignored, so a filter could mean other than its writer thought; refused at its path, as an
    /// unknown query parameter is.
    /// </summary>
    private static JsonObject OnlyMembers(JsonObject obj, string path, params string[] names) =>
        obj.Select(member => member.Key).FirstOrDefault(key => !names.Contains(key)) is { } other
            ? throw new FilterException(Location.Json($"{path}.{other}"),
                $"is not a member of {(names[0] == "op" ? "an operation" : $"a {names[0]} object")}; it has {string.Join(" and ", names)} only")
            : obj;

    /// <summary>
    /// {"interval": [start, end]}: two strings (a date, a timestamp or "..") are a literal; an end that is an object (a
    /// property, which the compiler judges) makes it an "interval" call of its two ends, as the text parser makes one.
    /// </summary>
    private Node Interval(JsonObject obj, string path)
    {
        var at = Location.Json(path);
        if (obj["interval"] is not JsonArray bounds) throw new FilterException(Location.Json($"{path}.interval"), "must be an array");
        if (bounds.Count != 2) throw new FilterException(at, "an interval has two ends");
        if (bounds.All(b => b is JsonValue v && v.GetValueKind() == JsonValueKind.String))
        {
            var (start, end) = (Location.Json(path + ".interval[0]"), Location.Json(path + ".interval[1]"));
            return Literal(Literals.Interval(Literals.IntervalBound(Scalar<string>(bounds[0], start.Path), start), Literals.IntervalBound(Scalar<string>(bounds[1], end.Path), end), at), at);
        }
        return _limits.Nested(at, () => Term(new CallNode("interval", [.. bounds.Select((bound, n) => Bound(bound, $"{path}.interval[{n}]"))], at)));

        Node Bound(JsonNode? bound, string where) => bound is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? Term(new LiteralNode(Literals.IntervalBound(Scalar<string>(value, where), Location.Json(where)) ?? (object)"..", Location.Json(where)))
            : Expression(bound, where);
    }

    private List<Node> Items(JsonArray array, string path) => array.Select((item, n) => Expression(item, $"{path}[{n}]")).ToList();

    /// <summary>The number as written (a double would round it), read as CQL2 text reads one.</summary>
    private static object Number(JsonValue value, Location at) =>
        Literals.Number(value.TryGetValue<JsonElement>(out var element) ? element.GetRawText() : value.ToJsonString(), at);

    private static T Member<T>(JsonObject obj, string name, string path) => Scalar<T>(obj[name], $"{path}.{name}");

    private static List<T> Values<T>(JsonObject obj, string name, string path)
    {
        if (obj[name] is not JsonArray array) throw new FilterException(Location.Json($"{path}.{name}"), "must be an array");
        return array.Select((item, n) => Scalar<T>(item, $"{path}.{name}[{n}]")).ToList();
    }

    private static T Scalar<T>(JsonNode? json, string path)
    {
        try
        {
            if (json is JsonValue value && value.TryGetValue<T>(out var result)) return result;
        }
        catch (InvalidOperationException)
        {
            // A lone surrogate escape ("\ud800") is a string .NET refuses to decode.
            throw new FilterException(Location.Json(path), "the string contains invalid Unicode");
        }
        throw new FilterException(Location.Json(path), $"must be a {(typeof(T) == typeof(string) ? "string" : "number")}");
    }

    private LiteralNode Literal(object value, Location at) => Term(new LiteralNode(value, at));

    private T Term<T>(T node) where T : Node => _limits.Term(node);
}
