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

    /// <summary>Hands out at most <paramref name="most"/> bytes a read, so members end anywhere in what the decoder is given.</summary>
    private sealed class Trickle(byte[] data, int most) : ReadOnlyStream
    {
        private readonly MemoryStream _data = new(data);
        public override int Read(Span<byte> buffer) => _data.Read(buffer[..Math.Min(buffer.Length, most)]);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(Read(buffer.Span));
    }

    /// <summary>An empty member, as bgzip ends its files (header, an empty final block, CRC-32 0, length 0).</summary>
    private static readonly byte[] EmptyMember = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>gzip(1)'s header names the file (FNAME); GZipStream's does not: one member with a name, to read past it.</summary>
    private static byte[] Named(byte[] member) =>
        [.. member[..3], (byte)(member[3] | 0x08), .. member[4..10], .. "rows.csv\0"u8, .. member[10..]];

    /// <summary>Three members (one named, one empty) holding <see cref="Text"/>'s first 3000 bytes, and where each member ends.</summary>
    private static (byte[] Data, int[] Ends) Members()
    {
        byte[][] members = [Compress("gzip", Text[..1000]), Named(Compress("gzip", Text[1000..2500])), EmptyMember, Compress("gzip", Text[2500..3000])];
        var ends = members.Select((_, i) => members[..(i + 1)].Sum(m => m.Length)).ToArray();
        return ([.. members.SelectMany(m => m)], ends);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(7, true)]
    [InlineData(65536, true)]
    [InlineData(65536, false)]
    public async Task Several_gzip_members_read_back_as_one_file(int trickle, bool async)
    {
        var (data, _) = Members();
        await using var stream = new CheckedGzipStream(new Trickle(data, trickle));
        Assert.Equal(Text[..3000], await ReadAllAsync(stream, 4096, async));
        // A large file of many members, as bgzip writes them.
        var many = Enumerable.Range(0, 40).SelectMany(i => Compress("gzip", Text[(i * 5000)..((i + 1) * 5000)])).ToArray();
        await using var large = new CheckedGzipStream(new Trickle(many, trickle == 1 ? 4093 : trickle));
        Assert.Equal(Text[..200_000], await ReadAllAsync(large, 65536, async));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(7, true)]
    [InlineData(65536, true)]
    public async Task Several_gzip_members_cut_anywhere_but_between_two_are_an_error_not_a_shorter_file(int trickle, bool async)
    {
        var (data, ends) = Members();
        for (var cut = 0; cut < data.Length; cut++)
        {
            await using var stream = new CheckedGzipStream(new Trickle(data[..cut], trickle));
            if (ends.Contains(cut))
            {
                // Between two members the data is a whole file of fewer members (gzip -d cannot tell either).
                var read = await ReadAllAsync(stream, 4096, async);
                Assert.Equal(Text[..read.Length], read);
                continue;
            }
            var error = await Assert.ThrowsAsync<IncompleteDataException>(() => ReadAllAsync(stream, 4096, async));
            Assert.True(error.Message == CompleteDecompression.Truncated, $"cut at {cut} of {data.Length}: {error.Message}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_member_whose_trailer_does_not_match_its_data_is_an_error_naming_the_check(int member)
    {
        var (data, ends) = Members();
        // The CRC-32 of the first member, or the length of the second.
        data[member == 0 ? ends[0] - 8 : ends[1] - 1] ^= 0x01;
        await using var stream = new CheckedGzipStream(new MemoryStream(data));
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(stream, 4096, async: true));
        Assert.Contains("CRC-32 or length differs from its trailer", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0 }, 1)]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 1)]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 65536)]
    [InlineData(new byte[] { (byte)'e', (byte)'n', (byte)'d', (byte)'\n' }, 65536)]
    [InlineData(new byte[] { 0x1f, 0 }, 65536)]
    public async Task Bytes_after_the_last_member_are_refused_not_dropped(byte[] after, int trickle)
    {
        var (data, _) = Members();
        await using var stream = new CheckedGzipStream(new Trickle([.. data, .. after], trickle));
        var error = await Assert.ThrowsAsync<IncompleteDataException>(() => ReadAllAsync(stream, 4096, async: true));
        Assert.StartsWith("goes on after its last gzip member with bytes that are not gzip", error.Message);
    }
}
