using Dapper;
using IncidentMap.Api.Changes;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Dashboards;

/// <summary>
/// A filtered page far behind the head takes the incidents the filter matches first, when they are few
/// (<see cref="ChangeFeed.FewMatches"/>), and lists their changes; otherwise, and near the head, it walks the feed.
/// Both ways must give the same pages and cursors: every matching change once, in feed order, and for a reader
/// who is not an editor every deleted incident's changes too. Each page says which way it was taken
/// (<see cref="ChangePage.TookMatches"/>), so that a test of the first way cannot pass by walking.
///
/// A database and a service of their own: for a reader who is not an editor every deleted incident matches, and the
/// shared database holds other tests' deleted incidents, over <see cref="ChangeFeed.FewMatches"/> of them in a whole
/// run, where a page rightly walks.
/// </summary>
public sealed class FeedMatchesFirstTests : IAsyncLifetime
{
    private OwnDatabase _database = null!;
    private Service _service = null!;

    private sealed class Service(string database) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            ApiFixture.Configure(builder);
            ApiFixture.UseDatabase(builder, database);
            builder.UseSetting("Gazetteer:Path", "");
        }
    }

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("feedmatches");
        await new Migrator(_database.DataSource, NullLogger<Migrator>.Instance, ApiFixture.AppRole).MigrateAsync();
        _service = new Service(_database.Name);
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _database.DisposeAsync();
    }

    private ChangeFeed Feed => _service.Services.GetRequiredService<ChangeFeed>();

    /// <summary>Every page from <paramref name="from"/> to <paramref name="until"/>: the changes, and which way each page was taken.</summary>
    private async Task<(List<Change> Changes, List<bool> TookMatches)> AllPagesAsync(
        IncidentQuery filters, FeedCursor from, int limit, bool seesDeleted, int walkAtMost, FeedCursor until)
    {
        var seen = new List<Change>();
        var ways = new List<bool>();
        var cursor = from;
        for (var pages = 0; pages < 500; pages++)
        {
            var page = await Feed.ReadAsync(filters, cursor, limit, seesDeleted, walkAtMost, CancellationToken.None);
            Assert.False(page.Expired);
            Assert.True(page.Changes.Count <= limit);
            ways.Add(page.TookMatches);
            seen.AddRange(page.Changes.Where(c => c.Cursor.CompareTo(until) <= 0));
            if (page.Changes.Count == 0 || page.Next.CompareTo(until) > 0) return (seen, ways);
            Assert.True(page.Next.CompareTo(cursor) > 0);
            cursor = page.Next;
        }
        throw new InvalidOperationException("no end of the feed after 500 pages");
    }

    /// <summary>The cursor of the last change of <paramref name="ids"/>, once the feed's horizon has passed it.</summary>
    private async Task<FeedCursor> SettledAsync(NpgsqlConnection connection, IEnumerable<long> ids)
    {
        var last = await connection.QueryFirstAsync<(string Xid, long Position)>(
            "SELECT xid::text, position FROM incident_changes WHERE incident_id = ANY(@ids) ORDER BY xid DESC, position DESC LIMIT 1",
            new { ids = ids.ToArray() });
        var until = new FeedCursor(ulong.Parse(last.Xid), last.Position);
        for (var waited = 0; (await Feed.HeadAsync(CancellationToken.None)).CompareTo(until) <= 0; waited++)
        {
            Assert.True(waited < 300, "the feed's horizon did not pass the test's changes");
            await Task.Delay(100);
        }
        return until;
    }

    private static Task<IEnumerable<long>> InsertAsync(NpgsqlConnection connection, int count, string tag, string other, int every) =>
        connection.QueryAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, tags)
            SELECT 'feed matches ' || g, 'riots', now(), ST_SetSRID(ST_MakePoint(12.5, 41.9), 4326),
                   ARRAY[CASE WHEN g % @every = 0 THEN @tag ELSE @other END]
            FROM generate_series(1, @count) g
            RETURNING id
            """, new { count, tag, other, every });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Pages_taken_matches_first_are_those_of_the_walk(bool seesDeleted)
    {
        var tag = FeedHelpers.NewTag();
        var other = FeedHelpers.NewTag();
        var start = await Feed.HeadAsync(CancellationToken.None);
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        // Five tagged incidents among sixty others; two statements that write both; an edit, a move out of the
        // filter and back, and deletes of a tagged and an untagged one.
        var ids = (await InsertAsync(connection, 65, tag, other, every: 13)).AsList();
        var tagged = (await connection.QueryAsync<long>("SELECT id FROM incidents WHERE @tag = ANY(tags) ORDER BY id", new { tag })).AsList();
        var untagged = ids.Except(tagged).ToList();
        Assert.Equal(5, tagged.Count);
        await connection.ExecuteAsync("UPDATE incidents SET title = title || ' edited', version = version + 1 WHERE id = ANY(@ids)",
            new { ids = new[] { tagged[0], untagged[0], untagged[1] } });
        await connection.ExecuteAsync("UPDATE incidents SET tags = ARRAY[@other], version = version + 1 WHERE id = @id", new { id = tagged[1], other });
        await connection.ExecuteAsync("UPDATE incidents SET tags = ARRAY[@tag], version = version + 1 WHERE id = @id", new { id = tagged[1], tag });
        await connection.ExecuteAsync("UPDATE incidents SET deleted_at = now(), version = version + 1 WHERE id = ANY(@ids)",
            new { ids = new[] { tagged[2], untagged[2] } });
        var until = await SettledAsync(connection, ids);
        // Every change of the tagged incidents, in feed order; for a reader who is not an editor, the deleted untagged
        // one's too.
        var expected = (await connection.QueryAsync<(string Xid, long Position, long Id, int Version)>("""
            SELECT c.xid::text, c.position, c.incident_id, c.version FROM incident_changes c
            WHERE c.incident_id = ANY(@ids) AND (c.xid, c.position) > (@xid::xid8, @position) ORDER BY c.xid, c.position
            """, new { ids = (seesDeleted ? tagged : [.. tagged, untagged[2]]).ToArray(), xid = start.Xid.ToString(), position = start.Position }))
            .Select(e => ($"{e.Xid}-{e.Position}", e.Id, e.Version)).ToList();
        Assert.Equal(seesDeleted ? 9 : 11, expected.Count);

        var filters = new IncidentQuery { Tags = [tag] };
        foreach (var limit in new[] { 1, 2, 7, 100 })
        {
            var walked = await AllPagesAsync(filters, start, limit, seesDeleted, int.MaxValue, until);
            var first = await AllPagesAsync(filters, start, limit, seesDeleted, 0, until);
            // Each read went its own way, every page of it.
            Assert.All(walked.TookMatches, t => Assert.False(t));
            Assert.All(first.TookMatches, t => Assert.True(t));
            Assert.Equal(walked.Changes, first.Changes);
            Assert.Equal(expected, first.Changes.Select(c => (c.Cursor.ToString(), c.Id, c.Version)));
            Assert.All(first.Changes.Where(c => c.Id == tagged[2] || c.Id == untagged[2]), c => Assert.Null(c.Feature));
            Assert.All(first.Changes.Where(c => c.Id != tagged[2] && c.Id != untagged[2]), c => Assert.Contains(tag, c.Feature));
            // The pages split where the walk's do: as many as the walk needs (the changes over the limit, and one
            // that finds the rest empty or passes the end).
            Assert.Equal(walked.TookMatches.Count, first.TookMatches.Count);
        }
    }

    [Fact]
    public async Task A_filter_too_many_incidents_match_walks_the_feed_in_the_same_statement()
    {
        var tag = FeedHelpers.NewTag();
        var other = FeedHelpers.NewTag();
        var start = await Feed.HeadAsync(CancellationToken.None);
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        // FewMatches + 50 tagged among as many others.
        var ids = (await InsertAsync(connection, 2 * (ChangeFeed.FewMatches + 50), tag, other, every: 2)).AsList();
        var until = await SettledAsync(connection, ids);
        var filters = new IncidentQuery { Tags = [tag] };

        var walked = await AllPagesAsync(filters, start, 400, seesDeleted: true, int.MaxValue, until);
        var first = await AllPagesAsync(filters, start, 400, seesDeleted: true, 0, until);

        Assert.Equal(ChangeFeed.FewMatches + 50, first.Changes.Count);
        Assert.All(first.TookMatches, t => Assert.False(t));
        Assert.Equal(walked.Changes, first.Changes);
    }
}
