using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// A small seeded generator for fuzzing (no property-testing package: adding one would mean editing
/// the test project). Every input is made by <c>new Fuzz(seed, iteration)</c> alone, so a failure
/// message naming both reproduces it exactly. INCIDENTMAP_FUZZ_SEED picks another base seed.
/// </summary>
public sealed partial class Fuzz(int seed, int iteration)
{
    public static int BaseSeed { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("INCIDENTMAP_FUZZ_SEED"), out var s) ? s : 20_261_128;

    private readonly Random _random = new(Infrastructure.Seed.Of(seed, iteration));

    public int Seed => seed;
    public int Iteration => iteration;

    public int Next(int max) => _random.Next(max);
    public int Between(int min, int max) => _random.Next(min, max + 1);
    public bool Chance(double p) => _random.NextDouble() < p;
    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    /// <summary>Text a hostile client might send: SQL, NUL and control characters, unicode, long runs, plain words.</summary>
    public string Text(int maxLength = 40)
    {
        switch (Next(10))
        {
            case 0: return Pick(HostileTable.Values).Value is { Length: < 1000 } v ? v : new string('A', Between(1, 5000));
            case 1: return Pick(Snippets);
            case 2: return new string(Pick(Specials)[0], Between(0, maxLength * 10));
            case 3: return Number();
        }
        var text = new StringBuilder();
        var length = Between(0, maxLength);
        for (var i = 0; i < length; i++)
        {
            switch (Next(12))
            {
                case 0: text.Append((char)Between(0, 31)); break;                  // control characters, NUL included
                case 1: text.Append(Pick(Specials)); break;
                case 2: text.Append(char.ConvertFromUtf32(Between(0x80, 0x2FFF))); break;
                case 3: text.Append(char.ConvertFromUtf32(Pick(Astral))); break;
                default: text.Append((char)Between(32, 126)); break;
            }
        }
        return text.ToString();
    }

    /// <summary>A number as text: ordinary, negative, fractional, huge, tiny, exponent, or not quite a number.</summary>
    public string Number() => Next(14) switch
    {
        0 => Between(-1000, 1000).ToString(CultureInfo.InvariantCulture),
        1 => (_random.NextDouble() * 360 - 180).ToString("R", CultureInfo.InvariantCulture),
        2 => (_random.NextDouble() * 180 - 90).ToString("R", CultureInfo.InvariantCulture),
        3 => "1e" + Between(-400, 400),
        4 => "-" + Between(1, 9) + "E+" + Between(300, 400),
        5 => new string('9', Between(10, 400)),
        6 => "-0",
        7 => Pick(NotQuiteNumbers),
        8 => long.MaxValue.ToString(CultureInfo.InvariantCulture),
        9 => int.MinValue.ToString(CultureInfo.InvariantCulture),
        10 => "0." + new string('0', Between(1, 400)) + "1",
        11 => Between(0, 100).ToString(CultureInfo.InvariantCulture),
        12 => (_random.NextDouble() * 1e6).ToString("R", CultureInfo.InvariantCulture),
        _ => Between(0, 24).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>A JSON string literal, sometimes with escapes System.Text.Json reads but .NET strings cannot hold whole (lone surrogates).</summary>
    public string JsonString() => Next(6) switch
    {
        0 => "\"" + Pick(["\\ud800", "\\udfff", "a\\udbff", "\\udc00b", "\\u0000", "\\ud83d\\ude00", "\\\"", "\\\\"]) + "\"",
        _ => HostileJson.Str(Text()),
    };

    /// <summary>A raw JSON value: any kind, including numbers no .NET number holds and text that is not JSON at all.</summary>
    public string JsonValue(int depth = 0) => Next(depth > 2 ? 5 : 9) switch
    {
        0 => Number(),
        1 => JsonString(),
        2 => Pick(["true", "false", "null", "NaN", "Infinity", "-Infinity", "undefined", "'x'"]),
        3 => Pick(["[]", "{}", "\"\"", "[[]]", "{\"\":null}"]),
        4 => "[" + Number() + "," + Number() + "]",
        5 => "[" + string.Join(",", Enumerable.Range(0, Between(0, 4)).Select(_ => JsonValue(depth + 1))) + "]",
        6 => "{" + string.Join(",", Enumerable.Range(0, Between(0, 3)).Select(_ => JsonString() + ":" + JsonValue(depth + 1))) + "}",
        7 => HostileJson.Nested(Between(1, 200), "[", Number(), "]"),
        _ => HostileJson.Nested(Between(1, 100), "{\"a\":", "1", "}"),
    };

    /// <summary>Cuts, inserts, deletes or copies a piece of <paramref name="text"/>.</summary>
    public string MutateText(string text)
    {
        if (text.Length == 0) return Text();
        var at = Next(text.Length);
        return WellFormed(Next(5) switch
        {
            0 => text[..at],
            1 => text.Insert(at, Pick(["\"", "{", "}", "[", "]", ",", ":", "\\", "'", "\0", "\u0001", "\\ud800", " ", "-", "e", "."])),
            2 => text.Remove(at, Math.Min(text.Length - at, Between(1, 20))),
            3 => text.Insert(at, Slice(text)),
            _ => NumberToken().Replace(text, m => Chance(0.3) ? Number() : m.Value, Between(1, 3), Math.Min(at, Math.Max(0, text.Length - 1))),
        });
    }

    /// <summary>
    /// As the text arrives over HTTP: a cut through a surrogate pair becomes U+FFFD, since request
    /// bodies and URLs are UTF-8. (JSON escapes of lone surrogates, which do arrive, stay.)
    /// </summary>
    private static string WellFormed(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));

