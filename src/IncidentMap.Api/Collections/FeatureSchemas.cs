using System.Text.Json.Nodes;
using IncidentMap.Api.Filtering;
using IncidentMap.Api.Places;

namespace IncidentMap.Api.Collections;

/// <summary>
/// The JSON Schemas (2020-12) of the two collections' GeoJSON Features, each linked from its collection as
/// <c>describedby</c> with type <c>application/schema+json</c>. GDAL's OAPIF driver (and QGIS through it)
/// types a layer's fields from this schema; without it, GDAL guessed from the first page, so a field that
/// was null or an empty list there became text (injured_min, place_id, tags).
/// </summary>
/// <remarks>
/// Each property has the one type of its known values, because GDAL reads one type: written as a list
/// with "null" it becomes text. A property that can be unknown is null then, as its description says.
/// </remarks>
internal static class FeatureSchemas
{
    public const string MediaType = "application/schema+json";

    /// <summary>
    /// A collection's links to its schema: rel "describedby", and the same relation (RFC 8288 compares
    /// relation types without case) spelled "describedBy", as GDAL up to 3.6 (Debian 12's) looks for it, byte for byte.
    /// </summary>
    public static JsonNode[] Links(string href, string title) =>
        [RequestUrl.Link(href, "describedby", MediaType, title), RequestUrl.Link(href, "describedBy", MediaType, title)];

    /// <summary>Incident properties that are never null.</summary>
    private static readonly HashSet<string> NeverNull =
        ["title", "event_type", "occurred_at", "time_precision", "geo_precision", "actors", "sources", "status", "tags",
         "derived_fields", "created_at", "updated_at", "version"];

    /// <summary>The incidents' Feature: the queryables' types and descriptions, in the order a feature lists them, plus sources.</summary>
    public static JsonObject Incidents(string id)
    {
        var properties = new JsonObject();
        foreach (var queryable in Queryables.ByName.Values)
        {
            if (queryable.Name is "id" or "geometry") continue;
            properties[queryable.Name] = Described(Queryables.PropertySchema(queryable), NeverNull.Contains(queryable.Name));
            if (queryable.Name == "claimed_by") properties["sources"] = Sources();
        }
        return Feature(id, "Incident", "An incident of /collections/incidents as a GeoJSON Feature.",
            Queryables.PropertySchema(Queryables.ByName["id"]), Queryables.PropertySchema(Queryables.ByName["geometry"]), properties);
    }

    /// <summary>The places' Feature, as /collections/places/items writes it.</summary>
    public static JsonObject Places(string id)
    {
        var properties = new JsonObject
        {
            ["name"] = Typed("string", "The place's main name."),
            ["alternate_names"] = Strings("The place's own other spellings, which count as its name: an editor's; for a GeoNames place, the curated ones (db/gazetteer/alternate-names.tsv)."),
            ["other_names"] = Strings("GeoNames' alternate names in the Latin and Arabic scripts (old, foreign and transliterated names): searched, and geocoded with a country or admin1 " +
                                      "that confirms the place; a place whose own name (or alternate name) it is comes first. Read-only; empty for editors' places."),
            ["country"] = Typed("string", "ISO 3166-1 alpha-2 country code; null for places GeoNames gives none."),
            ["admin1"] = Typed("string", "First-level administrative division; null when unknown."),
            ["kind"] = Typed("string", $"GeoNames feature code (PPLC capital, PPLA seat of a first-level division, PPL …) or an editor's kind ({string.Join(", ", PlaceInput.EditorKinds)})."),
            ["population"] = Typed("integer", "Population (GeoNames, or an editor's figure: a whole number, 0 or more); null when unknown. Search ranks places whose names start with q by it."),
            ["source"] = Enumerated("Where the place comes from.", "geonames", "editor"),
            ["geonameid"] = Typed("integer", "GeoNames' id of the place; null for editors' places."),
            ["match"] = Enumerated("Only in answers to q: how the best of the place's names matched.", "exact", "article", "prefix", "similar"),
        };
        var placeId = Typed("integer", "Identifier of the place (the place_id of incidents geocoded to it).");
        placeId["x-ogc-role"] = "id";
        var point = new JsonObject
        {
            ["$ref"] = "https://geojson.org/schema/Point.json",
            ["description"] = "Where the place is, WGS 84 longitude/latitude.",
            ["x-ogc-role"] = "primary-geometry",
        };
        return Feature(id, "Place", "A place of /collections/places (the gazetteer) as a GeoJSON Feature.", placeId, point, properties, optional: "match");
    }

    private static JsonObject Feature(string id, string title, string description, JsonObject featureId, JsonObject geometry, JsonObject properties,
        params string[] optional) => new()
    {
        ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
        ["$id"] = id,
        ["title"] = title,
        ["description"] = description + " Each property has the type of its known values; one that can be unknown is null then.",
        ["type"] = "object",
        ["required"] = new JsonArray("type", "id", "geometry", "properties"),
        ["properties"] = new JsonObject
        {
            ["type"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("Feature") },
            ["id"] = featureId,
            ["geometry"] = geometry,
            ["properties"] = new JsonObject
            {
                ["type"] = "object",
                ["required"] = new JsonArray([.. properties.Select(p => p.Key).Except(optional).Select(name => JsonValue.Create(name))]),
                ["properties"] = properties,
            },
        },
    };

    /// <summary>A queryable's schema with a word on null for the properties whose description lacks one.</summary>
    private static JsonObject Described(JsonObject schema, bool neverNull)
    {
        var description = (string)schema["description"]!;
        if (!neverNull && !description.Contains("null", StringComparison.Ordinal)) schema["description"] = description + " Null when unknown.";
        return schema;
    }

    private static JsonObject Sources() => new()
    {
        ["type"] = "array",
        ["description"] = "Reports the incident is based on.",
        ["items"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["publisher"] = Typed("string", "Who published the report."),
                ["url"] = new JsonObject { ["type"] = "string", ["format"] = "uri", ["description"] = "Where the report is." },
                ["title"] = Typed("string", "The report's headline."),
                ["published_at"] = Typed("string", "When it was published: an RFC 3339 date-time, or a date when only the day is known."),
            },
        },
    };

    private static JsonObject Typed(string type, string description) => new() { ["type"] = type, ["description"] = description };

    private static JsonObject Strings(string description) =>
        new() { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" }, ["description"] = description };

    private static JsonObject Enumerated(string description, params string[] values) => new()
    {
        ["type"] = "string",
        ["enum"] = new JsonArray([.. values.Select(v => JsonValue.Create(v))]),
        ["description"] = description,
    };
}
