using System.Text;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Places;

/// <summary>
/// Migration 0052 makes place_key compose a name (NFC) before keying it, and computes again the stored keys of the names
/// that changes: a name stored decomposed (an editor's, or an import's) had the key of no name typed composed. A database
/// of its own, migrated in two steps.
/// </summary>
public sealed class PlaceKeyNfcMigrationTests() : MigrationTest("placekeynfc", "0052")
{
    private static Task<long> PlaceAsync(NpgsqlConnection connection, string name, string[] alternates) =>
        connection.ExecuteScalarAsync<long>("""
            INSERT INTO places (name, alternate_names, country, kind, geom, source)
            VALUES (@name, @alternates, 'IQ', 'town', ST_SetSRID(ST_MakePoint(41.0, 34.4), 4326), 'editor')
            RETURNING id
            """, new { name, alternates });

    [Fact]
    public async Task Names_stored_decomposed_get_the_key_of_the_name_composed()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        var decomposed = "القائم".Normalize(NormalizationForm.FormD);
        // With a formatting character between a letter and its mark, which the key drops.
        var joined = "Київ".Normalize(NormalizationForm.FormD).Replace("\u0308", "\u200D\u0308");
        var nfd = await PlaceAsync(connection, decomposed, [joined]);
        var nfc = await PlaceAsync(connection, "Al Qaim Town", ["القائم"]);
        Task<string[]> KeysAsync(long id) =>
            connection.QueryAsync<string>("SELECT key FROM place_names WHERE place_id = @id ORDER BY key", new { id }).ContinueWith(t => t.Result.ToArray());
        var before = await KeysAsync(nfd);
        var composedBefore = await KeysAsync(nfc);
        Assert.DoesNotContain("القائم", before);
        Assert.DoesNotContain("київ", before);

        await MigrateAsync();

        Assert.Equal(new[] { "القائم", "київ" }.Order(StringComparer.Ordinal), (await KeysAsync(nfd)).Order(StringComparer.Ordinal));
        // Composed names keep their keys, and the stored key is the function's.
        Assert.Equal(composedBefore, await KeysAsync(nfc));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM place_names WHERE key <> place_key(name)"));
        // The key's index has it too.
        await connection.ExecuteAsync("SET enable_seqscan = off");
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM place_names WHERE key = 'القائم'"));
    }
}
