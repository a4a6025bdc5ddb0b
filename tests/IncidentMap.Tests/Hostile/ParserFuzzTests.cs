using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Filtering;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// Fuzz runs over the parsers a client reaches: the GeoJSON Feature reader, the query-parameter
/// parser (with the datetime window), and CQL2 text and JSON. In process they must never throw; over
/// HTTP they must never answer 5xx. Inputs come from <see cref="Fuzz"/> with fixed seeds, and every
/// failure names its seed, its iteration and the input itself.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class ParserFuzzTests(HostileFixture hostile)
{
    private const int InProcessRuns = 3_000;
    private const int OverHttp = 300;

    /// <summary>Runs <see cref="InProcessRuns"/> inputs of seed BaseSeed + <paramref name="seedOffset"/>, then reports.</summary>
    private static void InProcess(string target, int seedOffset, Action<Fuzz, FuzzReport> one)
    {
        var report = new FuzzReport(target);
        for (var i = 0; i < InProcessRuns; i++) one(new Fuzz(Fuzz.BaseSeed + seedOffset, i), report);
        report.AssertClean();
    }

    /// <summary>Sends <see cref="OverHttp"/> requests; none may answer 5xx. An incident a request created is deleted again.</summary>
    private async Task OverHttpAsync(string target, int seedOffset, Func<HttpClient, Fuzz, Task<(string Input, HttpResponseMessage Response)>> send)
    {
        using var client = hostile.Client(Caller.Admin);
        var report = new FuzzReport(target);
        for (var i = 0; i < OverHttp; i++)
        {
            var fuzz = new Fuzz(Fuzz.BaseSeed + seedOffset, i);
            var (input, response) = await send(client, fuzz);
            using (response)
            {
                var status = (int)response.StatusCode;
                var body = status >= 500 ? await response.Content.ReadAsStringAsync() : "";
                report.Status(fuzz, input, status, body, status >= 500 ? hostile.Api.Errors.For(body) : "");
                if (response.Headers.Location is { } created) await client.DeleteCurrentAsync(created.ToString());
            }
        }
        report.AssertClean();
    }

    // (a) GeoJSON Features -------------------------------------------------------------------------

    [Fact]
    public void Mutated_features_never_make_the_reader_throw() => InProcess("IncidentInput.Parse", 0, (fuzz, report) =>
    {
        var text = MutatedFeature(fuzz);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(Encoding.UTF8.GetBytes(text), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            report.Skipped(); // the endpoint answers 400 before the reader sees it
            return;
        }
        using (document)
            report.Run(fuzz, text, () =>
            {
                var (draft, errors) = IncidentInput.Parse(document.RootElement);
                return draft is null ? errors.Count > 0 ? null : "no draft and no errors" : Invalid(draft);
            });
    });

    [Fact]
    public Task Mutated_features_never_get_a_5xx() => OverHttpAsync("POST /collections/incidents/items", 1, async (client, fuzz) =>
    {
        var text = MutatedFeature(fuzz);
        return (text, await client.PostAsync(HostileTable.Items, HostileJson.Text(text)()));
    });

    /// <summary>A valid Feature, bent at 1 to 4 places in the tree, then maybe broken as text.</summary>
    private static string MutatedFeature(Fuzz fuzz)
    {
        var feature = Template(fuzz);
        for (var n = fuzz.Between(1, 4); n > 0; n--) MutateTree(fuzz, feature);
        var text = Fuzz.Render(feature);
        if (fuzz.Chance(0.25)) text = fuzz.MutateText(text);
        return text;
    }

    private static readonly string[] Geometries =
    [
        """{"type":"Point","coordinates":[36.7236,34.7197]}""",
        """{"type":"LineString","coordinates":[[36.7,34.7],[36.8,34.8],[36.9,34.7]]}""",
        """{"type":"Polygon","coordinates":[[[36,34],[37,34],[37,35],[36,35],[36,34]],[[36.2,34.2],[36.4,34.2],[36.4,34.4],[36.2,34.2]]]}""",
        """{"type":"MultiPoint","coordinates":[[36.7,34.7],[-0.1,51.5]]}""",
        """{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}""",
        """{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}""",
    ];

    private static JsonObject Template(Fuzz fuzz)
    {
        var properties = new JsonObject
        {
            ["title"] = "fuzz " + fuzz.Iteration, ["event_type"] = "explosions_remote_violence", ["occurred_at"] = "2016-02-21T07:30:00Z",
        };
        if (fuzz.Chance(0.7))
        {
            properties["summary"] = "Twin car bombs";
            properties["time_precision"] = fuzz.Pick(["exact", "day", "week", "month"]);
            properties["country"] = "SY";
            properties["geo_precision"] = "town";
            properties["fatalities_min"] = 57;
            properties["fatalities_max"] = 60;
            properties["actors"] = new JsonArray("Islamic State", "Civilians");
            properties["tags"] = new JsonArray("car bomb");
            properties["sources"] = new JsonArray(new JsonObject { ["publisher"] = "Reuters", ["url"] = "https://example.org/a", ["published_at"] = "2016-02-21" });
            properties["status"] = "verified";
            properties["external_id"] = "fuzz:" + fuzz.Iteration;
        }
        return new JsonObject { ["type"] = "Feature", ["geometry"] = JsonNode.Parse(fuzz.Pick(Geometries)), ["properties"] = properties };
    }

    private static readonly string[] MemberNames =
    [
        "type", "geometry", "properties", "coordinates", "title", "event_type", "occurred_at", "fatalities_min", "fatalities_max", "sources",
        "url", "tags", "actors", "country", "time_precision", "crs", "bbox", "id", "version", "__proto__", "",
    ];

    /// <summary>Replaces, deletes, renames, adds, flips or re-types one node of the tree.</summary>
    private static void MutateTree(Fuzz fuzz, JsonObject root)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var node = fuzz.Pick(nodes);
        var parent = node.Parent;
        JsonNode Replacement() => fuzz.Next(5) switch
        {
            0 => Fuzz.Raw(fuzz.JsonValue()),
            1 => JsonValue.Create(fuzz.Text())!,
            2 => new JsonArray(),
            3 => new JsonObject(),
            _ => Fuzz.Raw(fuzz.Number()),
        };
        switch (fuzz.Next(7))
        {
            case 0 when parent is JsonObject obj:
                obj.Remove(node.GetPropertyName());
                break;
            case 1 when parent is JsonArray array:
                array.RemoveAt(node.GetElementIndex());
                break;
            case 2 when parent is JsonObject obj: // rename: the value moves to another (possibly known) name
                var name = node.GetPropertyName();
                obj.Remove(name);
                obj[fuzz.Chance(0.5) ? fuzz.Pick(MemberNames) : fuzz.Text(12)] = node;
                break;
            case 3 when node is JsonObject target:
                target[fuzz.Chance(0.5) ? fuzz.Pick(MemberNames) : fuzz.Text(12)] = Replacement();
                break;
            case 4 when node is JsonArray list: // swap or scale coordinates, or add an element
                if (list.Count >= 2 && fuzz.Chance(0.5)) (list[0], list[1]) = (list[1]!.DeepClone(), list[0]!.DeepClone());
                else list.Add(Replacement());
                break;
            case 5 when parent is not null: // wrap the node one level deeper
                Replace(node, fuzz.Chance(0.5) ? new JsonArray(node.DeepClone()) : new JsonObject { ["value"] = node.DeepClone() });
                break;
            default:
                if (parent is not null) Replace(node, Replacement());
                break;
        }
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null) return;
        into.Add(node);
        if (node is JsonObject obj) foreach (var (_, child) in obj) Collect(child, into);
        if (node is JsonArray array) foreach (var child in array) Collect(child, into);
    }

    private static void Replace(JsonNode node, JsonNode replacement)
    {
        switch (node.Parent)
        {
            case JsonObject obj: obj[node.GetPropertyName()] = replacement; break;
            case JsonArray array: array[node.GetElementIndex()] = replacement; break;
        }
    }

    /// <summary>What is wrong with a draft the reader accepted, or null.</summary>
    private static string? Invalid(IncidentDraft draft)
    {
        if (draft.Title.Trim().Length == 0 || draft.Title.Length > 500) return $"accepted title '{draft.Title}'";
        if (draft.FatalitiesMin > draft.FatalitiesMax) return "accepted fatalities_min > fatalities_max";
        if (draft.Geometry.NumPoints > IncidentInput.MaxVertices) return "accepted too many vertices";
        foreach (var c in draft.Geometry.Coordinates)
            if (!double.IsFinite(c.X) || !double.IsFinite(c.Y) || c.X is < -180 or > 180 || c.Y is < -90 or > 90)
                return $"accepted position {c.X},{c.Y}";
        return null;
    }

    // (b) Query parameters -------------------------------------------------------------------------

    [Fact]
    public void Random_query_parameters_never_make_the_parser_throw() => InProcess("QueryParser.Parse", 2, (fuzz, report) =>
    {
        var values = RandomQuery(fuzz);
        var accept = fuzz.Chance(0.2) ? fuzz.Text() : null;
        report.Run(fuzz, Show(values) + (accept is null ? "" : $" Accept: {HostileJson.Str(accept)}"), () =>
        {
            var (query, errors) = QueryParser.Parse(values, DateTimeOffset.UtcNow, accept);
            return query is null && errors.Count == 0 ? "no query and no errors" : null;
        });
    });

    [Fact]
    public void Random_datetime_windows_never_make_the_parser_throw() => InProcess("TimeWindow.TryParse", 3, (fuzz, report) =>
    {
        var text = DateTimeText(fuzz);
        report.Run(fuzz, HostileJson.Str(text), () =>
        {
            var ok = TimeWindow.TryParse(text, DateTimeOffset.UtcNow, out var from, out var until, out var error);
            if (!ok) return error.Length > 0 ? null : "refused without a reason";
            return from > until ? $"window {from:o} after {until:o}" : null;
        });
    });

    [Fact]
    public Task Random_query_strings_never_get_a_5xx() => OverHttpAsync("GET /collections/incidents/items", 4, async (client, fuzz) =>
    {
        var values = RandomQuery(fuzz);
        if (!values.ContainsKey("limit") && !values.ContainsKey("f")) values["limit"] = "5"; // pages, not exports
        var query = "?" + string.Join("&", values.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
        return (query, await client.GetAsync(HostileTable.Items + query, HttpCompletionOption.ResponseHeadersRead));
    });

    private static readonly string[] ParameterNames = [.. QueryParser.Parameters.Keys];
    private static readonly string[] SortFields = ["occurred_at", "updated_at", "created_at", "id", "fatalities", "title", "distance", "nope", ""];

    private static Dictionary<string, string> RandomQuery(Fuzz fuzz)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var n = fuzz.Between(1, 6); n > 0; n--)
        {
            var name = fuzz.Chance(0.9) ? fuzz.Pick(ParameterNames) : fuzz.Text(10);
            values[name] = ParameterValue(fuzz, name);
        }
        return values;
    }

    private static string ParameterValue(Fuzz fuzz, string name)
    {
        if (fuzz.Chance(0.15)) return fuzz.Text();
        var value = name switch
        {
            "bbox" => string.Join(",", Enumerable.Range(0, fuzz.Between(1, 7)).Select(_ => fuzz.Number())),
            "datetime" => DateTimeText(fuzz),
            "lat" or "lon" or "limit" or "precision" or "fatalities_min" or "fatalities_max" => fuzz.Number(),
            "radius" => fuzz.Number() + fuzz.Pick(["", "m", "km", "mi", "KM", " km", "parsecs"]),
            "sortby" => string.Join(",", Enumerable.Range(0, fuzz.Between(1, 4)).Select(_ => fuzz.Pick(["", "-", "+"]) + fuzz.Pick(SortFields))),
            "properties" => string.Join(",", Enumerable.Range(0, fuzz.Between(1, 4)).Select(_ => fuzz.Pick(["title", "distance_m", "geometry", "nope", "id"]))),
            "cursor" => Cursor(fuzz),
            "filter" => fuzz.Chance(0.7) ? CqlText(fuzz) : CqlJson(fuzz),
            "filter-lang" => fuzz.Pick(["cql2-text", "cql2-json", "CQL2-TEXT", "ecql", ""]),
            "f" => fuzz.Pick(["json", "geojson", "csv", "geojsonseq", "ndjson", "xml", ""]),
            "count" => fuzz.Pick(["true", "false", "TRUE", "1", ""]),
            "event_type" => fuzz.Pick(["battles", "riots", "protests,riots", "bombing", ""]),
            "status" => fuzz.Pick(["verified", "reported,disputed", "deleted"]),
            "country" => fuzz.Pick(["SY", "sy", "SY,IQ", "XX", "SYR", ""]),
            _ => fuzz.Text(),
        };
        return fuzz.Chance(0.2) ? fuzz.MutateText(value) : value;
    }

    private static string Cursor(Fuzz fuzz)
    {
        var keys = string.Join(",", Enumerable.Range(0, fuzz.Between(0, 3)).Select(_ => fuzz.JsonValue(2)));
        var json = fuzz.Chance(0.8) ? $"{{\"s\":{fuzz.Pick(["\"-occurred_at\"", "\"title\"", "\"id\"", "1", "null"])},\"k\":[{keys}]}}" : fuzz.JsonValue();
        return System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
    }

    private static string DateTimeText(Fuzz fuzz)
    {
        string Part() => fuzz.Next(9) switch
        {
            0 => "..",
            1 => "",
            2 => "now",
            3 => $"{fuzz.Between(0, 10000):D4}-{fuzz.Between(0, 13):D2}-{fuzz.Between(0, 32):D2}",
            4 => $"{fuzz.Between(0, 10000):D4}-{fuzz.Between(0, 13):D2}",
            5 => $"{fuzz.Between(0, 10000):D4}-{fuzz.Between(1, 12):D2}-{fuzz.Between(1, 28):D2}T{fuzz.Between(0, 25):D2}:{fuzz.Between(0, 61):D2}:{fuzz.Between(0, 61):D2}{fuzz.Pick(["Z", "z", "+14:00", "-12:00", "+99:99", "", ".9999999Z"])}",
            6 => "P" + string.Concat(Enumerable.Range(0, fuzz.Between(1, 3)).Select(_ => fuzz.Pick(["", "1", "999999999", "99999999999", "0"]) + fuzz.Pick(["Y", "M", "W", "D"]))),
            7 => "PT" + fuzz.Pick(["1", "999999999", "2147483647", "9999999999", "1.5", "0.0000001"]) + fuzz.Pick(["H", "M", "S"]),
            _ => fuzz.Pick(["0000-01-01", "9999-12-31", "9999-12", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]),
        };
        var text = fuzz.Next(3) switch { 0 => Part(), 1 => Part() + "/" + Part(), _ => Part() + "/" + Part() + (fuzz.Chance(0.2) ? "/" + Part() : "") };
        return fuzz.Chance(0.15) ? fuzz.MutateText(text) : text;
    }

    private static string Show(Dictionary<string, string> values) =>
        "{" + string.Join(", ", values.Select(p => $"{HostileJson.Str(p.Key)}: {HostileJson.Str(p.Value)}")) + "}";

    // (c) CQL2 -----------------------------------------------------------------------------------------

    [Fact]
    public void Random_cql2_never_makes_the_compiler_throw() => InProcess("Cql2.Compile", 5, (fuzz, report) =>
    {
        var json = fuzz.Chance(0.4);
        var filter = json ? CqlJson(fuzz) : CqlText(fuzz);
        var lang = fuzz.Chance(0.03) ? fuzz.Text(10) : json ? Cql2.JsonLanguage : Cql2.TextLanguage;
        report.Run(fuzz, $"{lang}: {HostileJson.Str(filter)}", () =>
        {
            var (compiled, error) = Cql2.Compile(filter, lang);
            return compiled is null == error is null ? "neither a filter nor an error" : null;
        });
    });

    private static readonly string[] Properties =
        ["title", "event_type", "fatalities_max", "fatalities_min", "occurred_at", "updated_at", "tags", "actors", "geometry", "country", "id", "status", "nope", "\"title\""];

    private static readonly string[] Comparisons = ["=", "<>", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "like", "=="];

    private static string CqlText(Fuzz fuzz)
    {
        var text = Expression(fuzz, 0);
        return fuzz.Chance(0.4) ? fuzz.MutateText(text) : text;
    }

    private static string Expression(Fuzz fuzz, int depth) => (depth > 4 ? 9 : fuzz.Next(12)) switch
    {
        0 => Expression(fuzz, depth + 1) + fuzz.Pick([" AND ", " OR ", " and ", " AND NOT "]) + Expression(fuzz, depth + 1),
        1 => "NOT " + Expression(fuzz, depth + 1),
        2 => "(" + Expression(fuzz, depth + 1) + ")",
        3 => $"{fuzz.Pick(["S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_DISJOINT", "S_DWITHIN", "s_intersects"])}(geometry, {Wkt(fuzz)}{(fuzz.Chance(0.2) ? ", " + fuzz.Number() + ", km" : "")})",
        4 => $"{fuzz.Pick(["T_AFTER", "T_BEFORE", "T_INTERSECTS", "T_DURING"])}({fuzz.Pick(["occurred_at", "updated_at", "title"])}, {Temporal(fuzz)})",
        5 => $"{fuzz.Pick(Properties)} {fuzz.Pick(["IN", "NOT IN"])} ({string.Join(", ", Enumerable.Range(0, fuzz.Between(0, 4)).Select(_ => Literal(fuzz)))})",
        6 => $"{fuzz.Pick(Properties)} BETWEEN {Literal(fuzz)} AND {Literal(fuzz)}",
        7 => $"{fuzz.Pick(Properties)} IS {fuzz.Pick(["", "NOT "])}NULL",
        8 => $"{fuzz.Pick(["A_CONTAINS", "A_OVERLAPS", "A_EQUALS", "A_CONTAINEDBY"])}({fuzz.Pick(["tags", "actors", "title"])}, ({string.Join(", ", Enumerable.Range(0, fuzz.Between(0, 3)).Select(_ => Literal(fuzz)))}))",
        10 => $"{fuzz.Pick(["CASEI", "ACCENTI"])}({fuzz.Pick(Properties)}) = {fuzz.Pick(["CASEI", "ACCENTI"])}({Literal(fuzz)})",
        11 => fuzz.Pick(["TRUE", "FALSE", "1=1", "pg_sleep(1) IS NULL", "title = title", ""]),
        _ => $"{fuzz.Pick(Properties)} {fuzz.Pick(Comparisons)} {Literal(fuzz)}",
    };

    private static string Literal(Fuzz fuzz) => fuzz.Next(6) switch
    {
        0 => fuzz.Number(),
        1 => "'" + fuzz.Text().Replace("'", "''") + "'",
        2 => "'" + fuzz.Text(),                       // unterminated
        3 => Temporal(fuzz),
        4 => fuzz.Pick(Properties),
        _ => "'" + fuzz.Pick(["x", "%", "_", "\\", "a%b_c", "riots"]) + "'",
    };

    private static string Temporal(Fuzz fuzz) => fuzz.Next(3) switch
    {
        0 => $"TIMESTAMP('{DateTimeText(fuzz)}')",
        1 => $"DATE('{DateTimeText(fuzz)}')",
        _ => $"INTERVAL('{DateTimeText(fuzz)}', '{DateTimeText(fuzz)}')",
    };

    private static string Wkt(Fuzz fuzz)
    {
        string Position() => fuzz.Number() + " " + fuzz.Number();
        string Ring() => "(" + string.Join(",", Enumerable.Range(0, fuzz.Between(0, 6)).Select(_ => Position())) + ")";
        return fuzz.Next(6) switch
        {
            0 => $"POINT({Position()})",
            1 => $"LINESTRING({string.Join(",", Enumerable.Range(0, fuzz.Between(0, 4)).Select(_ => Position()))})",
            2 => $"POLYGON({Ring()})",
            3 => "POLYGON((0 0,1 1,1 0,0 1,0 0))",
            4 => $"BBOX({string.Join(",", Enumerable.Range(0, fuzz.Between(3, 7)).Select(_ => fuzz.Number()))})",
            _ => $"{fuzz.Pick(["MULTIPOINT", "MULTIPOLYGON", "GEOMETRYCOLLECTION", "POINT Z", "CIRCLE"])}({Ring()})",
        };
    }

    private static string CqlJson(Fuzz fuzz)
    {
        var text = JsonExpression(fuzz, 0);
        return fuzz.Chance(0.3) ? fuzz.MutateText(text) : text;
    }

    private static readonly string[] JsonOps =
    [
        "and", "or", "not", "=", "<>", "<", ">", "<=", ">=", "like", "between", "in", "isNull", "casei", "accenti", "s_intersects", "s_within",
        "s_dwithin", "t_after", "t_before", "t_intersects", "a_contains", "a_overlaps", "nope", "",
    ];

    private static string JsonExpression(Fuzz fuzz, int depth)
    {
        if (depth > 4 || fuzz.Chance(0.3)) return JsonOperand(fuzz, depth);
        var args = string.Join(",", Enumerable.Range(0, fuzz.Between(0, 3)).Select(_ => JsonExpression(fuzz, depth + 1)));
        var op = fuzz.Chance(0.9) ? HostileJson.Str(fuzz.Pick(JsonOps)) : fuzz.JsonValue(2);
        return fuzz.Next(8) switch
        {
            0 => $"{{\"op\":{op},\"args\":{fuzz.JsonValue(2)}}}",
            1 => $"{{\"op\":{op},\"op\":{op},\"args\":[{args}]}}",                 // duplicate member
            2 => $"{{\"args\":[{args}]}}",
            _ => $"{{\"op\":{op},\"args\":[{args}]}}",
        };
    }

    private static string JsonOperand(Fuzz fuzz, int depth) => fuzz.Next(9) switch
    {
        0 => $"{{\"property\":{HostileJson.Str(fuzz.Pick(Properties))}}}",
        1 => $"{{\"property\":{fuzz.JsonString()}}}",
        2 => $"{{\"timestamp\":{HostileJson.Str(DateTimeText(fuzz))}}}",
        3 => $"{{\"date\":{HostileJson.Str(DateTimeText(fuzz))}}}",
        4 => $"{{\"interval\":[{HostileJson.Str(DateTimeText(fuzz))},{HostileJson.Str(DateTimeText(fuzz))}]}}",
        5 => $"{{\"bbox\":[{string.Join(",", Enumerable.Range(0, fuzz.Between(0, 7)).Select(_ => fuzz.Number()))}]}}",
        6 => $"{{\"type\":{HostileJson.Str(fuzz.Pick(["Point", "Polygon", "LineString", "MultiPolygon", "Circle"]))},\"coordinates\":{fuzz.JsonValue(depth)}}}",
        7 => fuzz.JsonString(),
        _ => fuzz.JsonValue(depth),
    };
}

