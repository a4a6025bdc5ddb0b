using System.Text.Json;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Places;

namespace IncidentMap.Api.Seeding;

/// <summary>
/// Loads a GeoJSON FeatureCollection (db/sample/incidents.geojson) through the same validation and
/// write path as the API, geocoding included: a feature with a location_name and no geometry gets its
/// place's point (a name that names no single place stops the load, naming the feature and the places),
/// and one with a point the place fields it lacks, as a POST and an import do. Idempotent: incidents
/// whose external_id is already stored are skipped.
/// </summary>
public sealed class SampleData(IncidentStore store, Gazetteer gazetteer, Geocoding geocoding, ILogger<SampleData> logger)
{
    public sealed record Result(int Created, int Skipped);

    public async Task<Result> LoadAsync(string path, CancellationToken ct = default)
    {
        await using var file = File.OpenRead(path);
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(file, cancellationToken: ct);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a GeoJSON FeatureCollection: {e.Message}", e);
        }
        using var _ = document;
        // A root that is no object failed with .NET's "The requested operation requires an element of type 'Object'".
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path} is not a GeoJSON FeatureCollection: its root is {Kind(document.RootElement.ValueKind)}, " +
                "not an object with \"features\"" + (document.RootElement.ValueKind == JsonValueKind.Array
                    ? " (a list of Features goes in one: {\"type\": \"FeatureCollection\", \"features\": [...]})" : ""));
        if (!document.RootElement.TryGetProperty("features", out var features) || features.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path} is not a GeoJSON FeatureCollection: it has no \"features\" array");

        int created = 0, skipped = 0, index = 0;
        // A feature with a location_name and no geometry gets its place's point as an import's row does (each name
        // asked once); it failed with "geometry is required" although a POST and an import geocode it.
        var geocoder = new Imports.ImportGeocoder(gazetteer);
        foreach (var feature in features.EnumerateArray())
        {
            var (geocoded, refusal) = await geocoder.GeocodeAsync(feature, ct);
            if (geocoded is not { } prepared)
                throw new InvalidDataException($"{path}: feature {index}{Named(feature)}: {refusal!.Detail}");
            using var owned = prepared.Owned;
            var (draft, errors) = IncidentInput.Parse(prepared.Feature);
            if (draft is null)
                throw new InvalidDataException($"{path}: feature {index}{Named(feature)}: {string.Join("; ", errors.Select(e => $"{e.Field} {e.Detail}"))}");
            if (draft.ExternalId is null)
                throw new InvalidDataException($"{path}: feature {index} needs an external_id so loading stays idempotent");
            draft = await geocoding.ReverseAsync(draft with { PlaceId = prepared.PlaceId, DerivedFields = prepared.Derived }, ct);
            switch (await store.CreateAsync(draft, WriteContext.System, ct, skipExisting: true))
            {
                case WriteOutcome.Stored: created++; break;
                case WriteOutcome.Skipped: skipped++; break;
                case var other: throw new InvalidDataException($"{path}: feature {index} ({draft.ExternalId}): {other}");
            }
            index++;
        }
        logger.LogInformation("Sample data {Path}: {Created} created, {Skipped} already present", path, created, skipped);
        return new Result(created, skipped);
    }

    /// <summary>" (its external_id)", when it has one, so that the feature is found in the file.</summary>
    private static string Named(JsonElement feature) =>
        feature.ValueKind == JsonValueKind.Object && feature.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object
        && properties.TryGetProperty("external_id", out var id) && id.ValueKind == JsonValueKind.String ? $" ({id.GetString()})" : "";

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
