using static IncidentMap.Tests.Hostile.HostileJson;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// Every hostile request, by name. Lists are crossed where that is the point: each query parameter of
/// each endpoint with each hostile value, each body with POST, PUT and PATCH, each bad ETag with each
/// conditional write, each bad id with each method.
/// </summary>
public static class HostileTable
{
    public const string Items = "/collections/incidents/items";
    /// <summary>The target of the body cases; conditionals aim at the second, ids and callers at the third, so one
    /// successful attack does not hide the others.</summary>
    public const string Item = Items + "/{id}";
    public const string Item2 = Items + "/{id2}";
    public const string Item3 = Items + "/{id3}";
    public const string Search = "/collections/incidents/search";
    public const string Tiles = "/collections/incidents/tiles/WebMercatorQuad";
    public const string Keys = "/admin/keys";
    public const string Places = "/collections/places/items";

    /// <summary>Built on first use, after the lists below are initialised.</summary>
    public static IReadOnlyDictionary<string, HostileCase> All => Table.Value;

    private static readonly Lazy<Dictionary<string, HostileCase>> Table = new(Build);

    private static Dictionary<string, HostileCase> Build()
    {
        var cases = new Dictionary<string, HostileCase>(StringComparer.Ordinal);
        foreach (var c in Writes().Concat(Conditionals()).Concat(FeatureIds()).Concat(Parameters()).Concat(SearchBodies())
                     .Concat(TilePaths()).Concat(FeedCursors()).Concat(PageCursors()).Concat(Filters()).Concat(KeyRequests()).Concat(PlaceRequests()).Concat(Callers()))
            cases.Add(c.Name, c); // names are the test's display: they must be unique
        return cases;
    }

    /// <summary>Hostile values for every parameter: SQL, NUL in three spellings, 100k characters, unicode, numbers.</summary>
    public static readonly IReadOnlyList<(string Label, string Value)> Values =
    [
        ("sql or", "' OR 1=1 --"),
        ("sql drop", "'; DROP TABLE incidents; --"),
        ("sql union", "1 UNION SELECT key FROM api_keys"),
        ("backslash x00", "\\x00"),
        ("percent 00", "%00"),
        ("NUL", "\0"),
        ("100k chars", new string('A', 100_000)),
        ("unicode", "ﷺ𝕏😀\u202Eإرهاب\uFEFF"),
        ("-1", "-1"),
        ("huge", "99999999999999999999"),
        ("1e400", "1e400"),
        ("NaN", "NaN"),
    ];

    /// <summary>Percent-encoded bytes that are not UTF-8.</summary>
    public static readonly IReadOnlyList<(string Label, string Bytes)> NotUtf8 =
    [
        ("C3 28", "%C3%28"), ("FF", "%FF"), ("Latin-1 e acute", "%E9"), ("cut short", "%E2%82"), ("surrogate", "%ED%A0%80"), ("overlong slash", "%C0%AF"),
    ];

    private static readonly string[] FreeText = ["q", "sub_event_type", "admin1", "admin2", "admin3", "location_name", "external_id", "tags", "claimed_by", "actors"];

    /// <summary>Parameters that take other parameters to be looked at: a radius needs its centre, a CRS its filter.</summary>
    private static readonly Dictionary<string, string> Companions = new()
    {
        ["lat"] = "&lon=0&radius=1km",
        ["lon"] = "&lat=0&radius=1km",
        ["radius"] = "&lat=0&lon=0",
        ["filter-crs"] = "&filter=id%20%3E%200",
    };

    /// <summary>Why a hostile value is legitimate data for a parameter (a 2xx is then right), or null.</summary>
    private static string? Legitimate(string endpoint, string parameter, string value) => (parameter, value) switch
    {
        _ when FreeText.Contains(parameter) => "free text matches any text",
        ("limit", "99999999999999999999") when endpoint is "items" or "search" or "changes" => "limits above the maximum are clamped (README)",
        ("lat" or "lon", "-1") => "a coordinate",
        _ => null,
    };

    private static string Esc(string value) => Uri.EscapeDataString(value);

    private static HostileCase Get(string name, string url, Expect expect = Expect.Problem) => new(name, HttpMethod.Get, url) { Expect = expect };

    private static IEnumerable<HostileCase> Writes()
    {
        foreach (var body in HostileBodies.Features())
        {
            yield return new HostileCase($"POST items, {body.Name}", HttpMethod.Post, Items) { Body = body.Content, Statuses = body.Statuses };
            yield return new HostileCase($"PUT item, {body.Name}", HttpMethod.Put, Item)
            {
                Body = body.Content, Statuses = body.Statuses, Headers = [("If-Match", "{etag}")],
            };
            if (!body.WholeOnly)
                yield return new HostileCase($"PATCH item, {body.Name}", HttpMethod.Patch, Item)
                {
                    Body = body.Content, Statuses = body.Statuses, Headers = [("If-Match", "{etag}")],
                };
        }
        foreach (var body in HostileBodies.Patches())
            yield return new HostileCase($"PATCH item, {body.Name}", HttpMethod.Patch, Item) { Body = body.Content, Headers = [("If-Match", "{etag}")] };

        // A valid create with a hostile Idempotency-Key: 400, and nothing created.
        foreach (var (label, key) in new[]
                 {
                     ("256 chars", new string('k', 256)), ("10k chars", new string('k', 10_000)), ("control char", "key\u0001"),
                     ("DEL", "key\u007f"), ("tab", "key\tkey"), ("NUL", "key\0"), ("cyrillic", "ключ"), ("emoji", "🔑"),
                 })
            yield return new HostileCase($"POST items, Idempotency-Key {label}", HttpMethod.Post, Items)
            {
                Body = Text(Feature("idempotency " + label)), Headers = [("Idempotency-Key", key)], Statuses = [400],
            };
    }

