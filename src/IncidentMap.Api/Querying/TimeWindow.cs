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
///   <c>..</c> or an empty string is an open end; years 0000 and 9999 count as open too (QGIS sends them).</item>
/// <item>Durations (ISO 8601, e.g. <c>PT24H</c>, <c>P7D</c>, <c>P1M</c>) with one bound:
///   <c>PT24H/now</c> is the last 24 hours, <c>P1M/2016-02-29</c> is February 2016 (the month up to
///   the end of the 29th), <c>2016-02-01/P1M</c> the same; a duration alone means "up to now".</item>
/// <item><c>now</c> is the time of the request.</item>
/// </list>
/// </summary>
public static partial class TimeWindow
{
    private static readonly TimeSpan Microsecond = TimeSpan.FromTicks(10);

    [GeneratedRegex(@"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")]
    private static partial Regex DurationPattern();

    /// <summary>Whether the window moves with the clock: it has a duration or a 'now' end.</summary>
    public static bool IsRelative(string text) =>
        text.Trim().Split('/').Any(part => part.Trim() is var p && (p.Equals("now", StringComparison.OrdinalIgnoreCase) || TryDuration(p, out _)));

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

        if (parts.Length == 1)
        {
            if (TryDuration(text, out _)) parts = [text, "now"];
            else
            {
                // One value is both ends of its own window: read it as a start and as an end.
                if (!TryBound(text, now, zone, isStart: true, out var start, out _, out var openStart) || openStart
                    || !TryBound(text, now, zone, isStart: false, out _, out var end, out var openEnd))
                {
                    error = $"'{text}' is not an RFC 3339 date-time, a date, an interval or a duration";
                    return false;
                }
                (from, until) = (start, openEnd ? null : end);
                return true;
            }
        }

        var (left, right) = (parts[0].Trim(), parts[1].Trim());
        var leftIsDuration = TryDuration(left, out var leftDuration);
        var rightIsDuration = TryDuration(right, out var rightDuration);
        if (leftIsDuration && rightIsDuration) { error = "an interval cannot have a duration at both ends"; return false; }

        if (!leftIsDuration)
        {
            if (!TryBound(left, now, zone, isStart: true, out var start, out _, out var open)) { error = $"start '{left}' is not a date-time, a date, '..' or a duration"; return false; }
            from = open ? null : start;
        }
        if (!rightIsDuration)
        {
            if (!TryBound(right, now, zone, isStart: false, out _, out var end, out var open)) { error = $"end '{right}' is not a date-time, a date, '..' or a duration"; return false; }
            until = open ? null : end;
        }

        try
        {
            if (leftIsDuration)
            {
                if (until is null) { error = "a duration needs a closed end to count back from"; return false; }
                from = Apply(until.Value, leftDuration, -1, zone);
            }
            if (rightIsDuration)
            {
                if (from is null) { error = "a duration needs a closed start to count from"; return false; }
                until = Apply(from.Value, rightDuration, +1, zone);
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            error = $"'{text}' reaches outside the supported years 1 to 9999";
            return false;
        }

        // Equal ends are an empty window: 2016-02-22/2016-02-21 (the 21st as an end ends where the 22nd starts).
        if (from >= until) { error = $"start of '{text}' is after its end"; return false; }
        return true;
    }

