using System.Globalization;
using System.Text.Json;

namespace IncidentMap.Api.Incidents;

/// <summary>
/// What is wrong with a geometry NetTopologySuite could not read, in plain words and with where it is.
/// Its own messages name .NET types ("could not be converted to NetTopologySuite.Geometries.Geometry",
/// "found CharToken: )") or say nothing ("Error in the application."), and they reached clients: these
/// are said instead. Asked only once the reader has refused a geometry, so nothing it reads is refused
/// here that was taken before.
/// </summary>
internal static class GeometryShape
{
    /// <summary>How many arrays a type's coordinates hold above a position.</summary>
    private static readonly Dictionary<string, int> Depths = new(StringComparer.Ordinal)
    {
        ["Point"] = 0, ["MultiPoint"] = 1, ["LineString"] = 1, ["Polygon"] = 2, ["MultiLineString"] = 2, ["MultiPolygon"] = 3,
    };

    private const string GeoJsonTypes = "Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon, GeometryCollection";

    // RFC 7946 §3.1.1: two or more numbers. Incidents are 2D: a height, or a measure after it as some GIS
    // exports write, is accepted and not stored (IncidentInput.ParseGeometry).
    private const string Position = "a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored";

    /// <summary>
    /// The first part of a GeoJSON geometry object (RFC 7946 §3.1) that does not have its type's shape:
    /// where, as a path inside the object (<c>coordinates[1]</c>, <c>geometries[0].type</c>), and what.
    /// Null if none is found. Coordinates that are absent, null or an empty array are an empty geometry,
    /// left to the caller.
    /// </summary>
    public static (string Where, string What)? GeoJson(JsonElement geometry) => Geometry(geometry, "");

    /// <summary>Why a GeoJSON geometry the reader refused is not one, as a write or an import names it after the field.</summary>
    public static string GeoJsonReason(JsonElement geometry) => GeoJson(geometry) is { } flaw
        ? $"{flaw.Where} {flaw.What}"
        : "its members are not as RFC 7946 §3.1 writes that type";

    private static (string Where, string What)? Geometry(JsonElement geometry, string prefix)
    {
        if (geometry.ValueKind != JsonValueKind.Object) return (prefix.TrimEnd('.'), $"is {Kind(geometry)}, not a GeoJSON geometry object");
        var type = geometry.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : null;
        if (type == "GeometryCollection")
        {
            if (geometry.TryGetProperty("coordinates", out _))
                return ($"{prefix}coordinates", "is not a member of a GeometryCollection, whose parts are in its geometries array");
            if (!geometry.TryGetProperty("geometries", out var parts) || parts.ValueKind == JsonValueKind.Null)
                return ($"{prefix}geometries", "is missing; a GeometryCollection has its parts in a geometries array");
            if (parts.ValueKind != JsonValueKind.Array) return ($"{prefix}geometries", $"is {Kind(parts)}, not an array of geometries");
            var n = 0;
            foreach (var part in parts.EnumerateArray())
                if (Geometry(part, $"{prefix}geometries[{n++}].") is { } flaw) return flaw;
            return null;
        }
        if (type is null || !Depths.TryGetValue(type, out var depth))
            return ($"{prefix}type", type is null
                ? $"is missing or not a string; a GeoJSON geometry has a type: {GeoJsonTypes}"
                : $"'{type}' is not a GeoJSON geometry type; use {GeoJsonTypes}");
        if (!geometry.TryGetProperty("coordinates", out var coordinates) || coordinates.ValueKind == JsonValueKind.Null) return null;
        return Coordinates(coordinates, type, depth, $"{prefix}coordinates", top: true);
    }