/// <summary>Collects fuzz failures (never stopping at the first) and reports each kind with its first seed, iteration and input.</summary>
public sealed class FuzzReport(string target)
{
    private readonly Dictionary<string, (int Count, string First)> _kinds = [];
    private int _runs;
    private int _skipped;

    public void Skipped() => _skipped++;

    /// <summary>Runs one input; <paramref name="check"/> returns null when the outcome is right, else what is wrong.</summary>
    public void Run(Fuzz fuzz, string input, Func<string?> check)
    {
        _runs++;
        string? problem;
        try
        {
            problem = check();
        }
        catch (Exception e)
        {
            problem = $"{e.GetType().Name}: {e.Message}";
        }
        if (problem is not null) Fail(fuzz, input, problem);
    }

    /// <summary>An HTTP answer: anything but 5xx (reported with what the server logged for it).</summary>
    public void Status(Fuzz fuzz, string input, int status, string body, string serverLog = "")
    {
        _runs++;
        if (status >= 500) Fail(fuzz, input, $"{status}: {(body.Length > 300 ? body[..300] : body)}\n{serverLog}");
    }

    private void Fail(Fuzz fuzz, string input, string problem)
    {
        // Kinds by the problem's wording, with digits and quoted parts blurred so one bug is one kind.
        var kind = System.Text.RegularExpressions.Regex.Replace(problem, @"'[^']*'|\d+|traceId.*", "…");
        kind = kind.Length > 110 ? kind[..110] : kind;
        var first = $"seed {fuzz.Seed} iteration {fuzz.Iteration}: {problem}\n      input: {(input.Length > 700 ? input[..700] + "…" : input)}";
        _kinds[kind] = _kinds.TryGetValue(kind, out var seen) ? (seen.Count + 1, seen.First) : (1, first);
    }

    public void AssertClean()
    {
        var failed = _kinds.Values.Sum(k => k.Count);
        Assert.True(failed == 0,
            $"{target}: {failed} of {_runs} inputs failed ({_skipped} more were not JSON), in {_kinds.Count} kinds; the first of each:\n  " +
            string.Join("\n  ", _kinds.OrderByDescending(k => k.Value.Count).Select(k => $"{k.Value.Count} × {k.Value.First}")));
    }
}
