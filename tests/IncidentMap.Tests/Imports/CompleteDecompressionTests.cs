using System.IO.Compression;
using IncidentMap.Api.Imports;

namespace IncidentMap.Tests.Imports;

/// <summary>Compressed uploads cut short are noticed (.NET's own streams end quietly where the input does).</summary>
public sealed class CompleteDecompressionTests
{
    private static readonly byte[] Text = System.Text.Encoding.ASCII.GetBytes(string.Concat(
        Enumerable.Range(0, 40_000).Select(n => $"row {n},{n * 7 % 1000},{(n % 13 == 0 ? "quoted, text" : "plain")}\n")));

    private static byte[] Compress(string coding, byte[] data)
    {
        var output = new MemoryStream();
        using (Stream compressor = coding == "br"
            ? new BrotliStream(output, CompressionLevel.Fastest, leaveOpen: true)
            : new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            compressor.Write(data);
        return output.ToArray();
    }

    private static Stream Open(string coding, byte[] compressed) =>
        coding == "br" ? new CheckedBrotliStream(new MemoryStream(compressed)) : new CheckedGzipStream(new MemoryStream(compressed));

    /// <summary>Reads it all, in reads of <paramref name="chunk"/> bytes, synchronously or not.</summary>
    private static async Task<byte[]> ReadAllAsync(Stream stream, int chunk, bool async)
    {
        var output = new MemoryStream();
        var buffer = new byte[chunk];
        int read;
        while ((read = async ? await stream.ReadAsync(buffer) : stream.Read(buffer)) > 0) output.Write(buffer, 0, read);
        return output.ToArray();
    }

    [Theory]
    [InlineData("gzip", 1, false)]
    [InlineData("gzip", 65536, true)]
    [InlineData("br", 1, true)]
    [InlineData("br", 65536, false)]
    public async Task A_whole_stream_reads_back_exactly(string coding, int chunk, bool async)
    {
        await using var stream = Open(coding, Compress(coding, Text));
        Assert.Equal(Text, await ReadAllAsync(stream, chunk, async));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task A_stream_cut_anywhere_is_an_error_not_a_shorter_file(string coding)
    {
        var compressed = Compress(coding, Text);
        // In the middle, just before the end, and (gzip) inside its eight-byte trailer.
        foreach (var cut in new[] { 0, 10, compressed.Length / 2, compressed.Length - 9, compressed.Length - 4, compressed.Length - 1 })
        {
            await using var stream = Open(coding, compressed[..cut]);
            var error = await Assert.ThrowsAsync<IncompleteDataException>(() => ReadAllAsync(stream, 8192, async: true));
            Assert.Contains("cut off", error.Message);
        }
    }

    [Fact]
    public async Task Several_gzip_members_are_refused_rather_than_read_in_part()
    {
        var twice = Compress("gzip", Text[..1000]).Concat(Compress("gzip", Text[1000..2000])).ToArray();
        await using var stream = Open("gzip", twice);
        var error = await Assert.ThrowsAsync<IncompleteDataException>(() => ReadAllAsync(stream, 8192, async: true));
        Assert.Contains("several gzip members", error.Message);
    }
}
