using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using Microsoft.AspNetCore.RequestDecompression;

namespace IncidentMap.Api.Imports;

/// <summary>
/// Decompression that notices a compressed upload cut short. .NET's GZipStream and BrotliStream end
/// quietly where their input ends, so a transfer broken off mid-file would import its first half and
/// report success. These streams throw <see cref="InvalidDataException"/> at the end instead, which the
/// importer reports like any unreadable body (the rows before it are imported, and the answer says so).
/// </summary>
public static class CompleteDecompression
{
    /// <summary>The request decompression providers: gzip and br, each checked to its end. (deflate is not
    /// offered: raw deflate carries no end marker a reader could check.)</summary>
    public static void Configure(RequestDecompressionOptions options)
    {
        options.DecompressionProviders.Clear();
        options.DecompressionProviders["gzip"] = new Provider(stream => new CheckedGzipStream(stream));
        options.DecompressionProviders["br"] = new Provider(stream => new CheckedBrotliStream(stream));
    }

    /// <summary>The codings <see cref="Configure"/> decodes, as a 415's <c>Accept-Encoding</c> names them.</summary>
    public const string Codings = "gzip, br";

    private sealed class Provider(Func<Stream, Stream> open) : IDecompressionProvider
    {
        public Stream GetDecompressionStream(Stream stream) => open(stream);
    }

    /// <summary>Whether data starts as gzip does (its magic bytes 1f 8b).</summary>
    public static bool IsGzip(ReadOnlySpan<byte> head) => head is [0x1f, 0x8b, ..];

    public const string Truncated = "is cut off: the compressed data ends before the end its format marks (a transfer broken off?)";
}

/// <summary>Compressed data found wanting by these streams; the message is a phrase about the body.</summary>
public sealed class IncompleteDataException(string message) : IOException(message);

/// <summary>
/// gzip checked against its trailer: the CRC-32 and length (mod 2³²) of what it decompressed must be the
/// last eight bytes read. A file of several gzip members (cat a.gz b.gz) fails the check too, since the
/// trailer is then the last member's; recompressing it as one member imports it.
/// </summary>
public sealed class CheckedGzipStream(Stream compressed) : ReadOnlyStream
{
    private readonly TailStream _tail = new(compressed);
    private readonly Crc32 _crc = new();
    private GZipStream? _gzip;
    private long _length;
    private bool _checked;

    private GZipStream Gzip => _gzip ??= new GZipStream(_tail, CompressionMode.Decompress);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var read = await Gzip.ReadAsync(buffer, ct);
        return Account(buffer.Span, read);
    }

    public override int Read(Span<byte> buffer) => Account(buffer, Gzip.Read(buffer));

    private int Account(Span<byte> buffer, int read)
    {
        if (read > 0)
        {
            _crc.Append(buffer[..read]);
            _length += read;
        }
        else if (!_checked && buffer.Length > 0)
        {
            _checked = true;
            var trailer = _tail.Last8;
            if (trailer is null
                || BinaryPrimitives.ReadUInt32LittleEndian(trailer) != _crc.GetCurrentHashAsUInt32()
                || BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4)) != (uint)_length)
                throw new IncompleteDataException(CompleteDecompression.Truncated + "; or it holds several gzip members (compress it as one file)");
        }
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) (_gzip ?? (Stream)_tail).Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Passes reads through and remembers the last eight bytes that went by.</summary>
    private sealed class TailStream(Stream inner) : ReadOnlyStream
    {
        private readonly byte[] _last = new byte[8];
        private long _seen;

        public byte[]? Last8 => _seen < 8 ? null : [.. _last[(int)(_seen % 8)..], .. _last[..(int)(_seen % 8)]];

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var read = await inner.ReadAsync(buffer, ct);
            return Keep(buffer.Span, read);
        }

        public override int Read(Span<byte> buffer) => Keep(buffer, inner.Read(buffer));

        private int Keep(ReadOnlySpan<byte> buffer, int read)
        {
            // Only the last eight of a read can matter; the ring's oldest byte sits at _seen % 8.
            _seen += Math.Max(0, read - 8);
            foreach (var b in buffer[Math.Max(0, read - 8)..read]) _last[_seen++ % 8] = b;
            return read;
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
