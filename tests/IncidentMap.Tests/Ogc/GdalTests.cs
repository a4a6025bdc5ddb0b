using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Ogc;

/// <summary>GDAL's OAPIF driver, a real OGC API – Features client, reads the collection over HTTP.</summary>
public sealed class GdalTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    private readonly HttpClient _client = new() { BaseAddress = new Uri(api.BaseUrl), DefaultRequestHeaders = { { "X-API-Key", api.Key } } };

    /// <summary>Creates incidents in a patch of the Southern Ocean no other test uses; returns external_id → (year, type).</summary>
    private static int _patches;

    private async Task<(double[] Box, Dictionary<string, (int Year, string Type)> Created)> CreateRemoteIncidentsAsync(int count,
        Action<int, JsonNode>? shape = null)
    {
        // Each call gets a patch of its own, half a degree of longitude apart (a box is at most a few
        // hundredths of a degree wide): random patches could overlap, and then one test's ogr2ogr
        // would also copy the other test's incidents (both use the same years and event types).
        var lon = 100 + Interlocked.Increment(ref _patches) * 0.5 + Random.Shared.NextDouble() * 0.3;
        var lat = -62 + Random.Shared.NextDouble() * 2;
        var created = new Dictionary<string, (int, string)>();
        var run = Guid.NewGuid().ToString("N")[..8];
        for (var n = 0; n < count; n++)
        {
            var year = n % 2 == 0 ? 2031 : 2032;
            var type = n % 3 == 0 ? "battles" : "protests";
            var feature = Features.Valid(geometry: Features.Point(lon + n * 0.001, lat + n * 0.001), occurredAt: $"{year}-03-{1 + n % 27:00}T10:00:00Z");
            feature["properties"]!["event_type"] = type;
            feature["properties"]!["external_id"] = $"gdal:{run}:{n}";
            shape?.Invoke(n, feature["properties"]!);
            var response = await _client.PostAsJsonAsync("/collections/incidents/items", feature);
            response.EnsureSuccessStatusCode();
            created[$"gdal:{run}:{n}"] = (year, type);
        }
        return ([lon - 0.01, lat - 0.01, lon + count * 0.001 + 0.01, lat + count * 0.001 + 0.01], created);
    }

    /// <summary>Runs ogr2ogr into a GeoJSON file and returns its FeatureCollection.</summary>
    private static async Task<JsonNode> Ogr2OgrAsync(params string[] arguments)
    {
        var output = Path.Combine(Path.GetTempPath(), $"incidentmap-gdal-{Guid.NewGuid():N}.geojson");
        try
        {
            var start = new ProcessStartInfo("ogr2ogr") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "-f", "GeoJSON", output }.Concat(arguments)) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(process.ExitCode == 0, $"ogr2ogr failed: {await stderr}");
            return JsonNode.Parse(await File.ReadAllTextAsync(output))!;
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static async Task<List<string>> Ogr2OgrExternalIdsAsync(params string[] arguments) =>
        (await Ogr2OgrAsync(arguments))["features"]!.AsArray().Select(f => f!["properties"]!["external_id"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task Ogr2ogr_copies_every_incident_of_a_multi_page_bbox_result_once()
    {
        var (box, created) = await CreateRemoteIncidentsAsync(23);

        var ids = await Ogr2OgrExternalIdsAsync($"OAPIF:{api.BaseUrl}", "incidents", "-oo", "PAGE_SIZE=4",
            "-spat", $"{box[0]}", $"{box[1]}", $"{box[2]}", $"{box[3]}");

        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(created.Keys.Order(), ids.Order());
    }

    [Fact]
    public async Task Ogr2ogr_pushes_datetime_and_property_filters_to_the_server()
    {
        var (box, created) = await CreateRemoteIncidentsAsync(12);
        var expected = created.Where(c => c.Value is { Year: 2031, Type: "battles" }).Select(c => c.Key).Order().ToList();

        var ids = await Ogr2OgrExternalIdsAsync($"OAPIF:{api.BaseUrl}", "incidents", "-oo", "PAGE_SIZE=3",
            "-spat", $"{box[0]}", $"{box[1]}", $"{box[2]}", $"{box[3]}",
            "-where", "occurred_at >= '2031-01-01T00:00:00Z' AND occurred_at <= '2031-12-31T23:59:59Z' AND event_type = 'battles'");

        Assert.NotEmpty(expected);
        Assert.Equal(expected, ids.Order());
    }

    [Fact]
    public async Task Ogr2ogr_gets_exactly_the_rows_its_pushed_down_property_equality_asks_for()
    {
        // GDAL sends -where "fatalities_max = 5" as ?fatalities_max=5, trusting that a parameter named
        // after a property filters for equality on it (OGC API – Features Part 1).
        static int? Max(int n) => n % 4 == 3 ? null : n % 4 * 5;
        var (box, created) = await CreateRemoteIncidentsAsync(12, (n, properties) =>
        {
            properties["fatalities_min"] = n % 2 == 0 ? null : 0;
            properties["fatalities_max"] = Max(n);
        });
        var expected = created.Keys.Where(k => Max(int.Parse(k[(k.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) == 5).Order().ToList();

        // GDAL 3.6 types the layer's fields from the first unfiltered page (the newest incidents): a page
        // large enough to hold this test's own (dated 2031-32, newer than nearly all others) makes
        // fatalities_max an Integer whatever other tests left on top.
        var ids = await Ogr2OgrExternalIdsAsync($"OAPIF:{api.BaseUrl}", "incidents", "-oo", "PAGE_SIZE=200",
            "-spat", $"{box[0]}", $"{box[1]}", $"{box[2]}", $"{box[3]}", "-where", "fatalities_max = 5");

        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, ids.Order());
    }

    [Fact]
    public async Task Ogr2ogr_copies_every_place_in_a_box_from_the_pages_of_the_places_collection()
    {
        var db = api.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        // The gazetteer's places only: place tests running alongside add editors' places in this box.
        await using var command = db.CreateCommand("SELECT array_agg(name ORDER BY name) FROM places WHERE geom && ST_MakeEnvelope(35.0, 33.0, 36.7, 34.7, 4326) AND source = 'geonames'");
        var expected = (string[])(await command.ExecuteScalarAsync())!;

        var collection = await Ogr2OgrAsync($"OAPIF:{api.BaseUrl}", "places", "-oo", "PAGE_SIZE=50", "-spat", "35.0", "33.0", "36.7", "34.7");
        var names = collection["features"]!.AsArray().Select(f => f!["properties"]!)
            .Where(p => p["source"]!.GetValue<string>() == "geonames")
            .Select(p => p["name"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();

        Assert.True(expected.Length > 60, $"{expected.Length} places in the box");
        Assert.Equal(expected.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task Ogrinfo_lists_the_collection_with_its_fields_typed_by_the_feature_schema()
    {
        await CreateRemoteIncidentsAsync(1);
        var start = new ProcessStartInfo("ogrinfo") { RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["CPL_DEBUG"] = "ON" } };
        foreach (var a in new[] { "-so", $"OAPIF:{api.BaseUrl}", "incidents" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("OAPIF: Using JSON schema", await stderr);
        Assert.Contains("Layer name: incidents", output);
        // From the schema, not guessed from the first page, where these are often null or empty lists
        // (GDAL made them String and String(JSON) then).
        foreach (var field in new[] { "title: String", "occurred_at: DateTime", "fatalities_min: Integer", "injured_max: Integer",
                     "place_id: Integer", "version: Integer", "actors: StringList", "tags: StringList", "derived_fields: StringList" })
            Assert.Contains(field + " ", output);
    }
}
