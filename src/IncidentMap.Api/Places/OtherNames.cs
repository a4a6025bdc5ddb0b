namespace IncidentMap.Api.Places;

/// <summary>
/// GeoNames' alternate names of a place that the gazetteer keeps as its other names (migration 0046): searched and
/// geocoded, ranked below the place's own names. The shipped gazetteer's were chosen by this rule
/// (db/gazetteer/build.mjs writes the same in JavaScript; OtherNamesTests holds the file to it), and
/// <c>places import</c> applies it to a dump's.
/// </summary>
public static class OtherNames
{
    /// <summary>At most this many a place: a dump line lists up to several hundred, most in other scripts.</summary>
    public const int MaxPerPlace = 200;

    /// <summary>
    /// Whether an alternate name is worth searching: letters of the Latin and Arabic scripts (with their marks,
    /// spaces, digits, hyphens, periods, parentheses and apostrophe-like marks; other scripts are not searched by
    /// anyone this service's users write for, and would only add exact matches elsewhere); a Latin name has a capital
    /// (GeoNames' lower-case names are machine romanisations of other scripts: "su er te", "hlb"); not a code (2 to 5
    /// capitals or digits: the airport's "ALP"); at most 200 characters.
    /// </summary>
    public static bool Keep(string name)
    {
        if (name.Length is 0 or > PlaceInput.MaxNameLength) return false;
        bool letter = false, arabic = false, capital = false, code = name.Length is >= 2 and <= 5;
        foreach (var c in name)
        {
            if (IsLatin(c)) { letter = true; capital |= char.IsUpper(c); }
            // Only its letters make a name Arabic: the block also holds a comma, digits and marks (review).
            else if (IsArabic(c)) { if (char.IsLetter(c)) letter = arabic = true; }
            else if (!(c is >= '0' and <= '9' or ' ' or '\'' or '`' or '-' or '.' or '(' or ')' or '\u00B4' or '\u2018' or '\u2019'
                       or >= '\u02B0' and <= '\u02FF' or >= '\u0300' and <= '\u036F'))
                return false;
            code &= c is >= 'A' and <= 'Z' or >= '0' and <= '9';
        }
        return letter && !code && (arabic || capital);
    }

    private static bool IsLatin(char c) =>
        c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '\u00C0' and <= '\u00D6' or >= '\u00D8' and <= '\u00F6'
            or >= '\u00F8' and <= '\u024F' or >= '\u1E00' and <= '\u1EFF';

    private static bool IsArabic(char c) =>
        c is >= '\u0600' and <= '\u06FF' or >= '\u0750' and <= '\u077F' or >= '\u08A0' and <= '\u08FF'
            or >= '\uFB50' and <= '\uFDFF' or >= '\uFE70' and <= '\uFEFF';

    /// <summary>
    /// The names of a GeoNames list (comma-separated, as a dump's column 4) that are kept: each without the spaces
    /// around it (only spaces: build.mjs trims the same), once, in order, without the place's own name, at most
    /// <see cref="MaxPerPlace"/>.
    /// </summary>
    public static string[] From(string list, string name) =>
        From(list.Split(',').Select(n => n.Trim(' ')), name);

    /// <summary>The names that are kept of <paramref name="names"/>, as <see cref="From(string, string)"/> keeps a list's.</summary>
    public static string[] From(IEnumerable<string> names, string name) =>
        names.Where(n => n.Length > 0 && n != name && Keep(n))
            .Distinct(StringComparer.Ordinal)
            .Take(MaxPerPlace)
            .ToArray();
}
