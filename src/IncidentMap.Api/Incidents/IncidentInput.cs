using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Problems;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace IncidentMap.Api.Incidents;

/// <summary>An incident as validated and normalised from a client's GeoJSON Feature, ready to store.</summary>
public sealed record IncidentDraft(
    string Title,
    string? Summary,
    string EventType,
    string? SubEventType,
    DateTimeOffset OccurredAt,
    string TimePrecision,
    string? LocationName,
    string? Admin1,
    string? Admin2,
    string? Admin3,
    string? Country,
    string GeoPrecision,
    int? FatalitiesMin,
    int? FatalitiesMax,
    int? InjuredMin,
    int? InjuredMax,
    string[] Actors,
    string? ClaimedBy,
    string Sources,
    string Status,
    string[] Tags,
    string? ExternalId,
    Geometry Geometry)
{
    /// <summary>The gazetteer place the server geocoded this incident to, if it did.</summary>
    public long? PlaceId { get; init; }

    /// <summary>Properties the server filled in (geocoding), not the client.</summary>
    public string[] DerivedFields { get; init; } = [];
}

/// <summary>
/// Validates a GeoJSON Feature against the incident model and collects every problem, each named by
/// its field (e.g. <c>properties.fatalities_min</c>), instead of stopping at the first.
/// </summary>
public static class IncidentInput
{
    /// <summary>Vertex cap per geometry (documented in the README); bigger shapes belong in a dataset import.</summary>
    public const int MaxVertices = 100_000;

    /// <summary>Properties the server owns; clients may echo them back (GET, edit, PUT) and they are ignored.</summary>
    private static readonly HashSet<string> ReadOnly = ["created_at", "updated_at", "version", "distance_m", "place_id", "derived_fields"];

