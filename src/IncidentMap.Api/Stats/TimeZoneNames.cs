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
    private static volatile IReadOnlyDictionary<string, string>? _names;

    /// <summary>The canonical name and the zone for <paramref name="text"/>, or null when it is no zone we take.</summary>
    public static async Task<(string Name, TimeZoneInfo Zone)?> FindAsync(string text, IncidentReader reader, CancellationToken ct)
    {
        var names = _names ??= await LoadAsync(reader, ct);
        // Dates in datetime are converted here, the incidents' instants in PostgreSQL: both read the
        // system's tz database, so a name .NET cannot find is refused rather than half-used.
        return names.TryGetValue(text, out var name) && TimeZoneInfo.TryFindSystemTimeZoneById(name, out var zone) ? (name, zone) : null;
    }

    private static async Task<IReadOnlyDictionary<string, string>> LoadAsync(IncidentReader reader, CancellationToken ct)
    {
        var rows = await reader.ListAsync<string>("""
            SELECT name FROM pg_timezone_names
            WHERE name !~* '^(posix|right)/' AND name NOT IN ('localtime', 'posixrules')
            ORDER BY name
            """, new DynamicParameters(), ct);
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in rows) names.TryAdd(name, name);
        return names;
    }
}
