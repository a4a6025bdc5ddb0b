using System.Globalization;

namespace IncidentMap.Api.Incidents;

/// <summary>RFC 3339 timestamps (offset required), plus the calendar forms incident dates use.</summary>
public static class Rfc3339
{
    private static readonly string[] DateTimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK",
    ];

    /// <summary>Parses a full RFC 3339 date-time; the offset (Z or ±hh:mm) is required.</summary>
    public static bool TryParseDateTime(string text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length < 17) return false;
        var last = text[^1];
        var hasOffset = last is 'Z' or 'z' || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        if (!hasOffset) return false;
        var normalised = text.Replace('t', 'T').Replace('z', 'Z');
        if (normalised.Length > 10 && normalised[10] == ' ') normalised = string.Concat(normalised.AsSpan(0, 10), "T", normalised.AsSpan(11));
        // RFC 3339 allows any number of fraction digits (Java's Instant writes nine); .NET reads seven,
        // and PostgreSQL keeps six anyway: digits beyond the seventh are dropped.
        if (normalised.Length > 20 && normalised[19] == '.')
        {
            var digits = normalised.AsSpan(20).IndexOfAnyExceptInRange('0', '9');
            if (digits > 7) normalised = string.Concat(normalised.AsSpan(0, 27), normalised.AsSpan(20 + digits));
        }
        return DateTimeOffset.TryParseExact(normalised, DateTimeFormats, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal, out value);
    }

    /// <summary>
    /// An incident date: a full date-time, a calendar date (yyyy-MM-dd, implies day precision) or a
    /// month (yyyy-MM, implies month precision).
    /// </summary>
    public static bool TryParseIncidentTime(string text, out DateTimeOffset value, out string? impliedPrecision)
    {
        impliedPrecision = null;
        if (TryParseDateTime(text, out value)) return true;
        if (DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            value = new DateTimeOffset(day, TimeSpan.Zero);
            impliedPrecision = "day";
            return true;
        }
        if (DateTime.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var month))
        {
            value = new DateTimeOffset(month, TimeSpan.Zero);
            impliedPrecision = "month";
            return true;
        }
        return false;
    }

    /// <summary>Start of the UTC day, ISO week (Monday) or month containing the instant.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value, string precision)
    {
        var utc = value.UtcDateTime;
        var result = precision switch
        {
            "day" => utc.Date,
            "week" => utc.Date.AddDays(-(((int)utc.DayOfWeek + 6) % 7)),
            "month" => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => utc,
        };
        return new DateTimeOffset(DateTime.SpecifyKind(result, DateTimeKind.Utc));
    }
}
