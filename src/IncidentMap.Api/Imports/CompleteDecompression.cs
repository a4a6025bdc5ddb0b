using System.Buffers;
using System.IO.Compression;
using Microsoft.AspNetCore.RequestDecompression;

namespace IncidentMap.Api.Imports;

/// <summary>
/// Decompression that notices a compressed upload cut short. .NET's GZipStream and BrotliStream end
/// quietly where their input ends, so a transfer broken off mid-file would import its first half and
/// report success. These streams throw <see cref="InvalidDataException"/> at the end instead; an import reads
/// a compressed input through them to its end before it imports any of it (<see cref="CheckedFirst"/>), and
/// reports the error as it reports any unreadable body, with nothing imported.
/// </summary>
public static class CompleteDecompression
{
    /// <summary>The request decompression providers: gzip and br, each checked to its end. (deflate is not
    /// offered: raw deflate carries no end marker a reader could check.)</summary>
    public static void Configure(RequestDecompressionOptions options)
    {
        options.DecompressionProviders.Clear();
        options.DecompressionProviders["gzip"] = new Provider(stream => new CheckedGzipStream(stream));
        // RFC 9110 §8.4.1.3: a recipient SHOULD treat x-gzip as gzip (older clients and proxies still send it).
        options.DecompressionProviders["x-gzip"] = new Provider(stream => new CheckedGzipStream(stream));
        options.DecompressionProviders["br"] = new Provider(stream => new CheckedBrotliStream(stream));
    }

    /// <summary>The key of <c>HttpContext.Items</c> that says the request came with a Content-Encoding.</summary>
    public static readonly object Encoded = new();

    /// <summary>The codings <see cref="Configure"/> decodes, as a 415's <c>Accept-Encoding</c> names them.</summary>
    public const string Codings = "gzip, br";

    private sealed class Provider(Func<Stream, Stream> open) : IDecompressionProvider
    {
        public Stream GetDecompressionStream(Stream stream) => open(stream);
    }

    /// <summary>Whether data starts as gzip does (its magic bytes 1f 8b).</summary>
    public static bool IsGzip(ReadOnlySpan<byte> head) => head is [0x1f, 0x8b, ..];

    /// <summary>What an import says of a gzip body that came without its Content-Encoding.</summary>
    public const string Undeclared = "looks gzip-compressed but came without Content-Encoding; send Content-Encoding: gzip, or the file uncompressed";

    public const string Truncated = "is cut off: the compressed data ends before the end its format marks (a transfer broken off?)";
}

/// <summary>
/// A compressed input is read to its end, and so checked, before any of it is imported. A byte changed in
/// transfer may still decompress, into other text that reads as rows (a longitude 21.1967 came out as
/// 11.1967 in an audit), and gzip's CRC-32, which catches that, comes only at the end of its member, after
/// the rows before it had been stored; brotli carries no checksum, only its format's end. So a compressed
/// upload is decompressed into a temporary file first (<see cref="ImportSpool"/>), and a compressed file is
/// read through once before it is imported: one that is cut off or corrupt imports nothing.
/// </summary>
public static class CheckedFirst
{
    /// <summary>
    /// The data of <paramref name="decompressed"/> in a temporary file (deleted as it closes), at its start; or,
    /// when it cannot be read to its end, a stream that throws that error at its first read, which the importer
    /// reports as it reports any unreadable body, at line 1 with nothing imported.
    /// </summary>
    public static async Task<Stream> SpoolAsync(Stream decompressed, CancellationToken ct)
    {
        try
        {
            return await ImportSpool.StoreAsync(decompressed, ct);
        }
        catch (Exception e) when (e is InvalidDataException or IncompleteDataException or ImportBodyException)
        {
            return new Unreadable(e);
        }
    }

    /// <summary>Null when <paramref name="decompressed"/> reads to its end; else a stream as <see cref="SpoolAsync"/> gives for it.</summary>
    public static async Task<Stream?> ReadThroughAsync(Stream decompressed, CancellationToken ct)
    {
        await using (decompressed)
        {
            try
            {
                await decompressed.CopyToAsync(Stream.Null, ct);
                return null;
            }
            catch (Exception e) when (e is InvalidDataException or IncompleteDataException)
            {
                return new Unreadable(e);
            }
        }
    }

    /// <summary>Throws the error that ended the check, at the first read.</summary>
    private sealed class Unreadable(Exception error) : ReadOnlyStream
    {
        private readonly System.Runtime.ExceptionServices.ExceptionDispatchInfo _error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error);

        public override int Read(Span<byte> buffer)
        {
            _error.Throw();
            return 0;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            _error.Throw();
            return ValueTask.FromResult(0);
        }
    }
}

/// <summary>Compressed data found wanting by these streams; the message is a phrase about the body.</summary>
public sealed class IncompleteDataException(string message) : IOException(message);

/// <summary>
/// gzip, member after member (a file may hold several: <c>cat a.gz b.gz</c>, bgzip), each checked
/// against its own trailer, and the end of the data checked to be the end of a member.
/// </summary>
/// <remarks>
/// GZipStream decodes one member after another, and zlib, underneath, checks each member's CRC-32 and
/// length against its trailer. What neither notices is input that stops inside a member: GZipStream then
/// just ends. So the input reaches it through <see cref="Feed"/>, which, where the input ends, hands over
/// one byte more, 00, which cannot start a member. A decoder that has finished its last member takes that
/// byte for something after the gzip data and stops without asking for more; a decoder inside a member
/// (its header, its data or its trailer) takes it as that member's next byte, and then asks for more,
/// decodes something from it, or fails: each of these means the data was cut off. (A cut exactly between
/// two members leaves a whole file of fewer members; gzip -d cannot tell that either.) Bytes after the
/// last member (zero padding, anything else) are refused, where gzip -d drops them: they may be data
/// someone meant to import.
/// </remarks>
public sealed class CheckedGzipStream(Stream compressed) : ReadOnlyStream
{
    /// <summary>Why zlib refused the data: a phrase, as the importer puts it in parentheses.</summary>
    public const string Corrupt = "not valid gzip data: corrupt, or a member's CRC-32 or length differs from its trailer";
    public const string Trailing = "goes on after its last gzip member with bytes that are not gzip (zero padding or garbage, which gzip -d would drop); remove them, or compress the data again";

