using System.Globalization;
using System.IO.Compression;
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
/// dumps is taken from the later entry. A file, or an archive, in which no line is a GeoNames place is
/// refused, with nothing written; so is one that cannot be read to its end (a .gz cut short).
/// </summary>
public sealed class GeoNamesImport(NpgsqlDataSource dataSource, Hosting.Settings settings)
{
    /// <summary>One file read: the input, or an entry of a zip archive (named archive/entry). No place among its lines: no dump, skipped.</summary>
    public sealed record Part(string Name, int Read, int Places);

    /// <summary>
    /// Lines read from the dumps, places imported (inserted or updated), lines skipped (not a populated place,
    /// malformed, or an editor's place), of which those skipped as an editor's place; and every file read, dump or not.
    /// </summary>
    public sealed record Result(int Read, int Imported, int Skipped, int EditorsPlaces, IReadOnlyList<Part> Parts);

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
                        stream = entry.Open();
                    }
                    catch (InvalidDataException e)
                    {
                        throw new InvalidDataException($"{part}: {e.Message}", e);
                    }
                    parts.Add(await CopyAsync(stream, part, copy, parts, ct));
                }

            if (zip is null && parts[0] is { Places: 0 } only)
                throw new InvalidDataException($"{name}: " + (only.Read == 0 ? "the file is empty"
                    : $"none of its {only.Read} lines is a GeoNames place (tab-separated, 19 columns, feature class P): is it a GeoNames dump?"));
            if (zip is not null && !parts.Any(p => p.Places > 0))
                throw new InvalidDataException($"{name}: " + (parts.Count == 0 ? "the zip archive holds no file"
                    : $"no entry of the zip archive is a GeoNames dump (no line of {string.Join(", ", parts.Select(p => $"{p.Name[(name.Length + 1)..]} ({p.Read} lines)"))} is a GeoNames place: tab-separated, 19 columns, feature class P)"));
            await copy.CompleteAsync(ct);
        }

        // A place in two dumps (SY.txt and cities500.txt in one archive) is imported once, as the later one has it.
        await connection.ExecuteAsync(new CommandDefinition("""
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
        return new Result(read, imported, read - dumps.Sum(p => p.Places) + editorsPlaces, editorsPlaces, parts);
    }

    private static readonly GeometryFactory Points = new(new PrecisionModel(), 4326);

    /// <summary>Copies the places among one file's lines; a file that cannot be read to its end fails naming it.</summary>
    private static async Task<Part> CopyAsync(Stream input, string name, NpgsqlBinaryImporter copy, List<Part> before, CancellationToken ct)
    {
        // Rows are numbered across the files, so that the later of two rows of a place wins.
        long ordinal = before.Sum(p => p.Places);
        int read = 0, kept = 0;
        using var reader = new StreamReader(input);
        try
        {
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                read++;
                var f = line.Split('\t');
                if (f.Length < 15 || f[6] != "P"
                    || !long.TryParse(f[0], CultureInfo.InvariantCulture, out var id)
                    || !double.TryParse(f[4], CultureInfo.InvariantCulture, out var lat)
                    || !double.TryParse(f[5], CultureInfo.InvariantCulture, out var lon)
                    || f[8].Length != 2 || lat is < -90 or > 90 || lon is < -180 or > 180
                    // A name holding a control character is malformed, as an editor's place would be refused.
                    || Incidents.IncidentInput.ControlCharacterProblem(f[1]) is not null)
                    continue;
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(id, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(f[1], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(OtherNames.From(f[3], f[1]), NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
                await copy.WriteAsync(f[8].ToUpperInvariant(), NpgsqlDbType.Char, ct);
                await copy.WriteAsync(f[10], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(f[7].Length > 0 ? f[7] : f[6], NpgsqlDbType.Text, ct);
                await copy.WriteAsync(int.TryParse(f[14], CultureInfo.InvariantCulture, out var population) ? population : 0, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(Points.CreatePoint(new Coordinate(lon, lat)), NpgsqlDbType.Geometry, ct);
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
        return new Part(name, read, kept);
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
