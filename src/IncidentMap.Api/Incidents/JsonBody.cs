using System.Text.Json;
using IncidentMap.Api.Problems;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Incidents;

/// <summary>Reads a JSON request body with the checks every write shares: media type, size, syntax, depth.</summary>
public static class JsonBody
{
    /// <summary>Largest accepted body (documented in the README). Enforced here as well as by Kestrel,
    /// so the limit holds behind any server.</summary>
    public const int MaxBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Largest body of a request without an API key (a search: its largest shape, 10,000 vertices, is
    /// about 400 KB). Held in memory while it arrives, 8 MiB bodies let one anonymous client fill the
    /// server's memory: a few KB of gzip each, kept open (security audit).
    /// </summary>
    public const int AnonymousMaxBytes = 1024 * 1024;

    /// <summary>A 400 when the body's coordinates are said (OGC API – Features Part 4's Content-Crs) to be in another CRS than CRS84; null when they are not.</summary>
    public static IResult? ContentCrsProblem(HttpRequest request) =>
        request.Headers["Content-Crs"].ToString() is { Length: > 0 } crs && crs.Trim().Trim('<', '>') != Collections.Conformance.Crs84
            ? Problem.BadParameter("Content-Crs",
                $"'{crs}' is not a coordinate reference system this service takes; send lon/lat in <{Collections.Conformance.Crs84}> (the default: leave the header out)")
            : null;

    public static async Task<(JsonDocument? Document, IResult? Problem)> ReadAsync(HttpRequest request, string[] mediaTypes, CancellationToken ct)
    {
        var (document, _, problem) = await ReadWithHashAsync(request, mediaTypes, ct);
        return (document, problem);
    }

    /// <summary>As <see cref="ReadAsync"/>, plus the SHA-256 of the body bytes (what an Idempotency-Key is bound to).</summary>
    public static async Task<(JsonDocument? Document, byte[] Hash, IResult? Problem)> ReadWithHashAsync(HttpRequest request, string[] mediaTypes, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !mediaTypes.Contains(contentType.MediaType.Value, StringComparer.OrdinalIgnoreCase))
        {
            return (null, [], Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"Content-Type '{request.ContentType}' is not accepted here; send {string.Join(" or ", mediaTypes)}.", "Content-Type"));
        }
        // RFC 8259 §8.1: JSON is exchanged in UTF-8. A body declared in another charset was read as UTF-8 anyway: UTF-16
        // was "not valid JSON (line 1, byte 1)", Latin-1 letters a 400 for invalid UTF-8, or worse, taken as other text.
        if (contentType.Charset is { Length: > 0 } charset && !IsUtf8Charset(charset.Value))
            return (null, [], Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                $"Content-Type charset '{Problem.Cut(charset.Value!, 64)}' is not taken; JSON is read as UTF-8 only (RFC 8259 §8.1): send the body in UTF-8, with charset=utf-8 or none.", "Content-Type"));
        var anonymous = request.HttpContext.User.Identity?.IsAuthenticated != true;
        var maxBytes = anonymous ? AnonymousMaxBytes : MaxBytes;
        if (request.ContentLength > maxBytes) return (null, [], TooLarge(anonymous));
        if (ContentCrsProblem(request) is { } crsProblem) return (null, [], crsProblem);

        // The whole body within a time limit. Kestrel's minimum rate counts the bytes sent, and a
        // compressed body can keep to it with empty deflate blocks that add nothing: without a limit,
        // such a request held its buffer for as long as the client liked.
        var limit = request.HttpContext.RequestServices.GetRequiredService<Hosting.Settings>().BodySeconds;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(limit));
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, deadline.Token)) > 0)
            {
                if (buffer.Length + read > maxBytes) return (null, [], TooLarge(anonymous));
                buffer.Write(chunk, 0, read);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, [], Problem.Status(StatusCodes.Status408RequestTimeout, "Request timeout",
                $"The body did not arrive whole within {limit} s (Requests__BodySeconds); send it faster, or compressed.", "body"));
        }
        if (buffer.Length == 0) return (null, [], Problem.BadParameter("body", "is empty; send a JSON document"));

        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        // RFC 8259 §8.1 lets a parser ignore a UTF-8 byte order mark, and Windows tools (Notepad,
        // PowerShell 5's Out-File) write one; JsonDocument would call it an invalid first byte.
        var json = bytes.Span.StartsWith(Utf8Bom) ? bytes[Utf8Bom.Length..] : bytes;
        try
        {
            var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
            if (FindBadText(document.RootElement, "") is { } bad)
            {
                document.Dispose();
                return (null, [], Problem.Status(StatusCodes.Status400BadRequest, "Malformed JSON", bad.Detail, bad.Field));
            }
            return (document, System.Security.Cryptography.SHA256.HashData(bytes.Span), null);
        }
        catch (JsonException e)
        {
            // The exception does not say which limit it hit; a deep body is valid JSON, so say what to change.
            if (Utf16Or32(json.Span))
                return (null, [], Problem.Status(StatusCodes.Status415UnsupportedMediaType, "Unsupported charset",
                    "The body is UTF-16 or UTF-32 (it starts with their byte order mark or a NUL byte); JSON is read as UTF-8 only (RFC 8259 §8.1): send it in UTF-8.", "body"));
            if (NestedTooDeep(json.Span))
                return (null, [], Problem.Status(StatusCodes.Status400BadRequest, "JSON nested too deeply",
                    $"The body is nested more than {MaxDepth} levels deep (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); flatten it.", "body"));
            return (null, [], Problem.Status(StatusCodes.Status400BadRequest, "Malformed JSON",
                $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).", "body"));
        }
    }

    /// <summary>UTF-8, and US-ASCII by its IANA names: ASCII text is UTF-8 as it is.</summary>
    private static readonly HashSet<string> Utf8Charsets = new(StringComparer.OrdinalIgnoreCase)
    {
        "utf-8", "utf8", "us-ascii", "ascii", "us", "iso646-us", "iso_646.irv:1991", "iso-ir-6", "ansi_x3.4-1968", "ansi_x3.4-1986",
        "ibm367", "cp367", "csascii",
    };

    /// <summary>
    /// Whether a Content-Type's charset (quoted or not) names UTF-8 or US-ASCII, the only ones read: every JSON body
    /// here and every import file is read as UTF-8.
    /// </summary>
    public static bool IsUtf8Charset(string? charset) => charset?.Trim('"') is { } name && Utf8Charsets.Contains(name);

    /// <summary>
    /// Whether a body that is not JSON is UTF-16 or UTF-32 JSON: their byte order marks, or a NUL in its first two
    /// bytes (JSON text starts with an ASCII character, which those encodings write with NUL bytes; UTF-8 JSON has none).
    /// Imports judge the start of every file so, whatever its format (a CSV header starts with ASCII too).
    /// </summary>
    internal static bool Utf16Or32(ReadOnlySpan<byte> body) =>
        body.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) || body.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE])
        || (body.Length >= 2 && (body[0] == 0 || body[1] == 0));

    /// <summary>Arrays and objects nested deeper than this are refused (handlers recurse over the document).</summary>
    public const int MaxDepth = 64;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// Whether reading stops at an array or object opened deeper than <see cref="MaxDepth"/> before any
    /// syntax error: the same tokens the parser read, with no depth limit (the reader keeps its depth in
    /// a bit stack, so this cannot exhaust the call stack).
    /// </summary>
    internal static bool NestedTooDeep(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = int.MaxValue });
        try
        {
            while (reader.Read())
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= MaxDepth)
                    return true;
        }
        catch (JsonException)
        {
        }
        return false;
    }

    /// <summary>
    /// A member name as a problem names it: cut to 64 characters, so a body of one 8 MiB name is not
    /// answered with a problem document as large.
    /// </summary>
    internal static string Shown(string name) => Problem.Cut(name, 64);

    /// <summary>Why a string is not text: what the JSON reader cannot decode.</summary>
    private const string NotUnicode = "is not valid Unicode (a lone surrogate escape such as \\ud800, or bytes that are not UTF-8)";

    /// <summary>
    /// What JSON syntax allows but no handler should meet: duplicate member names (ambiguous, and
    /// fatal to JsonNode), escapes that decode to unpaired surrogates or bytes that are not UTF-8
    /// (JsonDocument leaves both to whoever reads the string), NUL characters (PostgreSQL text refuses
    /// them). Returns the first one, named as the validators name fields (properties.title,
    /// properties.tags[1]; "body" for the document itself), or null.
    /// </summary>
    /// <param name="path">Where <paramref name="element"/> is: "" for the document.</param>
    internal static FieldError? FindBadText(JsonElement element, string path)
    {
        var field = path.Length == 0 ? "body" : path;
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in element.EnumerateObject())
                {
                    string name;
                    try { name = member.Name; }
                    catch (InvalidOperationException) { return new FieldError(field, $"{field} has a member name that {NotUnicode}"); }
                    if (!IncidentInput.IsStorableText(name)) return new FieldError(field, $"{field} has a member name with a NUL character or invalid Unicode");
                    var child = path.Length == 0 ? Shown(name) : $"{path}.{Shown(name)}";
                    if (!names.Add(name)) return new FieldError(child, $"{child} appears twice");
                    if (FindBadText(member.Value, child) is { } bad) return bad;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    if (FindBadText(item, $"{field}[{index++}]") is { } bad) return bad;
                return null;
            case JsonValueKind.String:
                try
                {
                    return IncidentInput.IsStorableText(element.GetString()!) ? null : new FieldError(field, $"{field} contains a NUL character or invalid Unicode");
                }
                catch (InvalidOperationException)
                {
                    return new FieldError(field, $"{field} {NotUnicode}");
                }
            default:
                return null;
        }
    }

    /// <summary>Worded for every endpoint that reads a JSON body (a key, a search, a place as well as an
    /// incident), and as Kestrel's limit on a chunked body is (ProblemExceptionHandler).</summary>
    private static IResult TooLarge(bool anonymous) => Problem.Status(StatusCodes.Status413PayloadTooLarge, "Request body too large",
        anonymous
            ? $"The body exceeds the limit of {AnonymousMaxBytes} bytes for a request without an API key (with one, {MaxBytes})."
            : $"The body exceeds the limit of {MaxBytes} bytes.", "body");
}
