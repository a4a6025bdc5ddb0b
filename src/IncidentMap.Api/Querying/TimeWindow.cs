using System.Globalization;
using System.Text.RegularExpressions;
using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Querying;

/// <summary>
/// The <c>datetime</c> parameter as a half-open window [From, Until) at microsecond resolution.
/// <list type="bullet">
/// <item>An instant (<c>2016-02-21T07:30:00Z</c>) is the window of that instant.</item>
/// <item>A date (<c>2016-02-21</c>) or month (<c>2016-02</c>) is the whole UTC day or month; with a time
///   zone (the stats endpoints' <c>tz</c>) the whole local day or month there.</item>
/// <item>An interval <c>a/b</c> includes both ends; a date as end includes that whole day.
///   <c>..</c> or an empty string is an open end; so is an end at or after 9999-12-31T00:00:00Z (QGIS
///   sends 9999-12-31 for "no end"; an earlier time in 9999 is an end like any other).</item>
/// <item>Year 0000 (1 BC) is read like any other year. No incident can be dated before 0001-01-01T00:00:00Z
///   (.NET's first instant), so a start before it is open and an end before it matches nothing.</item>
/// <item>Durations (ISO 8601, e.g. <c>PT24H</c>, <c>P7D</c>, <c>P1M</c>) with one bound:
///   <c>PT24H/now</c> is the last 24 hours, <c>P1M/2016-02-29</c> is February 2016 (the month up to
///   the end of the 29th), <c>2016-02-01/P1M</c> the same; a duration alone means "up to now". A duration
///   of zero (<c>P0D</c>) is refused: its window holds nothing.</item>
/// <item><c>now</c> is the time of the request.</item>
/// </list>
/// </summary>
public static partial class TimeWindow
{
    private static readonly TimeSpan Microsecond = TimeSpan.FromTicks(10);

    /// <summary>Where a bound's end at or after this is open: QGIS writes 9999-12-31T00:00:00Z (or the date) for "no end".</summary>
    private static readonly DateTimeOffset OpenEndFrom = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    [GeneratedRegex(@"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")]
    private static partial Regex DurationPattern();

    /// <summary>
    /// Whether the window moves with the clock: an end is <c>now</c>, or it is a duration alone (up to now).
    /// A duration from or to a fixed time (<c>P1M/2016-02-29</c>) is a fixed window.
    /// </summary>
    public static bool IsRelative(string text)
    {
        var parts = text.Trim().Split('/').Select(part => part.Trim()).ToArray();
        return parts.Any(p => p.Equals("now", StringComparison.OrdinalIgnoreCase)) || parts is [var only] && TryDuration(only, out _);
    }

    /// <summary>
    /// A time the window reaches: <see cref="At"/> itself, or when <see cref="Early"/> the instant one
    /// Gregorian cycle (400 years) before it, which .NET cannot hold (year 0000). The calendar repeats
    /// every 400 years, so dates, zones' local mean times and durations count alike on the shifted one.
    /// </summary>
    private readonly record struct Point(DateTimeOffset At, bool Early)
    {
        /// <summary>UTC ticks from 0001-01-01, negative before it: for comparing.</summary>
        public long Ticks => Rfc3339.UtcTicks(At, Early);

        /// <summary>An instant meant <see cref="Rfc3339.GregorianCycle"/> before the one given: early if before 0001.</summary>
        public static Point Unshift(DateTimeOffset shifted)
        {
            var (at, early) = Rfc3339.Unshift(shifted);
            return new(at, early);
        }
    }

