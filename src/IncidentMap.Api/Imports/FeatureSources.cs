using System.Text.Json;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Imports;

/// <summary>The rows of an import file, each as the GeoJSON Feature a single write would send.</summary>
public interface IFeatureSource : IDisposable
{
    /// <summary>Moves to the next row; false at the end. Throws <see cref="ImportFormatException"/> when the file cannot be read on.</summary>
    ValueTask<bool> ReadAsync(CancellationToken ct);

    /// <summary>Line of the file where the current row starts.</summary>
    long Line { get; }

    /// <summary>The current row as a Feature (valid until the next read); null when it could not even be made one.</summary>
    JsonElement? Feature { get; }

    /// <summary>What went wrong turning the row into a Feature (a CSV value that does not convert, a line that is not JSON).</summary>
    IReadOnlyList<FieldError> Problems { get; }

    /// <summary>For CSV, the column(s) a field such as <c>properties.occurred_at</c> was read from.</summary>
    string? ColumnOf(string field);

    /// <summary>The source to import under when the import names none.</summary>
    string DefaultSource => ImportOptions.DefaultSource;
}

/// <summary>
/// A window over a byte stream that holds only the unfinished part: readers parse what is buffered
/// and ask for more when a unit (a line, a feature) is cut off by the end of the buffer.
/// </summary>
internal sealed class ByteWindow(Stream stream, int maxUnitBytes)
{
    public byte[] Buffer { get; private set; } = new byte[1 << 16];
    public int Start { get; set; }
    public int End { get; private set; }
    public bool Eof { get; private set; }

    public ReadOnlySpan<byte> Pending => Buffer.AsSpan(Start, End - Start);

    /// <summary>Reads more, keeping everything from <see cref="Start"/>; false when the unit would exceed the limit.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (Start > 0)
        {
            Array.Copy(Buffer, Start, Buffer, 0, End - Start);
            End -= Start;
            Start = 0;
        }
        if (End == Buffer.Length)
        {
            if (Buffer.Length >= maxUnitBytes) return false;
            var larger = Buffer;
            Array.Resize(ref larger, Math.Min(Buffer.Length * 2, maxUnitBytes));
            Buffer = larger;
        }
        var read = await stream.ReadAsync(Buffer.AsMemory(End), ct);
        if (read == 0) Eof = true;
        End += read;
        return true;
    }

    /// <summary>
    /// Where reading begins: skips a UTF-8 byte order mark at the very start. A gzip file sent without its Content-Encoding stops the import
    /// here, said as such (every line of it was rejected as "not valid JSON", or the body as a whole).
    /// </summary>
    public async ValueTask BeginAsync(CancellationToken ct)
    {
        while (End - Start < 3 && !Eof) await FillAsync(ct);
        if (CompleteDecompression.IsGzip(Pending)) throw new ImportFormatException("body", CompleteDecompression.Undeclared, 1);
        if (Pending.StartsWith("\uFEFF"u8)) Start += 3;
    }
}

/// <summary>Newline-delimited GeoJSON (one Feature per line) and GeoJSON text sequences (RFC 8142: RS before each).</summary>
internal sealed class FeatureLinesSource(Stream stream) : IFeatureSource
{
    /// <summary>A feature with 100,000 vertices is about 4 MB of JSON; a line may be four times that.</summary>
    private const int MaxLineBytes = 16 * 1024 * 1024;

    private readonly ByteWindow _window = new(stream, MaxLineBytes);
    private readonly List<FieldError> _problems = [];
    private JsonDocument? _document;
    private long _nextLine = 1;
    private bool _started;

    /// <summary>Whether records are split at RS (a GeoJSON text sequence), not at line ends.</summary>
    private bool _sequence;

