using System.Text;
using System.Buffers;
using System.Globalization;
using System.Text.Json;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Imports;

/// <summary>
/// CSV rows turned into GeoJSON Features, so that they are validated by exactly the code single
/// writes use. The header picks the layout: ACLED's export (it has <c>event_id_cnty</c>) or ours.
/// </summary>
internal sealed class CsvFeatureSource : IFeatureSource
{
    private readonly CsvReader _csv;
    private readonly CsvLayout _layout;
    private readonly int _columns;
    private readonly List<string> _header;
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly Utf8JsonWriter _json;
    private readonly List<FieldError> _problems = [];
    private JsonDocument? _document;

    private CsvFeatureSource(CsvReader csv, CsvLayout layout, List<string> header)
    {
        _csv = csv;
        _layout = layout;
        _header = header;
        _columns = header.Count;
        _json = new Utf8JsonWriter(_buffer);
    }

    /// <summary>Reads the header and chooses the layout; a header that fits neither stops the import.</summary>
    public static async Task<CsvFeatureSource> OpenAsync(Stream stream, CancellationToken ct)
    {
        var csv = new CsvReader(stream);
        if (!await csv.ReadAsync(ct)) throw new ImportFormatException("body", "is empty; a CSV file starts with a header row", 1);
        var header = csv.Fields.Select(f => f.Trim().ToLowerInvariant()).ToList();
        // A gzip file (0x1F 0x8B) sent without its Content-Encoding: say so, rather than list its bytes as unknown columns.
        if (header.Count > 0 && header[0].StartsWith('\u001f'))
            throw new ImportFormatException("body", CompleteDecompression.Undeclared, 1);
        // A file of another separator reads as one column: say which separator it has, not that the whole line is an unknown column.
        // Quoted ("title";"lat"), its first value ends where the separator follows the closing quote.
        char? separator = null;
        if (header is [var only])
            separator = only.Contains(';') ? ';' : only.Contains('\t') ? '\t' : null;
        if (separator is null && csv.MisquotedField == 0 && csv.MisquotedBy is ';' or '\t')
            separator = csv.MisquotedBy;
        if (separator is { } other)
            throw new ImportFormatException("header", $"fields are separated by {(other == ';' ? "';'" : "tabs")}; IncidentMap reads comma-separated files " +
                                                      "(save the file as CSV with commas)", csv.Line);
        if (csv.MisquotedField >= 0)
            throw new ImportFormatException("header", $"column {csv.MisquotedField + 1} {MisquotedReason}", csv.Line);
        // A column without a name is ignored with its cells: spreadsheets save empty cells right of the
        // header (",,"), which would otherwise read as one unknown column, or as the same one twice.
        var repeated = header.Where(h => h.Length > 0).GroupBy(h => h).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (repeated.Count > 0)
            throw new ImportFormatException("header", $"names a column twice: {FieldError.QuotedList(repeated)}", csv.Line);
        CsvLayout layout;
        try
        {
            layout = header.Contains(AcledLayout.KeyColumn) ? new AcledLayout(header) : new IncidentCsvLayout(header);
        }
        catch (ImportFormatException e) when (e.Line != csv.Line)
        {
            // The layouts speak of the header; it is on the first line that is not blank.
            throw new ImportFormatException(e.Field, e.Reason, csv.Line);
        }
        return new CsvFeatureSource(csv, layout, header);
    }

    /// <summary>Why a field with text after its closing quote (<c>"x"y</c>) is refused rather than read as <c>xy</c>.</summary>
    private const string MisquotedReason = "has text after the closing quote of a quoted value (RFC 4180); write a quote inside a quoted value twice: \"5\"\" gun\"";