    private static readonly HashSet<string> Known =
    [
        "title", "summary", "event_type", "sub_event_type", "occurred_at", "time_precision", "location_name",
        "admin1", "admin2", "admin3", "country", "geo_precision", "fatalities_min", "fatalities_max", "injured_min",
        "injured_max", "actors", "claimed_by", "sources", "status", "tags", "external_id",
    ];

    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);

    private static readonly JsonSerializerOptions GeoJsonOptions = new()
    {
        Converters = { new GeoJsonConverterFactory(Factory) },
    };

    public static (IncidentDraft? Draft, List<FieldError> Errors) Parse(JsonElement feature)
    {
        try
        {
            return ParseFeature(feature);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // System.Text.Json refuses to decode escapes that are not valid UTF-16 (a lone surrogate).
            return (null, [new FieldError("", "the Feature contains text that is not valid Unicode")]);
        }
    }

    private static (IncidentDraft? Draft, List<FieldError> Errors) ParseFeature(JsonElement feature)
    {
        var errors = new List<FieldError>();
        if (feature.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("", "the body must be a GeoJSON Feature object"));
            return (null, errors);
        }

        if (!feature.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "Feature")
            errors.Add(new FieldError("type", "must be \"Feature\""));
        ForeignMembers(feature, errors);

        var geometry = ParseGeometry(feature, errors);

        if (!feature.TryGetProperty("properties", out var props) || props.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("properties", "is required and must be an object"));
            return (null, errors);
        }

        var p = new PropertyReader(props, errors);
        foreach (var property in props.EnumerateObject())
        {
            if (!Known.Contains(property.Name) && !ReadOnly.Contains(property.Name))
                errors.Add(new FieldError($"properties.{property.Name}", "is not an incident property"));
        }

        var title = p.Line("title", required: true, maxLength: 500);
        if (title is { Length: 0 }) errors.Add(new FieldError("properties.title", "must not be blank"));
        var summary = p.OptionalProse("summary", maxLength: 20_000);
        var eventType = p.Enum("event_type", Vocabulary.EventTypes, required: true);
        var subEventType = p.OptionalLine("sub_event_type", maxLength: 200);
        var (occurredAt, impliedPrecision) = p.IncidentTime("occurred_at");
        var givenPrecision = p.Enum("time_precision", Vocabulary.TimePrecisions);
        // A precision finer than what occurred_at says would invent what nobody reported: "2016-03" with
        // week put the incident in the week of 29 February, and in February's statistics.
        if (givenPrecision is not null && impliedPrecision is not null
            && Array.IndexOf(Vocabulary.TimePrecisions, givenPrecision) < Array.IndexOf(Vocabulary.TimePrecisions, impliedPrecision))
            errors.Add(new FieldError("properties.time_precision",
                $"'{givenPrecision}' is finer than occurred_at {FieldError.Quoted(props.GetProperty("occurred_at").GetString())}, which gives a {impliedPrecision}; " +
                $"give time_precision {string.Join(" or ", Vocabulary.TimePrecisions.SkipWhile(v => v != impliedPrecision))}, or a full date-time"));
        var timePrecision = givenPrecision ?? impliedPrecision ?? "exact";
        var storedTicks = occurredAt is { } at ? Rfc3339.Truncate(at, timePrecision) : (long?)null;
        if (storedTicks is { } ticks && Rfc3339.OutsideStorableYears(ticks, timePrecision) is { } outside)
            errors.Add(new FieldError("properties.occurred_at", $"{FieldError.Quoted(props.GetProperty("occurred_at").GetString())} {outside}"));
        var locationName = p.OptionalLine("location_name", maxLength: 500);
        var admin1 = p.OptionalLine("admin1", maxLength: 200);
        var admin2 = p.OptionalLine("admin2", maxLength: 200);
        var admin3 = p.OptionalLine("admin3", maxLength: 200);
        var country = p.Country("country");
        var geoPrecision = p.Enum("geo_precision", Vocabulary.GeoPrecisions) ?? "exact";
        var fatalitiesMin = p.Count("fatalities_min");
        var fatalitiesMax = p.Count("fatalities_max");
        var injuredMin = p.Count("injured_min");
        var injuredMax = p.Count("injured_max");
        if (fatalitiesMin > fatalitiesMax)
            errors.Add(new FieldError("properties.fatalities_min", $"({fatalitiesMin}) must not exceed fatalities_max ({fatalitiesMax})"));
        if (injuredMin > injuredMax)
            errors.Add(new FieldError("properties.injured_min", $"({injuredMin}) must not exceed injured_max ({injuredMax})"));
        var actors = p.StringArray("actors");
        var claimedBy = p.OptionalLine("claimed_by", maxLength: 500);
        var sources = p.Sources("sources");
        var status = p.Enum("status", Vocabulary.Statuses) ?? "reported";
        var tags = p.StringArray("tags");
        var externalId = p.Key("external_id", maxLength: 200);
        // An empty key would be a real one, unique like any other: the second incident without one would be a 409.
        if (externalId is not null && externalId.Length == 0)
            errors.Add(new FieldError("properties.external_id", "is empty; leave it out (or null) when the incident has none"));

        if (errors.Count > 0 || geometry is null || title is null || eventType is null || storedTicks is null)
            return (null, errors);

        return (new IncidentDraft(
            title, summary, eventType, subEventType, new DateTimeOffset(storedTicks.Value, TimeSpan.Zero), timePrecision,
            locationName, admin1, admin2, admin3, country, geoPrecision, fatalitiesMin, fatalitiesMax, injuredMin, injuredMax,
            actors, claimedBy, sources, status, tags, externalId, geometry), errors);
    }

    /// <summary>The members a Feature written here may have: GeoJSON's own, and the links a GET answers with (so what was read can be sent back).</summary>
    private static readonly string[] FeatureMembers = ["type", "id", "geometry", "properties", "bbox", "links"];

    /// <summary>
    /// Refuses members a Feature written here does not have. Ignoring them lost edits silently: a
    /// PATCH of {"propertis": …} answered 200 and changed nothing, and a POST with "geometery" and a
    /// location_name got the gazetteer's point instead of the one sent.
    /// </summary>
    internal static void ForeignMembers(JsonElement feature, List<FieldError> errors)
    {
        foreach (var member in feature.EnumerateObject())
        {
            if (FeatureMembers.Contains(member.Name)) continue;
            var near = FeatureMembers.FirstOrDefault(known => Typo(member.Name, known));
            errors.Add(new FieldError(member.Name,
                $"is not a member of a Feature here ({string.Join(", ", FeatureMembers)}){(near is null ? "" : $"; did you mean '{near}'?")}"));
        }
    }

    /// <summary>
    /// Whether <paramref name="text"/> is <paramref name="known"/> in another case or with a letter added,
    /// dropped or changed (two for the longer names: "geometery", "propertis"), so "x" is not taken for "id".
    /// </summary>
    private static bool Typo(string text, string known)
    {
        var (a, b) = (text.ToLowerInvariant(), known);
        var most = b.Length >= 6 ? 2 : 1;
        if (Math.Abs(a.Length - b.Length) > most) return false;
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length] <= most;
    }

    private static Geometry? ParseGeometry(JsonElement feature, List<FieldError> errors)
    {
        if (!feature.TryGetProperty("geometry", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            errors.Add(new FieldError("geometry", "is required (or a properties.location_name for the server to geocode)"));
            return null;
        }
        return ParseGeometry(element, "geometry", errors);
    }

    /// <summary>
    /// Whether two positions are opposite ends of the globe, as PostGIS tests it: their unit vectors sum to
    /// nothing (PostGIS within 1e-12 a component; 1e-10 here, about a millimetre, so nothing it refuses passes).
    /// </summary>
    internal static bool Antipodal(Coordinate a, Coordinate b)
    {
        static (double X, double Y, double Z) Unit(Coordinate c)
        {
            var (lon, lat) = (c.X * Math.PI / 180, c.Y * Math.PI / 180);
            return (Math.Cos(lat) * Math.Cos(lon), Math.Cos(lat) * Math.Sin(lon), Math.Sin(lat));
        }
        var (p, q) = (Unit(a), Unit(b));
        const double tolerance = 1e-10;
        return Math.Abs(p.X + q.X) < tolerance && Math.Abs(p.Y + q.Y) < tolerance && Math.Abs(p.Z + q.Z) < tolerance;
    }

    private static IEnumerable<(Coordinate From, Coordinate To)> Edges(Geometry geometry) => geometry switch
    {
        Polygon polygon => polygon.InteriorRings.Prepend(polygon.ExteriorRing).SelectMany(Edges),
        LineString line => line.Coordinates.Zip(line.Coordinates.Skip(1)),
        GeometryCollection many => Enumerable.Range(0, many.NumGeometries).SelectMany(n => Edges(many.GetGeometryN(n))),
        _ => [],
    };

    /// <summary>A GeoJSON geometry object, checked for type, coordinate ranges and the vertex cap.</summary>
    public static Geometry? ParseGeometry(JsonElement element, string field, List<FieldError> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError(field, "must be a GeoJSON geometry object"));
            return null;
        }
        var typeName = element.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (typeName is not ("Point" or "LineString" or "Polygon" or "MultiPoint" or "MultiLineString" or "MultiPolygon"))
        {
            errors.Add(new FieldError($"{field}.type",
                $"{FieldError.Quoted(typeName)} is not supported; use Point, LineString, Polygon, MultiPoint, MultiLineString or MultiPolygon"));
            return null;
        }

        // GeoJSON 2008 let a geometry name its own CRS, and GDAL still reads it: one other than WGS 84 longitude,
        // latitude was ignored, and its coordinates stored as degrees.
        if (element.TryGetProperty("crs", out var crs) && Imports.GeoJsonCrs.Problem(crs) is { } crsProblem)
        {
            errors.Add(new FieldError($"{field}.crs", crsProblem));
            return null;
        }

        Geometry? geometry;
        try
        {
            geometry = element.Deserialize<Geometry>(GeoJsonOptions);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or InvalidCastException)
        {
            // The reader's own messages name .NET types ("could not be converted to NetTopologySuite.Geometries.Geometry").
            errors.Add(new FieldError(field, $"is not a valid GeoJSON {typeName}: {GeometryShape.GeoJsonReason(element)}"));
            return null;
        }
        if (geometry is null || geometry.IsEmpty)
        {
            errors.Add(new FieldError($"{field}.coordinates", "must not be empty"));
            return null;
        }
        var shortRing = Enumerable.Range(0, geometry.NumGeometries).Select(geometry.GetGeometryN).OfType<Polygon>()
            .SelectMany(p => p.InteriorRings.Prepend(p.ExteriorRing)).FirstOrDefault(r => r.NumPoints < 4);
        if (shortRing is not null)
        {
            errors.Add(new FieldError($"{field}.coordinates", $"a polygon ring has {shortRing.NumPoints} positions; a closed ring needs at least 4"));
            return null;
        }
        if (geometry.NumPoints > MaxVertices)
        {
            errors.Add(new FieldError($"{field}.coordinates", $"has {geometry.NumPoints} vertices; the maximum is {MaxVertices}"));
            return null;
        }

        var coordinates = geometry.Coordinates;
        for (var i = 0; i < coordinates.Length; i++)
        {
            var c = coordinates[i];
            if (!double.IsFinite(c.X) || !double.IsFinite(c.Y) || double.IsInfinity(c.Z))
            {
                errors.Add(new FieldError($"{field}.coordinates", $"position {i} is not a finite number"));
                return null;
            }
            if (c.X is < -180 or > 180)
            {
                errors.Add(new FieldError($"{field}.coordinates", $"position {i}: longitude {c.X} is outside -180..180 (GeoJSON order is lon,lat)"));
                return null;
            }
            if (c.Y is < -90 or > 90)
            {
                errors.Add(new FieldError($"{field}.coordinates", $"position {i}: latitude {c.Y} is outside -90..90 (GeoJSON order is lon,lat)"));
                return null;
            }
        }
        // An edge longer than half the world in longitude means two things: PostGIS's geography (radius
        // searches) takes the short way across the antimeridian, the geometry (bbox, CQL2, tiles) the long
        // way round. RFC 7946 §3.1.9 says to cut such shapes at the antimeridian. At exactly half the world the
        // geography goes over a pole and the geometry along the parallel: two shapes again.
        if (Edges(geometry).Any(edge => Math.Abs(edge.To.X - edge.From.X) >= 180))
        {
            errors.Add(new FieldError($"{field}.coordinates",
                "has an edge spanning 180° or more of longitude; cut the shape at the antimeridian (RFC 7946 §3.1.9), e.g. into a Multi geometry, or add vertices so no edge does"));
            return null;
        }
        // Antipodal ends are joined by every great circle through them: PostGIS's geography refuses such an edge
        // ("Antipodal edge detected"), which was a 500 for the write and for the whole import holding it. Those
        // 180° of longitude apart are refused above; what is left is an edge from one pole to the other.
        if (Edges(geometry).Any(edge => Antipodal(edge.From, edge.To)))
        {
            errors.Add(new FieldError($"{field}.coordinates",
                "has an edge from one pole to the other, whose path round the globe is undefined; add a vertex between them"));
            return null;
        }
        // GeoJSON allows more than two numbers (a height, and some tools write a measure after it:
        // RFC 7946 §3.1.1 says not to, but a position still has "two or more"); incidents are 2D, so
        // every number after the latitude is dropped, as a GIS export's file is meant to import.
        if (coordinates.Any(c => !double.IsNaN(c.Z)))
            geometry = new NetTopologySuite.IO.WKBReader(NetTopologySuite.NtsGeometryServices.Instance)
                .Read(new NetTopologySuite.IO.WKBWriter(NetTopologySuite.IO.ByteOrder.LittleEndian, false, false, false).Write(geometry));
        // -0 and 0 are equal to .NET but not to PostGIS's ring-closure check: store 0.
        geometry.Apply(new PositiveZero());
        geometry.SRID = 4326;
        return geometry;
    }

    private sealed class PositiveZero : ICoordinateSequenceFilter
    {
        public bool Done => false;
        public bool GeometryChanged => true;

        public void Filter(CoordinateSequence seq, int i)
        {
            seq.SetX(i, seq.GetX(i) + 0.0);
            seq.SetY(i, seq.GetY(i) + 0.0);
        }
    }

    /// <summary>RFC 7396 JSON merge patch: objects merge recursively, null removes, anything else replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject is { } t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null) result.Remove(name);
            else result[name] = MergePatch(result[name], value);
        }
        return result;
    }

    /// <summary>
    /// Whether a decimal number as written (JSON's, or what double.TryParse takes with NumberStyles.Float: a sign,
    /// digits with a point, an exponent, white space around) is a whole number: its digits times ten to its exponent
    /// leave no fraction. 57.0, 5.7e1 and 100e-2 are; 2.5, 0.0000000000000000000001 and 1e-400 are not, though a
    /// double rounds the last to 0 (a count of 1e-400 was stored as 0). False for anything else.
    /// </summary>
    public static bool IsWholeNumber(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text is ['+' or '-', ..]) text = text[1..];
        var e = text.IndexOfAny('e', 'E');
        var mantissa = e < 0 ? text : text[..e];
        long exponent = 0;
        if (e >= 0)
        {
            var digits = text[(e + 1)..];
            var negative = digits is ['-', ..];
            if (digits is ['+' or '-', ..]) digits = digits[1..];
            if (digits.Length == 0 || digits.ContainsAnyExceptInRange('0', '9')) return false;
            digits = digits.TrimStart('0');
            // Past a billion either way, the number is zero, huge, or not whole whatever its digits (a body holds at most 8 MiB of them).
            exponent = digits.Length > 9 ? 1_000_000_000 : digits.Length == 0 ? 0 : long.Parse(digits, System.Globalization.CultureInfo.InvariantCulture);
            if (negative) exponent = -exponent;
        }
        var point = mantissa.IndexOf('.');
        var whole = point < 0 ? mantissa : mantissa[..point];
        var fraction = point < 0 ? [] : mantissa[(point + 1)..];
        if (whole.Length + fraction.Length == 0 || whole.ContainsAnyExceptInRange('0', '9') || fraction.ContainsAnyExceptInRange('0', '9')) return false;
        // Whole when the exponent moves the point past the last digit other than 0 (or no further left than the zeros ending the whole part).
        var lastInFraction = fraction.LastIndexOfAnyExcept('0');
        if (lastInFraction >= 0) return exponent >= lastInFraction + 1;
        var lastInWhole = whole.LastIndexOfAnyExcept('0');
        return lastInWhole < 0 || exponent >= -(whole.Length - 1 - lastInWhole);
    }

    /// <summary>Characters (Unicode code points, as PostgreSQL's length() counts them), not UTF-16 units: 😀 is one.</summary>
    public static int Characters(string text)
    {
        var pairs = 0;
        foreach (var c in text.AsSpan()) if (char.IsLowSurrogate(c)) pairs++;
        return text.Length - pairs;
    }

    /// <summary>Most items a list property (actors, tags, sources) may hold.</summary>
    public const int MaxListItems = 100;

    /// <summary>
    /// Text PostgreSQL can store and every client can decode: no NUL (text columns refuse it) and no
    /// unpaired UTF-16 surrogate (not encodable as UTF-8).
    /// </summary>
    public static bool IsStorableText(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return false;
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(c)) return false;
        }
        return true;
    }

    /// <summary>
    /// Why <paramref name="text"/> cannot be stored as the text of its field, for the control characters
    /// it holds (Unicode Cc: C0, DEL, C1), or null. Single-line text holds none: a line break, tab or
    /// terminal escape (ESC [31m) in a title reaches every CSV cell, log line and terminal that shows it.
    /// <paramref name="prose"/> (the summary, a source's publisher and title) may hold tabs and line
    /// breaks and no other. Asked after the trim, so white space a Trim takes off (a trailing line
    /// break) is not stored and not refused. Every write asks it: incidents (POST, PUT, PATCH, each
    /// import format) and editors' places.
    /// </summary>
    public static string? ControlCharacterProblem(string text, bool prose = false)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!char.IsControl(c) || (prose && c is '\t' or '\n' or '\r')) continue;
            return $"contains the control character U+{(int)c:X4} at character {Characters(text[..i]) + 1}; " + (prose
                ? "this text may hold tabs and line breaks but no other control characters"
                : "single-line text may not hold control characters (line breaks, tabs, escapes)");
        }
        return null;
    }

    /// <summary>
    /// Why <paramref name="text"/> cannot be stored as the text of a field: a NUL or invalid Unicode
    /// (<see cref="IsStorableText"/>), else a control character (<see cref="ControlCharacterProblem"/>); null when it can.
    /// </summary>
    public static string? TextProblem(string text, bool prose = false) =>
        !IsStorableText(text) ? "contains a NUL character or invalid Unicode" : ControlCharacterProblem(text, prose);

    private sealed class PropertyReader(JsonElement props, List<FieldError> errors)
    {
        private bool TryGet(string name, bool required, out JsonElement value)
        {
            if (props.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
            if (required) errors.Add(new FieldError($"properties.{name}", "is required"));
            return false;
        }

        private void Error(string name, string detail) => errors.Add(new FieldError($"properties.{name}", detail));

        /// <param name="trim">Take off the white space around the text before checking its length (<see cref="Line"/>).</param>
        /// <param name="nfc">Store the text in Unicode NFC, checking the length of that (<see cref="Key"/>).</param>
        /// <param name="prose">Multi-line text: tabs and line breaks are allowed (<see cref="ControlCharacterProblem"/>).</param>
        public string? String(string name, bool required = false, int maxLength = 1000, bool trim = false, bool nfc = false, bool prose = false)
        {
            if (!TryGet(name, required, out var v)) return null;
            if (v.ValueKind != JsonValueKind.String) { Error(name, "must be a string"); return null; }
            var s = v.GetString()!;
            if (trim) s = s.Trim();
            // Before the length check, as NFC is what is stored, and a few characters are longer in it
            // (U+0958 is two code points); text that is not valid Unicode has no NFC and is refused below.
            if (nfc && IsStorableText(s)) s = s.Normalize(NormalizationForm.FormC);
            if (s.Length > maxLength && Characters(s) > maxLength) { Error(name, $"is longer than {maxLength} characters"); return null; }
            if (TextProblem(s, prose) is { } problem) { Error(name, problem); return null; }
            return s;
        }

        /// <summary>
        /// Single-line free text (a title, a key, a place name, an actor), without the white space
        /// around it (String.Trim: Unicode's, the no-break space included), which nobody sees: stored with
        /// it, "Homs " was not found by location_name=Homs, and "E-1 " was a second key beside "E-1".
        /// Every way in (POST, PUT, PATCH, each import format) comes through here. Empty when blank.
        /// </summary>
        public string? Line(string name, bool required = false, int maxLength = 1000) =>
            String(name, required, maxLength, trim: true);

        /// <summary>
        /// A key (external_id): a <see cref="Line"/>, trimmed ("E-1 " is the key "E-1", not a second one
        /// beside it) and in Unicode NFC, so that "Café-1" sent with é as one code point or as e and a
        /// combining accent (NFD: what macOS file names and some exports carry) is one key, which an import
        /// upserts by and the unique index holds once. Other text is stored as sent: queries match both forms.
        /// </summary>
        public string? Key(string name, int maxLength) => String(name, maxLength: maxLength, trim: true, nfc: true);

        /// <summary>
        /// Optional single-line free text (<see cref="Line"/>); blank is none (null). A CSV cell cannot
        /// tell "" from no value, so every way in stores both alike and an export imports back unchanged.
        /// </summary>
        public string? OptionalLine(string name, int maxLength) => Line(name, maxLength: maxLength) is { Length: > 0 } s ? s : null;

        /// <summary>
        /// Optional prose (the summary), kept exactly as sent, its line breaks and indentation too; blank
        /// is none (null), as for <see cref="OptionalLine"/>.
        /// </summary>
        public string? OptionalProse(string name, int maxLength) =>
            String(name, maxLength: maxLength, prose: true) is { } s && !string.IsNullOrWhiteSpace(s) ? s : null;

        public string? Enum(string name, string[] allowed, bool required = false)
        {
            var s = String(name, required);
            if (s is null) return null;
            if (Array.IndexOf(allowed, s) < 0) { Error(name, $"{FieldError.Quoted(s)} is not one of: {string.Join(", ", allowed)}"); return null; }
            return s;
        }

        public string? Country(string name)
        {
            var s = String(name);
            // Blank text is none, in every write (as for the other place names).
            if (string.IsNullOrWhiteSpace(s)) return null;
            var upper = s.ToUpperInvariant();
            if (!Vocabulary.CountryCodes.Contains(upper)) { Error(name, $"{FieldError.Quoted(s)} is not an ISO 3166-1 alpha-2 country code"); return null; }
            return upper;
        }

        public int? Count(string name)
        {
            if (!TryGet(name, false, out var v)) return null;
            // Whole as written, not as a double reads it: 1e-400 is 0 to a double.
            if (v.ValueKind != JsonValueKind.Number || !IsWholeNumber(v.GetRawText())) { Error(name, "must be a whole number or null"); return null; }
            // 57.0 is 57 (pandas writes whole-number columns with gaps as floats); 1e3 is 1000.
            if (!v.TryGetDouble(out var d) || !double.IsFinite(d)) d = v.GetRawText().StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
            if (d < 0) { Error(name, "must not be negative"); return null; }
            if (d > int.MaxValue) { Error(name, $"is too large (at most {int.MaxValue})"); return null; }
            return (int)d;
        }

        public (Rfc3339.WrittenTime?, string?) IncidentTime(string name)
        {
            var s = String(name, required: true);
            if (s is null) return (null, null);
            if (!Rfc3339.TryParseIncidentTime(s, out var value, out var implied))
            {
                Error(name, $"{FieldError.Quoted(s)} {Rfc3339.LeapSecond(s) ?? "is not an RFC 3339 date-time (e.g. 2016-02-21T07:30:00Z), a date (2016-02-21) or a month (2016-02)"}");
                return (null, null);
            }
            return (value, implied);
        }

        public string[] StringArray(string name)
        {
            if (!TryGet(name, false, out var v)) return [];
            if (v.ValueKind != JsonValueKind.Array) { Error(name, "must be an array of strings"); return []; }
            if (v.GetArrayLength() > MaxListItems) { Error(name, $"has {v.GetArrayLength()} items; at most {MaxListItems}"); return []; }
            var list = new List<string>();
            var i = 0;
            foreach (var item in v.EnumerateArray())
            {
                // Each item is single-line text, trimmed as a Line is.
                var text = item.ValueKind == JsonValueKind.String ? item.GetString()!.Trim() : "";
                if (text.Length == 0)
                    Error($"{name}[{i}]", "must be a non-empty string");
                else if (text.Length > 500 && Characters(text) > 500)
                    Error($"{name}[{i}]", "is longer than 500 characters");
                else if (TextProblem(text) is { } problem)
                    Error($"{name}[{i}]", problem);
                else list.Add(text);
                i++;
            }
            return list.Distinct(StringComparer.Ordinal).ToArray();
        }

        private static readonly HashSet<string> SourceFields = ["publisher", "url", "title", "published_at"];

        public string Sources(string name)
        {
            if (!TryGet(name, false, out var v)) return "[]";
            if (v.ValueKind != JsonValueKind.Array) { Error(name, "must be an array of {publisher, url, title, published_at}"); return "[]"; }
            if (v.GetArrayLength() > MaxListItems) { Error(name, $"has {v.GetArrayLength()} items; at most {MaxListItems}"); return "[]"; }
            var array = new JsonArray();
            var i = 0;
            foreach (var item in v.EnumerateArray())
            {
                var path = $"{name}[{i++}]";
                if (item.ValueKind != JsonValueKind.Object) { Error(path, "must be an object"); continue; }
                var source = new JsonObject();
                foreach (var field in item.EnumerateObject())
                {
                    if (!SourceFields.Contains(field.Name)) { Error($"{path}.{field.Name}", "is not a source field (publisher, url, title, published_at)"); continue; }
                    if (field.Value.ValueKind == JsonValueKind.Null) continue;
                    if (field.Value.ValueKind != JsonValueKind.String) { Error($"{path}.{field.Name}", "must be a string"); continue; }
                    var text = field.Value.GetString()!;
                    if (text.Length > 2000 && Characters(text) > 2000) { Error($"{path}.{field.Name}", "is longer than 2000 characters"); continue; }
                    // A URL is one line (RFC 3986 has no white space in it); a publisher or title is text as the summary is.
                    if (TextProblem(text, prose: field.Name is not ("url" or "published_at")) is { } problem) { Error($"{path}.{field.Name}", problem); continue; }
                    if (field.Name == "url" && !(Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
                    { Error($"{path}.url", $"{FieldError.Quoted(text)} is not an absolute http(s) URL"); continue; }
                    if (field.Name == "published_at")
                    {
                        if (Rfc3339.NormalisePublished(text, out var beyond) is not { } published)
                        { Error($"{path}.published_at", $"{FieldError.Quoted(text)} {beyond ?? Rfc3339.LeapSecond(text) ?? "is not an RFC 3339 date-time or date"}"); continue; }
                        text = published;
                    }
                    source[field.Name] = text;
                }
                if (source.Count == 0) Error(path, "needs at least a publisher, url or title");
                array.Add(source);
            }
            return array.ToJsonString();
        }
    }
}
