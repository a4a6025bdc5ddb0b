using System.Text;
using System.Text.Json;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Places;

/// <summary>An editor's place as validated from a GeoJSON Feature, ready to store.</summary>
public sealed record PlaceDraft(string Name, string[] AlternateNames, string? Country, string? Admin1, string Kind, Point Geometry, int? Population);

/// <summary>
/// Validates an editor's place (POST, or a PATCH merged into the stored place) as incident writes are
/// validated: every problem is collected and named by its field, nothing is silently dropped.
/// </summary>
public static class PlaceInput
{
    public const int MaxNameLength = 200;
    public const int MaxAlternateNames = 50;

    public static readonly string[] EditorKinds = ["town", "village", "suburb", "district", "neighbourhood", "site", "region"];

    private static readonly string[] Known = ["name", "alternate_names", "country", "admin1", "kind", "population"];

    /// <summary>Properties the server owns: a place read and sent back carries them, and they are ignored.</summary>
    private static readonly HashSet<string> ReadOnly = ["source", "geonameid", "match", "other_names"];

    public static (PlaceDraft? Draft, List<FieldError> Errors) Parse(JsonElement feature)
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

    private static (PlaceDraft? Draft, List<FieldError> Errors) ParseFeature(JsonElement feature)
    {
        var errors = new List<FieldError>();
        if (feature.ValueKind != JsonValueKind.Object) return (null, [new FieldError("", "the body must be a GeoJSON Feature object")]);
        if (!feature.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "Feature")
            errors.Add(new FieldError("type", "must be \"Feature\""));
        IncidentInput.ForeignMembers(feature, errors);

        Geometry? geometry = null;
        if (!feature.TryGetProperty("geometry", out var g) || g.ValueKind == JsonValueKind.Null) errors.Add(new FieldError("geometry", "is required: a place is a Point"));
        else geometry = IncidentInput.ParseGeometry(g, "geometry", errors);
        if (geometry is not null and not Point) errors.Add(new FieldError("geometry.type", "a place is a Point"));

        if (!feature.TryGetProperty("properties", out var props) || props.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new FieldError("properties", "is required and must be an object"));
            return (null, errors);
        }
        foreach (var property in props.EnumerateObject())
            if (!Known.Contains(property.Name) && !ReadOnly.Contains(property.Name))
                errors.Add(new FieldError($"properties.{property.Name}", $"is not a place property ({string.Join(", ", Known)})"));

        string? name = null;
        if (!props.TryGetProperty("name", out var n) || n.ValueKind == JsonValueKind.Null) errors.Add(new FieldError("properties.name", "is required"));
        else name = Name(n, "properties.name", errors);

        var alternates = new List<string>();
        if (props.TryGetProperty("alternate_names", out var alt) && alt.ValueKind != JsonValueKind.Null)
        {
            if (alt.ValueKind != JsonValueKind.Array) errors.Add(new FieldError("properties.alternate_names", "must be an array of names"));
            else if (alt.GetArrayLength() > MaxAlternateNames) errors.Add(new FieldError("properties.alternate_names", $"has {alt.GetArrayLength()} names; at most {MaxAlternateNames}"));
            else
                foreach (var (item, i) in alt.EnumerateArray().Select((item, i) => (item, i)))
                    if (Name(item, $"properties.alternate_names[{i}]", errors) is { } alternate) alternates.Add(alternate);
        }

