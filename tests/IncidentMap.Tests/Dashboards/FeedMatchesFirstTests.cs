using Dapper;
using IncidentMap.Api.Changes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Dashboards;

/// <summary>
/// A filtered page far behind the head takes the incidents the filter matches first, when they are few
/// (<see cref="ChangeFeed.FewMatches"/>), and lists their changes; otherwise, and near the head, it walks the feed.
/// Both ways must give the same pages and cursors: every matching change once, in feed order, and for a reader
/// who is not an editor every deleted incident's changes too.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class FeedMatchesFirstTests(ApiFixture api)
{
    private ChangeFeed Feed => api.Services.GetRequiredService<ChangeFeed>();

    private async Task<List<Change>> AllPagesAsync(IncidentQuery filters, FeedCursor from, int limit, bool seesDeleted, int walkAtMost, FeedCursor until)
    {
        var seen = new List<Change>();
        var cursor = from;
        for (var pages = 0; pages < 500; pages++)
        {
            var page = await Feed.ReadAsync(filters, cursor, limit, seesDeleted, walkAtMost, CancellationToken.None);
            Assert.False(page.Expired);
            Assert.True(page.Changes.Count <= limit);
            seen.AddRange(page.Changes.Where(c => c.Cursor.CompareTo(until) <= 0));
            if (page.Changes.Count == 0 || page.Next.CompareTo(until) > 0) return seen;
            Assert.True(page.Next.CompareTo(cursor) > 0);
            cursor = page.Next;
        }
        throw new InvalidOperationException("no end of the feed after 500 pages");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Pages_taken_matches_first_are_those_of_the_walk(bool seesDeleted)
    {
        var tag = FeedHelpers.NewTag();
        var other = FeedHelpers.NewTag();
        var start = await Feed.HeadAsync(CancellationToken.None);
        await using var connection = await api.Database.OpenConnectionAsync();
        // Five tagged incidents among sixty others; two statements that write both; an edit, a move out of the
        // filter and back, and deletes of a tagged and an untagged one.
        var ids = (await connection.QueryAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
            SELECT 'feed matches ' || g, 'riots', now(), ST_SetSRID(ST_MakePoint(12.5, 41.9), 4326),
                   ARRAY[CASE WHEN g % 13 = 0 THEN @tag ELSE @other END]
            FROM generate_series(1, 65) g
            RETURNING id
            """, new { tag, other })).AsList();
        var tagged = (await connection.QueryAsync<long>("SELECT id FROM incidents WHERE @tag = ANY(tags) ORDER BY id", new { tag })).AsList();
        var untagged = ids.Except(tagged).ToList();
        Assert.Equal(5, tagged.Count);
        await connection.ExecuteAsync("UPDATE incidents SET title = title || ' edited', version = version + 1 WHERE id = ANY(@ids)",
            new { ids = new[] { tagged[0], untagged[0], untagged[1] } });
        await connection.ExecuteAsync("UPDATE incidents SET tags = ARRAY[@other], version = version + 1 WHERE id = @id", new { id = tagged[1], other });
        await connection.ExecuteAsync("UPDATE incidents SET tags = ARRAY[@tag], version = version + 1 WHERE id = @id", new { id = tagged[1], tag });
        await connection.ExecuteAsync("UPDATE incidents SET deleted_at = now(), version = version + 1 WHERE id = ANY(@ids)",
            new { ids = new[] { tagged[2], untagged[2] } });

        // The last of these changes, once the feed's horizon has passed it.
        var last = await connection.QueryFirstAsync<(string Xid, long Position)>(
            "SELECT xid::text, position FROM incident_changes WHERE incident_id = ANY(@ids) ORDER BY xid DESC, position DESC LIMIT 1", new { ids = ids.ToArray() });
        var until = new FeedCursor(ulong.Parse(last.Xid), last.Position);
        for (var waited = 0; (await Feed.HeadAsync(CancellationToken.None)).CompareTo(until) <= 0; waited++)
        {
            Assert.True(waited < 300, "the feed's horizon did not pass the test's changes");
            await Task.Delay(100);
        }

        var filters = new IncidentQuery { Tags = [tag] };
        foreach (var limit in new[] { 1, 2, 7, 100 })
        {
            var walked = await AllPagesAsync(filters, start, limit, seesDeleted, int.MaxValue, until);
            var first = await AllPagesAsync(filters, start, limit, seesDeleted, 0, until);
            // Another test's incident deleted between the two reads would pass the filter in the second only.
            Assert.Equal(walked.Where(c => seesDeleted || ids.Contains(c.Id)), first.Where(c => seesDeleted || ids.Contains(c.Id)));
            // Every change of the tagged incidents, once each, in feed order; for a reader who is not an editor, the
            // deleted untagged one's too (other tests' deletes besides, which both ways list alike).
            var ours = first.Where(c => ids.Contains(c.Id)).ToList();
            var expected = (await connection.QueryAsync<(string Xid, long Position, long Id, int Version)>("""
                SELECT c.xid::text, c.position, c.incident_id, c.version FROM incident_changes c
                WHERE c.incident_id = ANY(@ids) ORDER BY c.xid, c.position
                """, new { ids = (seesDeleted ? tagged : [.. tagged, untagged[2]]).ToArray() })).ToList();
            Assert.Equal(expected.Select(e => ($"{e.Xid}-{e.Position}", e.Id, e.Version)),
                ours.Select(c => (c.Cursor.ToString(), c.Id, c.Version)));
            Assert.Equal(first.Count, first.Select(c => c.Cursor).Distinct().Count());
            Assert.All(ours.Where(c => c.Id == tagged[2] || c.Id == untagged[2]), c => Assert.Null(c.Feature));
            Assert.All(ours.Where(c => c.Id != tagged[2] && c.Id != untagged[2]), c => Assert.Contains(tag, c.Feature));
        }
    }
}