    /// <summary>Bad If-Match on writes that are otherwise valid: 400 (not an entity tag list, or weak), 412 or 428, never a change.</summary>
    private static IEnumerable<HostileCase> Conditionals()
    {
        var tags = new (string Label, string? Value)[]
        {
            ("missing", null), ("garbage", "garbage"), ("empty quotes", "\"\""), ("unquoted", "v{ver}"), ("weak current", "W/{etag}"),
            ("v0", "\"v0\""), ("v-1", "\"v-1\""), ("v999999999999", "\"v999999999999\""), ("v2^31", "\"v2147483648\""),
            ("v1.0", "\"v{ver}.0\""), ("capital V", "\"V{ver}\""), ("leading zero", "\"v0{ver}\""), ("plus sign", "\"v+{ver}\""),
            ("inner space", "\"v {ver}\""), ("trailing space", "\"v{ver} \""), ("unterminated", "\"v{ver}"), ("list of stale", "\"v998\", \"v999\""),
            ("data etag", "\"d{ver}\""), ("10k digits", "\"v" + new string('9', 10_000) + "\""), ("unicode", "\"vé\""), ("NUL", "\"v{ver}\0\""),
            ("SQL", "\"v1' OR 1=1 --\""),
        };
        foreach (var (label, value) in tags)
        {
            (string, string)[] headers = value is null ? [] : [("If-Match", value)];
            yield return new HostileCase($"PUT item, If-Match {label}", HttpMethod.Put, Item2) { Body = Text(Feature("if-match " + label)), Headers = headers };
            yield return new HostileCase($"PATCH item, If-Match {label}", HttpMethod.Patch, Item2)
            {
                Body = Text("{\"properties\":{\"title\":" + Title("if-match " + label) + "}}", MergePatch), Headers = headers,
            };
            yield return new HostileCase($"DELETE item, If-Match {label}", HttpMethod.Delete, Item2) { Headers = headers };
        }

        // A conditional read of something bad is still its error, never 304.
        (string, string)[] anything = [("If-None-Match", "*")];
        yield return Get("GET unknown item, If-None-Match *", Items + "/abc") with { Headers = anything };
        yield return Get("GET items with bad limit, If-None-Match *", Items + "?limit=abc") with { Headers = anything };
        yield return Get("GET stats with bad interval, If-None-Match *", "/collections/incidents/stats?interval=hour") with { Headers = anything };
        yield return Get("GET summary with bad bbox, If-None-Match *", "/collections/incidents/stats/summary?bbox=1") with { Headers = anything };
        yield return Get("GET tile beyond zoom 24, If-None-Match *", Tiles + "/25/0/0") with { Headers = anything };
        yield return Get("GET tile with bad filter, If-None-Match *", Tiles + "/0/0/0?filter=nope") with { Headers = anything };
        yield return Get("GET items with bad limit, If-None-Match garbage", Items + "?limit=abc") with { Headers = [("If-None-Match", "garbage, W/\"v1\", \"v999999999999\"")] };
    }

    /// <summary>
    /// Ids that are not ids (or name no incident): 404 for every method, even with If-Match: *.
    /// (NUL in a path is not here: Kestrel refuses %00 in the request line before the app sees it.)
    /// </summary>
    private static IEnumerable<HostileCase> FeatureIds()
    {
        var ids = new (string Label, string Segment)[]
        {
            ("0", "0"), ("-1", "-1"), ("negative target", "-{id3}"), ("plus target", "%2B{id3}"), ("target.0", "{id3}.0"), ("target e0", "{id3}e0"),
            ("space target", "%20{id3}"), ("target;DROP", Esc("{id3};DROP TABLE incidents")), ("2^64", "99999999999999999999"),
            ("long max", "9223372036854775807"), ("abc", "abc"), ("SQL", Esc("1' OR '1'='1")), ("hex", "0x1"), ("fullwidth one", Esc("１")),
            ("arabic-indic three", Esc("٣")), ("100k digits", new string('9', 100_000)),
        };
        var body = Text(Feature("replace unknown"));
        var patch = Text("{\"properties\":{\"title\":" + Title("patch unknown") + "}}", MergePatch);
        foreach (var (label, segment) in ids)
        {
            var url = $"{Items}/{segment}";
            yield return Get($"GET item {label}", url);
            yield return new HostileCase($"HEAD item {label}", HttpMethod.Head, url);
            yield return new HostileCase($"PUT item {label}", HttpMethod.Put, url) { Body = body, Headers = [("If-Match", "*")] };
            yield return new HostileCase($"PATCH item {label}", HttpMethod.Patch, url) { Body = patch, Headers = [("If-Match", "*")] };
            yield return new HostileCase($"DELETE item {label}", HttpMethod.Delete, url) { Headers = [("If-Match", "*")] };
            yield return Get($"GET history of item {label}", url + "/history");
        }
        foreach (var (label, version) in new[] { ("0", "0"), ("-1", "-1"), ("abc", "abc"), ("2^31", "2147483648"), ("1e3", "1e3"), ("SQL", Esc("1 OR 1=1")) })
            yield return Get($"GET revision {label} of an item", $"{Item3}/history/{version}");
        yield return new HostileCase("POST to an item", HttpMethod.Post, Item3) { Body = Text(Feature("post to item")) };
        yield return new HostileCase("DELETE the collection", HttpMethod.Delete, Items) { Headers = [("If-Match", "*")] };
        yield return new HostileCase("PUT the collection", HttpMethod.Put, Items) { Body = Text(Feature("put collection")), Headers = [("If-Match", "*")] };
    }