    public long Line { get; private set; }
    public JsonElement? Feature => _document?.RootElement;
    public IReadOnlyList<FieldError> Problems => _problems;
    public string? ColumnOf(string field) => null;

    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        _document?.Dispose();
        _document = null;
        _problems.Clear();
        if (!_started)
        {
            _started = true;
            await _window.BeginAsync(ct);
            // A GeoJSON text sequence (RFC 8142) starts each record with RS, and a record may span lines (pretty-printed
            // JSON): such a body is split at RS. Otherwise each line is a record (NDJSON, or a sequence of one-line records).
            while (_window.Pending.TrimStart(" \t\r\n"u8).IsEmpty && !_window.Eof && await _window.FillAsync(ct)) { }
            _sequence = _window.Pending.TrimStart(" \t\r\n"u8) is [0x1E, ..];
        }
        while (true)
        {
            var pending = _window.Pending;
            // A record ends where the next one's RS starts (or, one a line, at the line's end).
            var end = !_sequence ? pending.IndexOf((byte)'\n')
                : pending.Length > 1 && pending[1..].IndexOf((byte)0x1E) is var rs and >= 0 ? rs + 1 : -1;
            if (end < 0 && !_window.Eof)
            {
                if (!await _window.FillAsync(ct))
                    throw new ImportFormatException("body", $"{(_sequence ? "the record starting on line" : "line")} {_nextLine} is longer than {MaxLineBytes} bytes", _nextLine);
                continue;
            }
            if (end < 0 && pending.IsEmpty) return false;

            var length = end < 0 ? pending.Length : end;
            var lineStart = _window.Start;
            _window.Start += end < 0 || _sequence ? length : length + 1;

            var text = _window.Buffer.AsMemory(lineStart, length);
            var lead = text.Length - text.Span.TrimStart(" \t\r\n\u001e"u8).Length;
            // The record's line: where its JSON starts, after the line breaks that ended the record before it.
            Line = _nextLine + text.Span[..lead].Count((byte)'\n');
            _nextLine += _sequence ? text.Span.Count((byte)'\n') : 1;
            var json = text[lead..][..text.Span[lead..].TrimEnd(" \t\r\n"u8).Length];
            if (json.IsEmpty) continue;
            try
            {
                // Parsed in place: the document reads the window's buffer, which stays put until the next read.
                _document = JsonDocument.Parse(json);
            }
            catch (JsonException e)
            {
                // The exception does not say which limit it hit: a feature nested too deep is valid JSON, said as such (as a single write does).
                _problems.Add(new FieldError("feature", Incidents.JsonBody.NestedTooDeep(json.Span)
                    ? $"is nested more than {Incidents.JsonBody.MaxDepth} levels deep (byte {e.BytePositionInLine + 1} of the line); flatten it"
                    : $"is not valid JSON (byte {e.BytePositionInLine + 1} of the line)"));
            }
            // A member given twice, text that is not Unicode: refused as a single write refuses it, naming the field.
            if (_document is not null && RowText.Problem(_document.RootElement, "") is { } bad)
            {
                _document.Dispose();
                _document = null;
                _problems.Add(bad);
            }
            // Said as such, rather than as a Feature without geometry or properties.
            if (_document?.RootElement is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("type", out var type)
                && type.ValueKind == JsonValueKind.String && type.ValueEquals("FeatureCollection"u8))
            {
                _document.Dispose();
                _document = null;
                _problems.Add(new FieldError("feature", "must be a Feature: NDJSON holds one Feature per line; this line is a FeatureCollection " +
                                                        "(send a FeatureCollection as application/geo+json, or format=geojson)"));
            }
            return true;
        }
    }

    public void Dispose() => _document?.Dispose();
}

/// <summary>
/// A GeoJSON FeatureCollection read one feature at a time with <see cref="Utf8JsonReader"/>: members
/// other than <c>features</c> are skipped, each feature is parsed as soon as it is complete in the
/// buffer, and a feature cut by the end of the buffer is read again once more bytes have arrived.
/// </summary>
internal sealed class FeatureCollectionSource(Stream stream) : IFeatureSource
{
    private const int MaxFeatureBytes = 16 * 1024 * 1024;

    private enum Phase { Start, Members, Features, Trailing, Done }

