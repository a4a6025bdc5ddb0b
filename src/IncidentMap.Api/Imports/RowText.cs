using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Imports;

/// <summary>
/// The checks a single write's body gets before validation (<see cref="JsonBody.FindBadText"/>: a member
/// given twice, text that is not valid Unicode or holds a NUL), for an import's rows, which the importer
/// parses itself: without them the last of two titles silently won, and a lone surrogate was named
/// "feature" rather than its field.
/// </summary>
/// <remarks>
/// Every row pays for this, so it first asks the row's bytes (<see cref="IsPlain"/>), allocating nothing:
/// valid UTF-8 with no escape of NUL or of a lone surrogate holds only storable text, and member names whose hashes all
/// differ within each object repeat none. Only a row that fails that (a repeat, a lone surrogate, a name written with
/// escapes, a hash collision) is walked by <see cref="JsonBody.FindBadText"/>,
/// which names the field as a single write does, or finds nothing wrong.
/// </remarks>
internal static class RowText
{
    /// <summary>Objects with more members are walked by <see cref="JsonBody.FindBadText"/> (a feature has about twenty at most).</summary>
    private const int MaxHashedMembers = 32;

    /// <summary>
    /// The first such problem of a row's JSON, named as a single write names it, with the reason alone (an
    /// import's report gives field and reason apart); null when there is none.
    /// </summary>
    /// <param name="path">Where <paramref name="element"/> is in the feature: "" for the feature itself (then a problem
    /// of the whole is named "feature"), "properties.sources" for a CSV cell.</param>
    public static FieldError? Problem(JsonElement element, string path)
    {
        if (IsPlain(element)) return null;
        if (JsonBody.FindBadText(element, path) is not { } bad) return null;
        var reason = bad.Detail.StartsWith(bad.Field + " ", StringComparison.Ordinal) ? bad.Detail[(bad.Field.Length + 1)..] : bad.Detail;
        return new FieldError(path.Length == 0 && bad.Field == "body" ? "feature" : bad.Field, reason);
    }

    /// <summary>Whether the element surely has none of the problems (false: it may have).</summary>
    internal static bool IsPlain(JsonElement element)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        return Utf8.IsValid(raw) && !HasSuspectEscape(raw) && !MayRepeatName(element);
    }

    /// <summary>
    /// Whether an escape of NUL or of a lone surrogate occurs (a high one not followed by the escape of a low one, as
    /// json.dumps writes an emoji, or a low one alone); other text in valid UTF-8 is storable. A "\\u" after an escaped
    /// backslash is text, not an escape: told by the backslashes before it.
    /// </summary>
    private static bool HasSuspectEscape(ReadOnlySpan<byte> raw)
    {
        while (raw.IndexOf("\\u"u8) is var at and >= 0)
        {
            var backslashes = 0;
            while (at - backslashes > 0 && raw[at - backslashes - 1] == (byte)'\\') backslashes++;
            var hex = raw[(at + 2)..];
            if (backslashes % 2 == 1)
            {
                raw = hex; // an escaped backslash, then the letter u
                continue;
            }
            if (hex.Length < 4 || hex[..4].SequenceEqual("0000"u8) || Surrogate(hex) == 2) return true;
            if (Surrogate(hex) == 1)
            {
                if (hex.Length < 10 || !hex[4..].StartsWith("\\u"u8) || Surrogate(hex[6..]) != 2) return true;
                hex = hex[6..];
            }
            raw = hex[4..];
        }
        return false;
    }

    /// <summary>1 for the hex digits of a high surrogate (D800–DBFF), 2 for a low one (DC00–DFFF), else 0.</summary>
    private static int Surrogate(ReadOnlySpan<byte> hex) =>
        hex.Length < 4 || hex[0] is not ((byte)'d' or (byte)'D') ? 0
        : hex[1] is (byte)'8' or (byte)'9' or (byte)'a' or (byte)'b' or (byte)'A' or (byte)'B' ? 1
        : hex[1] is >= (byte)'c' and <= (byte)'f' or >= (byte)'C' and <= (byte)'F' ? 2
        : 0;

    private static bool MayRepeatName(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                Span<ulong> seen = stackalloc ulong[MaxHashedMembers];
                var count = 0;
                foreach (var member in element.EnumerateObject())
                {
                    var name = JsonMarshal.GetRawUtf8PropertyName(member);
                    // An escaped name may spell another one ("\u0074itle" is title): the walk compares them decoded.
                    if (count == MaxHashedMembers || name.Contains((byte)'\\')) return true;
                    var hash = Hash(name);
                    if (seen[..count].Contains(hash)) return true;
                    seen[count++] = hash;
                    if (member.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array && MayRepeatName(member.Value)) return true;
                }
                return false;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                    if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array && MayRepeatName(item)) return true;
                return false;
            default:
                return false;
        }
    }

    /// <summary>64-bit FNV-1a: names are short, and a collision only sends the row to the walk.</summary>
    private static ulong Hash(ReadOnlySpan<byte> name)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in name) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }
}