    /// <summary>Every query parameter of every read endpoint × every hostile value; hostile parameter names too.</summary>
    private static IEnumerable<HostileCase> Parameters()
    {
        var endpoints = new (string Label, string Path, string Base, string[] Own)[]
        {
            ("items", Items, "", [.. IncidentMap.Api.Querying.QueryParser.Parameters.Keys]),
            ("changes", "/collections/incidents/changes", "", ["cursor", "limit", "bbox", "datetime", "filter", "country", "q"]),
            ("stats", "/collections/incidents/stats", "", ["interval", "group_by", "tz", "f", "bbox", "datetime", "filter", "event_type"]),
            ("summary", "/collections/incidents/stats/summary", "", ["f", "bbox", "datetime", "filter", "status", "fatalities_min"]),
            ("clusters", "/collections/incidents/clusters", "zoom=3", ["zoom", "bbox", "datetime", "filter"]),
            ("hexbins", "/collections/incidents/hexbins", "size=100000&bbox=0,0,1,1", ["size", "bbox", "datetime", "filter"]),
            ("tile", Tiles + "/3/3/4", "", ["bbox", "datetime", "filter", "country", "tags"]),
            ("tilejson", Tiles + "/tilejson.json", "", ["bbox", "datetime", "filter", "event_type"]),
        };
        foreach (var (endpoint, path, baseQuery, parameters) in endpoints)
        foreach (var parameter in parameters)
        foreach (var (label, value) in Values)
        {
            var query = string.Join("&", baseQuery.Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Where(p => !p.StartsWith(parameter + "=", StringComparison.Ordinal))
                .Append($"{parameter}={Esc(value)}{Companions.GetValueOrDefault(parameter, "")}"));
            var expect = Legitimate(endpoint, parameter, value) is null ? Expect.Problem : Expect.NoServerError;
            yield return Get($"GET {endpoint}?{parameter}= {label}", $"{path}?{query}", expect);
        }

        // Percent-encoded bytes that are not UTF-8 are no text, not even for free-text parameters: a 400 everywhere.
        foreach (var (endpoint, path, baseQuery, parameters) in endpoints)
        {
            var rest = baseQuery.Length == 0 ? "" : "&" + baseQuery;
            foreach (var parameter in parameters)
                yield return Get($"GET {endpoint}?{parameter}= not UTF-8", $"{path}?{parameter}=%C3%28{rest}");
            foreach (var (label, bytes) in NotUtf8)
                yield return Get($"GET {endpoint} with a parameter named {label}", $"{path}?x{bytes}=1{rest}");
        }
        foreach (var (label, bytes) in NotUtf8)
        {
            yield return Get($"GET items?q= {label}", $"{Items}?q=homs{bytes}");
            yield return Get($"GET items?tags= {label}", $"{Items}?tags=a&tags={bytes}b");
            yield return Get($"GET places?q= {label}", $"{Places}?q=homs{bytes}");
            yield return new HostileCase($"POST search?q= {label}", HttpMethod.Post, $"{Search}?q={bytes}") { Body = Text("{}", "application/json") };
        }

        // More values in a list than it takes (QueryParser.MaxListValues), repeated or in one comma list.
        var over = IncidentMap.Api.Querying.QueryParser.MaxListValues + 1;
        foreach (var parameter in IncidentMap.Api.Querying.QueryParser.Parameters.Keys.Where(IncidentMap.Api.Querying.QueryParser.MayRepeat))
        {
            yield return Get($"GET items, {over} {parameter} repeated", $"{Items}?" + string.Join("&", Enumerable.Range(0, over).Select(n => $"{parameter}=v{n}")));
            // A whole value takes commas as part of it.
            if (!IncidentMap.Api.Querying.QueryParser.WholeValues.Contains(parameter))
                yield return Get($"GET items, {over} {parameter} in a comma list", $"{Items}?{parameter}=" + string.Join(",", Enumerable.Range(0, over).Select(n => $"v{n}")));
        }
        yield return Get("GET items, sortby --id", $"{Items}?sortby=--id");
        yield return Get("GET items, sortby +-id", $"{Items}?sortby=%2B-id");
        yield return Get("GET items, event_type with an empty member", $"{Items}?event_type=battles,,riots");
        yield return Get("GET items, bbox heights reversed", $"{Items}?bbox=35,33,100,38,36,0");

        foreach (var (label, value) in Values.Where(v => v.Value.Length < 1000))
            yield return Get($"GET items with parameter named {label}", $"{Items}?{Esc(value)}=1");
        yield return Get("GET items, unknown filter-lang without filter", $"{Items}?filter-lang=ecql");
        // Found by fuzzing (seed 7): 33 or more hyphens in a row overflow websearch_to_tsquery. Any answer but 5xx.
        foreach (var (label, q) in new[] { ("32 hyphens", new string('-', 32)), ("33 hyphens", new string('-', 33)), ("500 hyphens", new string('-', 500)), ("40 hyphens then a word", new string('-', 40) + "homs"), ("166 '-a'", string.Concat(Enumerable.Repeat("-a ", 166))) })
        {
            yield return Get($"GET items?q= {label}", $"{Items}?q={Esc(q)}", Expect.NoServerError);
            yield return Get($"GET summary?q= {label}", $"/collections/incidents/stats/summary?q={Esc(q)}", Expect.NoServerError);
        }
        yield return Get("GET stats, a century of days", "/collections/incidents/stats?interval=day&datetime=1900-01-01/2100-01-01");
        yield return Get("GET stream, bad filter", "/collections/incidents/stream?bbox=1,2");
        foreach (var tz in new[] { "Pacific Standard Time", "W. Europe Standard Time", "../../etc/passwd", "UTC+5", "Europe/Nowhere" })
            yield return Get($"GET stats?tz= {tz}", $"/collections/incidents/stats?tz={Esc(tz)}");
        foreach (var (label, size) in new[] { ("0", "0"), ("1e-300", "1e-300"), ("-Infinity", "-Infinity"), ("1 metre over the world", "1") })
            yield return Get($"GET hexbins?size= {label} over the world", $"/collections/incidents/hexbins?size={size}&bbox=-180,-85,180,85");
        yield return Get("GET hexbins across the antimeridian", "/collections/incidents/hexbins?size=100000&bbox=170,0,-170,10");
        yield return Get("GET hexbins without bbox", "/collections/incidents/hexbins?size=100000");
        yield return Get("GET clusters without zoom", "/collections/incidents/clusters");
    }

