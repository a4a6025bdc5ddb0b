using System.Text;
using IncidentMap.Api.Imports;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The CSV reader on its own: each case read whole and trickled one byte a read, so that every record is also cut by
/// the end of the buffered text at every position (the reader then parses the record again from its start).
/// </summary>
public sealed class CsvReaderTests
{
    public static TheoryData<string, string[][]> Padded => new()
    {
        // Exporters that align their columns pad around quoted values; the comma inside stays in the value.
        { "1, \"Homs, Syria\" ,3\n", [["1", "Homs, Syria", "3"]] },
        { "\"a\"\t,\t\"b\"\r\n\"c\" ,\"d\"  \r\n", [["a", "b"], ["c", "d"]] },
        { "  \"x\"  ", [["x"]] },
        { "\"a\"   \n\"b\"", [["a"], ["b"]] },
        { "\"say \"\"hi\"\"\" ,2\n", [["say \"hi\"", "2"]] },
        // Padding around an unquoted value, or a value of padding alone, stays the value as written.
        { " plain , 2 ,\"q\",  \n", [[" plain ", " 2 ", "q", "  "]] },
        { "a,  x\"y\"\n", [["a", "  x\"y\""]] },
    };

    [Theory]
    [MemberData(nameof(Padded))]
    public async Task Spaces_and_tabs_around_a_quoted_value_are_padding(string csv, string[][] expected)
    {
        foreach (var trickle in new[] { false, true })
        {
            var (records, misquoted) = await ReadAllAsync(csv, trickle);

            Assert.Equal(expected, records);
            Assert.All(misquoted, m => Assert.Equal(-1, m));
        }
    }

    [Theory]
    [InlineData("\"x\" y,2\n", 0)]
    [InlineData("1,\"x\"\ty\n", 1)]
    [InlineData("1, \"x\" \"y\",3\n", 1)]
    public async Task Other_text_after_a_closing_quote_still_marks_the_field(string csv, int field)
    {
        foreach (var trickle in new[] { false, true })
        {
            var (records, misquoted) = await ReadAllAsync(csv, trickle);

            Assert.Single(records);
            Assert.Equal(field, Assert.Single(misquoted));
        }
    }

    private static async Task<(List<string[]> Records, List<int> Misquoted)> ReadAllAsync(string csv, bool trickle)
    {
        var bytes = Encoding.UTF8.GetBytes(csv);
        var reader = new CsvReader(trickle ? new TrickleStream(bytes) : new MemoryStream(bytes));
        var (records, misquoted) = (new List<string[]>(), new List<int>());
        while (await reader.ReadAsync(CancellationToken.None))
        {
            records.Add([.. reader.Fields]);
            misquoted.Add(reader.MisquotedField);
        }
        return (records, misquoted);
    }

    /// <summary>Hands out one byte a read.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, 1)]);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            base.ReadAsync(buffer, offset, Math.Min(count, 1), ct);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, 1)], ct);
    }
}
