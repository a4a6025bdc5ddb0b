using System.Buffers;
using System.Buffers.Binary;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Renders incident rows selected with <see cref="IncidentSqlBuilder.Projection"/> as GeoJSON Features
/// or CSV lines, straight into an output buffer. PostgreSQL only reads columns; formatting runs here, on
/// the other core, so a large export is a pipeline instead of one busy backend.
/// </summary>
public sealed class IncidentRowWriter
{
    /// <summary>Ordinals of the fixed leading columns of every projection.</summary>
    private const int IdOrdinal = 0, XOrdinal = 1, YOrdinal = 2, ShapeOrdinal = 3, FirstProperty = 4;

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // Keep non-ASCII text (Arabic place names) readable and compact instead of \u-escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private readonly IReadOnlyList<OutputColumn> columns;
    private readonly JsonEncodedText[] names;
    private readonly string coordinateFormat;
    private readonly int precision;
    private Utf8JsonWriter? json;

    /// <summary>The bytes of the column being written (<see cref="Bytes"/>), grown as needed.</summary>
    private byte[] column = new byte[512];

    public IncidentRowWriter(IncidentQuery query)
    {
        columns = IncidentSqlBuilder.OutputColumns(query);
        names = columns.Select(c => JsonEncodedText.Encode(c.Name)).ToArray();
        coordinateFormat = query.Precision == 0 ? "0" : "0." + new string('#', query.Precision);
        precision = query.Precision;
    }

    /// <summary>Number of columns the projection selects; later ordinals (sort keys, extras) follow them.</summary>
    public int ColumnCount => FirstProperty + columns.Count;