    /// <param name="zone">Where calendar dates and months are days and months (null: UTC). Instants
    /// keep their own offset; durations of days, months or years count in that zone's calendar.</param>
    public static bool TryParse(string text, DateTimeOffset now, out DateTimeOffset? from, out DateTimeOffset? until, out string error,
        TimeZoneInfo? zone = null)
    {
        from = until = null;
        error = "";
        text = text.Trim();
        var parts = text.Split('/');
        if (parts.Length > 2) { error = $"'{text}' has more than one '/'"; return false; }
        Point? start = null, end = null;

        if (parts.Length == 1)
        {
            if (TryDuration(text, out _)) parts = [text, "now"];
            else
            {
                // One value is both ends of its own window: read it as a start and as an end.
                if (text is "" or ".." || !TryBound(text, now, zone, out var first, out var next, out var noEnd))
                {
                    error = $"'{text}' is not an RFC 3339 date-time, a date, an interval or a duration";
                    return false;
                }
                (from, until) = Window(first, noEnd ? null : next);
                return true;
            }
        }

        var (left, right) = (parts[0].Trim(), parts[1].Trim());
        var leftIsDuration = TryDuration(left, out var leftDuration);
        var rightIsDuration = TryDuration(right, out var rightDuration);
        if (leftIsDuration && rightIsDuration) { error = "an interval cannot have a duration at both ends"; return false; }
        if ((leftIsDuration ? leftDuration : rightIsDuration ? rightDuration : null) is { FinerThanMicroseconds: true })
        {
            // As an instant's fraction is: PostgreSQL would cut PT0.0000001S to nothing, and the window would miss its own start.
            error = $"'{(leftIsDuration ? left : right)}' {Incidents.Rfc3339.FinerThanMicroseconds}";
            return false;
        }
        if ((leftIsDuration ? leftDuration : rightIsDuration ? rightDuration : null) is { IsZero: true })
        {
            error = $"'{(leftIsDuration ? left : right)}' is a duration of zero: the window would hold nothing; give a longer one";
            return false;
        }

        if (!leftIsDuration && left is not ("" or ".."))
        {
            if (!TryBound(left, now, zone, out var first, out _, out _)) { error = $"start '{left}' is not a date-time, a date, '..' or a duration"; return false; }
            start = first;
        }
        if (!rightIsDuration && right is not ("" or ".."))
        {
            if (!TryBound(right, now, zone, out var first, out var next, out var noEnd)) { error = $"end '{right}' is not a date-time, a date, '..' or a duration"; return false; }
            // QGIS sends 9999-12-31T00:00:00Z (or the date) for an open end; an earlier end is honoured.
            end = noEnd || first is { Early: false } && first.At >= OpenEndFrom ? null : next;
        }

        if (leftIsDuration)
        {
            if (end is null) { error = "a duration needs a closed end to count back from"; return false; }
            start = Apply(end.Value, leftDuration, -1, zone);
        }
        if (rightIsDuration)
        {
            if (start is null) { error = "a duration needs a closed start to count from"; return false; }
            end = Apply(start.Value, rightDuration, +1, zone);
        }

        // Equal ends are an empty window: 2016-02-22/2016-02-21 (the 21st as an end ends where the 22nd starts).
        if (start is { } s && end is { } e && s.Ticks >= e.Ticks) { error = $"start of '{text}' is after its end"; return false; }
        (from, until) = Window(start, end);
        return true;
    }

    /// <summary>
    /// The window [<paramref name="from"/>, <paramref name="until"/>) as a <c>datetime</c> that parses back to it:
    /// its first and last instants, <c>..</c> for an open end (a relative window pinned in a next link).
    /// </summary>
    public static string Format(DateTimeOffset? from, DateTimeOffset? until)
    {
        static string Instant(DateTimeOffset at) =>
            at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
        var start = from is { } f && f != DateTimeOffset.MinValue ? Instant(f) : "..";
        var end = until is { } u && u > DateTimeOffset.MinValue + Microsecond ? Instant(u - Microsecond) : "..";
        return start + "/" + end;
    }

    /// <summary>
    /// The window as the queries take it. Nothing is stored before 0001-01-01T00:00:00Z: a start before
    /// it is open, and an end before it (or at it) is that instant, which every incident is at or after.
    /// </summary>
    private static (DateTimeOffset? From, DateTimeOffset? Until) Window(Point? start, Point? end) =>
        (start is { Early: false } s ? s.At : null, end is { } e ? (e.Early ? DateTimeOffset.MinValue : e.At) : null);

