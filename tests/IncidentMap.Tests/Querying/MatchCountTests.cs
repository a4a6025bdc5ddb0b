using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using NetTopologySuite.Geometries;
using Npgsql;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// numberMatched is counted once per filter and data version (<see cref="MatchCounts"/>): the same
/// filter with another limit reuses the count, and any write, through the service or beside it, is
/// counted at the next request that sees it.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class MatchCountTests(ApiFixture api)
{
    private DataVersion Version => api.Services.GetRequiredService<DataVersion>();

    private async Task<string> TagWithAsync(int incidents)
    {
        var tag = "count-" + Guid.NewGuid().ToString("N")[..12];
        var client = api.CreateClient();
        for (var n = 0; n < incidents; n++)
        {
            var feature = Features.Valid($"Counted {n}");
            feature["properties"]!["tags"] = new JsonArray(tag);
            await client.CreateAsync(feature);
        }
        return tag;
    }

    private async Task<(long Matched, int Returned)> PageAsync(string tag, int limit)
    {
        var page = await api.CreateClient().GetJsonAsync($"/collections/incidents/items?tags={tag}&limit={limit}");
        return ((long?)page["numberMatched"] ?? -1, (int)page["numberReturned"]!);
    }

    // An incident written beside the service with no trigger firing: no NOTIFY, so the data version
    // stays where it is, as it would for a change the service has not heard of yet.
    private static async Task<long> InsertUnheardAsync(string tag)
    {
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync("SET session_replication_role = replica");
        return await connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, occurred_until, geom, tags)
            VALUES ('Unheard', 'battles', '2016-02-21T07:30:00Z', '2016-02-21T07:30:00Z', ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), ARRAY[@tag])
            RETURNING id
            """, new { tag });
    }

    private static async Task DeleteAsync(long id)
    {
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.ExecuteAsync("DELETE FROM incidents WHERE id = @id", new { id });
    }

    [Fact]
    public async Task The_same_filter_with_another_limit_reuses_the_count_until_the_data_version_moves()
    {
        var tag = await TagWithAsync(3);
        // Other tests write too, and each write moves the version: try again when one came between.
        for (var attempt = 1; ; attempt++)
        {
            var before = Version.Current;
            Assert.Equal((3L, 1), await PageAsync(tag, 1));
            var unheard = await InsertUnheardAsync(tag);
            try
            {
                var again = await PageAsync(tag, 10);
                if (Version.Current != before && attempt < 10) continue;
                Assert.Equal(before, Version.Current);
                // The page is read afresh (four incidents); the count is the one counted under this version.
                Assert.Equal((3L, 4), again);

                Version.Advance();
                Assert.Equal((4L, 4), await PageAsync(tag, 10));
                return;
            }
            finally
            {
                await DeleteAsync(unheard);
                Version.Advance();
            }
        }
    }

    [Fact]
    public async Task A_write_through_the_service_is_counted_at_the_next_request()
    {
        var tag = await TagWithAsync(2);
        Assert.Equal((2L, 1), await PageAsync(tag, 1));
        var feature = Features.Valid("Counted later");
        feature["properties"]!["tags"] = new JsonArray(tag);
        await api.CreateClient().CreateAsync(feature);
        Assert.Equal((3L, 1), await PageAsync(tag, 1));
    }

    [Fact]
    public async Task A_write_beside_the_service_is_counted_once_the_change_listener_hears_it()
    {
        var tag = await TagWithAsync(2);
        Assert.Equal((2L, 1), await PageAsync(tag, 1));
        await using (var connection = new NpgsqlConnection(ApiFixture.ConnectionString))
            await connection.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
                VALUES ('Beside', 'battles', '2016-02-21T07:30:00Z', ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), ARRAY[@tag])
                """, new { tag });
        var deadline = DateTime.UtcNow.AddSeconds(15);
        (long Matched, int Returned) page;
        while ((page = await PageAsync(tag, 1)).Matched != 3 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal((3L, 1), page);
    }

    // Few matches (IncidentSqlBuilder.FewMatches): the first page is read matches first under its own
    // count, the later ones under the count the first page left here. Every match comes once, newest first.
    [Fact]
    public async Task Pages_of_a_rare_word_list_every_match_once_newest_first()
    {
        var word = "quokka" + Guid.NewGuid().ToString("N")[..8];
        var client = api.CreateClient();
        var ids = new List<long>();
        for (var day = 1; day <= 5; day++)
            ids.Add(await client.CreateAsync(Features.Valid($"Seen a {word} in Homs", occurredAt: $"2016-02-{day:00}T07:30:00Z")));
        ids.Add(await client.CreateAsync(Features.Valid($"Another {word}", occurredAt: "2016-02-03T07:30:00Z")));
        var expected = ids.Select((id, n) => (id, day: n < 5 ? n + 1 : 3)).OrderByDescending(x => x.day).ThenByDescending(x => x.id).Select(x => x.id).ToList();

        var seen = new List<long>();
        string? url = $"/collections/incidents/items?q={word}&limit=2";
        long? matched = null;
        while (url is not null)
        {
            var page = await client.GetJsonAsync(url);
            matched ??= (long?)page["numberMatched"];
            seen.AddRange(page["features"]!.AsArray().Select(f => (long)f!["id"]!));
            url = page["links"]!.AsArray().FirstOrDefault(l => (string?)l!["rel"] == "next")?["href"]?.GetValue<string>();
        }
        Assert.Equal(6, matched);
        Assert.Equal(expected, seen);
    }

    // A tag the statistics do not list as common (RareValues), paged without a count (a dashboard's
    // count=false): each page is counted first anyway, through the tag's index, so that few matches are
    // read matches first rather than by a walk of the whole table. The answer still has no numberMatched.
    [Fact]
    public async Task Pages_of_a_rare_tag_without_a_count_are_counted_first_and_list_every_match_once()
    {
        await using (var connection = new NpgsqlConnection(ApiFixture.ConnectionString))
            await connection.ExecuteAsync("ANALYZE incidents"); // statistics, which the new tag is not in
        var tag = await TagWithAsync(5);
        var client = api.CreateClient();
        var query = QueryParser.Parse(new Dictionary<string, string> { ["tags"] = tag, ["limit"] = "2", ["count"] = "false" }, DateTimeOffset.UtcNow).Query!;
        var counts = api.Services.GetRequiredService<MatchCounts>();

        for (var attempt = 1; ; attempt++)
        {
            // The count is kept under the data version it was taken at; other tests' writes move it on.
            var version = Version.Current;
            var seen = new List<long>();
            string? url = $"/collections/incidents/items?tags={tag}&limit=2&count=false";
            while (url is not null)
            {
                var page = await client.GetJsonAsync(url);
                Assert.Null(page["numberMatched"]);
                seen.AddRange(page["features"]!.AsArray().Select(f => (long)f!["id"]!));
                url = page["links"]!.AsArray().FirstOrDefault(l => (string?)l!["rel"] == "next")?["href"]?.GetValue<string>();
            }
            Assert.Equal(5, seen.Count);
            Assert.Equal(seen.OrderByDescending(id => id), seen); // one time for all five: newest id first
            if (Version.Current != version && attempt < 20) continue;
            Assert.Equal(5L, counts.Known(query));
            return;
        }
    }

    [Fact]
    public void Keys_differ_for_every_difference_in_the_statement_and_its_values()
    {
        static string? Key(long version, string sql, params (string Name, object? Value)[] values)
        {
            var parameters = new DynamicParameters();
            foreach (var (name, value) in values) parameters.Add(name, value);
            return MatchCounts.Key(version, sql, parameters);
        }
        var point = new Point(36.7, 34.7) { SRID = 4326 };
        var keys = new[]
        {
            Key(1, "SELECT 1"),
            Key(2, "SELECT 1"),
            Key(1, "SELECT 2"),
            Key(1, "SELECT 1", ("a", "x")),
            Key(1, "SELECT 1", ("a", "x,y")),
            Key(1, "SELECT 1", ("a", new[] { "x", "y" })),
            Key(1, "SELECT 1", ("a", new[] { "x,y" })),
            Key(1, "SELECT 1", ("a", 1)),
            Key(1, "SELECT 1", ("a", 1L)),
            Key(1, "SELECT 1", ("a", 1.0)),
            Key(1, "SELECT 1", ("a", 1.0000000000000002)),
            Key(1, "SELECT 1", ("a", null)),
            Key(1, "SELECT 1", ("a", "")),
            Key(1, "SELECT 1", ("b", "x")),
            Key(1, "SELECT 1", ("a", new DateTimeOffset(2016, 2, 21, 7, 30, 0, TimeSpan.Zero))),
            Key(1, "SELECT 1", ("a", new DateTimeOffset(2016, 2, 21, 7, 30, 1, TimeSpan.Zero))),
            Key(1, "SELECT 1", ("a", point)),
            Key(1, "SELECT 1", ("a", new Point(36.7, 34.70001) { SRID = 4326 })),
            Key(1, "SELECT 1", ("a", new IncidentMap.Api.Database.GeographyValue(point))),
            Key(1, "SELECT 1", ("a", "x"), ("b", "y")),
            Key(1, "SELECT 1", ("a", "xy"), ("b", "")),
        };
        Assert.All(keys, Assert.NotNull);
        Assert.Equal(keys.Length, keys.Distinct().Count());

        // The same statement and values, built again: one key, whatever the order parameters were added in.
        Assert.Equal(Key(1, "SELECT 1", ("a", "x"), ("b", new Point(36.7, 34.7) { SRID = 4326 })),
                     Key(1, "SELECT 1", ("b", point), ("a", "x")));
        // A value of a type the key cannot spell is not cached.
        Assert.Null(Key(1, "SELECT 1", ("a", new object())));
        Assert.Null(Key(1, "SELECT 1", ("a", new object[] { "x", new object() })));
    }
}
