using System.Globalization;
using System.IO.Compression;
using System.Text;
using Dapper;
using IncidentMap.Api.Imports;
using NetTopologySuite.Geometries;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Api.Places;

/// <summary>
/// <c>places import FILE</c>: extends the gazetteer from any GeoNames dump (allCountries.txt, SY.txt,
/// cities500.txt — tab-separated, 19 columns). Populated places (class P) are upserted by geonameid;
/// everything else is skipped: the gazetteer is of populated places, and an administrative area (class A:
/// the governorate "Muhafazat Hims", alternate name Homs; the country "Syrian Arab Republic") taken for a town
/// made its names ambiguous for geocoding and named incidents on reverse geocoding. So is a line naming an
/// editor's place: a name of it within 1 km (as POST /collections/places refuses a second copy), so that the
/// editor's place stays the one geocoding finds. A place's admin1 is its first-level division's name by the
/// line's admin1 code (admin1_divisions, from db/gazetteer/admin1.tsv). The dump may be as GeoNames serves
/// it (SY.zip, holding SY.txt and a readme) or gzip-compressed (of one member or several). A zip archive
/// may hold several dumps (SY.txt, LB.txt): each entry in which some line is a GeoNames place is
/// imported, the others (a readme) are skipped, and the result says which was which; a place in two
/// dumps is taken from the later entry (a zip entry checked against its CRC-32). A file, or an archive, in which no line is a GeoNames place is
/// refused, with nothing written; so is one that cannot be read to its end (a .gz cut short).
/// </summary>
public sealed class GeoNamesImport(NpgsqlDataSource dataSource, Hosting.Settings settings)
{
    /// <summary>
    /// One file read: the input, or an entry of a zip archive (named archive/entry). No place among its lines: no dump,
    /// skipped. NotUtf8 of its lines are not UTF-8 text (skipped as malformed).
    /// </summary>
    public sealed record Part(string Name, int Read, int Places, int NotUtf8 = 0);

    /// <summary>
    /// Lines read from the dumps, places imported (inserted or updated), lines skipped (not a populated place,
    /// malformed, an editor's place, or a place a later line names again), of which those skipped as an editor's place
    /// and those a later line repeats; and every file read, dump or not. Read is Imported plus Skipped.
    /// </summary>
    public sealed record Result(int Read, int Imported, int Skipped, int EditorsPlaces, int Repeated, IReadOnlyList<Part> Parts);

