using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// <see cref="IncidentRowWriter"/> renders Features in .NET from plain columns. PostgreSQL's own JSON of
/// the same rows (json_build_object, ST_AsGeoJSON) is the oracle: every property and geometry must match.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RowWriterTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Features_match_what_postgresql_renders_for_the_same_rows()
    {
        var tag = NewTag();
        var escaped = await _client.CreateAsync(Incident(tag, Features.Point(36.7236123456789, -34.7197), "2016-02-21T07:30:00Z",
            "Quotes \" back\\slash, Arabic حمص, emoji 😀", "second-tag")
            .With("summary", "tab\t, newline\n, return\r")
            .With("fatalities_min", 57).With("fatalities_max", 60).With("actors", new JsonArray("Islamic State", "A \"quoted\" actor"))
            .With("sources", JsonNode.Parse("""[{"publisher": "Reuters", "url": "https://example.org/a?b=1&c=2", "title": "Ünïcødé \"t\""}]""")));
        // Writes refuse control characters in single-line text now; incidents stored before may still hold them.
        await using (var connection = await api.Database.OpenConnectionAsync())
            await connection.ExecuteAsync("UPDATE incidents SET title = title || E', tab\t, control \u0001' WHERE id = @escaped", new { escaped });
        await _client.CreateAsync(Incident(tag, Features.Geometry(
            """{"type":"Polygon","coordinates":[[[36.1,34.1],[36.30000001,34.1],[36.3,34.3],[36.1,34.3],[36.1,34.1]]]}"""), "2016-02-01T00:00:00Z")
            .With("time_precision", "month"));
        await _client.CreateAsync(Incident(tag, Features.Point(0.00001, -0.0000001), "1999-12-31T23:59:59.123456Z"));
        await _client.CreateAsync(Incident(tag, Features.Geometry("""{"type":"LineString","coordinates":[[-179.9,10],[0,10.25],[179.9,10.5]]}""")));

        foreach (var precision in new[] { 7, 3, 0 })
        {
            var page = await _client.GetJsonAsync($"{Items}?tags={tag}&precision={precision}&limit=100");
            var served = page["features"]!.AsArray().ToDictionary(f => f!["id"]!.GetValue<long>(), f => f!);
            Assert.Equal(4, served.Count);

            var properties = string.Join(", ", Columns.All.Select(c => $"'{c.Name}', i.{c.Name}"));
            await using var connection = await api.Database.OpenConnectionAsync();
            var oracle = await connection.QueryAsync<(long Id, string Feature)>($"""
                SELECT i.id, json_build_object('type', 'Feature', 'id', i.id,
                    'geometry', ST_AsGeoJSON(i.geom, @precision)::json,
                    'properties', json_build_object({properties}))::text
                FROM incidents i WHERE i.tags && @tags
                """, new { precision, tags = new[] { tag } });

            Assert.Equal(served.Keys.Order(), oracle.Select(o => o.Id).Order());
            foreach (var (id, feature) in oracle)
            {
                var expected = JsonNode.Parse(feature)!;
                var actual = served[id].DeepClone().AsObject();
                actual.Remove("links");
                Assert.True(JsonNode.DeepEquals(expected, actual), $"precision {precision}, incident {id}:\nPostgreSQL {expected.ToJsonString()}\nservice    {actual.ToJsonString()}");
            }
        }
    }
}
