using System.Collections.Concurrent;
using System.Net;
using Dapper;
using IncidentMap.Api.Changes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Dashboards;

[Collection(ApiCollection.Name)]
public sealed class ChangeFeedTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_transaction_that_commits_late_is_not_skipped_and_both_arrive_in_order()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);

        await using var a = await api.Database.OpenConnectionAsync();
        await using var b = await api.Database.OpenConnectionAsync();
        await using var txA = await a.BeginTransactionAsync();
        var first = await FeedHelpers.InsertAsync(a, tag, txA);
        await using (var txB = await b.BeginTransactionAsync())
        {
            await FeedHelpers.InsertAsync(b, tag, txB);
            await txB.CommitAsync();
        }

        // B is committed, but A (older) is still open: the horizon stops before both.
        var (whileOpen, next) = await _client.PollAsync(tag, cursor);
        Assert.Empty(whileOpen);

        await txA.CommitAsync();
        var (seen, _) = await _client.PollUntilAsync(tag, next, 2);

        Assert.Equal(2, seen.Count);
        Assert.Equal(first, seen[0].Id);
        Assert.All(seen, c => Assert.Equal("created", c.Kind));
    }

    [Fact]
    public async Task Changes_carry_updates_and_deletions_as_tombstones()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", """{"properties":{"fatalities_max":7}}""")).StatusCode);
        await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}");

        var (seen, _) = await _client.PollUntilAsync(tag, cursor, 3);
        var page = await _client.GetJsonAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}");

        Assert.Equal(["created", "updated", "deleted"], seen.Select(c => c.Kind));
        Assert.Equal([1, 2, 3], seen.Select(c => c.Version));
        Assert.All(seen, c => Assert.Equal(id, c.Id));
        // Changes carry the incident as it is now: deleted, so no feature on any of them.
        Assert.All(page["changes"]!.AsArray(), c => Assert.Null(c!["feature"]));
    }

    [Fact]
    public async Task Filters_tell_nobody_without_a_write_key_what_a_deleted_incident_held()
    {
        // Security audit: the feed filtered a deleted incident's changes by its stored content, so
        // whether they were listed answered LIKE 'classified detail 1%', '12%' … letter by letter.
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var feature = FeedHelpers.Tagged(tag);
        feature["properties"]!["summary"] = "classified detail 12345";
        var id = await _client.CreateAsync(feature);
        await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}");
        await _client.PollUntilAsync(tag, cursor, 2);
        var anonymous = api.ClientWithKey(null);

        async Task<string[]> KindsAsync(HttpClient client, string filter)
        {
            var page = await client.GetJsonAsync($"/collections/incidents/changes?cursor={cursor}&limit=1000&filter={Uri.EscapeDataString(filter)}");
            return page["changes"]!.AsArray().Where(c => c!["id"]!.GetValue<long>() == id)
                .Select(c => c!["kind"]!.GetValue<string>() + (c["feature"] is null ? "" : " with content")).ToArray();
        }

        foreach (var filter in new[] { "summary LIKE 'classified detail 1%'", "summary LIKE 'classified detail 9%'", "fatalities_max > 1000000" })
            Assert.Equal(["created", "deleted"], await KindsAsync(anonymous, filter));
        // An editor, who may read the deleted incident's history, gets the filter applied to it.
        Assert.Equal(["created", "deleted"], await KindsAsync(_client, "summary LIKE 'classified detail 1%'"));
        Assert.Empty(await KindsAsync(_client, "summary LIKE 'classified detail 9%'"));
    }

    [Fact]
    public async Task The_feed_honours_the_query_filters()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var battle = FeedHelpers.Tagged(tag);
        battle["properties"]!["event_type"] = "battles";
        var battleId = await _client.CreateAsync(battle);
        await _client.CreateAsync(FeedHelpers.Tagged(tag));

        await _client.PollUntilAsync(tag, cursor, 2);
        var page = await _client.GetJsonAsync($"/collections/incidents/changes?tags={tag}&event_type=battles&cursor={cursor}");

        Assert.Equal([battleId], page["changes"]!.AsArray().Select(c => c!["id"]!.GetValue<long>()));
        Assert.Equal("battles", page["changes"]![0]!["feature"]!["properties"]!["event_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Concurrent_writers_with_rollbacks_updates_and_deletes_are_seen_exactly_as_committed()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var committed = new ConcurrentBag<(long Id, int Version, string Kind)>();

        async Task Writer(int seed)
        {
            var random = new Random(seed);
            var mine = new List<(long Id, int Version)>();
            await using var connection = await api.Database.OpenConnectionAsync();
            for (var step = 0; step < 40; step++)
            {
                await using var tx = await connection.BeginTransactionAsync();
                var done = new List<(long, int, string)>();
                var action = random.Next(10);
                if (action < 5 || mine.Count == 0)
                {
                    var id = await FeedHelpers.InsertAsync(connection, tag, tx);
                    done.Add((id, 1, "created"));
                }
                else
                {
                    var pick = random.Next(mine.Count);
                    var (id, version) = mine[pick];
                    var delete = action == 9;
                    var newVersion = await connection.ExecuteScalarAsync<int>(delete
                        ? "UPDATE incidents SET deleted_at = now(), version = version + 1 WHERE id = @id RETURNING version"
                        : "UPDATE incidents SET fatalities_max = @step, version = version + 1 WHERE id = @id RETURNING version",
                        new { id, step }, tx);
                    done.Add((id, newVersion, delete ? "deleted" : "updated"));
                }
                await Task.Delay(random.Next(3));
                if (random.Next(5) == 0)
                {
                    await tx.RollbackAsync();
                    continue;
                }
                await tx.CommitAsync();
                foreach (var change in done)
                {
                    committed.Add(change);
                    mine.RemoveAll(m => m.Id == change.Item1);
                    if (change.Item3 != "deleted") mine.Add((change.Item1, change.Item2));
                }
            }
        }

        var seen = new List<SeenChange>();
        var writers = Task.WhenAll(Enumerable.Range(0, 4).Select(n => Task.Run(() => Writer(n * 7919 + Environment.TickCount))));
        while (!writers.IsCompleted)
        {
            var (changes, next) = await _client.PollAsync(tag, cursor);
            seen.AddRange(changes);
            cursor = next;
            await Task.Delay(20);
        }
        await writers;
        for (int quiet = 0, polls = 0; quiet < 3 && polls < 200; polls++)
        {
            var (changes, next) = await _client.PollAsync(tag, cursor);
            seen.AddRange(changes);
            cursor = next;
            quiet = seen.Count >= committed.Count ? quiet + 1 : 0;
            await Task.Delay(100);
        }

        Assert.Equal(seen.Count, seen.Select(s => s.Cursor).Distinct().Count());
        Assert.Equal(committed.OrderBy(c => (c.Id, c.Version)).ToList(),
            seen.Select(s => (s.Id, s.Version, s.Kind)).OrderBy(c => (c.Id, c.Version)).ToList());
    }

    [Fact]
    public async Task A_limit_too_large_for_a_number_is_clamped_like_any_large_limit()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        await _client.CreateAsync(FeedHelpers.Tagged(tag));

        // Polled until both are visible (the feed shows a change once its transaction is behind every running one).
        // The page read after it shows them too: the service never reads below a horizon it has read (CI saw
        // it empty once, when the horizon stood lower for a moment; FeedHorizon._floor).
        var (seen, _) = await _client.PollUntilAsync(tag, cursor, 2);
        var page = await _client.GetJsonAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}&limit=99999999999");
        Assert.Equal(2, seen.Count);
        Assert.Equal(seen.Count, page["changes"]!.AsArray().Count);
    }

    /// <summary>
    /// The instance's floor (the highest horizon it has read) is left out when the database could not have
    /// given it: one swapped under the running service (a restore in place, a failover to a standby that
    /// lagged) counts fewer transactions, and a floor above them would skip every change written below it.
    /// </summary>
    [Fact]
    public async Task A_floor_the_database_never_reached_is_left_out_and_started_again()
    {
        var feed = api.Services.GetRequiredService<FeedHorizon>();
        var floor = typeof(FeedHorizon).GetField("_floor", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var tag = FeedHelpers.NewTag();
        var head = await _client.HeadAsync(tag);
        var real = ulong.Parse(head[..head.IndexOf('-')]);

        floor.SetValue(feed, real + 1_000_000_000); // as if read from a database that had counted far more
        var after = await _client.HeadAsync(tag);

        Assert.True(ulong.Parse(after[..after.IndexOf('-')]) < real + 1_000_000, $"the feed gave out {after}, from a floor the database never reached");
        Assert.True((ulong)floor.GetValue(feed)! < real + 1_000_000, "the floor was not started again");
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var (seen, _) = await _client.PollUntilAsync(tag, after, 1);
        Assert.Single(seen);

        // The service's floor is shared with its change listener, which may have started it again first; a feed on a
        // floor of its own shows that the feed's read does so itself.
        var own = new FeedHorizon();
        floor.SetValue(own, real + 1_000_000_000);
        var ownHead = await new ChangeFeed(api.Services.GetRequiredService<IncidentMap.Api.Querying.IncidentReader>(), own).HeadAsync(CancellationToken.None);
        Assert.True(ownHead.Xid < real + 1_000_000, $"the feed gave out {ownHead}, from a floor the database never reached");
        Assert.True((ulong)floor.GetValue(own)! < real + 1_000_000, "the feed's own read did not start the floor again");
    }

    [Fact]
    public async Task Small_pages_through_one_transactions_many_changes_see_each_once_in_order()
    {
        // One transaction writing seven incidents (as an import batch does): their changes share the
        // transaction's xid, so the pages must part them by position alone.
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var written = new List<long>();
        await using (var connection = await api.Database.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            for (var n = 0; n < 7; n++) written.Add(await FeedHelpers.InsertAsync(connection, tag, tx));
            await tx.CommitAsync();
        }
        await _client.PollUntilAsync(tag, cursor, 7); // visible to the feed

        var seen = new List<long>();
        var sizes = new List<int>();
        // The horizon may stand below the changes for a moment (for instance, a transaction of another database that commits
        // between the snapshot and the look at pg_stat_activity counts as running here: the safe side), and
        // the page is then empty without losing anything; asked again, the rest come.
        for (var pages = 0; pages < 50 && seen.Count < written.Count; pages++)
        {
            var page = await _client.GetJsonAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}&limit=2");
            var changes = page["changes"]!.AsArray();
            if (changes.Count == 0)
            {
                await Task.Delay(100);
                continue;
            }
            sizes.Add(changes.Count);
            seen.AddRange(changes.Select(c => c!["id"]!.GetValue<long>()));
            cursor = page["next_cursor"]!.GetValue<string>();
        }

        Assert.Equal([2, 2, 2, 1], sizes);
        Assert.Equal(written, seen);
    }

    [Fact]
    public async Task A_cursor_past_any_position_the_feed_gave_out_is_a_400_not_a_silent_skip()
    {
        var tag = FeedHelpers.NewTag();
        var head = await _client.HeadAsync(tag); // "x-0": transaction x has not written (yet)
        var xid = head[..head.IndexOf('-')];

        // x-99999999 was never given out: read on from it, every change x goes on to write (positions
        // below it) would be skipped for this client.
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={xid}-99999999"), HttpStatusCode.BadRequest, "cursor");
        var stream = new HttpRequestMessage(HttpMethod.Get, $"/collections/incidents/stream?tags={tag}");
        stream.Headers.Add("Last-Event-ID", $"{xid}-99999999");
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead), HttpStatusCode.BadRequest, "Last-Event-ID");

        // Below the horizon too: a finished transaction's xid with a position none of its changes has.
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var (seen, next) = await _client.PollUntilAsync(tag, head, 1);
        var (changeXid, position) = (seen[0].Cursor[..seen[0].Cursor.IndexOf('-')], long.Parse(seen[0].Cursor[(seen[0].Cursor.IndexOf('-') + 1)..]));
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={changeXid}-{position + 1_000_000_000}"), HttpStatusCode.BadRequest, "cursor");

        // Every cursor the feed did give out still reads on.
        foreach (var cursor in new[] { head, seen[0].Cursor, next, $"{changeXid}-0" })
            Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}")).StatusCode);
    }

    /// <summary>
    /// The horizon leaves out other databases' transactions by their entry in pg_stat_activity, read after
    /// the snapshot; one that commits in between stands in the snapshot without that entry, and the horizon
    /// stops at it for a moment, below the one given out just before. The check must still take the cursor
    /// given out (CI saw a dashboard's page come back empty, then full; a 400 here would have dropped it).
    /// The check runs in a REPEATABLE READ transaction whose snapshot is taken before the other database's
    /// transaction commits, and looks at pg_stat_activity after: the race, held open.
    /// </summary>
    [Fact]
    public async Task A_horizon_given_out_is_taken_while_another_databases_transaction_ends_under_the_check()
    {
        var tag = FeedHelpers.NewTag();
        var elsewhere = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString;
        var checker = new NpgsqlConnectionStringBuilder(ApiFixture.AppConnectionString) { Pooling = false }.ConnectionString;
        for (var attempt = 1; ; attempt++)
        {
            await using var other = new NpgsqlConnection(elsewhere);
            await other.OpenAsync();
            await using var otherTx = await other.BeginTransactionAsync();
            var foreignXid = ulong.Parse((await other.ExecuteScalarAsync<string>("SELECT pg_current_xact_id()::text", transaction: otherTx))!);

            await using var check = new NpgsqlConnection(checker);
            await check.OpenAsync();
            // A later transaction that ends: the snapshots' xmax passes the other database's transaction,
            // which then stands among their running ones (an id at or above xmax is never listed).
            await check.ExecuteAsync("SELECT pg_current_xact_id()");

            var head = await _client.HeadAsync(tag);
            var given = ulong.Parse(head[..head.IndexOf('-')]);
            var shift = ulong.Parse((await check.ExecuteScalarAsync<string>("SELECT shift::text FROM incident_feed_shift"))!);
            if (given <= foreignXid + shift)
            {
                // A transaction of this database older than the other one was running (another test's):
                // the horizon given out stood below the other database's transaction anyway.
                Assert.True(attempt < 100, "the feed's horizon never passed a fresh transaction of another database");
                await otherTx.RollbackAsync();
                await Task.Delay(20);
                continue;
            }

            await using var tx = await check.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
            await check.ExecuteAsync("SELECT 1", transaction: tx); // the snapshot: the other transaction is running in it
            await otherTx.CommitAsync();

            // The race itself: the horizon a read would take now stands at the other transaction.
            var now = ulong.Parse((await check.ExecuteScalarAsync<string>("SELECT incident_feed_horizon()::text", transaction: tx))!);
            Assert.Equal(foreignXid + shift, now);
            Assert.True(now < given);

            var state = (await check.QuerySingleAsync<CursorState>(ChangeFeed.CursorStateSql,
                new { xid = given.ToString(), position = 0L }, tx));
            Assert.False(state.Ahead, $"the horizon {given}-0, given out a moment before, was refused as ahead of the feed (horizon now {now})");
            Assert.False(state.Expired);
            // A cursor past every transaction that has started is still refused.
            var beyond = (await check.QuerySingleAsync<CursorState>(ChangeFeed.CursorStateSql,
                new { xid = (given + 1_000_000).ToString(), position = 0L }, tx));
            Assert.True(beyond.Ahead);
            return;
        }
    }

    private sealed record CursorState(bool Expired, bool Ahead);

    [Theory]
    [InlineData("cursor=abc", "cursor")]
    [InlineData("cursor=9000000000000-0", "cursor")] // a transaction that has not started: reading on from it would skip every change until then
    [InlineData("limit=0", "limit")]
    [InlineData("event_type=nope", "event_type")]
    public async Task Bad_feed_parameters_are_400_problems(string query, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync("/collections/incidents/changes?" + query), HttpStatusCode.BadRequest, parameter);
    }
}

/// <summary>
/// Retention moves the feed's one purge marker, which would expire cursors that tests running
/// alongside still hold: serial.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FeedRetentionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_cursor_older_than_retention_is_410_gone_with_a_way_to_resync()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var (seen, _) = await _client.PollUntilAsync(tag, cursor, 1);
        await using (var connection = await api.Database.OpenConnectionAsync())
        {
            // Age our change past the retention window; the purge job then removes it.
            await connection.ExecuteAsync("UPDATE incident_changes SET changed_at = now() - interval '400 days' WHERE incident_id = @id", new { id });
        }
        Assert.True(await api.Services.GetRequiredService<FeedRetention>().PurgeAsync(TimeSpan.FromDays(365), default) >= 1);

        // A change committed before the 410, which the client's reload will show.
        var earlier = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        await _client.PollUntilAsync(tag, seen[0].Cursor, 1);

        var response = await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={cursor}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Gone, "cursor");
        Assert.Contains("/collections/incidents/items", problem["detail"]!.GetValue<string>());
        Assert.True(response.Headers.CacheControl?.NoStore);
        // Its resume_cursor is the head when the 410 answered, taken before the client reloads: a change committed
        // while it reloads comes from it, and the one before the 410 (in the reload) does not.
        var resume = problem["resume_cursor"]!.GetValue<string>();
        var during = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var (resumed, _) = await _client.PollUntilAsync(tag, resume, 1);
        Assert.Equal(during, resumed.Single().Id);
        Assert.DoesNotContain(resumed, c => c.Id == earlier);
        // A cursor from after the purged change still works.
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/incidents/changes?tags={tag}&cursor={seen[0].Cursor}")).StatusCode);

        // A read says so itself, in its own snapshot: a purge between the cursor's check and the read
        // (or during a stream) cannot make it skip changes silently.
        var feed = api.Services.GetRequiredService<ChangeFeed>();
        var (filters, _) = IncidentMap.Api.Querying.QueryParser.Parse(new Dictionary<string, string> { ["tags"] = tag }, DateTimeOffset.UtcNow);
        Assert.True(FeedCursor.TryParse(cursor, out var before));
        Assert.True(FeedCursor.TryParse(seen[0].Cursor, out var after));
        var expired = await feed.ReadAsync(filters!, before, 10, seesDeleted: false, default);
        Assert.True(expired.Expired);
        Assert.Empty(expired.Changes);
        Assert.False((await feed.ReadAsync(filters!, after, 10, seesDeleted: false, default)).Expired);
    }
}