    /// <param name="name">What errors and parts call the input (the file's path).</param>
    public async Task<Result> ImportAsync(Stream input, string name = "input", CancellationToken ct = default)
    {
        using var zip = OpenZip(input, name);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // A dump such as allCountries.txt streams through one COPY for minutes: not a request's statement. The
        // gazetteer's lock: a service starting meanwhile may be giving every place its other names (review: deadlock).
        // listed: every alternate name of the line; other_names: those OtherNames keeps.
        await connection.ExecuteAsync(new CommandDefinition($"""
            SET LOCAL statement_timeout = 0;
            SELECT pg_advisory_xact_lock({Gazetteer.LoadLock});
            CREATE TEMP TABLE geonames_import (
                geonameid bigint, name text, other_names text[], country char(2), admin1_code text, kind text, population integer, geom geometry, ordinal bigint,
                listed text[]
            ) ON COMMIT DROP
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));

        var parts = new List<Part>();
        await using (var copy = await connection.BeginBinaryImportAsync(
                         "COPY geonames_import FROM STDIN (FORMAT BINARY)", ct))
        {
            copy.Timeout = TimeSpan.Zero; // none, as statement_timeout: the driver's own would stop a dump read for minutes
            if (zip is null)
                parts.Add(await CopyAsync(Decompressed(input), name, copy, parts, ct));
            else
                foreach (var entry in zip.Entries.Where(e => !e.FullName.EndsWith('/')))
                {
                    var part = $"{name}/{entry.FullName}";
                    Stream stream;
                    try
                    {
                        // Checked against the archive's CRC-32 as it is read: a stored entry changed in transfer decompresses all the same.
                        stream = new CheckedZipEntry(entry.Open(), entry.Crc32, entry.Length);
                    }
                    catch (InvalidDataException e)
                    {
                        throw new InvalidDataException($"{part}: {e.Message}", e);
                    }
                    parts.Add(await CopyAsync(stream, part, copy, parts, ct));
                }

            if (zip is null && parts[0] is { Places: 0 } only)
                throw new InvalidDataException($"{name}: " + (only.Read == 0 ? "the file is empty"
                    : $"none of its {only.Read} lines is a GeoNames place (tab-separated, 19 columns, feature class P): is it a GeoNames dump?"
                      + (only.NotUtf8 > 0 ? $" ({only.NotUtf8} of them {(only.NotUtf8 == 1 ? "is" : "are")} not UTF-8: GeoNames dumps are; save the file as UTF-8)" : "")));
            if (zip is not null && !parts.Any(p => p.Places > 0))
                throw new InvalidDataException($"{name}: " + (parts.Count == 0 ? "the zip archive holds no file"
                    : $"no entry of the zip archive is a GeoNames dump (no line of {string.Join(", ", parts.Select(p => $"{p.Name[(name.Length + 1)..]} ({p.Read} lines)"))} is a GeoNames place: tab-separated, 19 columns, feature class P)"));
            await copy.CompleteAsync(ct);
        }

        // A place in two dumps (SY.txt and cities500.txt in one archive), or twice in one, is imported once, as the later line has it.
        var repeated = await connection.ExecuteAsync(new CommandDefinition("""
            DELETE FROM geonames_import g
            WHERE EXISTS (SELECT FROM geonames_import later WHERE later.geonameid = g.geonameid AND later.ordinal > g.ordinal)
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
        // An editor's place wins: a line with a name of one within 1 km (in its country, or it has none) is
        // skipped, as POST /collections/places refuses that second copy, which would make the name ambiguous
        // for geocoding for good. Every name of the line counts, its alternate names too: they are other names, which
        // the editor's own names win over in geocoding (migration 0046), but a second point within 1 km would still take
        // reverse geocoding from the editor's place (review). allCountries.txt has millions of lines:
        // an editor's place meets only those of its latitude band (0.02°, 2.2 km) and the bands either side
        // (a hash join), then only those within 0.01° of latitude's length in longitude (across the
        // antimeridian too), before the distance is measured, and the names' keys are computed only for
        // lines within 1 km. CASE keeps that order, which the planner would not (it rates ST_DWithin dearer).
        var editorsPlaces = await connection.ExecuteAsync(new CommandDefinition("""
            WITH editors AS MATERIALIZED (
                SELECT p.id, p.country, p.geog, band, ST_X(p.geom) AS lon,
                       0.01 / greatest(cos(radians(ST_Y(p.geom))), 0.0001) AS reach
                FROM places p, generate_series(floor(ST_Y(p.geom) * 50)::int - 1, floor(ST_Y(p.geom) * 50)::int + 1) band
                WHERE p.source = 'editor'
            )
            DELETE FROM geonames_import g
            WHERE EXISTS (
                SELECT FROM editors e
                WHERE e.band = floor(ST_Y(g.geom) * 50)::int
                  AND (e.country = g.country OR e.country IS NULL)
                  AND CASE WHEN least(abs(ST_X(g.geom) - e.lon), 360 - abs(ST_X(g.geom) - e.lon)) > e.reach THEN false
                           WHEN ST_DWithin(e.geog, g.geom::geography, 1000)
                           THEN EXISTS (SELECT FROM place_names n
                                        WHERE n.place_id = e.id
                                          AND n.key IN (SELECT place_key(x) FROM unnest(array_prepend(g.name, g.listed)) x))
                           ELSE false END)
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
        // The first-level division is named by the line's admin1 code, with the names the shipped places have.
        // A code the list lacks (GeoNames' 00, none, a division newer than the list): a new place borrows the
        // nearest known place's of the same country; a known place keeps its own.
        if (settings.GazetteerPath.Length > 0)
            await Gazetteer.ApplyAdmin1DivisionsAsync(connection, tx, Path.Combine(settings.GazetteerPath, Gazetteer.Admin1File), ct);
        // A dump's alternate names are the place's other names (migration 0046), ranked below its own: an alternate name
        // of the place that the dump lists (an import of before 0046 made them all own names) becomes one of those. The
        // curated list puts its own spellings back on below (without it, a dump's name is an other name, as any).
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE places p SET alternate_names = ARRAY(SELECT n FROM unnest(p.alternate_names) n WHERE n <> ALL (g.listed))
            FROM geonames_import g
            WHERE g.geonameid = p.geonameid AND p.alternate_names && g.listed
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
        var imported = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO places (geonameid, name, other_names, country, admin1, kind, population, geom, source)
            SELECT g.geonameid, g.name, g.other_names, g.country,
                   coalesce((SELECT d.name FROM admin1_divisions d WHERE d.country = g.country AND d.code = g.admin1_code),
                            CASE WHEN NOT EXISTS (SELECT FROM places k WHERE k.geonameid = g.geonameid) THEN
                                (SELECT p.admin1 FROM places p WHERE p.country = g.country AND p.admin1 IS NOT NULL
                                 ORDER BY p.geom <-> g.geom LIMIT 1) END),
                   g.kind, g.population, g.geom, 'geonames'
            FROM geonames_import g
            ON CONFLICT (geonameid) DO UPDATE SET
                name = EXCLUDED.name, other_names = EXCLUDED.other_names, country = EXCLUDED.country,
                admin1 = coalesce(EXCLUDED.admin1, places.admin1),
                kind = EXCLUDED.kind, population = EXCLUDED.population, geom = EXCLUDED.geom
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
        // The curated spellings, own names, go back on as at every start.
        if (settings.GazetteerPath.Length > 0)
            await Gazetteer.ApplyAlternateNamesAsync(connection, tx, Path.Combine(settings.GazetteerPath, Gazetteer.CuratedFile), ct);
        await tx.CommitAsync(ct);
        var dumps = parts.Where(p => p.Places > 0).ToList();
        var read = dumps.Sum(p => p.Read);
        return new Result(read, imported, read - dumps.Sum(p => p.Places) + editorsPlaces + repeated, editorsPlaces, repeated, parts);
    }

    private static readonly GeometryFactory Points = new(new PrecisionModel(), 4326);

    /// <summary>Copies the places among one file's lines; a file that cannot be read to its end fails naming it.</summary>
    private static async Task<Part> CopyAsync(Stream input, string name, NpgsqlBinaryImporter copy, List<Part> before, CancellationToken ct)
    {
        // Rows are numbered across the files, so that the later of two rows of a place wins.
        long ordinal = before.Sum(p => p.Places);
        int read = 0, kept = 0, notUtf8 = 0;
        try
        {
            await foreach (var line in Utf8Lines(input, ct))
            {
                read++;
                if (line is null) notUtf8++;
                if (line is null || Parse(line) is not { } place) continue;
                var f = place.Fields;
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(place.Id, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(f[1], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(OtherNames.From(f[3], f[1]), NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
                await copy.WriteAsync(place.Country, NpgsqlDbType.Char, ct);
                await copy.WriteAsync(f[10], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(f[7].Length > 0 ? f[7] : f[6], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(place.Population, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(Points.CreatePoint(new Coordinate(place.Lon, place.Lat)), NpgsqlDbType.Geometry, ct);
                await copy.WriteAsync(ordinal + kept, NpgsqlDbType.Bigint, ct);
                // Trimmed of all white space, as imports before 0046 stored them, to be recognised among a place's names.
                await copy.WriteAsync(f[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
                kept++;
            }
        }
        catch (Exception e) when (e is InvalidDataException or IncompleteDataException)
        {
            // A .gz cut short, corrupt, or followed by other bytes (CheckedGzipStream); a zip entry that does not decompress.
            throw new InvalidDataException($"{name}: {e.Message}", e);
        }
        return new Part(name, read, kept, notUtf8);
    }

    private sealed record Place(string[] Fields, long Id, string Country, int Population, double Lat, double Lon);

    /// <summary>
    /// A populated place's line, or null for any other line: another feature class, or malformed. Malformed is anything
    /// the places table would refuse (its CHECKs, migration 0007), so that one bad line is skipped and counted rather
    /// than failing the whole import with PostgreSQL's error: a name of 1 to 200 characters without the spaces around it
    /// (btrim's), a country of two letters A-Z, a population that is a whole number from 0 to the integer column's
    /// largest (empty is 0, as GeoNames writes an unknown one; 3000000000 was stored as 0), a finite latitude and
    /// longitude within range (NaN failed the editor's-place check as "integer out of range"); also a NUL anywhere
    /// (PostgreSQL text cannot hold one) and a name holding a control character (as an editor's place would be refused).
    /// </summary>
    private static Place? Parse(string line)
    {
        var f = line.Split('\t');
        if (f.Length < 15 || f[6] != "P" || line.Contains('\0')) return null;
        if (!long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            || !double.TryParse(f[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var lat)
            || !double.TryParse(f[5], NumberStyles.Float, CultureInfo.InvariantCulture, out var lon)
            || !double.IsFinite(lat) || !double.IsFinite(lon) || lat is < -90 or > 90 || lon is < -180 or > 180)
            return null;
        var country = f[8].ToUpperInvariant();
        if (country is not [>= 'A' and <= 'Z', >= 'A' and <= 'Z']) return null;
        var population = 0;
        if (f[14].Length > 0 && !int.TryParse(f[14], NumberStyles.None, CultureInfo.InvariantCulture, out population)) return null;
        // length(btrim(name)) counts characters, not UTF-16 units.
        if (f[1].Trim(' ').EnumerateRunes().Count() is < 1 or > PlaceInput.MaxNameLength
            || Incidents.IncidentInput.ControlCharacterProblem(f[1]) is not null)
            return null;
        return new Place(f, id, country, population, lat, lon);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The input's lines (split at LF, a CR before it dropped; a UTF-8 byte order mark first skipped), each decoded
    /// strictly: a line whose bytes are not UTF-8 (a Latin-1 dump) is null, skipped as malformed as an import's row is
    /// rejected, where a StreamReader stored U+FFFD in its names.
    /// </summary>
    private static async IAsyncEnumerable<string?> Utf8Lines(Stream input, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var buffer = new byte[1 << 16];
        int start = 0, end = 0, scanned = 0;
        var first = true;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', scanned, end - scanned);
            if (newline >= 0)
            {
                yield return Decode(buffer, start, newline - start, ref first);
                start = scanned = newline + 1;
                continue;
            }
            // No whole line left: keep the part read, in a larger buffer when it fills this one.
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }
            if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            scanned = end;
            var count = await input.ReadAsync(buffer.AsMemory(end), ct);
            if (count == 0)
            {
                if (end > 0) yield return Decode(buffer, 0, end, ref first);
                yield break;
            }
            end += count;
        }
    }

    private static string? Decode(byte[] buffer, int start, int length, ref bool first)
    {
        if (first && length >= 3 && buffer[start] == 0xEF && buffer[start + 1] == 0xBB && buffer[start + 2] == 0xBF)
            (start, length) = (start + 3, length - 3);
        first = false;
        if (length > 0 && buffer[start + length - 1] == (byte)'\r') length--;
        try
        {
            return StrictUtf8.GetString(buffer, start, length);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>The first bytes of a seekable input, which is left where it was; none of one that is not.</summary>
    private static byte[] Magic(Stream input)
    {
        if (!input.CanSeek) return [];
        var magic = new byte[4];
        var start = input.Position;
        var length = input.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        input.Position = start;
        return magic[..length];
    }

    /// <summary>The input decompressed if it is gzip (known by its first bytes), else as it is.</summary>
    private static Stream Decompressed(Stream input) =>
        CompleteDecompression.IsGzip(Magic(input)) ? new CheckedGzipStream(input) : input;

    /// <summary>The zip archive the input is (known by its first bytes), or null.</summary>
    private static ZipArchive? OpenZip(Stream input, string name)
    {
        if (Magic(input) is not [(byte)'P', (byte)'K', 3, 4]) return null;
        try
        {
            return new ZipArchive(input, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{name}: not a readable zip archive ({e.Message})", e);
        }
    }
}
