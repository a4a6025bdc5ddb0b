using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Dashboards;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Hexagon bins of a time window over a large area read the window's incidents, not every incident of
/// the area. They were once found hexagon by hexagon through the index on geom, which cannot narrow by
/// time: a year's 25 km bins over Syria read all ten years of the bench's incidents there (2.5 s instead
/// of 0.6 s), and a month's bins over the world 12 s instead of 0.1 s.
/// </summary>
public sealed class HexbinWindowTests(PlanDatabase database) : IClassFixture<PlanDatabase>
{
    [Theory]
    [InlineData("bbox=35,33,38,36&datetime=2015-03-01/2015-03-31")] // Homs and Aleppo, a month of ten years
    [InlineData("bbox=-180,-85,180,85&datetime=2015-03-01/2015-03-31")] // the world, a month
    public async Task Bins_of_a_time_window_read_the_incidents_through_the_time_index(string parameters)
    {
        var query = QueryHelpers.ParsedQuery(parameters);
        await using var connection = await database.DataSource.OpenConnectionAsync();
        // As the endpoint decides: through incidents_occurred_points_idx alone where the bbox holds much of the window.
        var byPointsIndex = TileSql.WindowIndexEstimate(query, anyTime: true) is var (estimateSql, estimateParameters)
            && TileSql.WindowIndexPays(await connection.ExecuteScalarAsync<string>(estimateSql, estimateParameters));
        var (sql, sqlParameters) = TileSql.HexbinPoints(query, byPointsIndex);
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>("EXPLAIN (FORMAT JSON) " + sql, sqlParameters) ?? "null");

        // Either index on occurred_at, both read the window only.
        var used = IndexNames(plan).ToList();
        Assert.True(used.Contains("incidents_occurred_idx") || used.Contains("incidents_occurred_points_idx"),
            $"{parameters}: plan uses [{string.Join(", ", used)}], no index on occurred_at:\n{plan}");
        // Read once, not again for each hexagon: the inner side of a nested loop runs once per outer row.
        Assert.False(IncidentsReadPerRow(plan), $"{parameters}: incidents are read on the inner side of a nested loop:\n{plan}");
    }

    /// <summary>Whether a scan of incidents lies on the inner side of a nested loop.</summary>
    private static bool IncidentsReadPerRow(JsonNode? node) => node switch
    {
        JsonObject o when o["Node Type"]?.GetValue<string>() == "Nested Loop" && o["Plans"] is JsonArray children =>
            children.Any(c => c?["Parent Relationship"]?.GetValue<string>() == "Inner" && ReadsIncidents(c))
            || children.Any(IncidentsReadPerRow),
        JsonObject o => o.Any(p => IncidentsReadPerRow(p.Value)),
        JsonArray a => a.Any(IncidentsReadPerRow),
        _ => false,
    };

    private static bool ReadsIncidents(JsonNode? node) => node switch
    {
        JsonObject o => o["Relation Name"]?.GetValue<string>() == "incidents" || o.Any(p => ReadsIncidents(p.Value)),
        JsonArray a => a.Any(ReadsIncidents),
        _ => false,
    };

    private static IEnumerable<string> IndexNames(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Key == "Index Name" && p.Value is JsonValue v ? [v.GetValue<string>()] : IndexNames(p.Value)),
        JsonArray a => a.SelectMany(IndexNames),
        _ => [],
    };
}

/// <summary>What the bins of a time window count, through the API: each incident of the window and the
/// bbox once, in the hexagon holding its point.</summary>
[Collection(ApiCollection.Name)]
public sealed class HexbinWindowCountTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Bins_of_a_window_count_its_incidents_once_each_and_no_others()
    {
        var tag = FeedHelpers.NewTag();
        async Task Create(double lon, double lat, string when)
        {
            var feature = FeedHelpers.Tagged(tag);
            feature["geometry"] = Features.Point(lon, lat);
            feature["properties"]!["occurred_at"] = when;
            await _client.CreateAsync(feature);
        }
        // Three in March 2015 (two at one spot), one in April and one in February at the same spots,
        // and one in March outside the bbox.
        await Create(-20.30, -40.30, "2015-03-05T10:00:00Z");
        await Create(-20.30, -40.30, "2015-03-20T10:00:00Z");
        await Create(-20.70, -40.70, "2015-03-31T23:00:00Z");
        await Create(-20.30, -40.30, "2015-04-01T00:00:01Z");
        await Create(-20.70, -40.70, "2015-02-28T23:59:59Z");
        await Create(-25.00, -40.50, "2015-03-10T10:00:00Z");

        var response = await _client.GetAsync($"/collections/incidents/hexbins?bbox=-21,-41,-20,-40&size=20km&datetime=2015-03&tags={tag}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bins = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var counts = bins["features"]!.AsArray().Select(f => f!["properties"]!["count"]!.GetValue<int>()).ToList();

        Assert.Equal([2, 1], counts);
    }
}