    private string Slice(string text)
    {
        var from = Next(text.Length);
        return text.Substring(from, Math.Min(Between(1, 40), text.Length - from));
    }

    /// <summary>
    /// A raw JSON token kept through <see cref="JsonNode"/> serialisation: <see cref="Render"/> puts it
    /// back unquoted, so trees can hold 1e400, NaN, lone-surrogate escapes or garbage.
    /// </summary>
    public static JsonNode Raw(string json) => System.Text.Json.Nodes.JsonValue.Create("\u0001RAW" + json + "\u0002")!;

    /// <summary>The tree as JSON text, raw tokens in place.</summary>
    public static string Render(JsonNode? node) =>
        RawToken().Replace(node?.ToJsonString() ?? "null", m => System.Text.Json.JsonSerializer.Deserialize<string>("\"" + m.Groups[1].Value + "\"")!);

    [GeneratedRegex("\"\\\\u0001RAW((?:[^\"\\\\]|\\\\.)*?)\\\\u0002\"")]
    private static partial Regex RawToken();

    [GeneratedRegex(@"-?\d+(\.\d+)?([eE][+-]?\d+)?")]
    private static partial Regex NumberToken();

    private static readonly string[] Snippets =
    [
        "' OR 1=1 --", "'; DROP TABLE incidents; --", "\" OR \"\"=\"", "1; SELECT pg_sleep(10)", "$$", "%", "_", "\\", "*/", "/*",
        "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}", "../../etc/passwd", "\u202E", "\uFEFF", "null", "..", "now", "",
    ];

    private static readonly string[] Specials = ["'", "\"", "\\", ",", "/", "%", ";", "(", ")", "-", "..", " ", "\t", "\n", "\u00A0", "\u200B", "\uFFFD", "\uFFFF"];

    private static readonly int[] Astral = [0x1F600, 0x1D54F, 0x10FFFF, 0x20000, 0xE0001];

    private static readonly string[] NotQuiteNumbers = ["NaN", "Infinity", "-Infinity", "0x1F", "1_000", "1,5", "١٢", "１", " 1", "1 ", "+1", ".5", "5.", "1e", "--1", "∞"];
}
