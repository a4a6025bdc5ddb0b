using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Places;

/// <summary>
/// Migrations 0042 and 0045 remove the administrative areas (GeoNames class A) an earlier <c>places import</c> took
/// in as towns, also those an incident names by place_id (kept by 0042, they went on misfiring: review); the incidents
/// keep what they hold. Populated places and editors' places stay. A database of its own, migrated in two steps.
/// </summary>
public sealed class AdministrativeAreasMigrationTests() : MigrationTest("adminareas", "0042")
{
    private static Task<long> PlaceAsync(NpgsqlConnection connection, long? geonameid, string name, string kind, string source = "geonames") =>
        connection.ExecuteScalarAsync<long>("""
            INSERT INTO places (geonameid, name, alternate_names, country, kind, geom, source)
            VALUES (@geonameid, @name, '{Homs}', 'SY', @kind, ST_SetSRID(ST_MakePoint(37.75, 34.5), 4326), @source)
            RETURNING id
            """, new { geonameid, name, kind, source });

    private static Task<long> IncidentAsync(NpgsqlConnection connection, long placeId, bool deleted = false) =>
        connection.ExecuteScalarAsync<long>("""
            INSERT INTO incidents (title, event_type, occurred_at, geom, location_name, place_id, deleted_at)
            VALUES ('T', 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(37.75, 34.5), 4326), 'Homs', @placeId,
                    CASE WHEN @deleted THEN now() END)
            RETURNING id
            """, new { placeId, deleted });

    [Fact]
    public async Task Administrative_areas_are_removed_and_incidents_naming_one_keep_what_they_hold()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        var governorate = await PlaceAsync(connection, 169575, "Muhafazat Hims", "ADM1");
        var country = await PlaceAsync(connection, 9000003, "Syrian Arab Republic", "PCLI");
        var district = await PlaceAsync(connection, 9000004, "Mantiqat Hims", "ADM2");
        var historical = await PlaceAsync(connection, 9000005, "Old Division", "ADMD");
        var deletedOnes = await PlaceAsync(connection, 9000006, "Qada Tadmur", "ADM3");
        var noCode = await PlaceAsync(connection, 9000007, "Nahiyat Hims", "A");
        var town = await PlaceAsync(connection, 9000008, "Hims Town", "PPL");
        var editors = await PlaceAsync(connection, null, "Homs Region", "region", source: "editor");
        // Live; deleted; and one that named the division once and no longer does (its history still does).
        await IncidentAsync(connection, country);
        await IncidentAsync(connection, deletedOnes, deleted: true);
        var moved = await IncidentAsync(connection, historical);
        await connection.ExecuteAsync("UPDATE incidents SET place_id = NULL, version = version + 1 WHERE id = @moved", new { moved });

        await MigrateAsync();

        var left = (await connection.QueryAsync<long>("SELECT id FROM places")).Order().ToArray();
        Assert.Equal(new[] { town, editors }.Order(), left);
        // The incidents are as they were: the live one still names the place it was given.
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM incidents WHERE place_id = @country AND version = 1", new { country }));
        // Their names went with them: "Homs" is no longer a name of the governorate.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM place_names WHERE place_id = ANY(@gone)", new { gone = new[] { governorate, district, noCode, country, historical, deletedOnes } }));
    }
}
