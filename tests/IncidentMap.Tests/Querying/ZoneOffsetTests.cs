using IncidentMap.Api.Querying;
using Stats = IncidentMap.Api.Stats;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// The stats' window ends and bucket starts are converted in .NET, the buckets cut in PostgreSQL: the two
/// must read every zone's offsets alike, to the second (.NET's TimeZoneInfo keeps whole minutes).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ZoneOffsetTests(ApiFixture api)
{
    [Fact]
    public async Task Wall_clock_times_agree_with_postgresql_to_the_second_around_every_transition_of_every_zone()
    {
        await using var connection = await api.Database.OpenConnectionAsync();
        var names = new List<string>();
        await using (var command = new NpgsqlCommand(
            "SELECT name FROM pg_timezone_names WHERE name !~* '^(posix|right)/' AND name NOT IN ('localtime', 'posixrules') ORDER BY name", connection))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) names.Add(reader.GetString(0));

        var (zoneNames, instants, zones) = (new List<string>(), new List<DateTime>(), new List<TimeZoneInfo>());
        var (first, last) = (new DateTime(2, 1, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(9998, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        void Add(string name, TimeZoneInfo zone, DateTime at)
        {
            if (at < first || at > last) return;
            zoneNames.Add(name);
            instants.Add(at);
            zones.Add(zone);
        }
        var withSeconds = 0;
        var taken = api.Services.GetRequiredService<IncidentReader>();
        foreach (var tz in names)
        {
            // As the stats send it to AT TIME ZONE (posix/CET for CET, which it reads as an abbreviation).
            var found = await Stats.TimeZoneNames.FindAsync(tz, taken, CancellationToken.None);
            Assert.True(found is not null, $"{tz} is refused");
            var (_, zone, name) = found.Value;
            var table = ZoneOffsets.For(zone);
            Assert.True(table is not null, $"{name}: no TZif table read");
            if (table.Offsets.Append(table.Before).Any(o => o % 60 != 0)) withSeconds++;
            // Each side of every transition, and the times its footer rule governs.
            foreach (var transition in table.Transitions.Where(t => t > -62_000_000_000 && t < 253_000_000_000))
            {
                var at = DateTime.UnixEpoch.AddSeconds(transition);
                Add(name, zone, at.AddSeconds(-1));
                Add(name, zone, at);
                Add(name, zone, at.AddHours(-1).AddMinutes(-1));
            }
            for (var month = new DateTime(1800, 1, 15, 0, 0, 0, DateTimeKind.Utc); month.Year < 2500; month = month.AddMonths(month.Year < 2100 ? 7 : 23))
                Add(name, zone, month);
            Add(name, zone, new DateTime(1000, 6, 1, 12, 0, 0, DateTimeKind.Utc));
        }
        Assert.True(withSeconds > 100, $"only {withSeconds} zones have an offset with seconds");

        await using var compare = new NpgsqlCommand(
            "SELECT t AT TIME ZONE n FROM unnest(@names::text[], @instants::timestamptz[]) WITH ORDINALITY AS u(n, t, i) ORDER BY i", connection);
        compare.Parameters.AddWithValue("names", zoneNames.ToArray());
        compare.Parameters.AddWithValue("instants", instants.ToArray());
        var problems = new List<string>();
        await using (var reader = await compare.ExecuteReaderAsync())
            for (var i = 0; await reader.ReadAsync(); i++)
            {
                var postgres = reader.GetDateTime(0);
                var ours = TimeWindow.WallClock(new DateTimeOffset(instants[i]), zones[i]);
                if (ours != postgres) problems.Add($"{zoneNames[i]} at {instants[i]:yyyy-MM-dd'T'HH:mm:ss'Z'}: PostgreSQL {postgres:yyyy-MM-dd HH:mm:ss}, ours {ours:yyyy-MM-dd HH:mm:ss}");
            }
        Assert.True(problems.Count == 0, $"{problems.Count} of {instants.Count} differ:\n" + string.Join("\n", problems.GroupBy(p => p[..p.IndexOf(" at ")]).Select(g => $"{g.Count()}× {g.First()}")));
    }

    [Fact]
    public void A_zone_without_a_tz_database_file_keeps_the_offsets_dotnet_has()
    {
        var custom = TimeZoneInfo.CreateCustomTimeZone("Nowhere/Custom", TimeSpan.FromHours(3), "Custom", "Custom");
        Assert.Null(ZoneOffsets.For(custom));
        Assert.Equal(TimeSpan.FromHours(3), ZoneOffsets.At(new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero), custom));
    }
}
