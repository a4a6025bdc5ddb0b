using System.Text;

namespace IncidentMap.Api.Imports;

/// <summary>
/// RFC 4180 records streamed from UTF-8 text: fields separated by commas, quoted fields may hold
/// commas, doubled quotes and line breaks; records end with CRLF, LF or CR; lines of nothing but white space
/// and commas are skipped. Spaces and tabs around a quoted field are padding (<c>1, "a, b" ,2</c>). A quoted field
/// with other text after its closing quote (<c>"x"y</c>) is malformed: the record
/// is read on, and <see cref="MisquotedField"/> names the field for its row to be rejected. Only one record (at most
/// <see cref="MaxRecordChars"/>) is ever held, so files of any size stream through.
/// </summary>
public sealed class CsvReader(Stream stream)
{
    public const int MaxRecordChars = 16 * 1024 * 1024;

    /// <summary>
    /// What bytes that are not UTF-8 decode to: a lone low surrogate, which no valid UTF-8 decodes to (UTF-8 cannot
    /// encode a surrogate), so a field that contains it came from such bytes and its row is rejected (rather than
    /// stored with U+FFFD in place of the letters, as a lenient decoder would). It was U+FFFF, a noncharacter, but
    /// that is valid UTF-8 (EF BF BF), which a single write takes and an export writes back.
    /// </summary>
    public const char NotUtf8 = '\uDFFF';

    /// <summary>UTF-8 only: its byte order mark is skipped, and no other is taken as a sign of another encoding (a
    /// UTF-16 file was decoded as UTF-16; <see cref="Importer"/> refuses one before it is read).</summary>
    private readonly Utf8Chars _reader = new(stream);
    private readonly StringBuilder _quoted = new();
    private char[] _buffer = new char[1 << 16];
    private int _start, _end;
    private bool _eof;
    private long _nextLine = 1;

    /// <summary>The fields of the current record.</summary>
    public List<string> Fields { get; } = [];

    /// <summary>
    /// The first field of the current record that has text after its closing quote (<c>"x"y</c>), or -1. RFC 4180
    /// allows none, and no reading of it is safe: <c>"x"y</c> may be <c>x"y</c> with a quote not doubled, or two
    /// values that lost their separator.
    /// </summary>
    public int MisquotedField { get; private set; } = -1;

    /// <summary>The character right after the closing quote of <see cref="MisquotedField"/>: a tab or ';' there says
    /// which separator a file of quoted values has (<c>"title"\t"lat"</c>).</summary>
    public char MisquotedBy { get; private set; }

    /// <summary>Line on which the current record starts, from 1.</summary>
    public long Line { get; private set; }

    private enum Outcome { Record, NeedMore, End }

    /// <summary>Reads the next record (blank lines are skipped); false at the end of the input.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            switch (TryParse())
            {
                case Outcome.Record:
                    if (IsBlank()) continue;
                    return true;
                case Outcome.End:
                    return false;
            }
            if (_eof)
                throw new ImportFormatException("body", $"a quoted field starting on line {_nextLine} is never closed", _nextLine);
            await FillAsync(ct);
        }
    }

    /// <summary>
    /// A blank line, or one of only white space and separators: what a spreadsheet leaves below its data
    /// (<c>,,,,</c>) holds no row. Most records are settled by their first field.
    /// </summary>
    private bool IsBlank()
    {
        foreach (var field in Fields)
            if (!field.AsSpan().IsWhiteSpace()) return false;
        return true;
    }

    private async ValueTask FillAsync(CancellationToken ct)
    {
        // Keep the unfinished record; parsing restarts from its beginning once more text is in.
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxRecordChars)
                throw new ImportFormatException("body", $"the record starting on line {_nextLine} is longer than {MaxRecordChars} characters (an unbalanced quote?)", _nextLine);
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var read = await _reader.ReadAsync(_buffer.AsMemory(_end), ct);
        if (read == 0) _eof = true;
        _end += read;
    }

    /// <summary>Parses one whole record from the buffered text, or says that more text is needed.</summary>
    private Outcome TryParse()
    {
        var text = _buffer.AsSpan(_start, _end - _start);
        if (text.IsEmpty) return _eof ? Outcome.End : Outcome.NeedMore;
        Fields.Clear();
        MisquotedField = -1;
        var i = 0;
        long lineBreaks = 0;
        while (true)
        {
            string field;
            // Spaces or tabs before an opening quote are padding, as exporters that align their columns write
            // (`1, "Homs, Syria"`): read as an unquoted value, the comma inside split the value and moved every
            // later column. Before anything else they stay part of the value (which imports trim).
            var lead = Padding(text, i);
            if (lead > 0 && i + lead == text.Length && !_eof) return Outcome.NeedMore;
            if (i + lead < text.Length && text[i + lead] == '"')
            {
                i += lead;
                _quoted.Clear();
                i++;
                while (true)
                {
                    var quote = text[i..].IndexOf('"');
                    if (quote < 0) return Outcome.NeedMore;
                    var chunk = text.Slice(i, quote);
                    // Line breaks as records end: LF, CRLF or CR alone (a CR before the closing quote is alone).
                    var returns = chunk.Count('\r');
                    lineBreaks += chunk.Count('\n') + (returns == 0 ? 0 : returns - chunk.Count("\r\n"));
                    _quoted.Append(chunk);
                    i += quote + 1;
                    if (i == text.Length && !_eof) return Outcome.NeedMore; // "" split across reads?
                    if (i < text.Length && text[i] == '"')
                    {
                        _quoted.Append('"');
                        i++;
                        continue;
                    }
                    break;
                }
                // Spaces or tabs after the closing quote are padding too (`"x" ,y`).
                var closed = i;
                var pad = Padding(text, i);
                if (pad > 0 && i + pad == text.Length && !_eof) return Outcome.NeedMore;
                if (i + pad == text.Length || text[i + pad] is ',' or '\r' or '\n') i += pad;
                // The closing quote is followed by a separator, a line break or the end of the input (the end of
                // the buffer was asked for more above); anything else makes the field malformed. Its text up to the
                // next separator is skipped, so that the record's other fields keep their columns.
                if (i < text.Length && text[i] is not (',' or '\r' or '\n'))
                {
                    var rest = text[i..].IndexOfAny(',', '\r', '\n');
                    if (rest < 0 && !_eof) return Outcome.NeedMore;
                    if (MisquotedField < 0) (MisquotedField, MisquotedBy) = (Fields.Count, text[closed]);
                    i += rest < 0 ? text.Length - i : rest;
                }
                field = _quoted.ToString();
            }
            else
            {
                var stop = text[i..].IndexOfAny(',', '\r', '\n');
                if (stop < 0 && !_eof) return Outcome.NeedMore;
                var length = stop < 0 ? text.Length - i : stop;
                field = new string(text.Slice(i, length));
                i += length;
            }
            Fields.Add(field);

            if (i == text.Length) break; // end of input ends the last record
            var separator = text[i++];
            if (separator == ',')
            {
                if (i == text.Length)
                {
                    if (!_eof) return Outcome.NeedMore;
                    Fields.Add("");
                    break;
                }
                continue;
            }
            if (separator == '\r')
            {
                if (i == text.Length && !_eof) return Outcome.NeedMore;
                if (i < text.Length && text[i] == '\n') i++;
            }
            lineBreaks++;
            break;
        }
        Line = _nextLine;
        _nextLine += lineBreaks;
        _start += i;
        return Outcome.Record;
    }

    /// <summary>How many spaces and tabs stand at <paramref name="at"/>: padding around a quoted value.</summary>
    private static int Padding(ReadOnlySpan<char> text, int at)
    {
        var count = 0;
        while (at + count < text.Length && text[at + count] is ' ' or '\t') count++;
        return count;
    }
}

