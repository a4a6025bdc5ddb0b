using System.Text;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// Migration 0030 brings the external_id of live incidents stored before writes normalised it to NFC,
/// as a change of each (version, feed, history), and merges no two incidents into one key; the keys of
/// deleted incidents an import looks up follow quietly. A database of its own, migrated in two steps.
/// </summary>
public sealed class NfcMigrationTests() : MigrationTest("nfc", "0030")
{
    private static string Nfc(string text) => text.Normalize(NormalizationForm.FormC);

    private static string Nfd(string text) => text.Normalize(NormalizationForm.FormD);

    private static async Task<long> InsertAsync(NpgsqlConnection connection, string externalId, string? source = null, bool deleted = false) =>
        await connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, external_id, import_source, imported_version, deleted_at)
            VALUES ('T', 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), @externalId,
                    @source, CASE WHEN @source IS NOT NULL THEN 1 END, CASE WHEN @deleted THEN now() END)
            RETURNING id
            """, new { externalId, source, deleted });

    [Fact]
    public async Task Decomposed_keys_are_composed_as_a_change_each_and_no_two_incidents_get_one_key()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        var decomposed = await InsertAsync(connection, Nfd("Café-1"), source: "acled");
        var ascii = await InsertAsync(connection, "SYR10001");
        var composed = await InsertAsync(connection, Nfc("Ḥimṣ-1"));
        var deleted = await InsertAsync(connection, Nfd("Café-9"), deleted: true);
        // An import finds its source's deleted incidents by key, to keep them deleted: their keys follow.
        var deletedImported = await InsertAsync(connection, Nfd("Café-8"), source: "acled", deleted: true);
        // Keys that would collide once composed stay as they are, for an editor to settle: one beside
        // the composed form of itself, and two spellings (the Ångström sign, A + ring) of one key.
        var taken = await InsertAsync(connection, Nfc("Café-2"));
        var pair = await InsertAsync(connection, Nfd("Café-2"));
        var twinA = await InsertAsync(connection, "\u212B-3");
        var twinB = await InsertAsync(connection, "A\u030A-3");
        // Longer than a key may be once composed (U+0958 is two code points in NFC).
        var tooLong = await InsertAsync(connection, new string('\u0958', 150));

        await MigrateAsync();

        var rows = (await connection.QueryAsync<(long Id, string Key, int Version, int? Imported)>(
            "SELECT id, external_id, version, imported_version FROM incidents")).ToDictionary(r => r.Id);
        Assert.Equal((Nfc("Café-1"), 2, 2), (rows[decomposed].Key, rows[decomposed].Version, rows[decomposed].Imported));
        Assert.Equal(("SYR10001", 1), (rows[ascii].Key, rows[ascii].Version));
        Assert.Equal((Nfc("Ḥimṣ-1"), 1), (rows[composed].Key, rows[composed].Version));
        Assert.Equal((Nfd("Café-9"), 1), (rows[deleted].Key, rows[deleted].Version));
        Assert.Equal((Nfc("Café-8"), 1, 1), (rows[deletedImported].Key, rows[deletedImported].Version, rows[deletedImported].Imported));
        Assert.Equal((Nfc("Café-2"), Nfd("Café-2")), (rows[taken].Key, rows[pair].Key));
        Assert.Equal(("\u212B-3", "A\u030A-3"), (rows[twinA].Key, rows[twinB].Key));
        Assert.Equal(new string('\u0958', 150), rows[tooLong].Key, StringComparer.Ordinal);
        Assert.All(new[] { ascii, composed, deleted, deletedImported, taken, pair, twinA, twinB, tooLong }, id => Assert.Equal(1, rows[id].Version));

        // Recorded as any change: the feed carries it and the history names the migration.
        var change = await connection.QuerySingleAsync<(string Kind, int Version)>(
            "SELECT kind, version FROM incident_changes WHERE incident_id = @decomposed AND version = 2", new { decomposed });
        Assert.Equal(("updated", 2), change);
        var revision = await connection.QuerySingleAsync<(string ChangedBy, string[] Fields)>(
            "SELECT changed_by, changed_fields FROM incident_revisions WHERE incident_id = @decomposed AND version = 2", new { decomposed });
        Assert.Equal("migration 0030_nfc_external_ids", revision.ChangedBy);
        Assert.Equal(["external_id"], revision.Fields);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incident_changes WHERE incident_id <> @decomposed AND kind <> 'created'", new { decomposed }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incident_revisions WHERE incident_id <> @decomposed AND kind <> 'created'", new { decomposed }));
        // The tombstones' keys changed quietly; later writes are recorded again.
        await connection.ExecuteAsync("UPDATE incidents SET title = 'T2', version = 2 WHERE id = @ascii", new { ascii });
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incident_changes WHERE incident_id = @ascii AND version = 2", new { ascii }));
    }

    [Fact]
    public async Task It_composes_keys_as_dotnet_does()
    {
        // Writes compose with string.Normalize: the migration must store the same text, or a key re-sent
        // after it would still miss its incident.
        string[] keys = ["Ḥimṣ", "Ṣaydā", "Đà Nẵng", "Ærøskøbing", "Kraków", "Dayr az-Zawr ‎", "한국", "ﬁle", "Ω-ohm", "\u0344", "e\u0301\u0323"];
        await using var connection = await DataSource.OpenConnectionAsync();
        foreach (var (key, n) in keys.Select((k, n) => (k, n))) await InsertAsync(connection, $"{Nfd(key)}-{n}");

        await MigrateAsync();

        var stored = (await connection.QueryAsync<string>("SELECT external_id FROM incidents ORDER BY id")).ToList();
        // Ordinal: xunit compares strings in a collection by the culture, for which NFC and NFD are one.
        Assert.Equal(keys.Select((k, n) => Nfc($"{Nfd(k)}-{n}")), stored, StringComparer.Ordinal);
    }
}