    private readonly Feed _feed = new(compressed);
    private GZipStream? _gzip;
    private string? _failure;
    private bool _ended;

    private GZipStream Gzip => _gzip ??= new GZipStream(_feed, CompressionMode.Decompress);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (Settled() is { } settled) return settled;
        int read;
        try
        {
            read = await Gzip.ReadAsync(buffer, ct);
        }
        catch (InvalidDataException e)
        {
            throw Fail(e);
        }
        return Check(read, buffer.Length);
    }

    public override int Read(Span<byte> buffer)
    {
        if (Settled() is { } settled) return settled;
        int read;
        try
        {
            read = Gzip.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw Fail(e);
        }
        return Check(read, buffer.Length);
    }

    /// <summary>0 once the data has ended well; the same error again once it has not.</summary>
    private int? Settled() => _failure is not null ? throw new IncompleteDataException(_failure) : _ended ? 0 : null;

    private Exception Fail(InvalidDataException e)
    {
        // Past the input's end, the decoder could only fail on the extra byte: the data stops inside a member.
        if (_feed.PastEnd) return new IncompleteDataException(_failure = CompleteDecompression.Truncated);
        return new InvalidDataException(Corrupt, e);
    }

    private int Check(int read, int wanted)
    {
        if (wanted == 0) return read;
        if (_feed.PastEnd)
        {
            if (read > 0 || _feed.AskedPastEnd) throw new IncompleteDataException(_failure = CompleteDecompression.Truncated);
            _ended = true;
            return 0;
        }
        // Nothing more while input remains: the decoder finished a member and found no gzip member after it.
        if (read == 0) throw new IncompleteDataException(_failure = Trailing);
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) (_gzip ?? (Stream)_feed).Dispose();
        base.Dispose(disposing);
    }

    /// <summary>The input, then one byte 00 where it ends; says whether that byte went out, and whether more was asked for after it.</summary>
    private sealed class Feed(Stream inner) : ReadOnlyStream
    {
        public bool PastEnd { get; private set; }
        public bool AskedPastEnd { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (buffer.IsEmpty || PastEnd) return End(buffer.Span);
            var read = await inner.ReadAsync(buffer, ct);
            return Pass(buffer.Span, read);
        }

        public override int Read(Span<byte> buffer) =>
            buffer.IsEmpty || PastEnd ? End(buffer) : Pass(buffer, inner.Read(buffer));

        private int Pass(Span<byte> buffer, int read) => read > 0 ? read : End(buffer);

        private int End(Span<byte> buffer)
        {
            if (buffer.IsEmpty) return 0;
            if (PastEnd)
            {
                AskedPastEnd = true;
                return 0;
            }
            PastEnd = true;
            buffer[0] = 0;
            return 1;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>Brotli through <see cref="BrotliDecoder"/>, whose status says whether the stream reached its last block.</summary>
public sealed class CheckedBrotliStream(Stream compressed) : ReadOnlyStream
{
    private BrotliDecoder _decoder;
    private readonly byte[] _input = ArrayPool<byte>.Shared.Rent(1 << 16);
    private int _start, _end;
    private bool _eof, _done;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (true)
        {
            if (Step(buffer.Span, out var written)) return written;
            var read = await compressed.ReadAsync(_input.AsMemory(Compact()), ct);
            _end += read;
            _eof = read == 0;
        }
    }

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            if (Step(buffer, out var written)) return written;
            var read = compressed.Read(_input.AsSpan(Compact()));
            _end += read;
            _eof = read == 0;
        }
    }

    /// <summary>Moves unread input to the front of the buffer; returns where new input goes.</summary>
    private int Compact()
    {
        _input.AsSpan(_start, _end - _start).CopyTo(_input);
        (_start, _end) = (0, _end - _start);
        // The decoder takes all it is given before it asks for more; a full buffer it left alone is not brotli.
        if (_end == _input.Length) throw new IncompleteDataException("is not valid brotli data");
        return _end;
    }

    /// <summary>Decodes what is buffered; false when more input is needed first.</summary>
    private bool Step(Span<byte> buffer, out int written)
    {
        written = 0;
        if (_done || buffer.IsEmpty) return true;
        var status = _decoder.Decompress(_input.AsSpan(_start, _end - _start), buffer, out var consumed, out written);
        _start += consumed;
        switch (status)
        {
            case System.Buffers.OperationStatus.Done:
                _done = true;
                return true;
            case System.Buffers.OperationStatus.InvalidData:
                throw new IncompleteDataException("is not valid brotli data");
            case System.Buffers.OperationStatus.DestinationTooSmall:
                return true;
            default: // NeedMoreData
                if (written > 0) return true;
                if (_eof) throw new IncompleteDataException(CompleteDecompression.Truncated);
                return false;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _decoder.Dispose();
            ArrayPool<byte>.Shared.Return(_input);
            compressed.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The members every read-only, forward-only stream answers the same way. A subclass reads into spans
/// and memory; the array overloads come to those (abstract here, so neither can fall back on the other).
/// </summary>
public abstract class ReadOnlyStream : Stream
{
    public abstract override int Read(Span<byte> buffer);
    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