        var country = Text(props, "country", MaxNameLength, errors)?.ToUpperInvariant();
        if (country is not null && !Vocabulary.CountryCodes.Contains(country))
            errors.Add(new FieldError("properties.country", $"'{country}' is not an ISO 3166-1 alpha-2 code"));
        var admin1 = Text(props, "admin1", MaxNameLength, errors);
        var kind = Text(props, "kind", 50, errors) ?? "town";
        if (!EditorKinds.Contains(kind)) errors.Add(new FieldError("properties.kind", $"'{kind}' is not one of {string.Join(", ", EditorKinds)}"));
        // How many people live there: search ranks places that start with q by it, and geocoding breaks ties by it.
        int? population = null;
        if (props.TryGetProperty("population", out var people) && people.ValueKind != JsonValueKind.Null)
        {
            // Whole as written, as an incident's counts are: 1000.0 and 1e3 are 1000 (pandas writes a whole-number column with gaps as floats).
            if (people.ValueKind == JsonValueKind.Number && IncidentInput.IsWholeNumber(people.GetRawText())
                && people.TryGetDecimal(out var count) && count is >= 0 and <= int.MaxValue) population = (int)count;
            else errors.Add(new FieldError("properties.population", $"must be a whole number of people from 0 to {int.MaxValue}, or null when unknown"));
        }

        if (errors.Count > 0 || name is null || geometry is not Point point) return (null, errors);
        var others = alternates.Where(a => a != name).Distinct().ToArray();
        return (new PlaceDraft(name, others, country, admin1, kind, point, population), errors);
    }

    /// <summary>A name or alternate name: trimmed, 1 to 200 characters, with a letter or digit to compare it by.</summary>
    private static string? Name(JsonElement value, string field, List<FieldError> errors)
    {
        if (value.ValueKind != JsonValueKind.String) { errors.Add(new FieldError(field, "must be a string")); return null; }
        var name = value.GetString()!.Trim();
        string? problem = name.Length == 0 ? "must not be blank"
            : IncidentInput.Characters(name) > MaxNameLength ? $"is longer than {MaxNameLength} characters"
            : IncidentInput.TextProblem(name) is { } unstorable ? unstorable
            // Names are compared by their letters and digits (place_key): without any, it would equal every other such name.
            : !HasKey(name) ? "needs at least one letter or digit (ayn, hamza and prime marks and tatweel do not count)"
            : null;
        if (problem is null) return name;
        errors.Add(new FieldError(field, problem));
        return null;
    }

    /// <summary>
    /// Letters that place_key drops (migrations 0016, 0026; unaccent removes ʹ ʽ ˈ ˋ): ayn and hamza
    /// marks, primes, tatweel, as NFC writes them (place_key composes first, migration 0052). PlacesTests checks each has an empty key.
    /// </summary>
    private const string KeylessLetters = "ʹʻʼʽʾʿˈˋ\u0640";

    /// <summary>
    /// Whether a name has a letter or digit that place_key keeps: a name without one has an empty key,
    /// which equals every such name and is a prefix of every name.
    /// </summary>
    public static bool HasKey(string text) =>
        Composed(text).EnumerateRunes().Any(r => Rune.IsLetterOrDigit(r) && !(r.IsBmp && KeylessLetters.Contains((char)r.Value)));

    /// <summary>
    /// The text in NFC, as place_key reads it (migration 0052): U+0374, the Greek numeral sign, is a letter, but its
    /// NFC is ʹ (U+02B9), which the key drops. Text that is not valid UTF-16 (refused elsewhere) is taken as it is.
    /// </summary>
    private static string Composed(string text)
    {
        try
        {
            return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }

    /// <summary>An optional text property: absent or null is null; anything else must be a non-blank string.</summary>
    private static string? Text(JsonElement props, string name, int maxLength, List<FieldError> errors)
    {
        if (!props.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        var field = $"properties.{name}";
        if (value.ValueKind != JsonValueKind.String) { errors.Add(new FieldError(field, "must be a string or null")); return null; }
        var text = value.GetString()!.Trim();
        string? problem = text.Length == 0 ? "must not be blank; leave it out (or null) when unknown"
            : IncidentInput.Characters(text) > maxLength ? $"is longer than {maxLength} characters"
            : IncidentInput.TextProblem(text) is { } unstorable ? unstorable
            : null;
        if (problem is null) return text;
        errors.Add(new FieldError(field, problem));
        return null;
    }
}