    /// <summary>The search body's members: every items parameter × the hostile values, and hostile shapes.</summary>
    private static IEnumerable<HostileCase> SearchBodies()
    {
        HostileCase Post(string name, string json, string mediaType = "application/json", Expect expect = Expect.Problem, int[]? statuses = null) =>
            new(name, HttpMethod.Post, Search) { Body = Text(json, mediaType), Expect = expect, Statuses = statuses };

        foreach (var parameter in IncidentMap.Api.Querying.QueryParser.Parameters.Keys)
        foreach (var (label, value) in Values)
        {
            var companions = Companions.GetValueOrDefault(parameter, "").Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=')).Select(p => $",{Str(p[0])}:{Str(Uri.UnescapeDataString(p[1]))}");
            var expect = Legitimate("search", parameter, value) is null ? Expect.Problem : Expect.NoServerError;
            yield return Post($"POST search {{{parameter}: {label}}}", $"{{{Str(parameter)}:{Str(value)}{string.Concat(companions)}}}", expect: expect);
        }

        var over = IncidentMap.Api.Querying.QueryParser.MaxListValues + 1;
        foreach (var parameter in IncidentMap.Api.Querying.QueryParser.Parameters.Keys.Where(IncidentMap.Api.Querying.QueryParser.MayRepeat))
            yield return Post($"POST search {{{parameter}: {over} values}}", $"{{{Str(parameter)}:[{string.Join(",", Enumerable.Range(0, over).Select(n => Str($"v{n}")))}]}}");
        yield return new HostileCase("POST search, 20,000 tags", HttpMethod.Post, Search)
        {
            Body = Lazy(() => "{\"tags\":[" + string.Join(",", Enumerable.Range(0, 20_000).Select(n => $"\"t{n}\"")) + "],\"limit\":1}", "application/json"),
            Caller = Caller.Anonymous, Statuses = [400],
        };
        yield return Post("POST search, body an array", "[]");
        yield return Post("POST search, body a string", "\"bbox=0,0,1,1\"");
        yield return Post("POST search, malformed", "{\"limit\":");
        yield return Post("POST search, 10,000 nested arrays", Nested(10_000, "[", "", "]"));
        yield return Post("POST search, member an object", "{\"q\":{\"$ne\":null}}");
        yield return Post("POST search, member an array of objects", "{\"tags\":[{\"a\":1}]}");
        yield return Post("POST search, member an array of arrays", "{\"bbox\":[[0,0],[1,1]]}");
        yield return Post("POST search, limit 1e400", "{\"limit\":1e400}");
        yield return Post("POST search, limit -1", "{\"limit\":-1}");
        yield return Post("POST search, lat 1e400", "{\"lat\":1e400,\"lon\":0,\"radius\":1000}");
        yield return Post("POST search, bbox with 1e400", "{\"bbox\":[1e400,0,1,1]}");
        yield return Post("POST search, NaN literal", "{\"limit\":NaN}");
        yield return Post("POST search, unknown member", "{\"drop\":\"incidents\"}");
        yield return Post("POST search, lone surrogate in q", "{\"q\":\"\\ud800\"}");
        yield return Post("POST search, lone surrogate in a member name", "{\"\\ud800\":\"x\"}");
        yield return Post("POST search, text/plain", "{}", "text/plain", statuses: [415]);
        yield return Post("POST search, form encoded", "bbox=0,0,1,1", "application/x-www-form-urlencoded", statuses: [415]);
        yield return new HostileCase("POST search, 9 MiB", HttpMethod.Post, Search)
        {
            Body = Lazy(() => "{\"q\":\"" + new string('q', 9 * 1024 * 1024) + "\"}", "application/json"), Statuses = [413],
        };
        foreach (var (label, geometry) in new[]
                 {
                     ("bow-tie", Geometry("Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]")),
                     ("unclosed ring", Geometry("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]")),
                     ("swapped lon/lat", Geometry("Polygon", "[[[33,130],[34,130],[34,131],[33,130]]]")),
                     ("1e400", Geometry("Point", "[1e400,0]")),
                     ("NaN strings", Geometry("Point", "[\"NaN\",0]")),
                     ("GeometryCollection", "{\"type\":\"GeometryCollection\",\"geometries\":[]}"),
                     ("lone surrogate type", "{\"type\":\"\\ud800\"}"),
                     ("10,000 nested coordinates", "{\"type\":\"Point\",\"coordinates\":" + Nested(10_000, "[", "0", "]") + "}"),
                     ("WKT string", "\"POLYGON((0 0,1 0,1 1,0 0))\""),
                 })
            yield return Post($"POST search, intersects {label}", $"{{\"intersects\":{geometry}}}");
        yield return new HostileCase("POST search, intersects 1,000,000 vertices", HttpMethod.Post, Search)
        {
            Body = Lazy(() => "{\"intersects\":{\"type\":\"Polygon\",\"coordinates\":[" + Ring(1_000_000, precise: false) + "]}}", "application/json"),
            Statuses = [400, 413, 422],
        };
    }

