using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Querying;
using NetTopologySuite;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using NetTopologySuite.IO.Converters;
using NetTopologySuite.Operation.Valid;

namespace IncidentMap.Api.Filtering;

/// <summary>
/// Temporal and spatial literals, shared by the text and JSON encodings. Every geometry is checked
/// here because PostGIS rejects out-of-range geography and some invalid shapes with an error, which
/// would surface as a server error instead of a bad filter.
/// </summary>
internal static class Literals
{
    private static readonly TimeSpan LastMicrosecondOfDay = TimeSpan.FromDays(1) - TimeSpan.FromTicks(10);

    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);

    private static readonly JsonSerializerOptions GeoJsonOptions = new() { Converters = { new GeoJsonConverterFactory(Factory) } };

    private static readonly HashSet<string> GeoJsonTypes =
        ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"];

    /// <summary>
    /// Digits a number may have before its decimal point: numbers below 1e309 in magnitude, which is every
    /// number a double holds (S_DWITHIN's 1e308 metres is still the whole Earth) and no more, as before.
    /// </summary>
    public const int MaxWholeDigits = 309;

    /// <summary>
    /// Decimal places a number may have. PostgreSQL's numeric holds far more (16,383), but a bound keeps an
    /// exponent such as 1e-99999999 from being written out in full.
    /// </summary>
    public const int MaxDecimalPlaces = 1000;

    /// <summary>
    /// A CQL2 number, an exact decimal (both encodings write it the same way: sign, digits, fraction,
    /// exponent): a long when it is a whole number that fits one, bound as bigint, so that an integer
    /// column's index serves the comparison as before; otherwise an <see cref="ExactNumber"/>, compared as
    /// numeric. Read as a double, as it once was, 51.00000000000000001 equalled 51 and 19.999999999999999
    /// was not less than 20.
    /// </summary>
    public static object Number(string text, Location at)
    {
        var i = 0;
        var negative = text.Length > 0 && text[0] == '-';
        if (text.Length > 0 && text[0] is '+' or '-') i++;
        var digits = new StringBuilder();
        while (i < text.Length && char.IsAsciiDigit(text[i])) digits.Append(text[i++]);
        var fractionDigits = 0;
        if (i < text.Length && text[i] == '.')
        {
            for (i++; i < text.Length && char.IsAsciiDigit(text[i]); i++, fractionDigits++) digits.Append(text[i]);
        }
        var exponent = BigInteger.Zero;
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            var start = ++i;
            if (i < text.Length && text[i] is '+' or '-') i++;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            if (!BigInteger.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
                i = -1;
        }
        if (i != text.Length || digits.Length == 0) throw new FilterException(at, $"'{text}' is not a number");

        // The value is significant × 10^power, the significant digits without zeros at either end.
        var significant = digits.ToString().TrimStart('0');
        if (significant.Length == 0) return 0L;
        var trimmed = significant.TrimEnd('0');
        var power = exponent - fractionDigits + (significant.Length - trimmed.Length);
        if (trimmed.Length + power > MaxWholeDigits)
            throw new FilterException(at, $"{text} is too large: a number in a filter is less than 1e{MaxWholeDigits} in magnitude");
        if (power < -MaxDecimalPlaces)
            throw new FilterException(at, $"{text} has more than {MaxDecimalPlaces} decimal places");

        var shift = (int)power;
        var plain = shift >= 0 ? trimmed + new string('0', shift)
            : trimmed.Length > -shift ? $"{trimmed[..^-shift]}.{trimmed[^-shift..]}"
            : "0." + new string('0', -shift - trimmed.Length) + trimmed;
        if (negative) plain = "-" + plain;
        return shift >= 0 && long.TryParse(plain, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)
            ? whole
            : new ExactNumber(plain);
    }

    /// <summary>A number literal (<see cref="Number"/>) as the nearest double, for measures: coordinates, distances.</summary>
    public static double Approximately(object number) => number switch
    {
        long whole => whole,
        ExactNumber exact => exact.Approximately,
        _ => throw new InvalidOperationException($"{number.GetType().Name} is not a number literal"),
    };

    public static TimeInstant Timestamp(string text, Location at)
    {
        if (Rfc3339.IsFinerThanMicroseconds(text)) throw new FilterException(at, $"'{text}' {Rfc3339.FinerThanMicroseconds}");
        // Year 0000 is read 400 years on and moved back; with an offset west of UTC it may be in year 1 after all.
        var yearZero = Rfc3339.InYearZero(text);
        if (!Rfc3339.TryParseDateTime(yearZero ?? text, out var instant))
        {
            // As datetime= takes them: year 1 east of UTC (still year 0000 there), 9999-12-31 west of it (year 10000).
            if (Rfc3339.TryParseBeyondCalendar(text, out var beyond, out var beforeYear1)) return new TimeInstant(beyond, beyond, IsDate: false, beforeYear1);
            throw new FilterException(at, $"'{text}' {Rfc3339.LeapSecond(text) ?? "is not an RFC 3339 timestamp such as 2016-02-21T07:30:00Z"}");
        }
        var (utc, early) = yearZero is null ? (instant.ToUniversalTime(), false) : Rfc3339.Unshift(instant);
        return new TimeInstant(utc, utc, IsDate: false, early);
    }

    public static TimeInstant Date(string text, Location at)
    {
        var yearZero = Rfc3339.InYearZero(text);
        if (!DateOnly.TryParseExact(yearZero ?? text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            throw new FilterException(at, $"'{text}' is not a date such as 2016-02-21");
        var first = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return new TimeInstant(first, first + LastMicrosecondOfDay, IsDate: true, Early: yearZero is not null);
    }

    /// <summary>An interval end as CQL2 writes it: a date, a timestamp, or '..' (open, null).</summary>
    public static TimeInstant? IntervalBound(string text, Location at) => text switch
    {
        ".." => null,
        { Length: 10 } => Date(text, at),
        _ => Timestamp(text, at),
    };

    public static TimeInterval Interval(TimeInstant? start, TimeInstant? end, Location at)
    {
        if (start is not null && end is not null && start.FirstTicks > end.LastTicks)
            throw new FilterException(at, "the interval starts after it ends");
        return new TimeInterval(start, end);
    }

    public static Geometry Wkt(string text, Location at)
    {
        // XY unless the text says Z or M: the old NTS default would invent a NaN Z for every coordinate.
        var reader = new WKTReader(NtsGeometryServices.Instance) { IsOldNtsCoordinateSyntaxAllowed = false };
        try
        {
            return OneWayRound(Checked(Factory.CreateGeometry(reader.Read(text)), at), at);
        }
        catch (Exception e) when (e is ParseException or ArgumentException or InvalidOperationException or FormatException or ApplicationException)
        {
            // CQL2's grammar lets a point have a third ordinate without a Z tag (POINT(10 20 0)); the
            // strict reader refuses that, so such text is read once more as XYZ.
            try
            {
                return OneWayRound(Checked(Factory.CreateGeometry(new WKTReader(NtsGeometryServices.Instance) { IsOldNtsCoordinateSyntaxAllowed = true }.Read(text)), at), at);
            }
            catch (Exception again) when (again is ParseException or ArgumentException or InvalidOperationException or FormatException or ApplicationException)
            {
                // The reader's messages name its classes ("found CharToken: )") or nothing ("Error in the application.").
                throw GeometryShape.Wkt(text) is { } flaw
                    ? new FilterException(Location.Text(at.Offset + flaw.Offset), $"not a valid WKT geometry: {flaw.What}")
                    : new FilterException(at, "not a valid WKT geometry; write it as CQL2 does, e.g. POINT(36.7 34.7) or POLYGON((36 34, 37 34, 37 35, 36 34))");
            }
        }
    }

    /// <summary>
    /// minx,miny,maxx,maxy (or with minz and maxz) as the bbox parameter reads them (<see cref="QueryParser.Boxes"/>):
    /// minx &gt; maxx crosses the antimeridian. A box of no width or height is a line or a point.
    /// </summary>
    public static Geometry Bbox(IReadOnlyList<double> numbers, Location at)
    {
        var boxes = QueryParser.Boxes(numbers, out var error) ?? throw new FilterException(at, $"the bbox: {error}");
        var box = Checked(Shape(boxes), at);
        box.UserData = new BboxMark(boxes.Any(b => b.Alias) ? Shape([.. boxes.Where(b => !b.Alias)]) : null);
        return box;

        static Geometry Shape(IReadOnlyList<Box> boxes)
        {
            Geometry[] parts = [.. boxes.Select(b => Factory.ToGeometry(new Envelope(b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)))];
            return parts.Length == 1 ? parts[0] : Factory.BuildGeometry(parts);
        }
    }

    /// <param name="Plain">The box without the other spellings of its edges (null when it has none).</param>
    private sealed record BboxMark(Geometry? Plain);

    /// <summary>Whether a literal is a BBOX: its edges are parallels and meridians, as the bbox parameter's are.</summary>
    public static bool IsBbox(Geometry geometry) => geometry.UserData is BboxMark;

    /// <summary>
    /// A BBOX without the other spellings of its edge at ±180° or a pole (<see cref="Box.Alias"/>, lines a
    /// shape meets when it meets that edge); null when it has none. What meets the box meets them, but they are not
    /// more of the box: with them, S_CONTAINS and S_EQUALS missed a shape that was the box.
    /// </summary>
    public static Geometry? WithoutEdgeAliases(Geometry geometry) => (geometry.UserData as BboxMark)?.Plain;

    /// <summary>
    /// A BBOX's rim (or whole box) with a vertex at least every 0.1° of its edges, so that read as geodesics (a
    /// geography) its edges stay within about a metre of the parallels the box means (a geodesic between two
    /// points of a parallel bulges towards the pole: by 120 m over 1° at 45°, round the far side of the world over
    /// 200°), and no edge joins the poles, which PostGIS refuses.
    /// </summary>
    public static Geometry Densified(Geometry box, bool rim)
    {
        // A box of no width or height is a line or a point, which is its own rim (and a box across the antimeridian
        // two parts, whose collection has no boundary at all).
        var shape = rim ? Factory.BuildGeometry([.. Parts(box).Select(p => p is Polygon ? p.Boundary : p)]) : box;
        var densified = NetTopologySuite.Densify.Densifier.Densify(shape, 0.1);
        densified.SRID = Factory.SRID;
        return densified;
    }

    public static Geometry GeoJson(JsonObject json, Location at)
    {
        var type = TypeOf(json);
        if (type is null || !GeoJsonTypes.Contains(type))
            throw new FilterException(at, $"'{type}' is not a GeoJSON geometry type; use {string.Join(", ", GeoJsonTypes)}");
        // RFC 7946 §3.1: the member is required (an empty geometry writes []); without it the reader made an empty
        // geometry, and a mistyped member matched nothing in silence.
        if (Uncoordinated(json, "") is { } missing)
            throw new FilterException(Location.Json($"{at.Path}{missing.Path}.coordinates"), $"is missing; a {missing.Type} has its positions in a coordinates array ([] for an empty one)");
        try
        {
            var geometry = json.Deserialize<Geometry>(GeoJsonOptions)
                ?? throw new FilterException(at, "the geometry is empty");
            return OneWayRound(Checked(geometry, at), at);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or InvalidCastException)
        {
            // The reader's own messages name .NET types ("could not be converted to NetTopologySuite.Geometries.Geometry"):
            // what is wrong is said instead, at its path, as the other members of a filter are.
            throw Flaw(json) is { } flaw
                ? new FilterException(Location.Json($"{at.Path}.{flaw.Where}"), flaw.What)
                : new FilterException(at, $"not a valid GeoJSON {type}: its members are not as RFC 7946 §3.1 writes that type");
        }
    }

    private static string? TypeOf(JsonObject json) => json["type"] is JsonValue value && value.TryGetValue<string>(out var name) ? name : null;

    /// <summary>The first geometry, the collection's parts included, without its coordinates member: its path and type.</summary>
    private static (string Path, string Type)? Uncoordinated(JsonObject json, string path)
    {
        var type = TypeOf(json);
        if (type != "GeometryCollection") return type is not null && GeoJsonTypes.Contains(type) && !json.ContainsKey("coordinates") ? (path, type) : null;
        if (json["geometries"] is not JsonArray parts) return null; // the reader names a missing geometries member
        for (var n = 0; n < parts.Count; n++)
            if (parts[n] is JsonObject part && Uncoordinated(part, $"{path}.geometries[{n}]") is { } missing) return missing;
        return null;
    }

    /// <summary>What is wrong in a geometry the reader refused; null when that cannot be said (nested deeper than a JSON writer goes).</summary>
    private static (string Where, string What)? Flaw(JsonNode json)
    {
        try
        {
            return GeometryShape.GeoJson(JsonSerializer.SerializeToElement(json, DeepJson));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>As deep as a filter may nest (Cql2JsonReader reads to 4 × Limits.MaxDepth).</summary>
    private static readonly JsonSerializerOptions DeepJson = new() { MaxDepth = 4 * Limits.MaxDepth + 8 };

    /// <summary>
    /// Refuses a line or polygon with an edge over 180° of longitude, by the rule writes and a search's
    /// intersects follow (<see cref="IncidentInput.ParseGeometry(JsonElement, string, List{Problems.FieldError})"/>, asked of each part): S_INTERSECTS
    /// reads such an edge the long way round the world, S_DWITHIN's geography the short way across the
    /// antimeridian, so one literal would be two shapes. A BBOX says which side it means and is not asked.
    /// </summary>
    private static Geometry OneWayRound(Geometry geometry, Location at)
    {
        foreach (var part in Parts(geometry).Where(p => p is LineString or Polygon && !p.IsEmpty))
        {
            var errors = new List<Problems.FieldError>();
            IncidentInput.ParseGeometry(JsonSerializer.SerializeToElement(part, GeoJsonOptions), "geometry", errors);
            if (errors.Count > 0) throw new FilterException(at, $"the geometry {errors[0].Detail}");
        }
        return geometry;
    }

    /// <summary>The points, lines and polygons of a geometry, collections and multi-geometries taken apart.</summary>
    internal static IEnumerable<Geometry> Parts(Geometry geometry) => geometry is GeometryCollection collection
        ? Enumerable.Range(0, collection.NumGeometries).SelectMany(n => Parts(collection.GetGeometryN(n)))
        : [geometry];

    private static Geometry Checked(Geometry geometry, Location at)
    {
        // GeometryFactory.CreateGeometry hands back an empty polygon as the reader made it, with SRID 0,
        // and PostGIS refuses to compare that with the incidents' 4326 (a 500 for POLYGON EMPTY).
        geometry.SRID = Factory.SRID;
        // Today a filter's 20,000 characters hold fewer (about 5,000 at four characters a vertex); the
        // bound stays if that limit moves, the same as a search's intersects.
        if (geometry.NumPoints > IncidentQuery.MaxShapeVertices)
            throw new FilterException(at,
                $"the geometry has {geometry.NumPoints} vertices; a geometry in a filter may have at most {IncidentQuery.MaxShapeVertices}: simplify it");
        foreach (var c in geometry.Coordinates)
        {
            if (!double.IsFinite(c.X) || !double.IsFinite(c.Y) || c.X is < -180 or > 180 || c.Y is < -90 or > 90)
                throw new FilterException(at, $"({c.X.ToString(CultureInfo.InvariantCulture)} {c.Y.ToString(CultureInfo.InvariantCulture)}) is not a WGS 84 longitude and latitude");
        }
        // Read, a closed ring of 3 positions is only found invalid ("Too few points in geometry component"): said as writes say it.
        if (Parts(geometry).OfType<Polygon>().SelectMany(p => p.InteriorRings.Prepend(p.ExteriorRing)).FirstOrDefault(r => !r.IsEmpty && r.NumPoints < 4) is { } shortRing)
            throw new FilterException(at, $"a polygon ring has {shortRing.NumPoints} positions; a closed ring needs at least 4");
        var validation = new IsValidOp(geometry).ValidationError;
        if (validation is not null) throw new FilterException(at, $"the geometry is not valid: {validation.Message}");
        return geometry;
    }
}