    /// <summary>
    /// A bound as the window it stands for: its first instant and the instant after it, or
    /// <paramref name="noEnd"/> when nothing .NET can hold follows it (9999-12-31 as a date).
    /// </summary>
    private static bool TryBound(string text, DateTimeOffset now, TimeZoneInfo? zone, out Point start, out Point end, out bool noEnd)
    {
        start = end = default;
        noEnd = false;
        if (text.Equals("now", StringComparison.OrdinalIgnoreCase))
        {
            (start, end) = (new(now, false), new(now + Microsecond, false));
            return true;
        }
        // Year 0000 (QGIS sends it for "no start") is read 400 years later, where .NET has a calendar,
        // and moved back: it may still end in year 1 (0000-12-31T23:00:00-02:00, or a day of a zone west of UTC).
        if (Rfc3339.InYearZero(text) is { } shifted)
        {
            if (!TryBound(shifted, now, zone, out var first, out var next, out _)) return false;
            (start, end) = (Point.Unshift(first.At), Point.Unshift(next.At));
            return true;
        }
        // A time finer than a microsecond is QueryParser's to refuse, before this (9999-12-31T23:59:59.9999999Z is read here).
        if (Rfc3339.TryParseWritten(text, out var written) && written.InRange)
        {
            var instant = written.Utc;
            start = new(instant, false);
            // No instant follows the last one .NET can hold (9999-12-31T23:59:59.9999999Z).
            if (instant > DateTimeOffset.MaxValue - Microsecond) noEnd = true;
            else end = new(instant + Microsecond, false);
            return true;
        }
        // Late on 9999-12-31 west of UTC (23:00:00-02:00) is past the last instant .NET holds: nothing stored
        // follows it, and as an end it is open, as QGIS's 9999-12-31T00:00:00Z is.
        if (Rfc3339.TryParseBeyondCalendar(text, out _, out var beforeYear1) && !beforeYear1)
        {
            start = new(DateTimeOffset.MaxValue, false);
            noEnd = true;
            return true;
        }
        // GDAL 3.6's OAPIF driver sends a date compared in -where as "2016-02-01T": the date it means.
        if (text is [.., 'T'] && text.Length == 11 && Rfc3339.TryParseCalendar(text[..10], out _, out var dated) && dated == "day")
            text = text[..10];
        if (!Rfc3339.TryParseCalendar(text, out var calendar, out var precision)) return false;
        start = new(Local(calendar, zone), false);
        // The day after 9999-12-31 does not exist.
        if (calendar.Year == 9999 && calendar.Month == 12 && (precision == "month" || calendar.Day == 31)) { noEnd = true; return true; }
        end = new(Local(precision == "month" ? calendar.AddMonths(1) : calendar.AddDays(1), zone), false);
        return true;
    }

