using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// The service binary itself, not the tests' host: it normalises Unicode (composed and decomposed
/// spellings of a whole value match alike) and formats text the same whatever the machine's language.
/// In .NET's invariant globalization mode, which the service once ran in, string.Normalize changes
/// nothing, while the tests' in-process host ran with ICU and passed.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TextCultureTests(ApiFixture api)
{
    [Fact]
    public async Task The_service_process_matches_either_unicode_form_and_writes_numbers_the_same_under_a_german_locale()
    {
        var composed = $"Ḥimṣ {Guid.NewGuid():N}".Normalize(NormalizationForm.FormC);
        var decomposed = composed.Normalize(NormalizationForm.FormD);
        Assert.NotEqual(composed, decomposed);
        await using (var db = NpgsqlDataSource.Create(ApiFixture.ConnectionString))
        await using (var connection = await db.OpenConnectionAsync())
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, occurred_at, location_name, geom)
                VALUES ('Culture check', 'battles', '2016-02-21T07:30:00Z', @composed, ST_SetSRID(ST_MakePoint(36.7125, 34.7325), 4326))
                """, new { composed });

        var port = ServiceProcess.FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string>
        {
            ["Gazetteer__Path"] = "", ["Urls"] = $"http://127.0.0.1:{port}", ["LANG"] = "de_DE.UTF-8", ["LC_ALL"] = "de_DE.UTF-8",
        }, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };

        foreach (var spelling in new[] { composed, decomposed })
        {
            var page = JsonNode.Parse(await http.GetStringAsync($"/collections/incidents/items?location_name={Uri.EscapeDataString(spelling)}"))!;
            var features = page["features"]!.AsArray();
            Assert.True(features.Count == 1, $"{(spelling == composed ? "composed" : "decomposed")} spelling found {features.Count}\n{serving.Log}");
            Assert.Equal("[36.7125,34.7325]", features[0]!["geometry"]!["coordinates"]!.ToJsonString());
        }

        // Numbers in messages and headers: the same bytes as the tests' host (invariant culture) writes.
        // "1.5 m makes about … hexagons", never "1,5 m".
        const string tinyHexagons = "/collections/incidents/hexbins?bbox=30,30,40,40&size=1.5m";
        var fromProcess = await http.GetAsync(tinyHexagons);
        var fromHost = await api.CreateClient().GetAsync(tinyHexagons);
        Assert.Equal(HttpStatusCode.BadRequest, fromProcess.StatusCode);
        var detail = JsonNode.Parse(await fromProcess.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>();
        Assert.StartsWith("size: 1.5 m makes about", detail);
        Assert.Equal(JsonNode.Parse(await fromHost.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>(), detail);
    }
}
