using Dapper;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The change feed orders changes by transaction id. An import batch took its id at the COPY into its
/// staging table, before reverse geocoding that can take seconds; a writer that created incidents and
/// committed meanwhile had a larger id, so the batch's updates of those incidents, made after their
/// creation, came before it in the feed ("updated" version 2, then "created" version 1). A batch now
/// stages in a transaction of its own and takes the id it writes incidents under as it begins writing them.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportFeedOrderTests(ImportsFixture api)
{
    [Fact]
    public async Task Incidents_created_while_a_batch_geocodes_come_before_the_batchs_updates_of_them_in_the_change_feed()
    {
        var prefix = Unique();
        // No place fields: the batch fills them from the points, reading the places.
        var csv = RowsCsv(prefix, 1, 3, _ => "From the file");
        var client = api.CreateClient();

        Task<(System.Net.HttpStatusCode, System.Text.Json.Nodes.JsonObject)> import;
        await using (var holder = await api.Database.OpenConnectionAsync())
        await using (var hold = await holder.BeginTransactionAsync())
        {
            // The batch waits in its geocoding for the places, which this transaction holds (it writes no incident:
            // taking this lock gives it a transaction id, and the incidents' creator must take its own after the batch).
            await holder.ExecuteAsync("LOCK TABLE places IN ACCESS EXCLUSIVE MODE", transaction: hold);
            import = client.PostImportAsync(csv, "text/csv", "?source=" + prefix);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!await api.Database.ScalarAsync<bool>("""
                       SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE import_staging s SET (location_name%')
                       """, new { }))
            {
                if (import.IsCompleted) Assert.Fail($"the import ended before it geocoded: {await import}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "the import never waited for the places");
                await Task.Delay(20);
            }
            // Meanwhile the incidents are created, as an import of the source that began later would create them.
            await using var creator = await api.Database.OpenConnectionAsync();
            await creator.ExecuteAsync("""
                INSERT INTO incidents (title, event_type, occurred_at, geom, external_id, import_source, imported_version)
                SELECT 'Created meanwhile ' || n, 'riots', '2016-01-01', ST_SetSRID(ST_MakePoint(n, n), 4326), @prefix || '-' || n, @prefix, 1
                FROM generate_series(1, 3) n
                """, new { prefix });
        }
        var (status, report) = await import;

        Assert.True(status == System.Net.HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, 0, 3, 0, 0);
        await using var connection = await api.Database.OpenConnectionAsync();
        var feed = (await connection.QueryAsync<(string Key, string Kind, int Version, string Xid)>("""
            SELECT i.external_id, c.kind, c.version, c.xid::text FROM incident_changes c JOIN incidents i ON i.id = c.incident_id
            WHERE i.external_id LIKE @p ORDER BY c.xid, c.position
            """, new { p = prefix + "-%" })).ToList();
        // Each incident's creation, then the import's update of it.
        foreach (var n in new[] { 1, 2, 3 })
            Assert.True(feed.Where(c => c.Key == $"{prefix}-{n}").Select(c => (c.Kind, c.Version)).SequenceEqual([("created", 1), ("updated", 2)]),
                string.Join(", ", feed.Select(c => $"{c.Key} {c.Kind} v{c.Version} (xid {c.Xid})")));
    }
}
