using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The write path of imports: rows encoded for binary COPY by the importer itself, batches written
/// on several connections at once, unchanged rows settled without writing.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportWriterTests(ImportsFixture api)
{
    private const string Csv = "text/csv";

    private const string StoredColumns = """
        title, summary, event_type, sub_event_type, occurred_at, time_precision, location_name, admin1, admin2, admin3, country,
        geo_precision, fatalities_min, fatalities_max, injured_min, injured_max, actors, claimed_by, sources::text AS sources,
        status, tags, ST_AsEWKT(geom) AS geom, version
        """;

    [Fact]
    public async Task Batches_written_in_parallel_store_each_key_once_and_a_second_import_writes_nothing()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var manual = Features.Valid("Entered by hand");
        manual["properties"]!["external_id"] = $"{prefix}-manual";
        await client.CreateAsync(manual);
        // Two and a half batches: the repeated key and the foreign one land in later batches than their first rows.
        var rows = Importer.BatchSize * 5 / 2;
        var csv = new StringBuilder("external_id,title,event_type,occurred_at,lon,lat\n");
        for (var n = 1; n <= rows; n++)
        {
            var (key, title) = n switch
            {
                3 => ("twice", "First"),
                15_000 => ("manual", "Not ours"),
                24_000 => ("twice", "Last"),
                _ => (n.ToString(), $"Row {n}"),
            };
            csv.Append($"{prefix}-{key},{title},riots,2016-01-01,{n % 90}.5,{n % 45}.25\n");
        }

        var first = await client.ImportOkAsync(csv.ToString(), Csv, "?source=" + prefix, inserted: rows - 2, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal([(15_001L, "properties.external_id"), (24_001L, "properties.external_id")], Problems(first).Select(p => (p.Line, p.Field)).Order());
        var twice = await api.Database.ScalarAsync<string>("SELECT title || ' v' || version FROM incidents WHERE external_id = @k", new { k = $"{prefix}-twice" });
        Assert.Equal("First v1", twice);
        // One version each, the manual one included.
        Assert.Equal((rows - 1L, rows - 1L, rows - 1L, rows - 1L), await api.Database.HistoryAsync(prefix));

        // Again: nothing changes, and the same two rows are refused.
        await client.ImportOkAsync(csv.ToString(), Csv, "?source=" + prefix, inserted: 0, updated: 0, unchanged: rows - 2, rejected: 2);

        Assert.Equal((rows - 1L, rows - 1L, rows - 1L, rows - 1L), await api.Database.HistoryAsync(prefix));
    }

    [Fact]
    public async Task An_imported_row_is_stored_exactly_as_the_same_feature_written_singly()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        var features = new[]
        {
            Feature("a", """{"type": "MultiPolygon", "coordinates": [[[[10, 10], [11, 10], [11, 11], [10, 10]]], [[[20, 20], [21, 20], [21, 21], [20, 20]]]]}""",
                """
                "occurred_at": "1999-12-31T23:59:59.123456Z", "actors": ["Ḥalab", "حمص", "Quote \" and, comma"], "claimed_by": "🙂 someone",
                "summary": "Two\nlines\ttab", "injured_min": 0, "injured_max": 2147483647, "fatalities_max": 3,
                "sources": [{"publisher": "Wire", "url": "https://example.org/a?b=c", "published_at": "2016-02-21"}], "country": "sy"
                """),
            Feature("b", """{"type": "LineString", "coordinates": [[-179.5, -89.5], [0, 0], [179.5, 89.5]]}""",
                """
                "occurred_at": "1985-03", "tags": [], "admin2": "", "geo_precision": "region", "status": "disputed"
                """),
            // With its place fields given: a single write fills missing ones from the point, an import does not.
            Feature("c", """{"type": "Point", "coordinates": [-0.0, 51.477]}""", """
                "occurred_at": "2016-02-21", "tags": ["a", "b", "a"], "admin1": "England", "country": "GB"
                """),
        };

        foreach (var feature in features)
        {
            var single = feature.DeepClone();
            single["properties"]!["external_id"] = single["properties"]!["external_id"]!.GetValue<string>() + "-single";
            await client.CreateAsync(single);
        }
        var ndjson = string.Join("\n", features.Select(f => f.ToJsonString()));
        await client.ImportOkAsync(ndjson, "application/x-ndjson", "?source=" + prefix, inserted: 3, updated: 0, unchanged: 0, rejected: 0);

        await using var connection = await api.Database.OpenConnectionAsync();
        foreach (var key in new[] { "a", "b", "c" })
        {
            var imported = await RowAsync(connection, $"{prefix}-{key}");
            var single = await RowAsync(connection, $"{prefix}-{key}-single");
            Assert.Equal(single, imported);
        }
        await client.ImportOkAsync(ndjson, "application/x-ndjson", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 3, rejected: 0);

        JsonObject Feature(string key, string geometry, string properties) => JsonNode.Parse($$$"""
            {"type": "Feature", "geometry": {{{geometry}}},
             "properties": {"title": "Row {{{key}}}", "event_type": "riots", "location_name": "Nowhere", "external_id": "{{{prefix}}}-{{{key}}}", {{{properties}}}}}
            """)!.AsObject();
    }

    [Fact]
    public async Task A_key_stored_by_a_concurrent_writer_during_the_batch_is_not_inserted_twice()
    {
        // The batch inserts keys it did not find as plain INSERTs; a writer that stores one of them
        // after the batch's snapshot makes the unique index refuse it, and the batch is redone as an upsert.
        var prefix = Unique();
        var client = api.CreateClient();
        await using var other = await api.Database.OpenConnectionAsync();
        await using var tx = await other.BeginTransactionAsync();
        await other.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, external_id)
            VALUES ('Stored by someone else', 'riots', '2016-01-01', ST_SetSRID(ST_MakePoint(1, 2), 4326), @k)
            """, new { k = $"{prefix}-2" }, tx);

        var csv = new StringBuilder("external_id,title,event_type,occurred_at,lon,lat\n");
        for (var n = 1; n <= 3; n++) csv.Append($"{prefix}-{n},Row {n},riots,2016-01-01,{n}.5,{n}.25\n");
        var import = client.ImportOkAsync(csv.ToString(), Csv, "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 1);

        // The import waits on the uncommitted key; once it commits, the key is someone else's. (Only the
        // plain insert can wait before then: the upsert runs after it fails. pg_stat_activity shows the
        // first 1 kB of a statement, so the test looks at its start.)
        var waited = false;
        for (var i = 0; i < 200 && !waited && !import.IsCompleted; i++)
        {
            await Task.Delay(50);
            waited = await api.Database.ScalarAsync<bool>("""
                SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH existing AS%')
                """, new { });
        }
        Assert.True(waited, "the import's plain insert never waited for the concurrent key");
        await tx.CommitAsync();

        var report = await import;
        Assert.Equal([(3L, "properties.external_id")], Problems(report).Select(p => (p.Line, p.Field)));
        var rows = await api.Database.ScalarAsync<string>(
            "SELECT string_agg(title || ':' || coalesce(import_source, '-'), ',' ORDER BY external_id) FROM incidents WHERE external_id LIKE @p",
            new { p = prefix + "-%" });
        Assert.Equal($"Row 1:{prefix},Stored by someone else:-,Row 3:{prefix}", rows);
        Assert.Equal((3L, 3L, 3L, 3L), await api.Database.HistoryAsync(prefix));
    }

    private static async Task<string> RowAsync(System.Data.Common.DbConnection connection, string externalId)
    {
        var row = await connection.QuerySingleAsync($"SELECT {StoredColumns} FROM incidents WHERE external_id = @externalId", new { externalId });
        return string.Join(" | ", ((IDictionary<string, object?>)row).Select(c => $"{c.Key}={Format(c.Value)}"));

        static string Format(object? value) => value switch
        {
            null => "null",
            string[] items => "[" + string.Join(",", items) + "]",
            DateTime time => time.ToString("O"),
            _ => value.ToString()!,
        };
    }
}
