using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Stats;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Dashboards;

/// <summary>
/// The summary (totals, top places, latest) over many matches: the right figures, and computed without
/// holding the matching rows whole. It once kept every matching row (search document and geometries
/// included) in a CTE that seven subqueries read: on a million incidents 1 GB of temporary files, 7 s.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SummaryShapeTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>Inserts <paramref name="count"/> incidents under <paramref name="tag"/>, row n: in Homs when
    /// n % 3 is 0, Hama when 1, no place when 2; fatalities_min n % 7, fatalities_max n % 7 + n % 5 except
    /// every fourth row, which has none; a day apart from 2017-01-01; a summary of 2,000 characters.</summary>
    private async Task InsertAsync(string tag, int count)
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, summary, event_type, occurred_at, location_name, country,
                                   fatalities_min, fatalities_max, tags, geom)
            SELECT 'Summary shape ' || n, repeat('shelling of the old town ', 80), 'battles',
                   timestamptz '2017-01-01 00:00:00+00' + n * interval '1 day',
                   (ARRAY['Homs', 'Hama', NULL])[1 + n % 3], 'SY',
                   n % 7, CASE WHEN n % 4 = 0 THEN NULL ELSE n % 7 + n % 5 END,
                   ARRAY[@tag], ST_SetSRID(ST_MakePoint(36.7 + n * 0.0001, 34.7), 4326)
            FROM generate_series(1, @count) AS n
            """, new { tag, count });
    }

    [Fact]
    public async Task Summary_of_many_matches_adds_up_over_places_and_the_unplaced()
    {
        var tag = FeedHelpers.NewTag();
        const int count = 300;
        await InsertAsync(tag, count);
        var rows = Enumerable.Range(1, count).ToList();

        var summary = await _client.GetJsonAsync($"/collections/incidents/stats/summary?tags={tag}");

        Assert.Equal(count, summary["count"]!.GetValue<int>());
        Assert.Equal(rows.Sum(n => n % 7), summary["fatalities_min_sum"]!.GetValue<int>());
        Assert.Equal(rows.Where(n => n % 4 != 0).Sum(n => n % 7 + n % 5), summary["fatalities_max_sum"]!.GetValue<int>());
        var day0 = new DateTimeOffset(2017, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(day0.AddDays(1), summary["first"]!.GetValue<DateTimeOffset>());
        Assert.Equal(day0.AddDays(count), summary["last"]!.GetValue<DateTimeOffset>());
        // 100 each in Homs and Hama (n % 3 = 0 and 1); the 100 without a place are no top place.
        var places = summary["top_places"]!.AsArray();
        Assert.Equal(["Hama", "Homs"], places.Select(p => p!["location_name"]!.GetValue<string>()));
        Assert.All(places, p => Assert.Equal(100, p!["count"]!.GetValue<int>()));
        Assert.All(places, p => Assert.Equal("SY", p!["country"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(count - 4, 5).Reverse().Select(n => $"Summary shape {n}"),
            summary["latest"]!.AsArray().Select(l => l!["title"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Summary_keeps_no_matching_rows_whole_in_temporary_files()
    {
        var tag = FeedHelpers.NewTag();
        await InsertAsync(tag, 300);
        var (query, errors) = QueryParser.Parse(new Dictionary<string, string> { ["tags"] = tag }, DateTimeOffset.UtcNow);
        Assert.True(query is not null, string.Join("; ", errors));
        var parameters = new DynamicParameters();
        var sql = StatsApi.SummarySql(query!, parameters);

        // With the least memory PostgreSQL allows a sort or hash (64 kB), 300 whole rows of 2,000-character
        // summaries (about 0.9 MB) spill to disk; 300 rows grouped into three places, and the latest five, do not.
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SET LOCAL work_mem = '64kB'", transaction: transaction);
        var plan = JsonNode.Parse(await connection.ExecuteScalarAsync<string>(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, parameters, transaction) ?? "null");

        var written = Numbers(plan, "Temp Written Blocks").Sum();
        Assert.True(written == 0, $"the summary wrote {written} temporary blocks:\n{plan}");
    }

    private static IEnumerable<long> Numbers(JsonNode? node, string name) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Key == name && p.Value is JsonValue v ? [v.GetValue<long>()] : Numbers(p.Value, name)),
        JsonArray a => a.SelectMany(n => Numbers(n, name)),
        _ => [],
    };
}