    /// <param name="depth">How many arrays <paramref name="value"/> holds above a position (0: it is one).</param>
    private static (string Where, string What)? Coordinates(JsonElement value, string type, int depth, string where, bool top)
    {
        if (value.ValueKind != JsonValueKind.Array) return (where, $"is {Kind(value)}, not {Expected(type, depth)}");
        var count = value.GetArrayLength();
        // An empty coordinates array is an empty geometry; an empty part inside one is not.
        if (count == 0 && top) return null;
        if (depth == 0)
        {
            var i = 0;
            foreach (var number in value.EnumerateArray())
            {
                if (number.ValueKind != JsonValueKind.Number) return ($"{where}[{i}]", $"is {Kind(number)}, not a number ({Position})");
                i++;
            }
            return count >= 2 ? null : (where, $"has {Count(count, "number")}; {Position}");
        }
        var n = 0;
        foreach (var item in value.EnumerateArray())
            if (Coordinates(item, type, depth - 1, $"{where}[{n++}]", top: false) is { } flaw) return flaw;
        var ring = depth == 1 && type is "Polygon" or "MultiPolygon";
        var line = depth == 1 && type is "LineString" or "MultiLineString";
        if (line && count < 2) return (where, $"has {Count(count, "position")}; a line needs at least 2");
        if (ring && count < 4) return (where, $"has {Count(count, "position")}; a polygon ring needs at least 4, the last the same as the first");
        if (ring && !SamePlace(value[0], value[count - 1]))
            return (where, "does not end where it starts; a polygon ring's last position must repeat its first");
        if (depth == 2 && type == "MultiPolygon" && count == 0) return (where, "has no rings; a polygon needs at least its outer ring");
        return null;
    }

    private static string Expected(string type, int depth) => depth switch
    {
        0 => $"a position ({Position})",
        1 => "an array of positions",
        2 when type == "MultiLineString" => "an array of lines, each an array of positions",
        2 => "an array of rings, each an array of positions",
        _ => "an array of polygons, each an array of rings",
    };

    /// <summary>Whether two positions have the same longitude and latitude, as a ring closes (NetTopologySuite compares those two).</summary>
    private static bool SamePlace(JsonElement a, JsonElement b)
    {
        for (var i = 0; i < 2; i++)
        {
            var same = a[i].TryGetDouble(out var x) && b[i].TryGetDouble(out var y) ? x == y : a[i].GetRawText() == b[i].GetRawText();
            if (!same) return false;
        }
        return true;
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "null",
    };

    private static string Count(int count, string what) => count switch
    {
        0 => $"no {what}s",
        1 => $"1 {what}",
        _ => $"{count} {what}s",
    };

    /// <summary>
    /// The first part of a WKT geometry that is not as its type is written (OGC 06-103r4 §7, as CQL2's
    /// geometry literals take it): its character offset in <paramref name="text"/>, and what. Null if none is
    /// found. A position is 2 numbers, or 3 (a height, with or without Z); with Z or M it is 3, with ZM 4.
    /// </summary>
    public static (int Offset, string What)? Wkt(string text)
    {
        try
        {
            var reader = new WktReader(text);
            reader.Geometry();
            reader.End();
            return null;
        }
        catch (WktFlaw flaw)
        {
            return (flaw.Offset, flaw.Message);
        }
    }

    private sealed class WktFlaw(int offset, string message) : Exception(message)
    {
        public int Offset { get; } = offset;
    }

    private readonly record struct WktToken(string Text, int Offset)
    {
        public bool Is(string text) => Text.Equals(text, StringComparison.OrdinalIgnoreCase);
        public bool IsWord => Text is not ("" or "(" or ")" or ",");
    }

    private sealed class WktReader
    {
        private static readonly string[] Types =
            ["POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"];

        private static readonly HashSet<string> NotFinite = new(["nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"], StringComparer.OrdinalIgnoreCase);

        /// <summary>Collections within collections this deep are not read on (a CSV cell has no other bound; a filter stops at 64).</summary>
        private const int MaxDepth = 64;

        private readonly List<WktToken> _tokens = [];
        private int _next;
        private int _depth;

        /// <summary>Numbers a position of the geometry being read has: 0 for 2 or 3 (no Z, M or ZM given).</summary>
        private int _numbers;
        private string _dimension = "";

        public WktReader(string text)
        {
            var i = 0;
            while (true)
            {
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
                if (i == text.Length) break;
                var start = i;
                if (text[i] is '(' or ')' or ',') i++;
                else
                    while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('(' or ')' or ',')) i++;
                _tokens.Add(new WktToken(text[start..i], start));
            }
            _tokens.Add(new WktToken("", text.Length));
        }

        private WktToken Peek() => _tokens[_next];

        private WktToken Advance() => _tokens[Math.Min(_next++, _tokens.Count - 1)];

        private static string Describe(WktToken token) => token.Text.Length == 0 ? "the end of the geometry" : $"'{token.Text}'";

        private static WktFlaw Flaw(WktToken at, string message) => new(at.Offset, message);

        public void End()
        {
            if (Peek().Text.Length > 0) throw Flaw(Peek(), $"unexpected {Describe(Peek())} after the geometry");
        }