    /// <summary>The current row as one GeoJSON Feature; the projection starts at ordinal <paramref name="at"/>.</summary>
    public void WriteFeature(DbDataReader row, IBufferWriter<byte> output, int at = 0)
    {
        if (json is null) json = new Utf8JsonWriter(output, JsonOptions);
        else json.Reset(output);
        Span<byte> scratch = stackalloc byte[32];

        json.WriteStartObject();
        json.WriteString("type"u8, "Feature"u8);
        json.WriteNumber("id"u8, row.GetInt64(at + IdOrdinal));
        json.WritePropertyName("geometry"u8);
        if (!row.IsDBNull(at + XOrdinal))
        {
            json.WriteStartObject();
            json.WriteString("type"u8, "Point"u8);
            json.WriteStartArray("coordinates"u8);
            json.WriteRawValue(scratch[..Coordinate(row.GetDouble(at + XOrdinal), scratch)], skipInputValidation: true);
            json.WriteRawValue(scratch[..Coordinate(row.GetDouble(at + YOrdinal), scratch)], skipInputValidation: true);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        else json.WriteRawValue(Bytes(row, at + ShapeOrdinal), skipInputValidation: true);

        json.WriteStartObject("properties"u8);
        for (var n = 0; n < columns.Count; n++)
        {
            var ordinal = at + FirstProperty + n;
            json.WritePropertyName(names[n]);
            if (row.IsDBNull(ordinal))
            {
                json.WriteNullValue();
                continue;
            }
            switch (columns[n].Kind)
            {
                case ColumnKind.Text: json.WriteStringValue(Bytes(row, ordinal)); break;
                case ColumnKind.Integer: json.WriteNumberValue(row.GetInt64(ordinal)); break;
                case ColumnKind.Decimal: json.WriteNumberValue(row.GetDecimal(ordinal)); break;
                case ColumnKind.Time: json.WriteStringValue(scratch[..JsonTime(row.GetDateTime(ordinal), scratch)]); break;
                case ColumnKind.Json: json.WriteRawValue(CompactJson(row, ordinal), skipInputValidation: true); break;
                case ColumnKind.TextList: WriteTextList(json, Bytes(row, ordinal)); break;
            }
        }
        json.WriteEndObject();
        json.WriteEndObject();
        json.Flush();
    }

    /// <summary>
    /// A column's value as PostgreSQL sent it, without a .NET string in between: text is UTF-8 (Npgsql's
    /// client encoding), so it is written as it came, escaped where JSON needs it; a text[] is in the
    /// binary array format (<see cref="WriteTextList"/>). Valid until the next call.
    /// </summary>
    private ReadOnlySpan<byte> Bytes(DbDataReader row, int ordinal)
    {
        var read = (int)row.GetBytes(ordinal, 0, column, 0, column.Length);
        if (read < column.Length) return column.AsSpan(0, read);
        // It may not have fitted: the whole length, and a buffer that holds it.
        var length = (int)row.GetBytes(ordinal, 0, null, 0, 0);
        if (length <= column.Length) return column.AsSpan(0, length);
        column = new byte[Math.Max(length, 2 * column.Length)];
        return column.AsSpan(0, (int)row.GetBytes(ordinal, 0, column, 0, length));
    }

    /// <summary>A jsonb column (sources) as PostgreSQL sent it, without the spaces jsonb puts after colons and commas.</summary>
    private ReadOnlySpan<byte> CompactJson(DbDataReader row, int ordinal)
    {
        var length = Bytes(row, ordinal).Length; // in column
        return column.AsSpan(0, JsonText.Compact(column.AsSpan(0, length)));
    }

    /// <summary>
    /// A one-dimensional text[] in PostgreSQL's binary array format as a JSON array: a header of
    /// dimensions, a null flag and the element type, then per dimension its length and lower bound,
    /// then each element as a length (-1 for NULL) and its UTF-8 bytes, all integers big-endian.
    /// </summary>
    private static void WriteTextList(Utf8JsonWriter json, ReadOnlySpan<byte> array)
    {
        json.WriteStartArray();
        foreach (var (start, length) in new Elements(array))
        {
            if (length < 0) json.WriteNullValue();
            else json.WriteStringValue(array.Slice(start, length));
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// Where each element of a one-dimensional binary array lies in it: its start, and its length (-1
    /// for NULL). Walked in place, so a list costs no allocation per row.
    /// </summary>
    private ref struct Elements
    {
        private readonly ReadOnlySpan<byte> _array;
        private int _left;
        private int _at;

        public Elements(ReadOnlySpan<byte> array)
        {
            var dimensions = BinaryPrimitives.ReadInt32BigEndian(array);
            if (dimensions > 1) throw new NotSupportedException("text lists are one-dimensional");
            _array = array;
            _left = dimensions == 0 ? 0 : BinaryPrimitives.ReadInt32BigEndian(array[12..]);
            _at = 12 + 8 * dimensions;
        }

        public (int Start, int Length) Current { get; private set; }

        public readonly Elements GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_left == 0) return false;
            _left--;
            var length = BinaryPrimitives.ReadInt32BigEndian(_array[_at..]);
            _at += 4;
            Current = (_at, length);
            if (length > 0) _at += length;
            return true;
        }
    }

    /// <summary>The current row as a GeoJSON Feature string (single features, change-feed entries).</summary>
    public string FeatureJson(DbDataReader row, int at = 0)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        WriteFeature(row, buffer, at);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The header line of CSV output, in the order of <see cref="WriteCsv"/>.</summary>
    public string CsvHeader => "id,lon,lat,wkt" + string.Concat(columns.Select(c => "," + c.Name));

    /// <summary>
    /// The current row as an RFC 4180 line (without its line break): id, lon and lat for points, WKT for
    /// other shapes, then one field per property. Lists are joined with ';'; times are UTC to the second.
    /// </summary>
    public void WriteCsv(DbDataReader row, IBufferWriter<byte> output)
    {
        Span<byte> scratch = stackalloc byte[32];
        Append(output, scratch[..Integer(row.GetInt64(IdOrdinal), scratch)]);
        Append(output, ","u8);
        if (!row.IsDBNull(XOrdinal))
        {
            Append(output, scratch[..Coordinate(row.GetDouble(XOrdinal), scratch)]);
            Append(output, ","u8);
            Append(output, scratch[..Coordinate(row.GetDouble(YOrdinal), scratch)]);
            Append(output, ","u8);
        }
        else
        {
            Append(output, ",,"u8);
            Quoted(output, Bytes(row, ShapeOrdinal));
        }

        for (var n = 0; n < columns.Count; n++)
        {
            var ordinal = FirstProperty + n;
            Append(output, ","u8);
            if (row.IsDBNull(ordinal)) continue;
            switch (columns[n].Kind)
            {
                case ColumnKind.Text: Quoted(output, Bytes(row, ordinal), defuse: true); break;
                case ColumnKind.Json: Quoted(output, Bytes(row, ordinal)); break;
                case ColumnKind.Integer: Append(output, scratch[..Integer(row.GetInt64(ordinal), scratch)]); break;
                case ColumnKind.Decimal:
                    row.GetDecimal(ordinal).TryFormat(scratch, out var written, default, CultureInfo.InvariantCulture);
                    Append(output, scratch[..written]);
                    break;
                case ColumnKind.Time:
                    // Fractions of a second too: a CSV export imported again must not change a time.
                    var length = Seconds(row.GetDateTime(ordinal), scratch);
                    scratch[length++] = (byte)'Z';
                    Append(output, scratch[..length]);
                    break;
                case ColumnKind.TextList: CsvList(output, Bytes(row, ordinal)); break;
            }
        }
    }

    private static int Integer(long value, Span<byte> utf8)
    {
        value.TryFormat(utf8, out var written, default, CultureInfo.InvariantCulture);
        return written;
    }

    private static void Append(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    /// <summary>Bytes that make a CSV field need quotes.</summary>
    private static readonly SearchValues<byte> CsvSpecial = SearchValues.Create(",\"\r\n"u8);

    /// <summary>
    /// First characters that make a spreadsheet read a cell as a formula (= + - @, tab, CR), and the
    /// apostrophe that escapes them: text starting with one gets an apostrophe in front, which
    /// spreadsheets hide (OWASP "CSV injection"; a title =HYPERLINK(…) would otherwise run when a
    /// journalist opens the export). An apostrophe is escaped too, so the import can take exactly one
    /// off again (<see cref="Imports.IncidentCsvLayout"/>).
    /// </summary>
    public static readonly SearchValues<byte> FormulaStart = SearchValues.Create("=+-@\t\r'"u8);

    /// <summary>A field quoted only when it holds a comma, quote or line break; quotes doubled; text defused.</summary>
    private static void Quoted(IBufferWriter<byte> output, ReadOnlySpan<byte> value, bool defuse = false)
    {
        var apostrophe = defuse && value.Length > 0 && FormulaStart.Contains(value[0]);
        if (value.IndexOfAny(CsvSpecial) < 0)
        {
            if (apostrophe) Append(output, "'"u8);
            Append(output, value);
            return;
        }
        Append(output, "\""u8);
        if (apostrophe) Append(output, "'"u8);
        DoublingQuotes(output, value);
        Append(output, "\""u8);
    }

    private static void DoublingQuotes(IBufferWriter<byte> output, ReadOnlySpan<byte> value)
    {
        for (var quote = value.IndexOf((byte)'"'); quote >= 0; quote = value.IndexOf((byte)'"'))
        {
            Append(output, value[..(quote + 1)]);
            Append(output, "\""u8);
            value = value[(quote + 1)..];
        }
        Append(output, value);
    }

    /// <summary>
    /// A text[] as one field: the elements joined with ';' (a NULL element as nothing; see
    /// <see cref="ListItem"/> for a ';' inside one), quoted as a whole when any element needs it.
    /// </summary>
    private static void CsvList(IBufferWriter<byte> output, ReadOnlySpan<byte> array)
    {
        var quote = false;
        foreach (var (start, length) in new Elements(array)) quote |= length > 0 && array.Slice(start, length).IndexOfAny(CsvSpecial) >= 0;
        if (quote) Append(output, "\""u8);
        var first = true;
        foreach (var (start, length) in new Elements(array))
        {
            if (!first) Append(output, ";"u8);
            else if (length > 0 && FormulaStart.Contains(array[start])) Append(output, "'"u8); // the cell starts here
            first = false;
            if (length > 0) ListItem(output, array.Slice(start, length));
        }
        if (quote) Append(output, "\""u8);
    }

    private static readonly SearchValues<byte> ListSpecial = SearchValues.Create(";\\"u8);

    /// <summary>
    /// One element of a list field: a ';' inside it (the separator) and a backslash get a backslash
    /// in front, so that an actor named "A; B" comes back from the import as one actor, not two.
    /// </summary>
    private static void ListItem(IBufferWriter<byte> output, ReadOnlySpan<byte> item)
    {
        for (var special = item.IndexOfAny(ListSpecial); special >= 0; special = item.IndexOfAny(ListSpecial))
        {
            DoublingQuotes(output, item[..special]);
            Append(output, "\\"u8);
            Append(output, item.Slice(special, 1));
            item = item[(special + 1)..];
        }
        DoublingQuotes(output, item);
    }

    /// <summary>
    /// A coordinate rounded half away from zero to the asked decimals, without trailing zeros or
    /// exponent, as UTF-8 into <paramref name="utf8"/>; returns the length.
    /// </summary>
    private int Coordinate(double value, Span<byte> utf8)
    {
        var (rounded, format) = Rounded(value);
        rounded.TryFormat(utf8, out var written, format, CultureInfo.InvariantCulture);
        return written;
    }

    /// <summary>
    /// The rounded value and its format: the shortest round-trip form (the fast path) unless that would
    /// switch to an exponent, which it does only below 1e-4. At <see cref="IncidentQuery.StoredPrecision"/>
    /// the value as stored, in its shortest round-trip form (an exponent is valid JSON).
    /// </summary>
    private (double Rounded, string? Format) Rounded(double value)
    {
        if (precision > 15) return (value, null);
        var rounded = Math.Round(value, precision, MidpointRounding.AwayFromZero);
        return (rounded, Math.Abs(rounded) >= 1e-4 || rounded == 0 ? null : coordinateFormat);
    }

    private static readonly string[] DigitFormats = ["D0", "D1", "D2", "D3", "D4", "D5", "D6"];

    /// <summary>
    /// PostgreSQL's JSON rendering of a timestamptz in UTC, as UTF-8 into <paramref name="utf8"/>: seconds,
    /// then microseconds without trailing zeros when there are any, then +00:00. Returns the length.
    /// </summary>
    private static int JsonTime(DateTime utc, Span<byte> utf8)
    {
        var length = Seconds(utc, utf8);
        "+00:00"u8.CopyTo(utf8[length..]);
        return length + 6;
    }

    /// <summary>The time to the second, then its microseconds without trailing zeros when there are any; no zone.</summary>
    private static int Seconds(DateTime utc, Span<byte> utf8)
    {
        utc.TryFormat(utf8, out var length, "s", CultureInfo.InvariantCulture);
        var micros = utc.Ticks % TimeSpan.TicksPerSecond / 10;
        if (micros != 0)
        {
            var digits = 6;
            while (micros % 10 == 0) (micros, digits) = (micros / 10, digits - 1);
            utf8[length++] = (byte)'.';
            micros.TryFormat(utf8[length..], out var written, DigitFormats[digits], CultureInfo.InvariantCulture);
            length += written;
        }
        return length;
    }
}