    /// <summary>
    /// The first instant at or after wall-clock time <paramref name="local"/> in <paramref name="zone"/>
    /// (UTC when null): the start of a local day is not always its midnight. Where clocks skip
    /// midnight (Asia/Damascus on 2016-03-25 went from 00:00 to 01:00) the day starts at the end of the
    /// gap; where midnight happens twice (America/Havana, 2016-11-06) at the first of them. Both
    /// offsets around the time are tried, the earliest instant whose local time is not before it wins.
    /// Offsets are the zone's to the second, as PostgreSQL has them (<see cref="ZoneOffsets"/>): a day of
    /// Africa/Monrovia in 1970 (−0:44:30) starts at 00:44:30Z, where .NET's whole minutes said 00:44:00Z.
    /// Outside the instants .NET can hold it clamps to the first or last one.
    /// </summary>
    public static DateTimeOffset Local(DateTime local, TimeZoneInfo? zone)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        if (zone is null || zone == TimeZoneInfo.Utc) return new DateTimeOffset(local, TimeSpan.Zero);
        var best = (DateTimeOffset?)null;
        foreach (var day in new[] { -1, 1 })
        {
            var probe = new DateTimeOffset(local, TimeSpan.Zero);
            probe = day < 0 ? (probe > DateTimeOffset.MinValue.AddDays(1) ? probe.AddDays(-1) : probe)
                            : (probe < DateTimeOffset.MaxValue.AddDays(-1) ? probe.AddDays(1) : probe);
            var offset = ZoneOffsets.At(probe, zone);
            var ticks = local.Ticks - offset.Ticks;
            if (ticks < DateTimeOffset.MinValue.UtcTicks) return DateTimeOffset.MinValue;
            if (ticks > DateTimeOffset.MaxValue.UtcTicks) return DateTimeOffset.MaxValue;
            var instant = new DateTimeOffset(ticks, TimeSpan.Zero);
            if (WallClock(instant, zone) >= local && (best is null || instant < best)) best = instant;
        }
        if (best is not null) return best.Value;
        // Two transitions within a day of each other: read it with the offset the zone names for it (.NET's,
        // to the minute), made exact by the offset at the instant that names.
        var guess = Clamp(local.Ticks - zone.GetUtcOffset(local).Ticks);
        return Clamp(local.Ticks - ZoneOffsets.At(guess, zone).Ticks);
    }

    private static DateTimeOffset Clamp(long utcTicks) =>
        utcTicks < DateTimeOffset.MinValue.UtcTicks ? DateTimeOffset.MinValue
        : utcTicks > DateTimeOffset.MaxValue.UtcTicks ? DateTimeOffset.MaxValue
        : new DateTimeOffset(utcTicks, TimeSpan.Zero);

    /// <param name="FinerThanMicroseconds">Its seconds have a nonzero digit after the sixth decimal.</param>
    private sealed record Duration(int Years, int Months, int Days, TimeSpan Time, bool FinerThanMicroseconds = false)
    {
        public bool IsZero => Years == 0 && Months == 0 && Days == 0 && Time == TimeSpan.Zero;
    }

    private static bool TryDuration(string text, out Duration duration)
    {
        duration = null!;
        var match = DurationPattern().Match(text.ToUpperInvariant());
        if (!match.Success) return false;
        int Part(int group) => match.Groups[group].Success ? int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        try
        {
            // decimal, not double: PT0.000035S as a double is 34.9 µs, which TimeSpan cut to 34 (review).
            var seconds = match.Groups[7].Success ? decimal.Parse(match.Groups[7].Value, CultureInfo.InvariantCulture) : 0;
            var fraction = match.Groups[7].Value.Split('.', ',') is [_, var digits] ? digits : "";
            duration = new Duration(Part(1), Part(2), checked(Part(3) * 7 + Part(4)),
                TimeSpan.FromHours(Part(5)) + TimeSpan.FromMinutes(Part(6)) + TimeSpan.FromTicks(checked((long)decimal.Truncate(seconds * TimeSpan.TicksPerSecond))),
                fraction.Length > 6 && fraction[6..].Any(d => d != '0'));
            return true;
        }
        catch (Exception e) when (e is OverflowException or FormatException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>
    /// The zone's wall-clock time at an instant, to the second as PostgreSQL's <c>AT TIME ZONE</c> has it
    /// (<see cref="ZoneOffsets"/>; UTC when null); at the edges of the calendar, the edge.
    /// </summary>
    public static DateTime WallClock(DateTimeOffset instant, TimeZoneInfo? zone)
    {
        if (zone is null) return instant.UtcDateTime;
        var ticks = instant.UtcTicks + ZoneOffsets.At(instant, zone).Ticks;
        return ticks < DateTime.MinValue.Ticks ? DateTime.MinValue : ticks > DateTime.MaxValue.Ticks ? DateTime.MaxValue : new DateTime(ticks);
    }

    /// <summary>
    /// Years, months and days on the zone's calendar (P1D across a clock change is 23 or 25 hours there),
    /// then the time. Past the last instant .NET holds the window is open (null); before the first it
    /// reaches before anything stored (an early point): the same to every query.
    /// </summary>
    private static Point? Apply(Point at, Duration d, int sign, TimeZoneInfo? zone)
    {
        try
        {
            var result = Apply(at.At, d, sign, zone);
            return at.Early ? Point.Unshift(result) : new Point(result, false);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            return sign > 0 ? null : new Point(DateTimeOffset.MinValue, true);
        }
    }

    private static DateTimeOffset Apply(DateTimeOffset at, Duration d, int sign, TimeZoneInfo? zone)
    {
        if (zone is null || zone == TimeZoneInfo.Utc || d is { Years: 0, Months: 0, Days: 0 })
            return at.AddYears(sign * d.Years).AddMonths(sign * d.Months).AddDays(sign * d.Days).Add(sign * d.Time);
        var local = WallClock(at, zone);
        return Local(local.AddYears(sign * d.Years).AddMonths(sign * d.Months).AddDays(sign * d.Days), zone).Add(sign * d.Time);
    }
}