        public void Geometry()
        {
            var keyword = Advance();
            var type = Types.FirstOrDefault(keyword.Is)
                ?? throw Flaw(keyword, $"expected a geometry type ({string.Join(", ", Types)}), found {Describe(keyword)}");
            if (Peek().Is("Z") || Peek().Is("M") || Peek().Is("ZM"))
            {
                var dimension = Advance();
                (_numbers, _dimension) = (dimension.Is("ZM") ? 4 : 3, dimension.Text.ToUpperInvariant());
            }
            else (_numbers, _dimension) = (0, "");
            if (Peek().Is("EMPTY"))
            {
                Advance();
                return;
            }
            var open = Open($"after {keyword.Text}");
            switch (type)
            {
                case "POINT": Position(); Close(); break;
                case "LINESTRING": Line(open); break;
                case "POLYGON": Items(Ring, emptyAllowed: true); break;
                case "MULTIPOINT": Items(() => { if (Peek().Text == "(") { Open(""); Position(); Close(); } else Position(); }, emptyAllowed: true); break;
                case "MULTILINESTRING": Items(() => Line(Open("to start a line")), emptyAllowed: true); break;
                case "MULTIPOLYGON": Items(() => { Open("to start a polygon"); Items(Ring, emptyAllowed: true); }, emptyAllowed: true); break;
                default:
                    if (++_depth > MaxDepth) throw Flaw(open, $"the geometry is nested more than {MaxDepth} levels deep");
                    var (numbers, dimension) = (_numbers, _dimension);
                    Items(() => { Geometry(); (_numbers, _dimension) = (numbers, dimension); }, emptyAllowed: false);
                    _depth--;
                    break;
            }
        }

        /// <summary>Items separated by commas up to and including the closing parenthesis.</summary>
        private void Items(Action item, bool emptyAllowed)
        {
            while (true)
            {
                if (emptyAllowed && Peek().Is("EMPTY")) Advance();
                else item();
                var next = Advance();
                if (next.Text == ")") return;
                if (next.Text != ",") throw Flaw(next, $"expected ',' or ')', found {Describe(next)}");
            }
        }

        private WktToken Open(string where)
        {
            var token = Advance();
            if (token.Text != "(") throw Flaw(token, $"expected '('{(where.Length > 0 ? " " + where : "")}, found {Describe(token)}");
            return token;
        }

        private void Close()
        {
            var token = Advance();
            if (token.Text != ")") throw Flaw(token, $"expected ')', found {Describe(token)}");
        }

        /// <summary>The positions of a line or ring after its '(' (not its closing parenthesis); returns them.</summary>
        private List<double[]> Positions()
        {
            var positions = new List<double[]> { Position() };
            while (Peek().Text == ",")
            {
                Advance();
                positions.Add(Position());
            }
            return positions;
        }

        private void Line(WktToken open)
        {
            var positions = Positions();
            Close();
            if (positions.Count < 2) throw Flaw(open, "a line has 1 position; it needs at least 2");
        }

        private void Ring()
        {
            var open = Open("to start a polygon ring");
            var positions = Positions();
            Close();
            if (positions.Count < 4)
                throw Flaw(open, $"a polygon ring has {positions.Count} position{(positions.Count == 1 ? "" : "s")}; it needs at least 4, the last the same as the first");
            if (positions[0][0] != positions[^1][0] || positions[0][1] != positions[^1][1])
                throw Flaw(open, "a polygon ring does not end where it starts; its last position must repeat its first");
        }

        private double[] Position()
        {
            var start = Peek();
            var numbers = new List<double>();
            while (Peek().IsWord)
            {
                var token = Advance();
                if (!double.TryParse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    if (!NotFinite.Contains(token.Text)) throw Flaw(token, $"expected a number, found {Describe(token)}");
                    number = double.NaN;
                }
                numbers.Add(number);
            }
            var valid = _numbers == 0 ? numbers.Count is 2 or 3 : numbers.Count == _numbers;
            if (valid) return [.. numbers];
            if (numbers.Count == 0) throw Flaw(start, $"expected a number, found {Describe(start)}");
            var found = $"found {numbers.Count} number{(numbers.Count == 1 ? "" : "s")}";
            throw Flaw(start, _numbers == 0
                ? $"a position is 2 numbers (longitude latitude), or 3 with a height; {found}"
                : $"a position of a geometry with {_dimension} is {_numbers} numbers; {found}");
        }
    }
}
