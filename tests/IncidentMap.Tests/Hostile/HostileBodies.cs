using System.Text;
using static IncidentMap.Tests.Hostile.HostileJson;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// A hostile write body. <see cref="WholeOnly"/>: invalid only as a whole Feature (something is
/// missing), so as a merge patch it would be a legitimate edit and is not sent with PATCH.
/// </summary>
public sealed record HostileBody(string Name, Func<HttpContent> Content, int[]? Statuses = null, bool WholeOnly = false);

/// <summary>Bodies for POST, PUT and PATCH of incidents, and for PATCH alone.</summary>
public static class HostileBodies
{
    private static readonly int[] TooLarge = [413];
    private static readonly int[] Unsupported = [415];
    private static readonly int[] TooLargeOrInvalid = [413, 422];
    private const int NineMiB = 9 * 1024 * 1024;

    private static HostileBody Body(string name, string text, bool wholeOnly = false) => new(name, Text(text), WholeOnly: wholeOnly);

    private static HostileBody WithGeometry(string name, string geometry) => Body(name, Feature(name, geometry));

    private static HostileBody WithProperty(string name, string member) => Body(name, Feature(name, extra: "," + member));

    public static IEnumerable<HostileBody> Features()
    {
        // Malformed JSON: 400.
        var valid = Feature("malformed");
        yield return Body("malformed: unclosed object", valid[..^1]);
        yield return Body("malformed: trailing comma", valid[..^1] + ",}");
        yield return Body("malformed: single quotes", valid.Replace('"', '\''));
        yield return Body("malformed: trailing brace", valid + "}");
        yield return Body("malformed: two documents", valid + valid);
        yield return Body("malformed: bare word", "nul");
        yield return Body("malformed: comment", "/* hi */" + valid);
        yield return Body("malformed: empty body", "");
        yield return Body("malformed: whitespace only", "  \r\n\t ");
        yield return Body("malformed: unquoted keys", valid.Replace("\"type\":", "type:"));
        yield return Body("malformed: raw control character in string", Feature("raw", titleJson: $"\"{HostileFixture.Marker} raw \u0001 control\""));
        yield return Body("malformed: raw newline in string", Feature("raw", titleJson: $"\"{HostileFixture.Marker} raw \n newline\""));
        yield return new HostileBody("malformed: invalid UTF-8", Bytes(() =>
        {
            var bytes = Encoding.UTF8.GetBytes(Feature("invalid utf8 @@"));
            var at = Array.IndexOf(bytes, (byte)'@');
            (bytes[at], bytes[at + 1]) = (0xC3, 0x28);
            return bytes;
        }));
        yield return new HostileBody("malformed: UTF-16 with BOM", Bytes(() => [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(Feature("utf16"))]));
        yield return Body("malformed: NaN literal longitude", Feature("NaN", Geometry("Point", "[NaN,34.7]")));
        yield return Body("malformed: Infinity literal latitude", Feature("Infinity", Geometry("Point", "[36.7,Infinity]")));
        yield return Body("malformed: -Infinity literal", Feature("-Infinity", Geometry("Point", "[-Infinity,34.7]")));
        yield return Body("malformed: NaN literal fatalities", Feature("NaN toll", extra: ",\"fatalities_max\":NaN"));
        yield return Body("malformed: hex number", Feature("hex", Geometry("Point", "[0x10,34.7]")));
        yield return Body("malformed: leading zeros", Feature("zeros", Geometry("Point", "[036.7,34.7]")));

        // Nesting: 10,000 levels is far past the 64 the reader accepts: 400, never a stack overflow.
        yield return Body("nesting: 10,000 arrays", Nested(10_000, "[", "", "]"));
        yield return Body("nesting: 10,000 objects", Nested(10_000, "{\"a\":", "1", "}"));
        yield return Body("nesting: 10,000 arrays as coordinates", Feature("deep coordinates", "{\"type\":\"Point\",\"coordinates\":" + Nested(10_000, "[", "0", "]") + "}"));
        yield return Body("nesting: 10,000 objects in properties", Feature("deep properties", extra: ",\"deep\":" + Nested(10_000, "{\"a\":", "1", "}")));
        yield return Body("nesting: 60 arrays as tags", Feature("60 deep tags", extra: ",\"tags\":" + Nested(60, "[", "\"a\"", "]")));

        // Numbers that are not coordinates.
        foreach (var (name, json) in new[]
        {
            ("numbers: NaN strings as coordinates", Geometry("Point", "[\"NaN\",\"NaN\"]")),
            ("numbers: 1e400 longitude", Geometry("Point", "[1e400,34.7]")),
            ("numbers: -1e400 latitude", Geometry("Point", "[36.7,-1e400]")),
            ("numbers: 1e400 altitude", Geometry("Point", "[36.7,34.7,1e400]")),
            ("numbers: 1e400 in a ring", Geometry("Polygon", "[[[0,0],[1e400,0],[1,1],[0,0]]]")),
            ("numbers: 1e308 longitude", Geometry("Point", "[1e308,34.7]")),
            ("numbers: coordinates as strings", Geometry("Point", "[\"36.7\",\"34.7\"]")),
            ("numbers: one coordinate", Geometry("Point", "[36.7]")),
            ("numbers: no coordinates", Geometry("Point", "[]")),
            ("numbers: null coordinate", Geometry("Point", "[null,34.7]")),
            ("numbers: boolean coordinates", Geometry("Point", "[true,false]")),
            ("numbers: point nested one level too deep", Geometry("Point", "[[36.7,34.7]]")),
            ("numbers: coordinates object", Geometry("Point", "{\"lon\":36.7,\"lat\":34.7}")),
        })
            yield return WithGeometry(name, json);
        foreach (var (name, json) in new[]
        {
            ("numbers: fatalities 1e400", "\"fatalities_max\":1e400"),
            ("numbers: fatalities 2^31", "\"fatalities_max\":2147483648"),
            ("numbers: fatalities -2^63", "\"fatalities_min\":-9223372036854775808"),
            ("numbers: fatalities fraction", "\"fatalities_max\":1.5"),
            ("numbers: fatalities negative", "\"fatalities_min\":-1"),
            ("numbers: fatalities as string", "\"fatalities_max\":\"60\""),
            ("numbers: fatalities min over max", "\"fatalities_min\":60,\"fatalities_max\":6"),
            ("numbers: injured exponent fraction", "\"injured_max\":1e-3"),
            ("numbers: injured min over max", "\"injured_min\":2,\"injured_max\":1"),
        })
            yield return WithProperty(name, json);

        // Swapped lon/lat lands out of range: 422 naming the order.
        foreach (var (name, json) in new[]
        {
            ("swapped: Sydney as lat,lon", Geometry("Point", "[-33.8688,151.2093]")),
            ("swapped: Anchorage as lat,lon", Geometry("Point", "[61.2181,-149.9003]")),
            ("swapped: one LineString vertex", Geometry("LineString", "[[36.7,34.7],[34.7,136.7]]")),
            ("swapped: polygon ring", Geometry("Polygon", "[[[10,100],[10,110],[20,110],[10,100]]]")),
            ("swapped: multipoint", Geometry("MultiPoint", "[[36.7,34.7],[-33.8,151.2]]")),
            ("range: longitude 180.0000001", Geometry("Point", "[180.0000001,0]")),
            ("range: latitude -90.5", Geometry("Point", "[0,-90.5]")),
            ("range: web mercator metres", "{\"type\":\"Point\",\"coordinates\":[4087000,4118000],\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"EPSG:3857\"}}}"),
        })
            yield return WithGeometry(name, json);

        // Shapes PostGIS calls invalid, and shapes too big to take.
        foreach (var (name, json) in new[]
        {
            ("polygon: bow-tie", Geometry("Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]")),
            ("polygon: bow-tie in a multipolygon", Geometry("MultiPolygon", "[[[[10,10],[11,10],[11,11],[10,11],[10,10]]],[[[0,0],[1,1],[1,0],[0,1],[0,0]]]]")),
            ("polygon: unclosed ring", Geometry("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]")),
            ("polygon: ring of three positions", Geometry("Polygon", "[[[0,0],[1,0],[0,0]]]")),
            ("polygon: hole outside its shell", Geometry("Polygon", "[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[5,5],[6,5],[6,6],[5,6],[5,5]]]")),
            ("polygon: all positions equal", Geometry("Polygon", "[[[1,1],[1,1],[1,1],[1,1]]]")),
            ("linestring: one position", Geometry("LineString", "[[1,1]]")),
        })
            yield return WithGeometry(name, json);
        yield return new HostileBody("polygon: 1,000,000 vertices, compact (under 8 MiB)",
            Lazy(() => Feature("million compact", "{\"type\":\"Polygon\",\"coordinates\":[" + Ring(1_000_000, precise: false) + "]}")), TooLargeOrInvalid);
        yield return new HostileBody("polygon: 1,000,000 vertices, precise (over 8 MiB)",
            Lazy(() => Feature("million precise", "{\"type\":\"Polygon\",\"coordinates\":[" + Ring(1_000_000, precise: true) + "]}")), TooLargeOrInvalid);
        yield return new HostileBody("polygon: 100,001 vertices (one over the cap)",
            Lazy(() => Feature("cap plus one", "{\"type\":\"Polygon\",\"coordinates\":[" + Ring(100_001, precise: false) + "]}")), [422]);

        // Geometry and document types.
        foreach (var (name, json) in new[]
        {
            ("type: GeometryCollection", "{\"type\":\"GeometryCollection\",\"geometries\":[" + Point + "]}"),
            ("type: Circle", "{\"type\":\"Circle\",\"coordinates\":[0,0],\"radius\":5}"),
            ("type: geometry type in lower case", Geometry("point", "[36.7,34.7]")),
            ("type: geometry type number", "{\"type\":1,\"coordinates\":[36.7,34.7]}"),
        })
            yield return WithGeometry(name, json);
        // With a location_name the server geocodes a missing geometry, so as a patch (the stored incident has one) this is an edit.
        yield return new HostileBody("type: geometry null", Text(Feature("type: geometry null", "null")), WholeOnly: true);
        foreach (var (name, json) in new[]
        {
            ("type: geometry as WKT", "\"POINT(36.7 34.7)\""),
            ("type: geometry as array", "[36.7,34.7]"),
            ("type: geometry is a Feature", "{\"type\":\"Feature\",\"geometry\":" + Point + ",\"properties\":{}}"),
        })
            yield return WithGeometry(name, json);
        yield return Body("type: FeatureCollection", "{\"type\":\"FeatureCollection\",\"features\":[" + Feature("in a collection") + "]}");
        yield return Body("type: feature in lower case", Feature("lower").Replace("\"Feature\"", "\"feature\""));
        yield return Body("type: Feature as number", Feature("type number").Replace("\"Feature\"", "1"));
        yield return Body("type: missing", Feature("no type").Replace("\"type\":\"Feature\",", ""), wholeOnly: true);
        yield return Body("body: array of Features", "[" + Feature("array") + "]");
        yield return Body("body: string", Str(Feature("string")));
        yield return Body("body: number", "42");
        yield return Body("body: null", "null");
        yield return Body("body: true", "true");
        yield return Body("body: empty object", "{}", wholeOnly: true);
        yield return Body("properties: missing", "{\"type\":\"Feature\",\"geometry\":" + Point + "}", wholeOnly: true);
        yield return Body("properties: array", "{\"type\":\"Feature\",\"geometry\":" + Point + ",\"properties\":[" + Title("properties array") + "]}");
        yield return Body("properties: string", "{\"type\":\"Feature\",\"geometry\":" + Point + ",\"properties\":" + Title("properties string") + "}");
        yield return Body("properties: null", "{\"type\":\"Feature\",\"geometry\":" + Point + ",\"properties\":null}");
        yield return Body("title: missing", Feature("x").Replace("\"title\":" + Title("x") + ",", ""), wholeOnly: true);
        yield return Body("title: null", Feature("x", titleJson: "null"));
        yield return Body("title: number", Feature("x", titleJson: "42"));
        yield return Body("title: array", Feature("x", titleJson: "[" + Title("title array") + "]"));
        yield return Body("title: object", Feature("x", titleJson: "{\"en\":" + Title("title object") + "}"));
        yield return Body("title: blank", Feature("x", titleJson: "\"   \""));

        // Vocabulary, dates and URLs with SQL in them.
        foreach (var (name, json) in new[]
        {
            ("sql: event_type", "\"event_type\":\"' OR 1=1 --\""),
            ("sql: time_precision", "\"time_precision\":\"day'; DROP TABLE incidents; --\""),
            ("sql: geo_precision", "\"geo_precision\":\"exact' OR '1'='1\""),
            ("sql: status", "\"status\":\"verified'; UPDATE incidents SET status='retracted'; --\""),
            ("sql: country", "\"country\":\"SY' OR 1=1 --\""),
            ("sql: occurred_at", "\"occurred_at\":\"2016-02-21'; DROP TABLE incidents; --\""),
            ("sql: sources url", "\"sources\":[{\"url\":\"' OR 1=1 --\"}]"),
            ("sql: sources published_at", "\"sources\":[{\"publisher\":\"x\",\"published_at\":\"'; DROP TABLE incidents; --\"}]"),
            ("vocabulary: unknown event_type", "\"event_type\":\"bombing\""),
            ("vocabulary: country of three letters", "\"country\":\"SYR\""),
            ("vocabulary: unknown status", "\"status\":\"deleted\""),
            ("date: 30 February", "\"occurred_at\":\"2016-02-30T07:30:00Z\""),
            ("date: no offset", "\"occurred_at\":\"2016-02-21T07:30:00\""),
            ("date: year 0", "\"occurred_at\":\"0000-01-01T00:00:00Z\""),
            ("date: year 99999", "\"occurred_at\":\"99999-01-01T00:00:00Z\""),
            ("date: leap second", "\"occurred_at\":\"2016-12-31T23:59:60Z\""),
            ("date: as number", "\"occurred_at\":1456039800"),
            ("date: offset +25:00", "\"occurred_at\":\"2016-02-21T07:30:00+25:00\""),
            ("sources: javascript URL", "\"sources\":[{\"url\":\"javascript:alert(1)\"}]"),
            ("sources: file URL", "\"sources\":[{\"url\":\"file:///etc/passwd\"}]"),
            ("sources: not an array", "\"sources\":{\"url\":\"https://example.org\"}"),
            ("sources: item a string", "\"sources\":[\"https://example.org\"]"),
            ("sources: unknown field", "\"sources\":[{\"url\":\"https://example.org\",\"script\":\"x\"}]"),
            ("sources: empty object", "\"sources\":[{}]"),
            ("actors: not an array", "\"actors\":\"Islamic State\""),
            ("actors: number item", "\"actors\":[1]"),
            ("actors: blank item", "\"actors\":[\"  \"]"),
            ("tags: object", "\"tags\":{\"a\":1}"),
        })
            yield return WithProperty(name, json);

        // The same member twice: a reader may take either, but must answer 4xx either way.
        yield return Body("duplicate: occurred_at twice, the second bad",
            Feature("duplicate", extra: ",\"occurred_at\":\"2016-02-21T07:30:00Z\",\"occurred_at\":\"not a date\""));
        yield return Body("duplicate: geometry twice, the second swapped",
            "{\"type\":\"Feature\",\"geometry\":" + Point + ",\"geometry\":" + Geometry("Point", "[-33.8688,151.2093]") + ",\"properties\":" + Props("duplicate geometry") + "}");

        // Members that are not incident properties.
        foreach (var (name, json) in new[]
        {
            ("unknown: property", "\"hacker\":true"),
            ("unknown: __proto__", "\"__proto__\":{\"admin\":true}"),
            ("unknown: SQL as property name", "\"' OR 1=1 --\":1"),
            ("unknown: NUL in property name", "\"ti\\u0000tle\":\"x\""),
        })
            yield return WithProperty(name, json);

        // Overlong strings: 422 naming the field.
        yield return Body("overlong: title of 501", Feature("x", titleJson: Str(HostileFixture.Marker + new string('t', 501))));
        yield return Body("overlong: title of 100,000", Feature("x", titleJson: Str(HostileFixture.Marker + new string('t', 100_000))));
        var overlongFields = new[] { ("summary", 20_000), ("sub_event_type", 200), ("location_name", 500), ("admin1", 200), ("admin2", 200), ("admin3", 200), ("claimed_by", 500), ("external_id", 200) }
            .Select(f => ($"overlong: {f.Item1} of {f.Item2 + 1}", $"\"{f.Item1}\":\"{new string('s', f.Item2 + 1)}\""));
        foreach (var (name, json) in overlongFields.Concat(
            [
                ("overlong: tag of 501", $"\"tags\":[\"{new string('g', 501)}\"]"),
                ("overlong: actor of 501", $"\"actors\":[\"{new string('a', 501)}\"]"),
                ("overlong: source title of 2001", $"\"sources\":[{{\"title\":\"{new string('s', 2001)}\"}}]"),
                ("overlong: source url of 2001", $"\"sources\":[{{\"url\":\"https://example.org/{new string('u', 1990)}\"}}]"),
            ]))
            yield return WithProperty(name, json);

        // NUL (PostgreSQL cannot store it) and lone surrogates (not Unicode text): 4xx, never 500.
        yield return Body("nul: in title", Feature("x", titleJson: Str(HostileFixture.Marker + " nul \u0000 in title")));
        yield return Body("nul: title ends in NUL", Feature("x", titleJson: Str(HostileFixture.Marker + "\u0000")));
        var nulFields = new[] { "summary", "sub_event_type", "location_name", "admin1", "admin2", "admin3", "claimed_by", "external_id", "occurred_at", "country" }
            .Select(field => ($"nul: in {field}", $"\"{field}\":\"a\\u0000b\""));
        foreach (var (name, json) in nulFields.Concat(
            [
                ("nul: in a tag", "\"tags\":[\"a\\u0000b\"]"),
                ("nul: in an actor", "\"actors\":[\"a\\u0000b\"]"),
                ("nul: in a source title", "\"sources\":[{\"title\":\"a\\u0000b\"}]"),
                ("nul: in a source publisher", "\"sources\":[{\"publisher\":\"a\\u0000b\"}]"),
                ("nul: in a source url", "\"sources\":[{\"url\":\"https://example.org/a\\u0000b\"}]"),
            ]))
            yield return WithProperty(name, json);
        // Control characters, escaped so the JSON is valid: single-line text holds none, prose only tabs
        // and line breaks (they reached CSV exports raw: ESC [31m, BEL, BS). 422 naming the field.
        HostileBody Invalid(string name, string text) => new(name, Text(text), [422]);
        yield return Invalid("control: escapes in title", Feature("x", titleJson: Str(HostileFixture.Marker + " ctl\u001b[31mRED\u0007\u0008 title\nline2")));
        foreach (var (name, json) in new[]
        {
            ("control: in a tag", "\"tags\":[\"a\\u0001\"]"),
            ("control: C1 in location_name", "\"location_name\":\"a\\u009bb\""),
            ("control: DEL in an actor", "\"actors\":[\"a\\u007fb\"]"),
            ("control: BEL in summary", "\"summary\":\"a\\u0007b\""),
        })
            yield return Invalid(name, Feature(name, extra: "," + json));
        yield return Body("surrogate: lone high in title", Feature("x", titleJson: $"\"{HostileFixture.Marker} \\ud800\""));
        yield return Body("surrogate: lone low in title", Feature("x", titleJson: $"\"{HostileFixture.Marker} \\udfff x\""));
        foreach (var (name, json) in new[]
        {
            ("surrogate: lone in summary", "\"summary\":\"a\\ud800b\""),
            ("surrogate: lone in a tag", "\"tags\":[\"\\udbff\"]"),
            ("surrogate: lone in a source publisher", "\"sources\":[{\"publisher\":\"\\ud800\"}]"),
            ("surrogate: lone in event_type", "\"event_type\":\"\\ud800\""),
            ("surrogate: lone in a property name", "\"\\ud800\":1"),
        })
            yield return WithProperty(name, json);
        yield return WithGeometry("surrogate: lone in geometry type", "{\"type\":\"\\ud800\",\"coordinates\":[0,0]}");
        yield return WithGeometry("surrogate: lone in a geometry member name", "{\"type\":\"Point\",\"coordinates\":[0,0],\"\\ud800\":1}");

        // Too large: 413 from the size check, before any parsing.
        yield return new HostileBody("huge: 9 MiB body", Lazy(() => Padded("nine MiB", NineMiB)), TooLarge);
        yield return new HostileBody("huge: 9 MiB body without Content-Length", Chunked(() => Padded("nine MiB chunked", NineMiB)), TooLarge);
        yield return new HostileBody("huge: 8 MiB + 1 byte of whitespace", Lazy(() => Feature("whitespace") + new string(' ', 8 * 1024 * 1024 + 1)), TooLarge);

        // Wrong content types with an otherwise valid body: 415.
        foreach (var type in new[]
                 {
                     "text/plain", "application/xml", "text/html", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
                     "application/octet-stream", "application/geo+json-seq", "application/jsonp", "text/json", "json", "*/*", "application/*",
                     "application/json-patch+json", "::::", "application/json\u0000",
                 })
            yield return new HostileBody($"content type: {type.Replace("\u0000", "\\0")}", Text(Feature("content type " + type), type), Unsupported);
        yield return new HostileBody("content type: none", Text(Feature("no content type"), null), Unsupported);
        yield return new HostileBody("content type: merge patch for a whole Feature", Text(Feature("merge patch type"), MergePatch), Unsupported, WholeOnly: true);
    }

