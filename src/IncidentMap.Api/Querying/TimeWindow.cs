using System.Globalization;
using System.Text.RegularExpressions;
using IncidentMap.Api.Incidents;

namespace IncidentMap.Api.Querying;

/// <summary>
/// The <c>datetime</c> parameter as a half-open window [From, Until) at microsecond resolution.
/// <list type="bullet">
/// <item>An instant (<c>2016-02-21T07:30:00Z</c>) is the window of that instant.</item>
/// <item>A date (<c>2016-02-21</c>) or month (<c>2016-02</c>) is the whole UTC day or month.</item>
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

    public static bool TryParse(string text, DateTimeOffset now, out DateTimeOffset? from, out DateTimeOffset? until, out string error)
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
                if (!TryBound(text, now, isStart: true, out var start, out _, out var openStart) || openStart
                    || !TryBound(text, now, isStart: false, out _, out var end, out var openEnd))
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
            if (!TryBound(left, now, isStart: true, out var start, out _, out var open)) { error = $"start '{left}' is not a date-time, a date, '..' or a duration"; return false; }
            from = open ? null : start;
        }
        if (!rightIsDuration)
        {
            if (!TryBound(right, now, isStart: false, out _, out var end, out var open)) { error = $"end '{right}' is not a date-time, a date, '..' or a duration"; return false; }
            until = open ? null : end;
        }

        try
        {
            if (leftIsDuration)
            {
                if (until is null) { error = "a duration needs a closed end to count back from"; return false; }
                from = Apply(until.Value, leftDuration, -1);
            }
            if (rightIsDuration)
            {
                if (from is null) { error = "a duration needs a closed start to count from"; return false; }
                until = Apply(from.Value, rightDuration, +1);
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
    private static bool TryBound(string text, DateTimeOffset now, bool isStart, out DateTimeOffset start, out DateTimeOffset end, out bool open)
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
        if (!Rfc3339.TryParseIncidentTime(text, out var calendar, out var precision)) return false;
        start = calendar;
        // The day after 9999-12-31 does not exist: that end is open.
        if (calendar.Year == 9999 && calendar.Month == 12 && (precision == "month" || calendar.Day == 31)) { open = !isStart; return true; }
        end = precision == "month" ? calendar.AddMonths(1) : calendar.AddDays(1);
        return true;
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

    private static DateTimeOffset Apply(DateTimeOffset at, Duration d, int sign) =>
        at.AddYears(sign * d.Years).AddMonths(sign * d.Months).AddDays(sign * d.Days).Add(sign * d.Time);
}
