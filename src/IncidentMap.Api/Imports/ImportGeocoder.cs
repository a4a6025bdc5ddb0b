using System.Text.Json;
using IncidentMap.Api.Places;

namespace IncidentMap.Api.Imports;

/// <summary>
/// Geocodes the rows of an import that have a location_name and no geometry, by the rules of single
/// writes (<see cref="Geocoding"/>): exact names only, and a row naming several places, or none, is
/// rejected listing them, never guessed. A file names the same places over and over, so each name
/// (with the country and admin1 that choose among places) is asked of the gazetteer once per import;
/// at most <see cref="MaxNames"/> answers are kept, so memory stays flat whatever the file.
/// Used by the one reading thread only.
/// </summary>
internal sealed class ImportGeocoder(Gazetteer gazetteer)
{
    public const int MaxNames = 10_000;

    private readonly Dictionary<Geocoding.PlaceQuery, Resolution> _resolved = [];

    public async ValueTask<(Geocoding.Prepared? Prepared, Geocoding.Refusal? Refusal)> GeocodeAsync(JsonElement feature, CancellationToken ct)
    {
        if (Geocoding.QueryOf(feature) is not { } query) return (Geocoding.Unchanged(feature), null);
        if (!_resolved.TryGetValue(query, out var resolution))
        {
            resolution = await gazetteer.ResolveAsync(query.Name, query.Country, query.Admin1, ct);
            if (_resolved.Count < MaxNames) _resolved[query] = resolution;
        }
        return resolution is Resolution.Found(var place)
            ? (Geocoding.Apply(feature, place), null)
            : (null, Geocoding.Refuse(query, resolution, inFile: true));
    }
}
