using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// Migration 0028 trims the single-line text of live incidents stored before writes trimmed it, as a
/// change of each (version, feed, history). A database of its own, migrated in two steps.
/// </summary>
public sealed class TrimMigrationTests() : MigrationTest("trim", "0028")
{
    private async Task<long> InsertAsync(NpgsqlConnection connection, string? location, string? externalId = null, string? admin1 = null,
        string? source = null, bool deleted = false) =>
        await connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, location_name, admin1, external_id, import_source, imported_version, deleted_at)
            VALUES ('T', 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(36.7, 34.7), 4326), @location, @admin1, @externalId,
                    @source, CASE WHEN @source IS NOT NULL THEN 1 END, CASE WHEN @deleted THEN now() END)
            RETURNING id
            """, new { location, admin1, externalId, source, deleted });

    [Fact]
    public async Task Live_incidents_are_trimmed_as_a_change_each_and_tombstones_are_left_alone()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        var padded = await InsertAsync(connection, "Homs ", admin1: "  ", externalId: "K-1 ", source: "acled");
        var clean = await InsertAsync(connection, "Homs", externalId: "K-2");
        var deleted = await InsertAsync(connection, "Homs ", deleted: true);
        // Keys that would collide once trimmed stay as they are, for an editor to settle.
        var taken = await InsertAsync(connection, "Idlib", externalId: "K-2 ");
        var twinA = await InsertAsync(connection, "Idlib", externalId: " K-3");
        var twinB = await InsertAsync(connection, "Idlib", externalId: "K-3 ");

        await MigrateAsync();

        var rows = (await connection.QueryAsync<(long Id, string? Location, string? Admin1, string? Key, int Version, int? Imported)>(
            "SELECT id, location_name, admin1, external_id, version, imported_version FROM incidents")).ToDictionary(r => r.Id);
        Assert.Equal(("Homs", null, "K-1", 2, 2), (rows[padded].Location, rows[padded].Admin1, rows[padded].Key, rows[padded].Version, rows[padded].Imported));
        Assert.Equal(1, rows[clean].Version);
        Assert.Equal(("Homs ", 1), (rows[deleted].Location, rows[deleted].Version));
        Assert.Equal(("K-2 ", 1), (rows[taken].Key, rows[taken].Version));
        Assert.Equal((" K-3", "K-3 "), (rows[twinA].Key, rows[twinB].Key));

        // Recorded as any change: the feed carries it and the history names the migration.
        var change = await connection.QuerySingleAsync<(string Kind, int Version)>("SELECT kind, version FROM incident_changes WHERE incident_id = @padded AND version = 2", new { padded });
        Assert.Equal(("updated", 2), change);
        var revision = await connection.QuerySingleAsync<(string ChangedBy, string[] Fields)>(
            "SELECT changed_by, changed_fields FROM incident_revisions WHERE incident_id = @padded AND version = 2", new { padded });
        Assert.Equal("migration 0028_trimmed_text", revision.ChangedBy);
        Assert.Equal(["admin1", "external_id", "location_name"], revision.Fields);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incident_changes WHERE incident_id IN (@clean, @deleted, @taken) AND version > 1", new { clean, deleted, taken }));
    }

    [Fact]
    public async Task It_takes_off_the_white_space_dotnet_trims_and_nothing_else()
    {
        // Writes trim with String.Trim: the migration must take off exactly those characters.
        var spaces = Enumerable.Range(0, 0x10000).Select(c => (char)c).Where(char.IsWhiteSpace).ToList();
        var kept = new[] { '\u200b', '\ufeff', '\u180e', '\u200e' };   // zero-width and format characters are not white space
        await using var connection = await DataSource.OpenConnectionAsync();
        foreach (var c in spaces) await InsertAsync(connection, $"{c}Homs{c}");
        foreach (var c in kept) await InsertAsync(connection, $"{c}Homs{c}");

        await MigrateAsync();

        var names = (await connection.QueryAsync<string>("SELECT location_name FROM incidents ORDER BY id")).ToList();
        Assert.All(names.Take(spaces.Count), name => Assert.Equal("Homs", name));
        Assert.Equal(kept.Select(c => $"{c}Homs{c}"), names.Skip(spaces.Count));
        Assert.Equal(names.Select(n => n.Trim()), names);
    }
}
