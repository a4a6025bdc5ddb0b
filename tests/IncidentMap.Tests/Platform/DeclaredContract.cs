using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// What the OpenAPI 3.0 document declares, read as a client reads it: which operation a URL is,
/// which statuses, media types, headers and parameters it declares, and whether a body is valid by the
/// schema declared for it. Schemas are checked with JsonSchema.Net after the OpenAPI 3.0 dialect is
/// turned into JSON Schema 2020-12 as OpenAPI 3.0.3 says and its strict validators read it
/// (openapi-schema-validator's OAS30Validator): <c>nullable: true</c> adds null to the <c>type</c> of the
/// same schema object and does nothing without one, and every other keyword (<c>enum</c>, an
/// <c>allOf</c>'s reference) still applies to null; <c>$ref</c>s point into <c>$defs</c>, boolean
/// <c>exclusiveMinimum</c> becomes the number. Read more leniently (nullable allowing null whatever
/// else the schema says), the document declared "a reference or null" in a way that such validators
/// refuse null for, and no test saw it.
/// </summary>
public sealed class DeclaredContract
{
    private readonly JsonObject _defs;
    private readonly List<(Regex Pattern, string Template, int Parameters)> _paths;

    public DeclaredContract(string document)
    {
        Document = JsonNode.Parse(document)!.AsObject();
        _defs = new JsonObject();
        foreach (var (name, schema) in Document["components"]!["schemas"]!.AsObject())
            _defs[name] = ToJsonSchema(schema!);
        _paths = Document["paths"]!.AsObject()
            .Select(p => (new Regex("^" + Regex.Replace(Regex.Escape(p.Key), @"\\\{[^}]+}", "[^/]+") + "$"), p.Key, p.Key.Count(c => c == '{')))
            .ToList();
    }

    public JsonObject Document { get; }

    public IEnumerable<(string Method, string Path, JsonObject Operation)> Operations() =>
        from path in Document["paths"]!.AsObject()
        from operation in path.Value!.AsObject()
        select (operation.Key, path.Key, operation.Value!.AsObject());

    /// <summary>The path template a request path is, the most literal one when several match.</summary>
    public string? Template(string path) =>
        _paths.Where(p => p.Pattern.IsMatch(path)).OrderBy(p => p.Parameters).Select(p => p.Template).FirstOrDefault();

    public JsonObject? Operation(string method, string template) =>
        Document["paths"]![template]?[method.ToLowerInvariant()] as JsonObject;

    public JsonObject? Response(JsonObject operation, int status) =>
        operation["responses"]?[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] as JsonObject;

    /// <summary>The parameters of an operation, references resolved.</summary>
    public IEnumerable<JsonObject> Parameters(JsonObject operation) =>
        operation["parameters"]?.AsArray().Select(p => p!["$ref"]?.GetValue<string>() is { } reference
            ? Document["components"]!["parameters"]![reference.Split('/')[^1]]!.AsObject()
            : p!.AsObject()) ?? [];

    /// <summary>The query parameters an operation requires.</summary>
    public IEnumerable<string> RequiredQuery(JsonObject operation) =>
        Parameters(operation).Where(p => p["in"]?.GetValue<string>() == "query" && p["required"]?.GetValue<bool>() == true)
            .Select(p => p["name"]!.GetValue<string>());

    /// <summary>Whether an operation takes the incident filters (tags among them).</summary>
    public bool TakesFilters(JsonObject operation) =>
        Parameters(operation).Any(p => p["in"]?.GetValue<string>() == "query" && p["name"]?.GetValue<string>() == "tags");