    /// <summary>Tile addresses that are not tiles: 400 (not a number) or 404 (no such tile) problems (NUL left out, as for ids).</summary>
    private static IEnumerable<HostileCase> TilePaths()
    {
        var segments = Values.Where(v => !v.Value.Contains('\0')).Select(v => (v.Label, Segment: Esc(v.Value)))
            .Concat([("zoom 25", "25"), ("2^31", "2147483648"), ("1.5", "1.5"), ("+1", "%2B1"), ("space", "%201")]);
        foreach (var (label, segment) in segments)
        {
            yield return Get($"GET tile z= {label}", $"{Tiles}/{segment}/0/0");
            yield return Get($"GET tile y= {label}", $"{Tiles}/2/{segment}/0");
            yield return Get($"GET tile x= {label}", $"{Tiles}/2/0/{segment}");
        }
        yield return Get("GET tile row 1 at zoom 0", $"{Tiles}/0/1/0");
        yield return Get("GET tile column 2^24 at zoom 24", $"{Tiles}/24/0/16777216");
        yield return Get("GET tile, extra segment", $"{Tiles}/0/0/0/0");
        yield return Get("GET tile, unknown tiling", "/collections/incidents/tiles/WorldCRS84Quad/0/0/0");
        yield return new HostileCase("HEAD tile zoom 99", HttpMethod.Head, $"{Tiles}/99/0/0");
    }

    /// <summary>Change feed cursors that no feed issued: 400 (a purged one would be 410).</summary>
    private static IEnumerable<HostileCase> FeedCursors()
    {
        var cursors = new (string Label, string Value)[]
        {
            ("-1-1", "-1-1"), ("2^64+-1", "99999999999999999999-1"), ("1-2^63", "1-9223372036854775808"), ("1-", "1-"), ("-", "-"),
            ("1--1", "1--1"), ("1-1-1", "1-1-1"), ("a-b", "a-b"), ("space", " 1-1"), ("plus", "+1-1"), ("base64", "eyJzIjoiLW9jY3VycmVkX2F0In0"),
            ("NUL", "1-1\0"), ("SQL", "1-1' OR 1=1 --"), ("100k", new string('1', 100_000) + "-1"), ("unicode digits", "١-١"),
        };
        foreach (var (label, cursor) in cursors)
        {
            yield return Get($"GET changes, feed cursor {label}", $"/collections/incidents/changes?cursor={Esc(cursor)}");
            yield return Get($"GET stream, feed cursor {label}", $"/collections/incidents/stream?cursor={Esc(cursor)}");
            if (!cursor.Contains('\0'))
                yield return Get($"GET stream, Last-Event-ID {label}", "/collections/incidents/stream") with { Headers = [("Last-Event-ID", cursor)] };
        }
        // A number too large for int is clamped like any large limit, as on /items: not hostile.
        foreach (var (label, limit) in new[] { ("0", "0"), ("1e3", "1e3"), ("list", "1,2") })
            yield return Get($"GET changes, feed limit {label}", $"/collections/incidents/changes?limit={Esc(limit)}");
    }

