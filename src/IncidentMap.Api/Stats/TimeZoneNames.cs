using Dapper;
using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Stats;

/// <summary>
/// The time zones <c>tz</c> takes: the IANA names PostgreSQL knows (pg_timezone_names), matched
/// case-insensitively as PostgreSQL does and answered with their own spelling. Left out: the
/// <c>posix/</c> copies and the <c>right/</c> ones, which count leap seconds and so put every
/// local midnight some 27 seconds off, and the file names <c>localtime</c> and <c>posixrules</c>,
/// which are no zones of their own. The list is read once per process: it only changes with the
/// server's tz database.
/// </summary>
internal static class TimeZoneNames
{
    /// <summary>A zone we take: its canonical name, and the name the SQL gives AT TIME ZONE (null: refused).</summary>
    private sealed record Known(string Name, string? Sql, TimeSpan? Abbreviation);

    private static volatile IReadOnlyDictionary<string, Known>? _names;

    /// <summary>
    /// The canonical name, the zone and the name to give PostgreSQL's AT TIME ZONE for <paramref name="text"/>,
    /// or null when it is no zone we take.
    /// </summary>
    public static async Task<(string Name, TimeZoneInfo Zone, string Sql)?> FindAsync(string text, IncidentReader reader, CancellationToken ct)
    {
        var names = _names ??= await LoadAsync(reader, ct);
        // Dates in datetime are converted here, the incidents' instants in PostgreSQL: both read the
        // system's tz database, so a name .NET cannot find is refused rather than half-used.
        if (!names.TryGetValue(text, out var known) || !TimeZoneInfo.TryFindSystemTimeZoneById(known.Name, out var zone)) return null;
        if (known.Sql is { } sql) return (known.Name, zone, sql);
        // An abbreviation without a posix/ twin: AT TIME ZONE reads its fixed offset, which is the zone only
        // when the zone never had another (UTC, GMT where tz keeps them fixed).
        return ZoneOffsets.For(zone) is { } table && !zone.SupportsDaylightSavingTime &&
               table.Offsets.Append(table.Before).All(o => TimeSpan.FromSeconds(o) == known.Abbreviation)
            ? (known.Name, zone, known.Name)
            : null;
    }

    private static async Task<IReadOnlyDictionary<string, Known>> LoadAsync(IncidentReader reader, CancellationToken ct)
    {
        // AT TIME ZONE reads a name as an abbreviation first (pg_timezone_abbrevs, any case): CET, EET, MET
        // and WET, zones with summer time, were a fixed UTC+1, +2, +1 and +0 there, while the window's ends
        // were the zone's. Such a name goes to PostgreSQL as its posix/ twin (the same zone file, under a
        // name no abbreviation has) when the server has one.
        var rows = await reader.ListAsync<(string Name, string? Sql, TimeSpan? Abbreviation)>("""
            WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names)
            SELECT z.name,
                   CASE WHEN a.abbrev IS NULL THEN z.name
                        ELSE (SELECT p.name FROM zones p WHERE p.name = 'posix/' || z.name) END AS sql,
                   a.utc_offset AS abbreviation
            FROM zones z
            LEFT JOIN (SELECT DISTINCT ON (upper(abbrev)) upper(abbrev) AS abbrev, utc_offset FROM pg_timezone_abbrevs ORDER BY upper(abbrev), utc_offset) a
                   ON a.abbrev = upper(z.name)
            WHERE z.name !~* '^(posix|right)/' AND z.name NOT IN ('localtime', 'posixrules')
            ORDER BY z.name
            """, new DynamicParameters(), ct);
        var names = new Dictionary<string, Known>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, sql, abbreviation) in rows) names.TryAdd(name, new Known(name, sql, abbreviation));
        return names;
    }
}
