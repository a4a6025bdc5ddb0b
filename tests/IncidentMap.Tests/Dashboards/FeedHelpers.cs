using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Dashboards;

public sealed record SeenChange(string Cursor, string Kind, long Id, int Version);

public static class FeedHelpers
{
    public static string NewTag() => "t-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Inserts an incident with plain SQL on the given connection (and its open transaction, if any).</summary>
    public static Task<long> InsertAsync(NpgsqlConnection connection, string tag, NpgsqlTransaction? transaction = null) =>
        connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
            VALUES ('feed test', 'riots', now(), ST_SetSRID(ST_MakePoint(12.5, 41.9), 4326), ARRAY[@tag])
            RETURNING id
            """, new { tag }, transaction);

    public static async Task<string> HeadAsync(this HttpClient client, string tag) =>
        (await client.GetJsonAsync($"/collections/incidents/changes?tags={tag}"))["next_cursor"]!.GetValue<string>();

    /// <summary>One poll of the feed; returns the changes and the next cursor.</summary>
    public static async Task<(List<SeenChange> Changes, string Next)> PollAsync(this HttpClient client, string tag, string cursor)
    {
        var page = await client.GetJsonAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}&limit=1000");
        var changes = page["changes"]!.AsArray().Select(c => new SeenChange(
            c!["cursor"]!.GetValue<string>(), c["kind"]!.GetValue<string>(), c["id"]!.GetValue<long>(), c["version"]!.GetValue<int>())).ToList();
        return (changes, page["next_cursor"]!.GetValue<string>());
    }

    /// <summary>
    /// Polls until at least <paramref name="count"/> changes arrived: an unrelated transaction still open
    /// in this database legitimately holds the feed's horizon back for a while.
    /// </summary>
    public static async Task<(List<SeenChange> Changes, string Next)> PollUntilAsync(this HttpClient client, string tag, string cursor, int count)
    {
        var seen = new List<SeenChange>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (seen.Count < count && DateTime.UtcNow < deadline)
        {
            var (changes, next) = await client.PollAsync(tag, cursor);
            seen.AddRange(changes);
            cursor = next;
            if (seen.Count < count) await Task.Delay(50);
        }
        return (seen, cursor);
    }

    public static JsonObject Tagged(string tag)
    {
        var feature = Features.Valid();
        feature["properties"]!["tags"] = new JsonArray(tag);
        return feature;
    }
}
