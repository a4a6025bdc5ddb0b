using System.Globalization;
using Dapper;
using NetTopologySuite.Geometries;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Api.Places;

/// <summary>
/// <c>places import FILE</c>: extends the gazetteer from any GeoNames dump (allCountries.txt, SY.txt,
/// cities500.txt — tab-separated, 19 columns). Populated places (class P) and administrative areas
/// (class A) are upserted by geonameid; everything else is skipped. The dump may be as GeoNames serves
/// it (SY.zip, holding SY.txt) or gzip-compressed (of one member or several); a file in which no line
/// is a GeoNames place is refused, with nothing written, and so is one that cannot be read to its end
/// (a .gz cut short).
/// </summary>
public sealed class GeoNamesImport(NpgsqlDataSource dataSource)
{
    public sealed record Result(int Read, int Imported, int Skipped);

    /// <param name="name">What errors call the input (the file's path).</param>
    public async Task<Result> ImportAsync(Stream input, string name = "input", CancellationToken ct = default)
    {
        using var archive = Unpack(ref input);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // A dump such as allCountries.txt streams through one COPY for minutes: not a request's statement.
        await connection.ExecuteAsync(new CommandDefinition("""
            SET LOCAL statement_timeout = 0;
            CREATE TEMP TABLE geonames_import (
                geonameid bigint, name text, alternate_names text[], country char(2), kind text, population integer, geom geometry
            ) ON COMMIT DROP
            """, transaction: tx, cancellationToken: ct));

        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        int read = 0, kept = 0;
        using var reader = new StreamReader(input);
        await using (var copy = await connection.BeginBinaryImportAsync(
                         "COPY geonames_import FROM STDIN (FORMAT BINARY)", ct))
        {
            try
            {
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    read++;
                    var f = line.Split('\t');
                    if (f.Length < 15 || f[6] is not ("P" or "A")
                        || !long.TryParse(f[0], CultureInfo.InvariantCulture, out var id)
                        || !double.TryParse(f[4], CultureInfo.InvariantCulture, out var lat)
                        || !double.TryParse(f[5], CultureInfo.InvariantCulture, out var lon)
                        || f[8].Length != 2 || lat is < -90 or > 90 || lon is < -180 or > 180)
                        continue;
                    await copy.StartRowAsync(ct);
                    await copy.WriteAsync(id, NpgsqlDbType.Bigint, ct);
                    await copy.WriteAsync(f[1], NpgsqlDbType.Text, ct);
                    await copy.WriteAsync(f[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(50).ToArray(),
                        NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
                    await copy.WriteAsync(f[8].ToUpperInvariant(), NpgsqlDbType.Char, ct);
                    await copy.WriteAsync(f[7].Length > 0 ? f[7] : f[6], NpgsqlDbType.Text, ct);
                    await copy.WriteAsync(int.TryParse(f[14], CultureInfo.InvariantCulture, out var population) ? population : 0, NpgsqlDbType.Integer, ct);
                    await copy.WriteAsync(factory.CreatePoint(new Coordinate(lon, lat)), NpgsqlDbType.Geometry, ct);
                    kept++;
                }
            }
            catch (Exception e) when (e is InvalidDataException or Imports.IncompleteDataException)
            {
                // A .gz cut short, corrupt, or followed by other bytes (CheckedGzipStream); a zip entry that does not decompress.
                throw new InvalidDataException($"{name}: {e.Message}", e);
            }
            if (kept == 0)
                throw new InvalidDataException($"{name}: " + (read == 0 ? "the file is empty"
                    : $"none of its {read} lines is a GeoNames place (tab-separated, 19 columns, feature class P or A): is it a GeoNames dump?"));
            await copy.CompleteAsync(ct);
        }

        // A first-level division's name is not in the dump; new places borrow it from the nearest
        // known place of the same country.
        var imported = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO places (geonameid, name, alternate_names, country, admin1, kind, population, geom, source)
            SELECT g.geonameid, g.name, g.alternate_names, g.country,
                   (SELECT p.admin1 FROM places p WHERE p.country = g.country AND p.admin1 IS NOT NULL
                    ORDER BY p.geom <-> g.geom LIMIT 1),
                   g.kind, g.population, g.geom, 'geonames'
            FROM geonames_import g
            ON CONFLICT (geonameid) DO UPDATE SET
                name = EXCLUDED.name, alternate_names = EXCLUDED.alternate_names, country = EXCLUDED.country,
                kind = EXCLUDED.kind, population = EXCLUDED.population, geom = EXCLUDED.geom
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return new Result(read, imported, read - kept);
    }

    /// <summary>
    /// The dump inside a zip archive (the largest entry that is not GeoNames' readme) or a gzip stream,
    /// known by their first bytes; anything else as it is. Returns the archive to dispose, if any.
    /// </summary>
    private static IDisposable? Unpack(ref Stream input)
    {
        if (!input.CanSeek) return null;
        Span<byte> magic = stackalloc byte[4];
        var start = input.Position;
        var length = input.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        input.Position = start;
        if (Imports.CompleteDecompression.IsGzip(magic[..length]))
        {
            input = new Imports.CheckedGzipStream(input);
            return null;
        }
        if (magic[..length] is not [(byte)'P', (byte)'K', 3, 4]) return null;
        var zip = new System.IO.Compression.ZipArchive(input, System.IO.Compression.ZipArchiveMode.Read, leaveOpen: true);
        var entry = zip.Entries
            .Where(e => e.Length > 0 && !e.FullName.EndsWith('/') && !e.Name.Equals("readme.txt", StringComparison.OrdinalIgnoreCase))
            .MaxBy(e => e.Length) ?? throw new InvalidDataException("the zip archive holds no dump");
        input = entry.Open();
        return zip;
    }
}