/// <summary>
/// UTF-8 bytes read as UTF-16 text, as a <see cref="StreamReader"/> reads them, except that each maximal run of
/// bytes that are not UTF-8 reads as <see cref="CsvReader.NotUtf8"/>, a lone surrogate. A <see cref="DecoderFallback"/>
/// cannot give that: .NET refuses a fallback's text that is not well-formed UTF-16.
/// </summary>
internal sealed class Utf8Chars(Stream stream)
{
    private readonly byte[] _bytes = new byte[1 << 16];
    private int _start, _end;
    private bool _eof, _began;
    private char _pending; // the low surrogate of a character whose high one filled the caller's last slot

    public async ValueTask<int> ReadAsync(Memory<char> into, CancellationToken ct)
    {
        if (into.IsEmpty) return 0;
        while (true)
        {
            var written = Decode(into.Span);
            if (written > 0 || (_eof && _start == _end)) return written;
            // What is left is less than one character (or nothing): read on.
            if (_start > 0)
            {
                Array.Copy(_bytes, _start, _bytes, 0, _end - _start);
                (_end, _start) = (_end - _start, 0);
            }
            var read = await stream.ReadAsync(_bytes.AsMemory(_end), ct);
            if (read == 0) _eof = true;
            _end += read;
        }
    }

    private int Decode(Span<char> into)
    {
        var written = 0;
        if (_pending != default)
        {
            into[written++] = _pending;
            _pending = default;
        }
        if (!_began)
        {
            if (_end - _start < 3 && !_eof) return written;
            _began = true;
            if (_bytes.AsSpan(_start, _end - _start).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _start += 3;
        }
        while (written < into.Length && _start < _end)
        {
            var status = System.Text.Unicode.Utf8.ToUtf16(_bytes.AsSpan(_start, _end - _start), into[written..], out var read, out var chars,
                replaceInvalidSequences: false, isFinalBlock: _eof);
            _start += read;
            written += chars;
            if (status == System.Buffers.OperationStatus.InvalidData && written < into.Length)
            {
                Rune.DecodeFromUtf8(_bytes.AsSpan(_start, _end - _start), out _, out var invalid);
                _start += Math.Max(invalid, 1);
                into[written++] = CsvReader.NotUtf8;
            }
            else if (status == System.Buffers.OperationStatus.DestinationTooSmall && written == into.Length - 1
                     && Rune.DecodeFromUtf8(_bytes.AsSpan(_start, _end - _start), out var rune, out var length) == System.Buffers.OperationStatus.Done)
            {
                // One slot left for a character of two UTF-16 units.
                into[written++] = (char)(0xD800 + ((rune.Value - 0x10000) >> 10));
                _pending = (char)(0xDC00 + ((rune.Value - 0x10000) & 0x3FF));
                _start += length;
            }
            else break;
        }
        return written;
    }
}