    private readonly ByteWindow _window = new(stream, MaxFeatureBytes);
    /// <summary>A feature may nest as deep as a single write's body (<see cref="Incidents.JsonBody.MaxDepth"/>), under the collection and its features array.</summary>
    private const int MaxDepth = Incidents.JsonBody.MaxDepth + 2;

    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = MaxDepth });
    private Phase _phase = Phase.Start;
    private bool _sawFeatures;
    private long _line = 1; // line at _window.Start
    private JsonDocument? _document;
    private readonly List<FieldError> _problems = [];

    public long Line { get; private set; }
    public JsonElement? Feature => _document?.RootElement;
    public IReadOnlyList<FieldError> Problems => _problems;
    public string? ColumnOf(string field) => null;

    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        _document?.Dispose();
        _document = null;
        _problems.Clear();
        if (_phase == Phase.Start) await _window.BeginAsync(ct);
        while (true)
        {
            (int Start, int Length)? feature;
            try
            {
                feature = Step();
            }
            catch (JsonException e)
            {
                // The reader's state carries its line count from the document's start (0-based).
                var line = (e.LineNumber ?? 0) + 1;
                if (_phase == Phase.Trailing)
                    throw new ImportFormatException("body", $"goes on after the FeatureCollection ends (line {line}, byte {e.BytePositionInLine + 1}); send one FeatureCollection", line);
                // At the end of the input the reader fails on a document that is merely unfinished: said as such.
                if (_window.Eof && _phase == Phase.Start && _window.Pending.Trim(" \t\r\n"u8).IsEmpty)
                    throw new ImportFormatException("body", "is empty; send a GeoJSON FeatureCollection", _line);
                if (_window.Eof && IsUnfinished())
                    throw new ImportFormatException("body", "ends before the FeatureCollection does", line);
                // The reader does not say which limit it hit: a feature nested too deep is valid JSON, said as such.
                // Measured from the next value, past the comma after the last feature read, by a single write's limit.
                throw new ImportFormatException("body", Incidents.JsonBody.NestedTooDeep(_window.Pending.TrimStart(" \t\r\n,"u8))
                    ? $"has a feature nested more than {Incidents.JsonBody.MaxDepth} levels deep (line {line}); flatten it"
                    : $"is not valid JSON (line {line}, byte {e.BytePositionInLine + 1})", line);
            }
            if (feature is { } f)
            {
                _document = JsonDocument.Parse(_window.Buffer.AsMemory(f.Start, f.Length));
                // A member given twice, text that is not Unicode: refused as a single write refuses it, naming the field.
                if (RowText.Problem(_document.RootElement, "") is { } bad)
                {
                    _document.Dispose();
                    _document = null;
                    _problems.Add(bad);
                }
                return true;
            }
            if (_phase == Phase.Done)
            {
                if (!_sawFeatures) throw new ImportFormatException("body", "is a JSON object without a \"features\" array; send a GeoJSON FeatureCollection", _line);
                return false;
            }
            if (_window.Eof)
                throw new ImportFormatException("body", "ends before the FeatureCollection does", _line);
            if (!await _window.FillAsync(ct))
                throw new ImportFormatException("body", $"has a feature larger than {MaxFeatureBytes} bytes", _line);
        }
    }

    /// <summary>Whether what is left of the input is valid JSON as far as it goes: a document cut short, not a broken one.</summary>
    private bool IsUnfinished()
    {
        var reader = new Utf8JsonReader(_window.Pending, isFinalBlock: false, _state);
        try
        {
            while (reader.Read()) { }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Advances through what is buffered. Returns the next complete feature; null when the document
    /// is done or more bytes are needed. Progress is committed only after whole units, so a unit cut
    /// off by the buffer's end is parsed again from its start after the next fill.
    /// </summary>
    private (int Start, int Length)? Step()
    {
        var reader = new Utf8JsonReader(_window.Pending, _window.Eof, _state);
        var origin = _window.Start;
        while (true)
        {
            switch (_phase)
            {
                case Phase.Start:
                    if (!reader.Read()) return null;
                    if (reader.TokenType != JsonTokenType.StartObject)
                        throw new ImportFormatException("body", "must be a GeoJSON FeatureCollection object", _line);
                    Commit(ref reader, origin, Phase.Members);
                    break;
                case Phase.Members:
                    if (!reader.Read()) return null;
                    if (reader.TokenType == JsonTokenType.EndObject)
                    {
                        Commit(ref reader, origin, Phase.Trailing);
                        break;
                    }
                    string? name;
                    try
                    {
                        name = reader.GetString();
                    }
                    catch (InvalidOperationException)
                    {
                        // The reader checks a name's UTF-8 only when it is decoded.
                        throw new ImportFormatException("body", "has a member name that is not valid UTF-8", _line);
                    }
                    if (name == "features")
                    {
                        // A second array is one readers disagree on (most keep the last, some read both), so
                        // the file is refused there, as a late "type" is, rather than imported as either.
                        if (_sawFeatures)
                            throw new ImportFormatException("features", "is given twice; a FeatureCollection has one \"features\" array", _line);
                        if (!reader.Read()) return null;
                        if (reader.TokenType != JsonTokenType.StartArray)
                            throw new ImportFormatException("features", "must be an array of GeoJSON Features", _line);
                        _sawFeatures = true;
                        Commit(ref reader, origin, Phase.Features);
                    }
                    else if (name == "type")
                    {
                        if (!reader.Read()) return null;
                        if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("FeatureCollection"u8))
                            throw new ImportFormatException("type", "must be \"FeatureCollection\"; send one, or one Feature per line as application/x-ndjson", _line);
                        Commit(ref reader, origin, Phase.Members);
                    }
                    else if (name == "crs")
                    {
                        // Read whole (it is small) and judged before any feature after it; one after the features
                        // ends the import as a late "type" does, with the rows before it imported.
                        var crsLine = _line + _window.Buffer.AsSpan(_window.Start, origin + (int)reader.TokenStartIndex - _window.Start).Count((byte)'\n');
                        if (!reader.Read()) return null;
                        var crsStart = origin + (int)reader.TokenStartIndex;
                        if (!reader.TrySkip()) return null;
                        using (var crs = JsonDocument.Parse(_window.Buffer.AsMemory(crsStart, origin + (int)reader.BytesConsumed - crsStart)))
                        {
                            if (GeoJsonCrs.Problem(crs.RootElement) is { } problem)
                                throw new ImportFormatException("crs", problem, crsLine);
                        }
                        Commit(ref reader, origin, Phase.Members);
                    }
                    else
                    {
                        if (!reader.TrySkip()) return null; // bbox, name …
                        Commit(ref reader, origin, Phase.Members);
                    }
                    break;
                case Phase.Features:
                    if (!reader.Read()) return null;
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        Commit(ref reader, origin, Phase.Members);
                        break;
                    }
                    var start = origin + (int)reader.TokenStartIndex;
                    if (!reader.TrySkip()) return null;
                    var end = origin + (int)reader.BytesConsumed;
                    Line = _line + _window.Buffer.AsSpan(_window.Start, start - _window.Start).Count((byte)'\n');
                    Commit(ref reader, origin, Phase.Features);
                    return (start, end - start);
                case Phase.Trailing:
                    // Only white space may follow; anything else makes the reader throw.
                    reader.Read();
                    Commit(ref reader, origin, _window.Eof ? Phase.Done : Phase.Trailing);
                    return null;
                default:
                    return null;
            }
        }
    }

    private void Commit(ref Utf8JsonReader reader, int origin, Phase next)
    {
        var consumed = origin + (int)reader.BytesConsumed;
        _line += _window.Buffer.AsSpan(_window.Start, consumed - _window.Start).Count((byte)'\n');
        _window.Start = consumed;
        _state = reader.CurrentState;
        _phase = next;
    }

    public void Dispose() => _document?.Dispose();
}