    public long Line => _csv.Line;
    public JsonElement? Feature => _document?.RootElement;
    public IReadOnlyList<FieldError> Problems => _problems;
    public string? ColumnOf(string field) => _layout.ColumnOf(FieldPath.Key(field));
    public string DefaultSource => _layout is AcledLayout ? "acled" : ImportOptions.DefaultSource;

    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        _document?.Dispose();
        _document = null;
        _problems.Clear();
        if (!await _csv.ReadAsync(ct)) return false;
        // First: a misquoted field may also be why the row has too many or too few fields.
        if (_csv.MisquotedField is >= 0 and var misquoted && (misquoted >= _columns || _header[misquoted].Length > 0))
            _problems.Add(new FieldError("row", $"{(misquoted < _columns ? $"column '{_header[misquoted]}'" : $"field {misquoted + 1}")} {MisquotedReason}"));
        if (_csv.Fields.Count != _columns)
        {
            _problems.Add(new FieldError("row", $"has {_csv.Fields.Count} fields; the header has {_columns}"));
            return true;
        }
        for (var i = 0; i < _columns; i++)
        {
            // Cells of a column without a name are ignored, whatever they hold.
            if (_csv.Fields[i].Contains(CsvReader.NotUtf8) && _header[i].Length > 0)
                _problems.Add(new FieldError("row", $"column '{_header[i]}' holds bytes that are not UTF-8; save the file as UTF-8"));
        }
        if (_problems.Count > 0) return true;
        _buffer.ResetWrittenCount();
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("type", "Feature");
        _layout.Write(new CsvRow(_csv.Fields, _layout.Index), _json, _problems);
        _json.WriteEndObject();
        _json.Flush();
        // Parsed in place: the document reads the writer's buffer, which is reused only at the next read.
        _document = JsonDocument.Parse(_buffer.WrittenMemory);
        return true;
    }

    public void Dispose()
    {
        _document?.Dispose();
        _json.Dispose();
    }
}

/// <summary>Field paths as single writes name them; the key groups a path's variants (<c>properties.actors[2]</c> → <c>properties.actors</c>).</summary>
internal static class FieldPath
{
    public static string Key(string field)
    {
        var from = field.StartsWith("properties.", StringComparison.Ordinal) ? "properties.".Length : 0;
        var end = field.AsSpan(from).IndexOfAny('.', '[');
        return end < 0 ? field : field[..(from + end)];
    }
}

/// <summary>The values of one row by column name; blank values read as absent.</summary>
internal readonly struct CsvRow(List<string> fields, IReadOnlyDictionary<string, int> index)
{
    /// <summary>The value without surrounding whitespace (codes, numbers, dates, keys).</summary>
    public string? this[string column] =>
        index.TryGetValue(column, out var i) && fields[i].AsSpan().Trim() is { IsEmpty: false } value ? value.ToString() : null;

    /// <summary>The value exactly as written (free text keeps its spaces, as a JSON write does), unless blank.</summary>
    public string? Text(string column) =>
        index.TryGetValue(column, out var i) && !fields[i].AsSpan().IsWhiteSpace() ? fields[i] : null;
}

