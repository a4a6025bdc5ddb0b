using System.Text;
using IncidentMap.Api.Imports;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The CSV reader's UTF-8 decoding: valid text as .NET's decoder reads it, whatever the sizes of the reads and the
/// caller's buffer; each run of bytes that are not UTF-8 as <see cref="CsvReader.NotUtf8"/>, which valid text
/// (U+FFFF included) never decodes to.
/// </summary>
public sealed class Utf8CharsTests
{
    public static TheoryData<string> Texts => new()
    {
        "plain ASCII, with commas\n",
        "Ḥimṣ حمص Київ 😀 𝅘𝅥𝅮 a\uFFFF b\uFFFE c\uFEFF",
        "😀😀😀😀😀😀😀",
        "\uFEFF a byte order mark after the file's own is text",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public async Task Valid_UTF8_decodes_as_dotNET_decodes_it_in_any_slices(string text)
    {
        // A file's own byte order mark is skipped (so a text starting with one has it read as the file's).
        var bytes = Encoding.UTF8.GetBytes(text);
        foreach (var (readSize, slot) in new[] { (1, 1), (1, 7), (2, 1), (3, 2), (4096, 1), (4096, 4096) })
        {
            Assert.DoesNotContain(CsvReader.NotUtf8, await DecodeAsync(bytes, readSize, slot));
            Assert.Equal(text.TrimStart('\uFEFF'), await DecodeAsync(bytes, readSize, slot));
            Assert.Equal(text, await DecodeAsync([.. Encoding.UTF8.GetPreamble(), .. bytes], readSize, slot));
        }
    }

    [Theory]
    // '#' stands for the marker (a lone surrogate does not survive as test data).
    [InlineData(new byte[] { 0x61, 0xE2, 0x72, 0x62 }, "a#rb")]         // a lead byte that 'r' does not continue
    [InlineData(new byte[] { 0x61, 0xFF, 0xFE, 0x62 }, "a##b")]         // bytes no UTF-8 has
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "###")]                // a surrogate written in UTF-8
    [InlineData(new byte[] { 0x61, 0xF0, 0x9F, 0x98 }, "a#")]           // cut short at the end of the file
    [InlineData(new byte[] { 0xC0, 0xAF, 0x61 }, "##a")]                // an overlong '/'
    public async Task Bytes_that_are_not_UTF8_read_as_the_marker_and_nothing_else_does(byte[] bytes, string expected)
    {
        foreach (var (readSize, slot) in new[] { (1, 1), (2, 1), (4096, 4096) })
            Assert.Equal(expected.Replace('#', CsvReader.NotUtf8), await DecodeAsync(bytes, readSize, slot));
    }

    private static async Task<string> DecodeAsync(byte[] bytes, int readSize, int slot)
    {
        var chars = new Utf8Chars(new Trickle(bytes, readSize));
        var text = new StringBuilder();
        var buffer = new char[slot];
        int read;
        while ((read = await chars.ReadAsync(buffer, CancellationToken.None)) > 0) text.Append(buffer, 0, read);
        return text.ToString();
    }

    /// <summary>At most <c>size</c> bytes a read.</summary>
    private sealed class Trickle(byte[] bytes, int size) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) =>
            base.ReadAsync(buffer[..Math.Min(size, buffer.Length)], ct);
    }
}
