using System.Globalization;

namespace IncidentMap.Api.Incidents;

/// <summary>RFC 3339 timestamps (offset required), plus the calendar forms incident dates use.</summary>
public static partial class Rfc3339
{
    /// <summary>A date-time's wall-clock part, its offset read apart (<see cref="TryParseWritten"/>).</summary>
    private static readonly string[] LocalFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm",
    ];

    /// <summary>
    /// A date-time as written: its wall-clock time and its offset. RFC 3339 allows offsets to ±23:59 and .NET's
    /// DateTimeOffset to ±14:00, and the instant may fall before year 1 or after 9999 in UTC
    /// (<c>0001-01-01T00:30:00+01:00</c>), which it cannot hold either: these were "not an RFC 3339 date-time".
    /// </summary>
    public readonly record struct WrittenTime(DateTime Local, TimeSpan Offset)
    {
        /// <summary>The instant in UTC as ticks from 0001-01-01T00:00:00Z: negative before it, beyond <see cref="DateTime.MaxValue"/>'s in the year 10000.</summary>
        public long UtcTicks => Local.Ticks - Offset.Ticks;

        /// <summary>Whether .NET holds the instant (<see cref="Utc"/>).</summary>
        public bool InRange => UtcTicks >= 0 && UtcTicks <= DateTime.MaxValue.Ticks;

        /// <summary>The instant in UTC; only when <see cref="InRange"/>.</summary>
        public DateTimeOffset Utc => new(UtcTicks, TimeSpan.Zero);
    }

    /// <summary>
    /// The Gregorian calendar repeats every 400 years (146,097 days, whole weeks): a time in year 0000,
    /// which RFC 3339 allows and .NET cannot hold, is read in year 0400 and moved back by this.
    /// </summary>
    public static readonly TimeSpan GregorianCycle = TimeSpan.FromDays(146_097);

    /// <summary>
    /// A date-time, date or month in year 0000 written in year 0400 (<see cref="GregorianCycle"/> later),
    /// else null. Only times to compare with are read so; an incident cannot be dated before year 1.
    /// </summary>
    public static string? InYearZero(string text) =>
        text.StartsWith("0000-", StringComparison.Ordinal) ? "0400" + text[4..] : null;

    /// <summary>
    /// A time read <see cref="GregorianCycle"/> later (<see cref="InYearZero"/>) as meant: that instant in UTC when
    /// .NET holds it (a year-0000 time west of UTC may fall in year 1), else the shifted one, marked early.
    /// </summary>
    public static (DateTimeOffset At, bool Early) Unshift(DateTimeOffset shifted) =>
        shifted.UtcTicks >= GregorianCycle.Ticks
            ? (new DateTimeOffset(shifted.UtcTicks - GregorianCycle.Ticks, TimeSpan.Zero), false)
            : (shifted.ToUniversalTime(), true);

    /// <summary>
    /// An RFC 3339 date-time whose date .NET holds but whose instant it does not: in year 1 east of UTC, still
    /// year 0000 in UTC (<c>0001-01-01T00:00:00+01:00</c>), read <see cref="GregorianCycle"/> later and marked
    /// early; or on 9999-12-31 west of UTC, in year 10000 (<c>23:00:00-02:00</c>), after every time .NET holds and
    /// so its last, <see cref="DateTimeOffset.MaxValue"/> (which Npgsql sends as infinity). False for anything else.
    /// </summary>
    public static bool TryParseBeyondCalendar(string text, out DateTimeOffset at, out bool early)
    {
        (at, early) = (default, false);
        // TryParseWritten reads the instant whatever it is; only one outside .NET's range is this method's.
        if (IsFinerThanMicroseconds(text) || !TryParseWritten(text, out var written) || written.InRange) return false;
        if (written.UtcTicks < 0) (at, early) = (new DateTimeOffset(written.UtcTicks + GregorianCycle.Ticks, TimeSpan.Zero), true);
        else at = DateTimeOffset.MaxValue;
        return true;
    }

    /// <summary>UTC ticks from 0001-01-01 of a time, negative for an <paramref name="early"/> one (given <see cref="GregorianCycle"/> later): for comparing.</summary>
    public static long UtcTicks(DateTimeOffset at, bool early) => at.UtcTicks - (early ? GregorianCycle.Ticks : 0);

    /// <summary>Why a time to compare with is refused when <see cref="IsFinerThanMicroseconds"/>.</summary>
    public const string FinerThanMicroseconds =
        "is finer than a microsecond; PostgreSQL keeps microseconds, so give at most 6 digits after the seconds (zeros after them are fine)";

    /// <summary>
    /// Parses a full RFC 3339 date-time to compare stored times with, in UTC; the offset (Z or ±hh:mm, to ±23:59) is
    /// required. One finer than a microsecond is refused (<see cref="IsFinerThanMicroseconds"/>): cut to
    /// the microsecond, 07:30:00.0000001 would equal an incident at 07:30:00. False for an instant .NET cannot
    /// hold (<see cref="TryParseBeyondCalendar"/> reads those).
    /// </summary>
    public static bool TryParseDateTime(string text, out DateTimeOffset value)
    {
        value = default;
        if (IsFinerThanMicroseconds(text) || !TryParseWritten(text, out var written) || !written.InRange) return false;
        value = written.Utc;
        return true;
    }

    /// <summary>Whether a date-time's fraction of a second has a digit other than 0 after the sixth.</summary>
    public static bool IsFinerThanMicroseconds(string text)
    {
        if (text.Length <= 26 || text[19] != '.') return false;
        var digits = text.AsSpan(20);
        var end = digits.IndexOfAnyExceptInRange('0', '9');
        return (end < 0 ? digits : digits[..end]) is { Length: > 6 } fraction && fraction[6..].IndexOfAnyExcept('0') >= 0;
    }

    /// <summary>
    /// A full RFC 3339 date-time as written (its calendar date is its offset's), whatever instant it names. The
    /// offset is read here, not by .NET, which refuses one beyond ±14:00 and an instant outside years 1 to 9999 in UTC.
    /// </summary>
    public static bool TryParseWritten(string text, out WrittenTime value)
    {
        value = default;
        if (text.Length < 17) return false;
        var normalised = text.Replace('t', 'T').Replace('z', 'Z');
        if (normalised.Length > 10 && normalised[10] == ' ') normalised = string.Concat(normalised.AsSpan(0, 10), "T", normalised.AsSpan(11));
        TimeSpan offset;
        if (normalised[^1] == 'Z')
        {
            offset = TimeSpan.Zero;
            normalised = normalised[..^1];
        }
        else if (normalised[^6] is '+' or '-' && normalised[^3] == ':'
                 && TwoDigits(normalised.AsSpan(normalised.Length - 5, 2)) is var hours and >= 0 and <= 23
                 && TwoDigits(normalised.AsSpan(normalised.Length - 2, 2)) is var minutes and >= 0 and <= 59)
        {
            offset = new TimeSpan(hours, minutes, 0);
            if (normalised[^6] == '-') offset = -offset;
            normalised = normalised[..^6];
        }
        else return false;
        // RFC 3339 allows any number of fraction digits (Java's Instant writes nine); .NET reads seven,
        // and PostgreSQL keeps six anyway: digits beyond the seventh are dropped.
        if (normalised.Length > 27 && normalised[19] == '.' && normalised.AsSpan(20).IndexOfAnyExceptInRange('0', '9') < 0)
            normalised = normalised[..27];
        if (!DateTime.TryParseExact(normalised, LocalFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)) return false;
        value = new WrittenTime(local, offset);
        return true;
    }

    /// <summary>
    /// Why an RFC 3339 date-time at second 60 is refused, or null for any other text. RFC 3339 allows a leap second
    /// (§5.6, §5.7: 2016-12-31T23:59:60Z); PostgreSQL's timestamps have none, nor has .NET, so it can be neither stored
    /// nor compared with: said as such (it was "not an RFC 3339 date-time"), with the second before it to write instead.
    /// Second 60 of a time that is otherwise no date-time (a 32nd day) is left to be called that.
    /// </summary>
    public static string? LeapSecond(string text)
    {
        if (text.Length < 20 || text[16] != ':' || text[17] != '6' || text[18] != '0') return null;
        var before = string.Concat(text.AsSpan(0, 17), "59", text.AsSpan(19));
        return TryParseWritten(before, out _) ? $"is a leap second (second 60), which PostgreSQL cannot store; write {before} instead" : null;
    }

    /// <summary>Two ASCII digits as a number, else -1.</summary>
    private static int TwoDigits(ReadOnlySpan<char> text) =>
        text is [>= '0' and <= '9', >= '0' and <= '9'] ? (text[0] - '0') * 10 + text[1] - '0' : -1;

    /// <summary>A calendar date (yyyy-MM-dd, precision day) or month (yyyy-MM, precision month).</summary>
    public static bool TryParseCalendar(string text, out DateTime date, out string precision)
    {
        precision = "day";
        if (DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date)) return true;
        precision = "month";
        return DateTime.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
    }

    /// <summary>
    /// An incident date: a full date-time (as written, see <see cref="Truncate"/>), a calendar date
    /// (yyyy-MM-dd, implies day precision) or a month (yyyy-MM, implies month precision), these two at UTC.
    /// </summary>
    public static bool TryParseIncidentTime(string text, out WrittenTime value, out string? impliedPrecision)
    {
        impliedPrecision = null;
        if (TryParseWritten(text, out value)) return true;
        if (!TryParseCalendar(text, out var date, out var precision)) return false;
        value = new WrittenTime(date, TimeSpan.Zero);
        impliedPrecision = precision;
        return true;
    }

    /// <summary>
    /// The instant in UTC, or the day, ISO week (from Monday) or month it falls in, on the calendar of the
    /// offset it was written in, as that date at 00:00 UTC (where a date written alone is kept).
    /// 2016-02-21T01:00:00+03:00 with day precision is the 21st, as its writer meant, though the instant
    /// is still the 20th in UTC.
    /// </summary>
    /// <returns>UTC ticks of what is stored, from 0001-01-01T00:00:00Z; outside .NET's range for an exact time it
    /// cannot hold (<see cref="OutsideStorableYears"/> says why).</returns>
    public static long Truncate(WrittenTime value, string precision)
    {
        var written = value.Local;
        return precision switch
        {
            "day" => written.Date.Ticks,
            "week" => written.Date.AddDays(-(((int)written.DayOfWeek + 6) % 7)).Ticks, // 0001-01-01 is a Monday
            "month" => new DateTime(written.Year, written.Month, 1).Ticks,
            // Whole microseconds, as PostgreSQL keeps them, cut toward the past: Npgsql divides the ticks since 2000
            // by ten, which rounded a time before 2000 up (1999-12-31T23:59:59.9999999Z was stored as 2000).
            _ => value.UtcTicks - ((value.UtcTicks % 10 + 10) % 10),
        };
    }

    /// <summary>Why an instant .NET cannot hold (UTC ticks before year 1 or after 9999) cannot be stored, or null.</summary>
    public static string? BeyondCalendar(long utcTicks) =>
        utcTicks < 0 ? "is before the first instant of year 1 in UTC, which cannot be stored; give a time after it"
        : utcTicks > DateTime.MaxValue.Ticks ? "runs into the year 10000 in UTC, which clients cannot read back; give a time within 9999"
        : null;

    /// <summary>
    /// Why an incident's stored time (<see cref="Truncate"/>, UTC ticks) cannot be stored, or null. Npgsql sends .NET's
    /// first instant, 0001-01-01T00:00:00Z, as PostgreSQL's -infinity, which histories and statistics then showed; a
    /// day, week or month ending after 9999-12-31 ends in a year .NET cannot read back (the collection's extent was a
    /// 500 for every client); and an exact time before or after those years in UTC is one no client can read.
    /// </summary>
    public static string? OutsideStorableYears(long start, string precision)
    {
        if (BeyondCalendar(start) is { } beyond) return beyond;
        if (start == 0) return $"{(precision == "exact" ? "is" : $"as a {precision} starts at")} the first instant of year 1, which PostgreSQL clients read as -infinity; give a time after it";
        var first = new DateTime(start);
        var length = precision switch
        {
            "day" => TimeSpan.FromDays(1),
            "week" => TimeSpan.FromDays(7),
            "month" => TimeSpan.FromDays(DateTime.DaysInMonth(first.Year, first.Month)),
            _ => TimeSpan.Zero,
        };
        return DateTime.MaxValue.Ticks - start < length.Ticks
            ? $"as a {precision} runs into the year 10000, which clients cannot read back; a {precision} must end within 9999 (the last whole day is 9999-12-30)"
            : null;
    }

    /// <summary>
    /// A source's published_at as stored: a date or month as written, a date-time in UTC with its
    /// fraction of a second (if any).
    /// </summary>
    /// <param name="beyond">Why a date-time that parses cannot be kept (<see cref="BeyondCalendar"/>), else null.</param>
    public static string? NormalisePublished(string text, out string? beyond)
    {
        beyond = null;
        if (!TryParseIncidentTime(text, out var value, out var implied)) return null;
        if (implied is not null) return text;
        if (BeyondCalendar(value.UtcTicks) is { } why)
        {
            beyond = why;
            return null;
        }
        return value.Utc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
    }
}
