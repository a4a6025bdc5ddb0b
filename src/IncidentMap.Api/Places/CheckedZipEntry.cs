namespace IncidentMap.Api.Places;

/// <summary>
/// A zip entry's bytes, checked as they are read against the CRC-32 and length the archive records for it:
/// ZipArchiveEntry.Open() checks neither, so an entry stored uncompressed (as some tools pack small files) with a
/// byte changed in transfer read as good, and a dump imported a wrong coordinate. At its end, a mismatch is an
/// <see cref="InvalidDataException"/>, which fails the import before anything is committed (as a .gz's does).
/// </summary>
public sealed class CheckedZipEntry(Stream inner, uint expectedCrc, long expectedLength) : Imports.ReadOnlyStream
{
    private uint _crc = Crc32.Initial;
    private long _length;
    private bool _checked;

    public override int Read(Span<byte> buffer) => Checked(buffer, inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var read = await inner.ReadAsync(buffer, ct);
        return Checked(buffer.Span, read);
    }

    private int Checked(ReadOnlySpan<byte> buffer, int read)
    {
        if (read > 0)
        {
            _crc = Crc32.Append(_crc, buffer[..read]);
            _length += read;
        }
        else if (buffer.Length > 0 && !_checked)
        {
            _checked = true;
            var crc = Crc32.Final(_crc);
            if (_length != expectedLength)
                throw new InvalidDataException($"the entry holds {_length} bytes where the archive says {expectedLength}: the archive is corrupt (changed or cut in transfer?)");
            if (crc != expectedCrc)
                throw new InvalidDataException($"the entry's CRC-32 is {crc:x8} where the archive says {expectedCrc:x8}: the archive is corrupt (changed in transfer?)");
        }
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>CRC-32 as zip and gzip compute it (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven.</summary>
public static class Crc32
{
    public const uint Initial = 0xFFFFFFFF;

    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    public static uint Final(uint crc) => crc ^ 0xFFFFFFFF;

    public static uint Of(ReadOnlySpan<byte> bytes) => Final(Append(Initial, bytes));
}