    /// <summary>Merge patches that are invalid only once merged into the stored incident: 422.</summary>
    public static IEnumerable<HostileBody> Patches()
    {
        HostileBody Patch(string name, string json) => new(name, Text(json, MergePatch));
        yield return Patch("patch: removes title", "{\"properties\":{\"title\":null}}");
        yield return Patch("patch: removes event_type", "{\"properties\":{\"event_type\":null}}");
        yield return Patch("patch: removes occurred_at", "{\"properties\":{\"occurred_at\":null}}");
        yield return Patch("patch: removes properties", "{\"properties\":null}");
        yield return Patch("patch: removes type", "{\"type\":null}");
        yield return Patch("patch: type Polygon", "{\"type\":\"Polygon\"}");
        yield return Patch("patch: fatalities min over max", "{\"properties\":{\"fatalities_min\":5,\"fatalities_max\":1}}");
        yield return Patch("patch: NUL title", "{\"properties\":{\"title\":" + Str(HostileFixture.Marker + "\u0000") + "}}");
        yield return new HostileBody("patch: control character in title", Text("{\"properties\":{\"title\":\"a\\u0001b\"}}", MergePatch), [422]);
        yield return Patch("patch: lone surrogate title", "{\"properties\":{\"title\":\"" + HostileFixture.Marker + "\\ud800\"}}");
        yield return Patch("patch: latitude -95", "{\"geometry\":{\"type\":\"Point\",\"coordinates\":[151.2,-95]}}");
        yield return Patch("patch: bow-tie", "{\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}");
        yield return Patch("patch: coordinates merged into an object", "{\"geometry\":{\"coordinates\":{\"lon\":1}}}");
        yield return Patch("patch: unknown property", "{\"properties\":{\"hacker\":1}}");
        yield return Patch("patch: SQL country", "{\"properties\":{\"country\":\"' OR 1=1 --\"}}");
        yield return Patch("patch: overlong title", "{\"properties\":{\"title\":" + Str(HostileFixture.Marker + new string('t', 600)) + "}}");
        yield return Patch("patch: array", "[{\"op\":\"replace\",\"path\":\"/properties/title\",\"value\":\"x\"}]");
        yield return Patch("patch: string", "\"x\"");
        yield return Patch("patch: null", "null");
    }
}
