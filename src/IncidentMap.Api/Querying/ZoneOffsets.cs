using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace IncidentMap.Api.Querying;

/// <summary>
/// A time zone's UTC offset at an instant to the second, as PostgreSQL has it. .NET's TimeZoneInfo keeps
/// offsets to whole minutes, and local mean time has seconds: Africa/Monrovia was −0:44:30 until 1972,
/// Europe/Amsterdam +0:19:32 until 1937, Europe/Dublin −0:25:21 until 1916. PostgreSQL cut the stats'
/// buckets with the exact offset while the window's ends and the buckets' starts were .NET's, up to 59 s
/// off: a local day began 30 s early in Monrovia, took in an incident of the day before and came back as
/// two buckets. So the offsets are read here from the zone's TZif file in the tz database, the file
/// PostgreSQL reads (built --with-system-tzdata, as Debian's and the postgis image's are; .NET reads the
/// same directory, <c>TZDIR</c> or /usr/share/zoneinfo), as PostgreSQL reads it (RFC 8536): before the first
/// transition the first local time type, between transitions the type each one names. After the last
/// transition the file's footer rule governs, which .NET applies too, and whose offsets are whole minutes.
/// A zone without a readable file (or with leap seconds, which tz refuses anyway) keeps .NET's offsets.
/// </summary>
internal static class ZoneOffsets
{
    /// <summary>A zone's transitions (seconds since 1970, ascending), the offset in seconds from each on, the offset before the first, and whether a footer rule follows the last.</summary>
    internal sealed record Table(long[] Transitions, int[] Offsets, int Before, bool Footer);

    private static readonly ConcurrentDictionary<string, Table?> Tables = new(StringComparer.Ordinal);

    /// <summary>The offset of <paramref name="zone"/> from UTC at <paramref name="instant"/>, to the second.</summary>
    public static TimeSpan At(DateTimeOffset instant, TimeZoneInfo zone)
    {
        if (ReferenceEquals(zone, TimeZoneInfo.Utc)) return TimeSpan.Zero;
        if (For(zone) is not { } table) return zone.GetUtcOffset(instant);
        // Whole seconds, rounded down: transitions are at whole seconds.
        var seconds = instant.ToUnixTimeSeconds();
        var transitions = table.Transitions;
        if (transitions.Length > 0 && seconds < transitions[0]) return TimeSpan.FromSeconds(table.Before);
        if (transitions.Length == 0 || seconds >= transitions[^1])
        {
            if (table.Footer) return zone.GetUtcOffset(instant);
            return TimeSpan.FromSeconds(transitions.Length == 0 ? table.Before : table.Offsets[^1]);
        }
        var index = Array.BinarySearch(transitions, seconds);
        if (index < 0) index = ~index - 1;   // the last transition at or before it
        return TimeSpan.FromSeconds(table.Offsets[index]);
    }

    /// <summary>The zone's table, read once per process; null when there is none to read.</summary>
    internal static Table? For(TimeZoneInfo zone) => Tables.GetOrAdd(zone.Id, LoadTable);

    private static readonly Func<string, Table?> LoadTable = Load;

    private static Table? Load(string id)
    {
        // Ids come from pg_timezone_names (TimeZoneNames) or the tests: never a path out of the directory.
        if (id.Length == 0 || id.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(id)) return null;
        var directory = Environment.GetEnvironmentVariable("TZDIR") is { Length: > 0 } tzdir ? tzdir : "/usr/share/zoneinfo";
        try
        {
            return Parse(File.ReadAllBytes(Path.Combine(directory, id)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>A TZif file (RFC 8536): version 2 or later's 64-bit block when there is one, else version 1's.</summary>
    internal static Table? Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 44 || !data[..4].SequenceEqual("TZif"u8)) return null;
        var version = data[4];
        var (block, timeSize) = (0, 4);
        if (version >= (byte)'2')
        {
            block = 44 + BlockLength(data, 4);
            timeSize = 8;
            if (data.Length < block + 44 || !data.Slice(block, 4).SequenceEqual("TZif"u8)) return null;
        }
        var header = data[block..];
        var (isUtCount, isStdCount, leapCount, timeCount, typeCount, charCount) =
            (Count(header, 0), Count(header, 1), Count(header, 2), Count(header, 3), Count(header, 4), Count(header, 5));
        // Leap seconds (the right/ zones, which tz refuses) would make the transitions TAI-like: not ours to read.
        if (leapCount > 0 || typeCount == 0) return null;
        var at = block + 44;
        var transitions = new long[timeCount];
        for (var i = 0; i < timeCount; i++, at += timeSize)
            transitions[i] = timeSize == 8 ? BinaryPrimitives.ReadInt64BigEndian(data.Slice(at, 8)) : BinaryPrimitives.ReadInt32BigEndian(data.Slice(at, 4));
        var typeOf = data.Slice(at, timeCount).ToArray();
        at += timeCount;
        var typeOffsets = new int[typeCount];
        for (var j = 0; j < typeCount; j++) typeOffsets[j] = BinaryPrimitives.ReadInt32BigEndian(data.Slice(at + 6 * j, 4));
        at += 6 * typeCount + charCount + leapCount * (timeSize + 4) + isStdCount + isUtCount;
        var offsets = new int[timeCount];
        for (var i = 0; i < timeCount; i++)
        {
            if (typeOf[i] >= typeCount) return null;
            offsets[i] = typeOffsets[typeOf[i]];
        }
        // The footer: "\n" TZ-string "\n"; an empty string says no rule follows the last transition.
        var footer = timeSize == 8 && data.Length > at + 1 && data[at] == (byte)'\n' && data[at + 1] != (byte)'\n';
        return new Table(transitions, offsets, typeOffsets[0], footer);
    }

    /// <summary>The length of a version 1 data block after its header.</summary>
    private static int BlockLength(ReadOnlySpan<byte> header, int timeSize) =>
        checked(Count(header, 3) * timeSize + Count(header, 3) + Count(header, 4) * 6 + Count(header, 5) +
                Count(header, 2) * (timeSize + 4) + Count(header, 1) + Count(header, 0));

    /// <summary>A header's nth count: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.</summary>
    private static int Count(ReadOnlySpan<byte> header, int n) => checked((int)BinaryPrimitives.ReadUInt32BigEndian(header.Slice(20 + 4 * n, 4)));
}