internal abstract class CsvLayout
{
    protected CsvLayout(IReadOnlyList<string> header)
    {
        // Columns without a name are left out: ignored with their cells.
        Index = header.Select((name, i) => (name, i)).Where(c => c.name.Length > 0).ToDictionary(c => c.name, c => c.i, StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, int> Index { get; }

    /// <summary>Writes the row's geometry and properties members into the Feature being written.</summary>
    public abstract void Write(CsvRow row, Utf8JsonWriter json, List<FieldError> problems);

    /// <summary>The column(s) a field key (see <see cref="FieldPath.Key"/>) comes from.</summary>
    public abstract string? ColumnOf(string fieldKey);

    protected void Require(params string[] columns)
    {
        var missing = columns.Where(c => !Index.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new ImportFormatException("header", $"lacks the column(s) {string.Join(", ", missing)}", 1);
    }

    /// <summary>A Point from two coordinate columns; values that are not numbers are the row's problem.</summary>
    protected static void WritePoint(Utf8JsonWriter json, string? lon, string? lat, List<FieldError> problems)
    {
        // Neither: the row is geocoded by its location name, or validation says the geometry is required.
        if (lon is null && lat is null) return;
        if (lon is null || lat is null)
        {
            problems.Add(new FieldError("geometry.coordinates", $"has {(lon is null ? "a latitude but no longitude" : "a longitude but no latitude")}; give both, or neither to geocode the location name"));
            return;
        }
        if (!double.TryParse(lon, NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
            || !double.TryParse(lat, NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
        {
            problems.Add(new FieldError("geometry.coordinates", $"{FieldError.Quoted(lon)}, {FieldError.Quoted(lat)} are not both numbers"));
            return;
        }
        if (!double.IsFinite(x) || !double.IsFinite(y))
        {
            problems.Add(new FieldError("geometry.coordinates", $"{FieldError.Quoted(lon)}, {FieldError.Quoted(lat)} are not both finite numbers"));
            return;
        }
        json.WriteStartObject("geometry");
        json.WriteString("type", "Point");
        json.WriteStartArray("coordinates");
        json.WriteNumberValue(x);
        json.WriteNumberValue(y);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    protected static void WriteString(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null) json.WriteString(name, value);
    }

    /// <summary>A number when it reads as one; otherwise the text, which validation then rejects with its usual reason.</summary>
    protected static void WriteCount(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) return;
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)) json.WriteNumber(name, whole);
        // Not whole as written (2.5, 1e-400, which a double rounds to 0): the text, refused as not a whole number.
        else if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
                 && Incidents.IncidentInput.IsWholeNumber(value)) json.WriteNumber(name, number);
        else json.WriteString(name, value);
    }

    /// <summary>A list from columns whose items are separated by ';' (ACLED's associated actors).</summary>
    protected static void WriteList(Utf8JsonWriter json, string name, IEnumerable<string?> values) =>
        WriteItems(json, name, values.Where(v => v is not null)
            .SelectMany(v => v!.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList());

    protected static void WriteItems(Utf8JsonWriter json, string name, List<string> items)
    {
        if (items.Count == 0) return;
        json.WriteStartArray(name);
        foreach (var item in items) json.WriteStringValue(item);
        json.WriteEndArray();
    }
}

/// <summary>
/// Our own CSV: the columns of the CSV export (<c>f=csv</c>): <c>lon</c>/<c>lat</c> for points or
/// <c>wkt</c>, then properties by name; lists separated by ';', <c>sources</c> as JSON. Columns the
/// server sets (<c>id</c>, <c>version</c>, <c>created_at</c> …) are ignored, so an export imports back.
/// </summary>
internal sealed class IncidentCsvLayout : CsvLayout
{
    private static readonly string[] Text =
    [
        "title", "summary", "event_type", "sub_event_type", "occurred_at", "time_precision", "location_name", "admin1",
        "admin2", "admin3", "country", "geo_precision", "claimed_by", "status", "external_id",
    ];
    private static readonly string[] Counts = ["fatalities_min", "fatalities_max", "injured_min", "injured_max"];
    private static readonly string[] Lists = ["actors", "tags"];
    private static readonly HashSet<string> Ignored = ["id", "created_at", "updated_at", "version", "distance_m", "place_id", "derived_fields"];
    /// <summary>Free text, read as the file has it (the write then trims single-line fields as every write does), so an export imported back is unchanged.</summary>
    private static readonly HashSet<string> FreeText = ["title", "summary", "sub_event_type", "location_name", "admin1", "admin2", "admin3", "claimed_by"];

    private static readonly NetTopologySuite.IO.WKTReader Wkt = new(new NetTopologySuite.NtsGeometryServices(new NetTopologySuite.Geometries.PrecisionModel(), 4326));
    // Rings as written: the default writer turns them to RFC 7946's orientation, which changed a stored
    // polygon whose export was imported back (a clockwise hole made counter-clockwise).
    private static readonly JsonSerializerOptions GeoJson = new()
    {
        Converters = { new NetTopologySuite.IO.Converters.GeoJsonConverterFactory(false, "id", NetTopologySuite.IO.Converters.RingOrientationOption.DoNotModify) },
    };

    public IncidentCsvLayout(IReadOnlyList<string> header) : base(header)
    {
        var unknown = header.Where(h => h.Length > 0 && !Text.Contains(h) && !Counts.Contains(h) && !Lists.Contains(h) && h is not ("sources" or "lon" or "lat" or "wkt") && !Ignored.Contains(h)).ToList();
        if (unknown.Count > 0)
            // Each name quoted and cut, and a long list cut short: a name of 100,000 characters, or 5,000 names, came back whole.
            throw new ImportFormatException("header", $"column(s) {FieldError.QuotedList(unknown)} are neither incident properties nor lon, lat, wkt (an ACLED export has event_id_cnty)", 1);
        Require("title", "event_type", "occurred_at", "external_id");
        // Without coordinates, every row is geocoded by its location_name as single writes are.
        if (!(Index.ContainsKey("lon") && Index.ContainsKey("lat")) && !Index.ContainsKey("wkt") && !Index.ContainsKey("location_name"))
            throw new ImportFormatException("header", "needs lon and lat columns, or wkt, or location_name (to geocode)", 1);
        if (Index.ContainsKey("lon") != Index.ContainsKey("lat"))
            throw new ImportFormatException("header", $"has a {(Index.ContainsKey("lon") ? "lon" : "lat")} column without a {(Index.ContainsKey("lon") ? "lat" : "lon")} column", 1);
    }

    public override void Write(CsvRow row, Utf8JsonWriter json, List<FieldError> problems)
    {
        var point = row["lon"] is not null || row["lat"] is not null;
        if (point && row["wkt"] is not null)
            problems.Add(new FieldError("geometry", "is given twice, as lon/lat and as wkt; give one of them (an export writes lon and lat for a point, wkt for any other shape)"));
        else if (point) WritePoint(json, row["lon"], row["lat"], problems);
        else if (row["wkt"] is { } wkt) WriteWkt(json, wkt, problems);

        json.WriteStartObject("properties");
        foreach (var name in Text) WriteString(json, name, Undefused(FreeText.Contains(name) ? row.Text(name) : row[name]));
        foreach (var name in Counts) WriteCount(json, name, row[name]);
        foreach (var name in Lists) WriteItems(json, name, ListItems(Undefused(row[name])));
        if (row["sources"] is { } sources)
        {
            try
            {
                using var parsed = JsonDocument.Parse(sources);
                // A member given twice, text that is not Unicode: refused as a single write refuses it, naming the field.
                if (RowText.Problem(parsed.RootElement, "properties.sources") is { } bad) problems.Add(bad);
                else
                {
                    json.WritePropertyName("sources");
                    parsed.RootElement.WriteTo(json);
                }
            }
            catch (JsonException)
            {
                problems.Add(new FieldError("properties.sources", "is not JSON; write sources as [{\"publisher\": …, \"url\": …}]"));
            }
        }
        json.WriteEndObject();
    }

    /// <summary>
    /// The items of one of our list columns: separated by ';', where "\;" is a ';' inside an item and
    /// "\\" a backslash (as exports write them); any other backslash is kept as it is.
    /// </summary>
    internal static List<string> ListItems(string? value)
    {
        var items = new List<string>();
        if (value is null) return items;
        var item = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            switch (value[i])
            {
                case '\\' when i + 1 < value.Length && value[i + 1] is ';' or '\\':
                    item.Append(value[++i]);
                    break;
                case ';':
                    Add();
                    break;
                default:
                    item.Append(value[i]);
                    break;
            }
        }
        Add();
        return items;

        void Add()
        {
            var text = item.ToString().Trim();
            if (text.Length > 0) items.Add(text);
            item.Clear();
        }
    }

    /// <summary>Text as it was before the export defused it: one leading apostrophe off (see IncidentRowWriter.FormulaStart).</summary>
    private static string? Undefused(string? value) => value is ['\'', .. var rest] ? rest : value;

    private static void WriteWkt(Utf8JsonWriter json, string wkt, List<FieldError> problems)
    {
        // PostGIS's EWKT (ST_AsEWKT) names its SRID first: 4326 is what incidents are in, any other is refused.
        var start = 0;
        if (wkt.StartsWith("SRID=", StringComparison.OrdinalIgnoreCase) && wkt.IndexOf(';') is var semicolon and > 0)
        {
            var srid = wkt[5..semicolon].Trim();
            if (srid != "4326")
            {
                problems.Add(new FieldError("geometry", $"is in SRID {Problem.Cut(srid, 21)}; write WGS 84 longitude and latitude (SRID=4326, or no SRID)"));
                return;
            }
            start = semicolon + 1;
        }
        // NetTopologySuite's reader stops after the first geometry and drops what follows it
        // ("POINT (1 2) POINT (3 4)", "POLYGON ((…)) extra"): the whole cell must be one geometry.
        if (Incidents.GeometryShape.Wkt(wkt[start..]) is { } flaw)
        {
            problems.Add(new FieldError("geometry", $"is not valid WKT at character {start + flaw.Offset + 1}: {flaw.What}"));
            return;
        }
        try
        {
            var geometry = Wkt.Read(wkt[start..]);
            // Checked before anything is written: the JSON writer refuses NaN and infinity half-way through.
            if (geometry.Coordinates.Any(c => !double.IsFinite(c.X) || !double.IsFinite(c.Y) || (!double.IsNaN(c.Z) && !double.IsFinite(c.Z))))
            {
                problems.Add(new FieldError("geometry", "is not valid WKT: every coordinate must be a finite number"));
                return;
            }
            json.WritePropertyName("geometry");
            JsonSerializer.Serialize(json, geometry, GeoJson);
        }
        catch (Exception e) when (e is NetTopologySuite.IO.ParseException or ArgumentException or FormatException or InvalidOperationException or ApplicationException)
        {
            // The shape check above passed it; the reader's own messages name its classes ("found CharToken: )") or nothing.
            problems.Add(new FieldError("geometry", "is not valid WKT; write it as, e.g., POINT (36.7 34.7) or POLYGON ((36 34, 37 34, 37 35, 36 34))"));
        }
    }

    public override string? ColumnOf(string fieldKey) => fieldKey switch
    {
        "geometry" => Index.ContainsKey("lon") ? "lon,lat" : Index.ContainsKey("wkt") ? "wkt" : null,
        _ when fieldKey.StartsWith("properties.", StringComparison.Ordinal) && Index.ContainsKey(fieldKey["properties.".Length..]) => fieldKey["properties.".Length..],
        _ => null,
    };
}

/// <summary>
/// ACLED's export columns mapped onto the incident model:
/// event_id_cnty → external_id; event_date (+ time_precision 1/2/3 → day/week/month) → occurred_at;
/// ACLED's event type labels → our slugs; actor1, assoc_actor_1, actor2, assoc_actor_2 → actors;
/// admin1–3 → admin1–3; location → location_name; latitude/longitude → Point; geo_precision 1/2/3 → town/near/region; source →
/// sources (one publisher per ';'-separated name); notes → summary; fatalities → fatalities_min =
/// fatalities_max; iso (numeric) or else country (name) → ISO alpha-2; tags → tags; the title is
/// "{sub_event_type} in {location}".
/// </summary>
internal sealed class AcledLayout : CsvLayout
{
    /// <summary>ACLED's event id, the key of its rows; its presence in the header picks this layout.</summary>
    public const string KeyColumn = "event_id_cnty";

    private static readonly Dictionary<string, string> EventTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Battles"] = "battles",
        ["Explosions/Remote violence"] = "explosions_remote_violence",
        ["Violence against civilians"] = "violence_against_civilians",
        ["Protests"] = "protests",
        ["Riots"] = "riots",
        ["Strategic developments"] = "strategic_developments",
    };

    // The date stands for its day, its ISO week or its month; occurred_at is truncated to that start.
    private static readonly string[] TimePrecisions = ["day", "week", "month"];

    // ACLED 1: coordinates of the town the source names; 2: near a town or part of a region, coded to
    // a nearby town; 3: only a larger region is known, coded to its centre or capital.
    private static readonly string[] GeoPrecisions = ["town", "near", "region"];

    private static readonly string[] DateFormats = ["yyyy-MM-dd", "d MMMM yyyy", "d MMM yyyy", "d-MMMM-yyyy", "d-MMM-yyyy", "dd-MM-yyyy"];

    private static readonly Dictionary<string, string> Columns = new(StringComparer.Ordinal)
    {
        ["properties.external_id"] = KeyColumn,
        ["properties.occurred_at"] = "event_date",
        ["properties.time_precision"] = "time_precision",
        ["properties.event_type"] = "event_type",
        ["properties.sub_event_type"] = "sub_event_type",
        ["properties.actors"] = "actor1,assoc_actor_1,actor2,assoc_actor_2",
        ["properties.admin1"] = "admin1",
        ["properties.admin2"] = "admin2",
        ["properties.admin3"] = "admin3",
        ["properties.location_name"] = "location",
        ["geometry"] = "longitude,latitude",
        ["properties.geo_precision"] = "geo_precision",
        ["properties.sources"] = "source",
        ["properties.summary"] = "notes",
        ["properties.fatalities_min"] = "fatalities",
        ["properties.fatalities_max"] = "fatalities",
        ["properties.country"] = "iso,country",
        ["properties.title"] = "sub_event_type,location",
        ["properties.tags"] = "tags",
    };

    public AcledLayout(IReadOnlyList<string> header) : base(header)
    {
        Require(KeyColumn, "event_date", "event_type");
        // Without coordinates every row is geocoded by its location, as in our own CSV.
        if (!(Index.ContainsKey("latitude") && Index.ContainsKey("longitude")) && !Index.ContainsKey("location"))
            throw new ImportFormatException("header", "lacks the column(s) latitude and longitude, or location (to geocode)", 1);
    }

    public override string? ColumnOf(string fieldKey) => Columns.GetValueOrDefault(fieldKey);

    public override void Write(CsvRow row, Utf8JsonWriter json, List<FieldError> problems)
    {
        WritePoint(json, row["longitude"], row["latitude"], problems);
        json.WriteStartObject("properties");
        WriteString(json, "external_id", row["event_id_cnty"]);
        WriteTime(json, row["event_date"], row["time_precision"], problems);

        var eventLabel = row["event_type"];
        if (eventLabel is not null)
        {
            if (EventTypes.TryGetValue(eventLabel, out var slug) || EventTypes.ContainsValue(eventLabel)) json.WriteString("event_type", slug ?? eventLabel);
            else problems.Add(new FieldError("properties.event_type", $"{FieldError.Quoted(eventLabel)} is not an ACLED event type ({string.Join(", ", EventTypes.Keys)})"));
        }
        var subEventType = row["sub_event_type"];
        WriteString(json, "sub_event_type", subEventType);
        var location = row["location"];
        var place = location ?? row["admin1"] ?? row["country"];
        var title = (subEventType ?? eventLabel ?? "Event") + (place is null ? "" : $" in {place}");
        // At most 500 UTF-16 units, as a single write allows, and never half of a surrogate pair (an emoji).
        json.WriteString("title", title.Length <= 500 ? title : title[..(char.IsHighSurrogate(title[499]) ? 499 : 500)]);

        WriteList(json, "actors", [row["actor1"], row["assoc_actor_1"], row["actor2"], row["assoc_actor_2"]]);
        WriteString(json, "admin1", row["admin1"]);
        WriteString(json, "admin2", row["admin2"]);
        WriteString(json, "admin3", row["admin3"]);
        WriteString(json, "location_name", location);
        WriteCode(json, "geo_precision", row["geo_precision"], GeoPrecisions, problems);
        WriteSources(json, row["source"]);
        WriteString(json, "summary", row["notes"]);
        WriteCount(json, "fatalities_min", row["fatalities"]);
        WriteCount(json, "fatalities_max", row["fatalities"]);
        WriteCountry(json, row["iso"], row["country"], problems);
        WriteList(json, "tags", [row["tags"]]);
        json.WriteEndObject();
    }

    private static void WriteTime(Utf8JsonWriter json, string? date, string? precision, List<FieldError> problems)
    {
        if (date is null) return;
        if (!DateTime.TryParseExact(date, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var day))
        {
            problems.Add(new FieldError("properties.occurred_at", $"{FieldError.Quoted(date)} is not an ACLED date (2016-02-21 or 21 February 2016)"));
            return;
        }
        json.WriteString("occurred_at", day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        WriteCode(json, "time_precision", precision ?? "1", TimePrecisions, problems);
    }

    /// <summary>ACLED's precision codes 1, 2 and 3 as our vocabulary (<paramref name="values"/>[code - 1]).</summary>
    private static void WriteCode(Utf8JsonWriter json, string property, string? code, string[] values, List<FieldError> problems)
    {
        if (code is null) return;
        if (code is "1" or "2" or "3") json.WriteString(property, values[code[0] - '1']);
        else problems.Add(new FieldError($"properties.{property}", $"{FieldError.Quoted(code)} is not an ACLED {property.Replace('_', ' ')} (1, 2 or 3)"));
    }

    private static void WriteSources(Utf8JsonWriter json, string? source)
    {
        var publishers = source?.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (publishers.Length == 0) return;
        json.WriteStartArray("sources");
        foreach (var publisher in publishers)
        {
            json.WriteStartObject();
            json.WriteString("publisher", publisher);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteCountry(Utf8JsonWriter json, string? iso, string? name, List<FieldError> problems)
    {
        var code = (iso is null ? null : Countries.FromNumber(iso)) ?? (name is null ? null : Countries.FromName(name));
        if (code is not null) json.WriteString("country", code);
        else if ((iso is not null && iso != "0") || name is not null)
            problems.Add(new FieldError("properties.country", $"iso {FieldError.Quoted(iso)} / country {FieldError.Quoted(name)} names no ISO 3166-1 country"));
    }
}