    /// <summary>A bound as the window it stands for: its first instant and the instant after it.</summary>
    private static bool TryBound(string text, DateTimeOffset now, TimeZoneInfo? zone, bool isStart, out DateTimeOffset start, out DateTimeOffset end, out bool open)
    {
        start = end = default;
        open = text is "" or "..";
        if (open) return true;
        if (text.Equals("now", StringComparison.OrdinalIgnoreCase))
        {
            (start, end) = (now, now + Microsecond);
            return true;
        }
        // Clients use year 0000 and 9999 for "unbounded"; 0000 is not representable anyway.
        if (text.StartsWith(isStart ? "0000-" : "9999-", StringComparison.Ordinal))
        {
            var representable = "0001" + text[4..];
            open = Rfc3339.TryParseDateTime(representable, out _) || Rfc3339.TryParseIncidentTime(representable, out _, out _);
            return open;
        }
        if (Rfc3339.TryParseDateTime(text, out var instant))
        {
            start = instant;
            // No instant follows the last one .NET can hold (9999-12-31T23:59:59.9999999Z): that end is open.
            if (instant > DateTimeOffset.MaxValue - Microsecond) open = !isStart;
            else end = instant + Microsecond;
            return true;
        }
        // GDAL 3.6's OAPIF driver sends a date compared in -where as "2016-02-01T": the date it means.
        if (text is [.., 'T'] && text.Length == 11 && Rfc3339.TryParseIncidentTime(text[..10], out _, out var dated) && dated == "day")
            text = text[..10];
        if (!Rfc3339.TryParseIncidentTime(text, out var calendar, out var precision)) return false;
        start = Local(calendar.DateTime, zone);
        // The day after 9999-12-31 does not exist: that end is open.
        if (calendar.Year == 9999 && calendar.Month == 12 && (precision == "month" || calendar.Day == 31)) { open = !isStart; return true; }
        end = Local(precision == "month" ? calendar.DateTime.AddMonths(1) : calendar.DateTime.AddDays(1), zone);
        return true;
    }

    /// <summary>
    /// The first instant at or after wall-clock time <paramref name="local"/> in <paramref name="zone"/>
    /// (UTC when null): the start of a local day is not always its midnight. Where clocks skip
    /// midnight (Asia/Damascus on 2016-03-25 went from 00:00 to 01:00) the day starts at the end of the
    /// gap; where midnight happens twice (America/Havana, 2016-11-06) at the first of them. Both
    /// offsets around the time are tried, the earliest instant whose local time is not before it wins.
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
            var offset = zone.GetUtcOffset(probe);
            var ticks = local.Ticks - offset.Ticks;
            if (ticks < DateTimeOffset.MinValue.UtcTicks) return DateTimeOffset.MinValue;
            if (ticks > DateTimeOffset.MaxValue.UtcTicks) return DateTimeOffset.MaxValue;
            var instant = new DateTimeOffset(ticks, TimeSpan.Zero);
            if (WallClock(instant, zone) >= local && (best is null || instant < best)) best = instant;
        }
        // Two transitions within a day of each other: read it with the offset the zone names for it.
        return best ?? new DateTimeOffset(local.Ticks - zone.GetUtcOffset(local).Ticks, TimeSpan.Zero);
    }

    private sealed record Duration(int Years, int Months, int Days, TimeSpan Time);

    private static bool TryDuration(string text, out Duration duration)
    {
        duration = null!;
        var match = DurationPattern().Match(text.ToUpperInvariant());
        if (!match.Success) return false;
        int Part(int group) => match.Groups[group].Success ? int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        try
        {
            var seconds = match.Groups[7].Success ? double.Parse(match.Groups[7].Value, CultureInfo.InvariantCulture) : 0;
            duration = new Duration(Part(1), Part(2), checked(Part(3) * 7 + Part(4)),
                TimeSpan.FromHours(Part(5)) + TimeSpan.FromMinutes(Part(6)) + TimeSpan.FromSeconds(seconds));
            return true;
        }
        catch (Exception e) when (e is OverflowException or FormatException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>The zone's wall-clock time at an instant; at the edges of the calendar, the edge.</summary>
    private static DateTime WallClock(DateTimeOffset instant, TimeZoneInfo zone)
    {
        try { return TimeZoneInfo.ConvertTime(instant, zone).DateTime; }
        catch (ArgumentOutOfRangeException) { return instant.Year < 5000 ? DateTime.MinValue : DateTime.MaxValue; }
    }

    /// <summary>Years, months and days on the zone's calendar (P1D across a clock change is 23 or 25 hours there), then the time.</summary>
    private static DateTimeOffset Apply(DateTimeOffset at, Duration d, int sign, TimeZoneInfo? zone)
    {
        if (zone is null || zone == TimeZoneInfo.Utc || d is { Years: 0, Months: 0, Days: 0 })
            return at.AddYears(sign * d.Years).AddMonths(sign * d.Months).AddDays(sign * d.Days).Add(sign * d.Time);
        var local = WallClock(at, zone);
        return Local(local.AddYears(sign * d.Years).AddMonths(sign * d.Months).AddDays(sign * d.Days), zone).Add(sign * d.Time);
    }
}