    public JsonObject? Header(JsonObject operation, string name) =>
        Parameters(operation).FirstOrDefault(p => p["in"]?.GetValue<string>() == "header"
                                                  && string.Equals(p["name"]?.GetValue<string>(), name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The response header <paramref name="name"/> as declared on <paramref name="response"/>, if it is.</summary>
    public static JsonNode? ResponseHeader(JsonObject response, string name) =>
        response["headers"]?.AsObject().FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The schema for one media type of a response, resolved through a $ref to the component it names.</summary>
    public JsonNode? Resolve(JsonNode? schema) =>
        schema?["$ref"]?.GetValue<string>() is { } reference ? Document["components"]!["schemas"]![reference.Split('/')[^1]] : schema;

    /// <summary>
    /// Why <paramref name="body"/> is not valid by <paramref name="schema"/> (OpenAPI 3.0), one line per
    /// failing keyword; empty when it is.
    /// </summary>
    public IReadOnlyList<string> Check(JsonNode schema, string body)
    {
        var root = ToJsonSchema(schema) as JsonObject ?? new JsonObject { ["allOf"] = new JsonArray(ToJsonSchema(schema)) };
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["$defs"] = _defs.DeepClone();
        var built = JsonSchema.FromText(root.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        using var instance = JsonDocument.Parse(body);
        var results = built.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Hierarchical });
        if (results.IsValid) return [];
        // Only what made it invalid: the branches an anyOf or oneOf did not take fail too, and say nothing.
        var failures = new List<string>();
        void Collect(EvaluationResults node)
        {
            if (node.IsValid) return;
            if (node.Errors is { Count: > 0 } errors)
                failures.Add($"{node.InstanceLocation} ({node.EvaluationPath}): {string.Join("; ", errors.Values)}");
            foreach (var child in node.Details ?? []) Collect(child);
        }
        Collect(results);
        return failures.Count > 0 ? failures : ["invalid"];
    }

    /// <summary>An OpenAPI 3.0 schema object as JSON Schema 2020-12.</summary>
    internal static JsonNode ToJsonSchema(JsonNode schema)
    {
        if (schema is not JsonObject source) return schema.DeepClone();
        var target = new JsonObject();
        foreach (var (key, value) in source)
        {
            switch (key)
            {
                case "$ref":
                    target[key] = value!.GetValue<string>().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
                    break;
                case "type":
                    // OAS 3.0.3: "A true value adds "null" to the allowed types specified by the type keyword,
                    // only if type is explicitly defined within the same Schema Object."
                    target[key] = source["nullable"]?.GetValueKind() == JsonValueKind.True ? new JsonArray(value!.DeepClone(), "null") : value!.DeepClone();
                    break;
                case "nullable" or "example" or "discriminator" or "xml" or "externalDocs":
                    break;
                case "properties":
                    var properties = new JsonObject();
                    foreach (var (name, property) in value!.AsObject()) properties[name] = ToJsonSchema(property!);
                    target[key] = properties;
                    break;
                case "items" or "not" or "additionalProperties":
                    target[key] = ToJsonSchema(value!);
                    break;
                case "allOf" or "anyOf" or "oneOf":
                    target[key] = new JsonArray([.. value!.AsArray().Select(s => ToJsonSchema(s!))]);
                    break;
                case "exclusiveMinimum" or "exclusiveMaximum":
                    // 3.0: a flag on minimum/maximum; 2020-12: the bound itself.
                    if (value!.GetValueKind() == JsonValueKind.True && source[key == "exclusiveMinimum" ? "minimum" : "maximum"] is { } bound)
                        target[key] = bound.DeepClone();
                    break;
                case "minimum" when source["exclusiveMinimum"]?.GetValueKind() == JsonValueKind.True:
                case "maximum" when source["exclusiveMaximum"]?.GetValueKind() == JsonValueKind.True:
                    break;
                default:
                    if (!key.StartsWith("x-", StringComparison.Ordinal)) target[key] = value?.DeepClone();
                    break;
            }
        }
        return target;
    }

    /// <summary>The records of a GeoJSON text sequence (RFC 8142) or of newline-delimited JSON.</summary>
    public static IEnumerable<string> Records(string body) =>
        body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(r => r.TrimStart('\u001e').Trim()).Where(r => r.Length > 0);

    public static string MediaType(string? contentType) => (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();

    public static string Text(byte[] body) => Encoding.UTF8.GetString(body);
}
