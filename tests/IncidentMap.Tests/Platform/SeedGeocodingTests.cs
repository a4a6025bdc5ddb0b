using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Seeding;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Seeding (<c>seed FILE</c>, Seed:Path) writes as a POST and an import do, geocoding included: a feature with a
/// location_name and no geometry failed with "geometry is required (or a properties.location_name for the server to
/// geocode)". And a file that is no FeatureCollection says so, naming itself.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SeedGeocodingTests(ApiFixture api)
{
    private static JsonObject Unlocated(string externalId, string name, string? country) => new()
    {
        ["type"] = "Feature",
        ["geometry"] = null,
        ["properties"] = new JsonObject
        {
            ["external_id"] = externalId,
            ["title"] = "Seeded " + externalId,
            ["event_type"] = "explosions_remote_violence",
            ["occurred_at"] = "2016-02-21T07:30:00Z",
            ["location_name"] = name,
            ["country"] = country,
        },
    };

    private static async Task<string> WriteAsync(JsonNode root)
    {
        var path = Path.Combine(Path.GetTempPath(), $"incidentmap-seed-{Guid.NewGuid():N}.geojson");
        await File.WriteAllTextAsync(path, root.ToJsonString());
        return path;
    }

    [Fact]
    public async Task A_feature_with_a_place_name_and_no_geometry_is_geocoded_as_a_post_would_be()
    {
        var id = $"seed:{Guid.NewGuid():N}";
        var path = await WriteAsync(new JsonObject { ["type"] = "FeatureCollection", ["features"] = new JsonArray(Unlocated(id, "Homs", "SY")) });
        try
        {
            var result = await api.Services.GetRequiredService<SampleData>().LoadAsync(path);

            Assert.Equal(new SampleData.Result(1, 0), result);
            await using var connection = await api.Database.OpenConnectionAsync();
            var stored = await connection.QuerySingleAsync<(double Lon, double Lat, string[] Derived, long? PlaceId)>(
                "SELECT ST_X(geom), ST_Y(geom), derived_fields, place_id FROM incidents WHERE external_id = @id AND deleted_at IS NULL", new { id });
            Assert.InRange(stored.Lon, 36.6, 36.8); // Homs, Syria
            Assert.InRange(stored.Lat, 34.6, 34.8);
            Assert.Contains("geometry", stored.Derived);
            Assert.NotNull(stored.PlaceId);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_name_that_names_several_places_stops_the_load_naming_the_feature_and_the_places()
    {
        var (placed, id) = ($"seed:{Guid.NewGuid():N}", $"seed:{Guid.NewGuid():N}");
        var located = Unlocated(placed, "Homs", "SY");
        var path = await WriteAsync(new JsonObject
        {
            ["type"] = "FeatureCollection", ["features"] = new JsonArray(located, Unlocated(id, "Damascus", null)),
        });
        try
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => api.Services.GetRequiredService<SampleData>().LoadAsync(path));

            Assert.StartsWith($"{path}: feature 1 ({id}): properties.location_name: 'Damascus' matches 3 places", error.Message);
            Assert.Contains("add country or admin1", error.Message);
            Assert.Contains("It could be", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("[]", "its root is an array, not an object with \"features\" (a list of Features goes in one")]
    [InlineData("\"features\"", "its root is a string")]
    [InlineData("{\"type\": \"FeatureCollection\"}", "it has no \"features\" array")]
    public async Task A_file_that_is_no_feature_collection_is_named_with_what_it_is(string json, string said)
    {
        var path = Path.Combine(Path.GetTempPath(), $"incidentmap-seed-{Guid.NewGuid():N}.geojson");
        await File.WriteAllTextAsync(path, json);
        try
        {
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => api.Services.GetRequiredService<SampleData>().LoadAsync(path));

            Assert.Equal($"{path} is not a GeoJSON FeatureCollection: {said}", error.Message[..Math.Min(error.Message.Length, $"{path} is not a GeoJSON FeatureCollection: {said}".Length)]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
