using System.Text.Json;
using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Seeding;

/// <summary>
/// Loads a GeoJSON FeatureCollection (db/sample/incidents.geojson) through the same validation and
/// write path as the API. Idempotent: incidents whose external_id is already stored are skipped.
/// </summary>
public sealed class SampleData(IncidentStore store, ILogger<SampleData> logger)
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
        if (!document.RootElement.TryGetProperty("features", out var features) || features.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path} is not a GeoJSON FeatureCollection");

        int created = 0, skipped = 0, index = 0;
        foreach (var feature in features.EnumerateArray())
        {
            var (draft, errors) = IncidentInput.Parse(feature);
            if (draft is null)
                throw new InvalidDataException($"{path}: feature {index}: {string.Join("; ", errors.Select(e => $"{e.Field} {e.Detail}"))}");
            if (draft.ExternalId is null)
                throw new InvalidDataException($"{path}: feature {index} needs an external_id so loading stays idempotent");
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
}
