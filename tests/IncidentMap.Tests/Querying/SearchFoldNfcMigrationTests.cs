using System.Text;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Migration 0054 makes q's folding (search_fold) compose text (NFC) first, and computes again the stored search
/// documents that changes: those of incidents with a part not in NFC, and no other. A database of its own, migrated in
/// two steps.
/// </summary>
public sealed class SearchFoldNfcMigrationTests() : MigrationTest("searchfoldnfc", "0054")
{
    private static Task<long> IncidentAsync(NpgsqlConnection connection, string title, string? locationName = null,
        string[]? actors = null, bool deleted = false) =>
        connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, location_name, actors, deleted_at)
            VALUES (@title, 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(30.52, 50.45), 4326), @locationName,
                    @actors, CASE WHEN @deleted THEN now() END)
            RETURNING id
            """, new { title, locationName, actors = actors ?? [], deleted });

    private const string Matches = "SELECT id FROM incidents WHERE search @@ websearch_to_tsquery('public.incidentmap_search', search_fold(@q)) ORDER BY id";

    [Fact]
    public async Task Documents_of_text_stored_decomposed_are_computed_again_and_no_other_row_is_written()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        static string Nfd(string s) => s.Normalize(NormalizationForm.FormD);
        var title = await IncidentAsync(connection, "Shelling in " + Nfd("Київ"));
        var place = await IncidentAsync(connection, "Shelling", locationName: Nfd("القائم"), deleted: true);
        var actor = await IncidentAsync(connection, "Clashes", actors: ["Forces", Nfd("서울 Garrison")]);
        var composed = await IncidentAsync(connection, "Shelling in Київ, القائم", locationName: "서울");
        var ascii = await IncidentAsync(connection, "Shelling in Kyiv", locationName: "Al Qaim");
        const string state = """
            SELECT id, version, updated_at, xmin::text AS xmin,
                   (SELECT count(*) FROM incident_changes c WHERE c.incident_id = i.id) AS changes,
                   (SELECT count(*) FROM incident_revisions r WHERE r.incident_id = i.id) AS revisions
            FROM incidents i ORDER BY id
            """;
        var before = (await connection.QueryAsync<(long Id, int Version, DateTime UpdatedAt, string Xmin, long Changes, long Revisions)>(state)).ToList();
        // Before: each word composed finds only the composed row.
        Assert.Equal([composed], await connection.QueryAsync<long>(Matches, new { q = "Київ" }));
        Assert.Equal([composed], await connection.QueryAsync<long>(Matches, new { q = "القائم" }));
        Assert.Equal([composed], await connection.QueryAsync<long>(Matches, new { q = "서울" }));

        await MigrateAsync();

        // Both forms of each word find both forms of it.
        foreach (var word in new[] { "Київ", "القائم", "서울" })
        {
            var expected = word switch { "Київ" => new[] { title, composed }, "القائم" => [place, composed], _ => [actor, composed] };
            Assert.Equal(expected, await connection.QueryAsync<long>(Matches, new { q = word }));
            Assert.Equal(expected, await connection.QueryAsync<long>(Matches, new { q = Nfd(word) }));
        }
        // Every stored document is the one the function now computes.
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM incidents
            WHERE search IS DISTINCT FROM incident_search_document(title, summary, location_name, admin1, admin2, admin3, actors, claimed_by)
            """));
        // No new version, feed entry or revision; the rows in NFC were not written at all (same xmin), the others were.
        var after = (await connection.QueryAsync<(long Id, int Version, DateTime UpdatedAt, string Xmin, long Changes, long Revisions)>(state)).ToList();
        Assert.Equal(before.Select(r => (r.Id, r.Version, r.UpdatedAt, r.Changes, r.Revisions)), after.Select(r => (r.Id, r.Version, r.UpdatedAt, r.Changes, r.Revisions)));
        Assert.Equal([title, place, actor], after.Where(r => before.Single(b => b.Id == r.Id).Xmin != r.Xmin).Select(r => r.Id));
        // The feed's trigger is on again, and the search index holds the new documents.
        Assert.Equal("O", await connection.ExecuteScalarAsync<string>(
            "SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = 'incidents'::regclass AND tgname = 'incidents_change_feed_update'"));
        await connection.ExecuteAsync("SET enable_seqscan = off");
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE deleted_at IS NULL AND search @@ websearch_to_tsquery('public.incidentmap_search', search_fold('Київ'))"));
        Assert.DoesNotContain(ascii, await connection.QueryAsync<long>(Matches, new { q = "Київ" }));
    }
    [Fact]
    public async Task Every_decomposable_character_is_searched_alike_composed_or_decomposed_and_text_in_nfc_folds_as_before()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        const string characters = """
            SELECT 'x' || chr(i) || 'ab' AS w FROM generate_series(160, 195101) i
            WHERE i NOT BETWEEN 55296 AND 57343 AND normalize('x' || chr(i) || 'ab', NFD) <> normalize('x' || chr(i) || 'ab', NFC)
            """;
        const string differ = $"""
            SELECT count(*) FROM ({characters}) c
            WHERE to_tsvector('public.incidentmap_search', search_fold(normalize(w, NFD)))
               <> to_tsvector('public.incidentmap_search', search_fold(normalize(w, NFC)))
            """;
        // Before 0054, 11,346 of the 12,134 (the Hangul syllables, й, ї, ئ, ؤ, kana with a voicing mark …).
        Assert.True(await connection.ExecuteScalarAsync<long>(differ) > 11000);
        var before = (await connection.QueryAsync<(string W, string? Folded)>($"SELECT w, search_fold(normalize(w, NFC)) FROM ({characters}) c")).ToList();

        await MigrateAsync();

        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(differ));
        // Text in NFC folds as it did, which is why 0054 recomputes only the documents of text not in NFC.
        Assert.Equal(before, await connection.QueryAsync<(string, string?)>($"SELECT w, search_fold(normalize(w, NFC)) FROM ({characters}) c"));
        Assert.True(before.Count > 12000, $"{before.Count} decomposable characters");
    }
}