    /// <summary>Page cursors: garbage, and base64 of JSON that looks right but is not a cursor we issued.</summary>
    private static IEnumerable<HostileCase> PageCursors()
    {
        static string RandomBase64(int length)
        {
            var bytes = new byte[length];
            new Random(7).NextBytes(bytes);
            return Convert.ToBase64String(bytes);
        }
        static string B64(string json) => System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(json));
        var cursors = new (string Label, string Query)[]
        {
            ("random base64", "cursor=" + Esc(RandomBase64(48))),
            ("base64 of garbage", "cursor=" + B64("not json at all")),
            ("invalid base64", "cursor=" + Esc("!!!!====")),
            ("JSON array", "cursor=" + B64("[1,2]")),
            ("sort a number", "cursor=" + B64("{\"s\":1,\"k\":[1,1]}")),
            ("keys an object", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":{}}")),
            ("one key short", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[1]}")),
            ("string timestamp", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[\"2016-02-21\",1]}")),
            ("fractional timestamp", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[1.5,1]}")),
            ("null timestamp", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[null,1]}")),
            ("object key", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[{},1]}")),
            ("1e400 key", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[1e400,1]}")),
            ("other sort", "cursor=" + B64("{\"s\":\"title\",\"k\":[\"a\",1]}")),
            ("SQL sort", "cursor=" + B64("{\"s\":\"-occurred_at; DROP TABLE incidents\",\"k\":[1,1]}")),
            ("deeply nested", "cursor=" + B64(Nested(1_000, "[", "", "]"))),
            ("timestamp long max", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[9223372036854775807,1]}")),
            ("timestamp long min", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[-9223372036854775808,1]}")),
            ("timestamp after 9999", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[253402300800000000,1]}")),
            ("timestamp before year 1", "cursor=" + B64("{\"s\":\"-occurred_at\",\"k\":[-62135596800000001,1]}")),
            ("NUL title key", "sortby=title&cursor=" + B64("{\"s\":\"title\",\"k\":[\"\\u0000\",1]}")),
            ("id key a string", "sortby=id&cursor=" + B64("{\"s\":\"id\",\"k\":[\"1 OR 1=1\"]}")),
            ("invalid UTF-8 in the sort", "cursor=" + System.Buffers.Text.Base64Url.EncodeToString([.. "{\"s\":\""u8, 0xC3, 0x28, .. "\",\"k\":[1,1]}"u8])),
            ("lone surrogate in the sort", "cursor=" + B64("{\"s\":\"\\ud800\",\"k\":[1,1]}")),
        };
        foreach (var (label, query) in cursors)
        {
            yield return Get($"GET items, cursor {label}", $"{Items}?{query}");
            yield return new HostileCase($"POST search, cursor {label}", HttpMethod.Post, Search)
            {
                Body = Text("{" + string.Join(",", query.Split('&').Select(p => p.Split('=', 2)).Select(p => $"{Str(p[0])}:{Str(Uri.UnescapeDataString(p[1]))}")) + "}", "application/json"),
            };
        }
    }

    /// <summary>CQL2 injection and abuse in <c>filter</c>: 400 naming the filter.</summary>
    private static IEnumerable<HostileCase> Filters()
    {
        var text = new (string Label, string Filter)[]
        {
            ("quote OR 1=1", "title = 'x' OR 1=1 --"), ("statement", "title = 'a'; DROP TABLE incidents; --"), ("bare 1=1", "1=1"),
            ("TRUE; DELETE", "TRUE; DELETE FROM incidents"), ("UNION", "id = 1 UNION SELECT 1"), ("function", "pg_sleep(10) IS NULL"),
            ("quoted identifier", "\"title; DROP TABLE incidents\" = 'x'"), ("geometry OR", "S_INTERSECTS(geometry, POINT(1 2)) OR 1=1"),
            ("comment", "title = 'x' /*"), ("column outside", "deleted_at IS NULL"), ("cast", "id::text = '1'"),
            ("65 parentheses", Nested(65, "(", "id = 1", ")")), ("4,000 NOTs", string.Concat(Enumerable.Repeat("NOT ", 4_000)) + "id = 1"),
            ("1,001 terms", string.Join(" OR ", Enumerable.Range(1, 1_001).Select(i => $"id = {i}"))),
            ("20,001 chars", "title = '" + new string('x', 19_991) + "'"),
            ("bow-tie", "S_INTERSECTS(geometry, POLYGON((0 0,1 1,1 0,0 1,0 0)))"),
            ("point 1e400", "S_INTERSECTS(geometry, POINT(1e400 0))"), ("point NaN", "S_INTERSECTS(geometry, POINT(NaN 0))"),
            ("point out of range", "S_INTERSECTS(geometry, POINT(200 100))"), ("bbox out of range", "S_INTERSECTS(geometry, BBOX(0,0,1,95))"),
            ("date 30 February", "occurred_at > DATE('2016-02-30')"), ("timestamp year 0", "occurred_at > TIMESTAMP('0000-01-01T00:00:00Z')"),
            ("count 1e400", "fatalities_max > 1e400"), ("count 2^64", "fatalities_max > 99999999999999999999"),
            ("NUL string", "title = 'a\0b'"), ("NUL in LIKE", "title LIKE '%\0%'"), ("NUL in IN", "tags IN ('\0')"), ("NUL in A_CONTAINS", "A_CONTAINS(tags, ('\0'))"),
            ("unterminated string", "title = 'x"), ("empty", ""), ("spaces", "   "), ("unicode operator", "id ≠ 1"),
        };
        // CQL2 compares literals too, and any number with a count: these are valid filters that match nothing or all.
        string[] legitimate = ["bare 1=1", "geometry OR", "count 2^64", "timestamp year 0"];
        foreach (var (label, filter) in text)
        {
            var expect = legitimate.Contains(label) ? Expect.NoServerError : Expect.Problem;
            yield return Get($"GET items?filter= CQL2 {label}", $"{Items}?filter={Esc(filter)}", expect);
            yield return new HostileCase($"POST search, filter CQL2 {label}", HttpMethod.Post, Search)
            {
                Body = Text($"{{\"filter\":{Str(filter)}}}", "application/json"), Expect = expect,
            };
        }
        var json = new (string Label, string Filter)[]
        {
            ("malformed", "{\"op\":"), ("op SQL", "{\"op\":\"' OR 1=1 --\",\"args\":[]}"), ("property SQL", "{\"op\":\"=\",\"args\":[{\"property\":\"title; DROP TABLE incidents\"},\"x\"]}"),
            ("NUL value", "{\"op\":\"=\",\"args\":[{\"property\":\"title\"},\"a\\u0000b\"]}"), ("lone surrogate", "{\"op\":\"=\",\"args\":[{\"property\":\"title\"},\"\\ud800\"]}"),
            ("10,000 nested", Nested(10_000, "{\"op\":\"not\",\"args\":[", "true", "]}")), ("args an object", "{\"op\":\"and\",\"args\":{}}"),
            ("number 1e400", "{\"op\":\">\",\"args\":[{\"property\":\"fatalities_max\"},1e400]}"), ("text filter as JSON", "title = 'x'"),
        };
        foreach (var (label, filter) in json)
            yield return Get($"GET items?filter= CQL2 JSON {label}", $"{Items}?filter-lang=cql2-json&filter={Esc(filter)}");
    }

    /// <summary>Key management: bad bodies and names, each carrying the marker so a created key is found.</summary>
    private static IEnumerable<HostileCase> KeyRequests()
    {
        var name = Str(HostileFixture.Marker + "-key");
        var bodies = new (string Label, string Json)[]
        {
            ("malformed", "{\"name\":"), ("array", "[" + name + "]"), ("string", name), ("null", "null"), ("empty object", "{}"),
            ("name number", "{\"name\":123}"), ("name null", "{\"name\":null}"), ("name empty", "{\"name\":\"\"}"), ("name blank", "{\"name\":\"   \"}"),
            ("name of 101", "{\"name\":" + Str(HostileFixture.Marker + new string('n', 101)) + "}"),
            ("name NUL", "{\"name\":" + Str(HostileFixture.Marker + "\0") + "}"),
            ("name lone surrogate", "{\"name\":\"" + HostileFixture.Marker + "\\ud800\"}"),
            ("scope unknown", "{\"name\":" + name + ",\"scopes\":[\"root\"]}"), ("scopes empty", "{\"name\":" + name + ",\"scopes\":[]}"),
            ("scopes a string", "{\"name\":" + name + ",\"scopes\":\"admin\"}"), ("scope null", "{\"name\":" + name + ",\"scopes\":[null]}"),
            ("scope number", "{\"name\":" + name + ",\"scopes\":[\"read\",1]}"), ("scope SQL", "{\"name\":" + name + ",\"scopes\":[\"read' OR 1=1 --\"]}"),
            ("scope NUL", "{\"name\":" + name + ",\"scopes\":[\"read\\u0000\"]}"), ("10,000 nested", Nested(10_000, "{\"name\":", name, "}")),
            ("NaN", "{\"name\":" + name + ",\"scopes\":NaN}"),
        };
        foreach (var (label, json) in bodies)
            yield return new HostileCase($"POST keys, {label}", HttpMethod.Post, Keys) { Body = Text(json, "application/json") };
        yield return new HostileCase("POST keys, text/plain", HttpMethod.Post, Keys) { Body = Text("{\"name\":" + name + "}", "text/plain"), Statuses = [415] };
        yield return new HostileCase("POST keys, no content type", HttpMethod.Post, Keys) { Body = Text("{\"name\":" + name + "}", null), Statuses = [415] };
        // The padding is the name: the test host does not enforce Kestrel's body limit on framework-bound bodies.
        yield return new HostileCase("POST keys, 9 MiB name", HttpMethod.Post, Keys)
        {
            Body = Lazy(() => "{\"name\":\"" + HostileFixture.Marker + new string('p', 9 * 1024 * 1024) + "\"}", "application/json"), Statuses = [400, 413],
        };
        foreach (var (label, value) in Values.Where(v => !v.Value.Contains('\0')))
            yield return new HostileCase($"DELETE keys/ {label}", HttpMethod.Delete, $"{Keys}/{Esc(value)}");
    }

    /// <summary>Place search parameters, place ids, and bad places (each named with the marker).</summary>
    private static IEnumerable<HostileCase> PlaceRequests()
    {
        foreach (var parameter in new[] { "q", "country", "bbox", "limit", "f" })
        foreach (var (label, value) in Values)
        {
            // A name of up to 200 characters is a search: any text may match nothing.
            // Limits above the maximum are clamped, however large.
            var expect = (parameter == "q" && value.Length <= 200) || (parameter == "limit" && label == "huge") ? Expect.NoServerError : Expect.Problem;
            yield return Get($"GET places?{parameter}= {label}", $"{Places}?{parameter}={Esc(value)}", expect);
        }
        foreach (var (label, value) in Values.Where(v => !v.Value.Contains('\0')))
            yield return Get($"GET place {label}", $"{Places}/{Esc(value)}");

        string Place(string geometry = Point, string extra = "", string? nameJson = null) =>
            "{\"type\":\"Feature\",\"geometry\":" + geometry + ",\"properties\":{\"name\":" + (nameJson ?? Str(HostileFixture.Marker + " place")) + extra + "}}";
        var bodies = new (string Label, string Json, string? Type, int[]? Statuses)[]
        {
            ("malformed", Place()[..^2], GeoJson, null), ("array", "[" + Place() + "]", GeoJson, null), ("10,000 nested", Nested(10_000, "[", "", "]"), GeoJson, null),
            ("no geometry", Place().Replace("\"geometry\":" + Point + ",", ""), GeoJson, null),
            ("bow-tie", Place(Geometry("Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]")), GeoJson, null),
            ("swapped lon/lat", Place(Geometry("Point", "[-33.8688,151.2093]")), GeoJson, null),
            ("NaN literal", Place(Geometry("Point", "[NaN,0]")), GeoJson, null), ("1e400", Place(Geometry("Point", "[1e400,0]")), GeoJson, null),
            ("altitude 1e400", Place(Geometry("Point", "[36.7,34.7,1e400]")), GeoJson, null),
            ("name missing", Place().Replace("\"name\":" + Str(HostileFixture.Marker + " place"), "\"kind\":\"town\""), GeoJson, null),
            ("name of 201", Place(nameJson: Str(HostileFixture.Marker + new string('n', 201))), GeoJson, null),
            ("name NUL", Place(nameJson: Str(HostileFixture.Marker + " a\0b")), GeoJson, null),
            ("name lone surrogate", Place(nameJson: "\"" + HostileFixture.Marker + " \\ud800\""), GeoJson, null),
            ("kind SQL", Place(extra: ",\"kind\":\"town' OR 1=1 --\""), GeoJson, null), ("country SQL", Place(extra: ",\"country\":\"SY' --\""), GeoJson, null),
            ("alternate name NUL", Place(extra: ",\"alternate_names\":[\"a\\u0000b\"]"), GeoJson, null),
            ("alternate name lone surrogate", Place(extra: ",\"alternate_names\":[\"\\ud800\"]"), GeoJson, null),
            ("alternate names a string", Place(extra: ",\"alternate_names\":\"Hims\""), GeoJson, null),
            ("admin1 NUL", Place(extra: ",\"admin1\":\"a\\u0000b\""), GeoJson, null),
            ("text/plain", Place(), "text/plain", [415]), ("no content type", Place(), null, [415]),
        };
        foreach (var (label, json, type, statuses) in bodies)
            yield return new HostileCase($"POST places, {label}", HttpMethod.Post, Places) { Body = Text(json, type), Statuses = statuses };
        yield return new HostileCase("POST places, 9 MiB", HttpMethod.Post, Places)
        {
            Body = Lazy(() => Place(extra: ",\"admin1\":\"" + new string('a', 9 * 1024 * 1024) + "\"")), Statuses = [413],
        };
        foreach (var (caller, status) in new[] { (Caller.Anonymous, 401), (Caller.ReadOnly, 403) })
            yield return new HostileCase($"{caller}: POST places", HttpMethod.Post, Places) { Caller = caller, Body = Text(Place()), Statuses = [status] };
    }

    /// <summary>Writes and key management without the scope they need, or with a key that is no key.</summary>
    private static IEnumerable<HostileCase> Callers()
    {
        var create = Text(Feature("unauthorised create"));
        foreach (var (caller, status) in new[] { (Caller.Anonymous, 401), (Caller.ReadOnly, 403) })
        {
            int[] expected = [status];
            yield return new HostileCase($"{caller}: POST items", HttpMethod.Post, Items) { Caller = caller, Body = create, Statuses = expected };
            yield return new HostileCase($"{caller}: PUT item", HttpMethod.Put, Item3) { Caller = caller, Body = create, Headers = [("If-Match", "*")], Statuses = expected };
            yield return new HostileCase($"{caller}: PATCH item", HttpMethod.Patch, Item3)
            {
                Caller = caller, Body = Text("{\"properties\":{\"title\":" + Title("unauthorised patch") + "}}", MergePatch), Headers = [("If-Match", "*")], Statuses = expected,
            };
            yield return new HostileCase($"{caller}: DELETE item", HttpMethod.Delete, Item3) { Caller = caller, Headers = [("If-Match", "*")], Statuses = expected };
            yield return new HostileCase($"{caller}: GET keys", HttpMethod.Get, Keys) { Caller = caller, Statuses = expected };
            yield return new HostileCase($"{caller}: POST keys", HttpMethod.Post, Keys)
            {
                Caller = caller, Body = Text("{\"name\":" + Str(HostileFixture.Marker + "-unauthorised") + ",\"scopes\":[\"admin\"]}", "application/json"), Statuses = expected,
            };
        }

        var keys = new (string Label, string Header, string Value)[]
        {
            ("10k chars", "X-API-Key", new string('A', 10_000)), ("im_ and 10k chars", "X-API-Key", "im_" + new string('A', 10_000)),
            ("non-ASCII", "X-API-Key", "ключ🔑"), ("im_ non-ASCII", "X-API-Key", "im_ключ🔑"), ("SQL", "X-API-Key", "' OR 1=1 --"),
            ("im_ SQL", "X-API-Key", "im_' OR 1=1 --"), ("im_ NUL", "X-API-Key", "im_\0"), ("prefix only", "X-API-Key", "im_"),
            ("lone surrogate", "X-API-Key", "im_\ud800"), ("bearer garbage", "Authorization", "Bearer im_garbage"),
            ("bearer 10k", "Authorization", "Bearer " + new string('B', 10_000)), ("basic", "Authorization", "Basic YWRtaW46YWRtaW4="),
        };
        foreach (var (label, header, value) in keys)
        {
            (string, string)[] headers = [(header, value)];
            int[] unauthorised = [401];
            yield return new HostileCase($"bad key {label}: POST items", HttpMethod.Post, Items) { Caller = Caller.Anonymous, Body = create, Headers = headers, Statuses = unauthorised };
            yield return new HostileCase($"bad key {label}: DELETE item", HttpMethod.Delete, Item3)
            {
                Caller = Caller.Anonymous, Headers = [.. headers, ("If-Match", "*")], Statuses = unauthorised,
            };
            yield return new HostileCase($"bad key {label}: GET keys", HttpMethod.Get, Keys) { Caller = Caller.Anonymous, Headers = headers, Statuses = unauthorised };
            // Reads need no key, so an unknown one is read as none (documented exception).
            yield return new HostileCase($"bad key {label}: GET items", HttpMethod.Get, Items + "?limit=1") { Caller = Caller.Anonymous, Headers = headers, Expect = Expect.NoServerError };
        }
    }
}
