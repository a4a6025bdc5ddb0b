using System.Text.Json.Nodes;
using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Filtering;

/// <summary>CQL2's data types, as far as this collection has them.</summary>
internal enum CqlType { String, Number, Boolean, Timestamp, Geometry, Array }

/// <summary>
/// A property a filter may name: its CQL2 type and its SQL over alias i. The name is the column's and
/// the GeoJSON property's, so one name means one thing everywhere.
/// </summary>
internal sealed record Queryable(string Name, CqlType Type, string Sql, string Description)
{
    public IReadOnlyList<string>? Enum { get; init; }

    /// <summary>SQL of the exclusive end of the interval the value stands for (occurred_at with time_precision).</summary>
    public string? Until { get; init; }

    /// <summary>The same shape as geography, for geodesic distances.</summary>
    public string? Geography { get; init; }

    /// <summary>OGC API – Features Part 5 role (x-ogc-role), for clients that look for the id, geometry and time.</summary>
    public string? Role { get; init; }

    /// <summary>
    /// The stored column, when it is character(n) and <see cref="Sql"/> reads it as text: equality with a
    /// literal then compares the column itself, which its index serves (SqlCompiler.Comparison).
    /// </summary>
    public string? Padded { get; init; }
}

public static class Queryables
{
    internal static readonly IReadOnlyDictionary<string, Queryable> ByName = new[]
    {
        new Queryable("id", CqlType.Number, "i.id", "Identifier of the incident.") { Role = "id" },
        Text("title", "Headline of the incident."),
        Text("summary", "Longer account of what happened; null when there is none."),
        Text("event_type", "ACLED event type.", Vocabulary.EventTypes),
        Text("sub_event_type", "ACLED sub-event type, as free text."),
        Time("occurred_at", "When it happened. Unless time_precision is exact, the start of the day, ISO week or month it happened in, on the calendar it was written in, as that date at 00:00 UTC; T_INTERSECTS and the other temporal functions (T_BEFORE, T_MEETS, T_DURING …) then take that whole period.") with
        {
            Until = "i.occurred_until",
            Role = "primary-instant",
        },
        Text("time_precision", "How precisely occurred_at is known.", Vocabulary.TimePrecisions),
        Text("location_name", "The place as the reports name it."),
        Text("admin1", "First-level administrative division (governorate, province, state)."),
        Text("admin2", "Second-level administrative division (district)."),
        Text("admin3", "Third-level administrative division (sub-district; ACLED's admin3)."),
        // char(2) pads and compares as bpchar; as text it behaves like every other string.
        new Queryable("country", CqlType.String, "i.country::text", "ISO 3166-1 alpha-2 country code, upper case.") { Padded = "i.country" },
        Text("geo_precision", "How precisely the geometry places the incident.", Vocabulary.GeoPrecisions),
        Integer("fatalities_min", "Lowest reported death toll (\"at least\"); null when unknown."),
        Integer("fatalities_max", "Highest reported death toll (\"up to\"); null when unknown."),
        Integer("injured_min", "Lowest reported number of injured; null when unknown."),
        Integer("injured_max", "Highest reported number of injured; null when unknown."),
        List("actors", "Actors involved (armed groups, forces, organisations)."),
        Text("claimed_by", "Who claimed responsibility; null when nobody did."),
        Text("status", "Editorial status of the record.", Vocabulary.Statuses),
        List("tags", "Free-form tags."),
        Text("external_id", "Identifier of the incident in the dataset it was imported from."),
        Integer("place_id", "The gazetteer place (/collections/places) geocoding took the point or the location name from; null when none."),
        List("derived_fields", "Properties the server filled in by geocoding; country_undecided when places of two countries were about as near " +
            "(A_CONTAINS(derived_fields, ('country_undecided')) finds the incidents an editor should settle)."),
        Time("created_at", "When the incident was recorded here."),
        Time("updated_at", "When the record last changed."),
        Integer("version", "Edit counter: 1 when created, one more on every change."),
        new Queryable("geometry", CqlType.Geometry, "i.geom",
            "Where it happened: a point, line, polygon or a multi-part form of them, WGS 84 longitude/latitude.")
        {
            Geography = "i.geog",
            Role = "primary-geometry",
        },
    }.ToDictionary(q => q.Name, StringComparer.Ordinal);

    /// <summary>The queryables document (JSON Schema 2020-12) of the incidents collection, with <paramref name="id"/> as $id.</summary>
    public static JsonObject Document(string id)
    {
        var properties = new JsonObject();
        foreach (var queryable in ByName.Values) properties[queryable.Name] = PropertySchema(queryable);
        return new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = id,
            ["type"] = "object",
            ["title"] = "Incidents",
            ["properties"] = properties,
            ["additionalProperties"] = false,
        };
    }

    internal static Queryable Find(PropertyNode property)
    {
        if (ByName.TryGetValue(property.Name, out var queryable)) return queryable;
        var other = ByName.Keys.FirstOrDefault(name => name.Equals(property.Name, StringComparison.OrdinalIgnoreCase));
        var hint = other is null ? "see /collections/incidents/queryables" : $"did you mean '{other}'? (names are case-sensitive)";
        throw new FilterException(property.At, $"'{property.Name}' is not a queryable property; {hint}");
    }

    /// <summary>The JSON Schema of one property's values, shared by the queryables and the feature schema.</summary>
    internal static JsonObject PropertySchema(Queryable queryable)
    {
        var schema = queryable.Type switch
        {
            CqlType.String => new JsonObject { ["type"] = "string" },
            CqlType.Number => new JsonObject { ["type"] = "integer" },
            CqlType.Timestamp => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
            CqlType.Array => new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } },
            // Part 3's format, and the GeoJSON schema QGIS looks for before it sends spatial filters.
            CqlType.Geometry => new JsonObject { ["$ref"] = "https://geojson.org/schema/Geometry.json", ["format"] = "geometry-any" },
            _ => throw new InvalidOperationException($"no JSON Schema for a {queryable.Type} queryable"),
        };
        schema["description"] = queryable.Description;
        if (queryable.Enum is { } values) schema["enum"] = new JsonArray(values.Select(v => (JsonNode?)v).ToArray());
        if (queryable.Role is { } role) schema["x-ogc-role"] = role;
        return schema;
    }

    private static Queryable Text(string name, string description, IReadOnlyList<string>? values = null) =>
        new(name, CqlType.String, $"i.{name}", description) { Enum = values };

    private static Queryable Integer(string name, string description) => new(name, CqlType.Number, $"i.{name}", description);

    private static Queryable Time(string name, string description) => new(name, CqlType.Timestamp, $"i.{name}", description);

    private static Queryable List(string name, string description) => new(name, CqlType.Array, $"i.{name}", description);
}
