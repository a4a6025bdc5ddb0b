using System.Globalization;
using System.IO.Compression;
using Dapper;
using NetTopologySuite.Geometries;
using Npgsql;
using NpgsqlTypes;

namespace IncidentMap.Api.Places;

/// <summary>A place as geocoding sees it.</summary>
public sealed record PlaceMatch(long Id, string Name, string? Country, string? Admin1, string Kind, int? Population, double Lon, double Lat, string Source);

/// <summary>What a place name resolved to: one place, several equally good candidates, or nothing.</summary>
public abstract record Resolution
{
    public sealed record Found(PlaceMatch Place) : Resolution;
    public sealed record Ambiguous(IReadOnlyList<PlaceMatch> Candidates) : Resolution;

    /// <summary>No place has this name; <paramref name="Suggestions"/> are the most similar names, best first (maybe none).</summary>
    public sealed record Unknown(IReadOnlyList<PlaceMatch> Suggestions) : Resolution;

    /// <summary>Places have this name, but none lies in the admin1 given: <paramref name="Candidates"/> are those that have it, each with its admin1.</summary>
    public sealed record OutsideAdmin1(IReadOnlyList<PlaceMatch> Candidates) : Resolution;

    /// <summary>
    /// The name is only an other name (GeoNames' alternate name) of <paramref name="Places"/>, and neither a country
    /// nor an admin1 confirms one: offered, not taken.
    /// </summary>
    public sealed record OtherName(IReadOnlyList<PlaceMatch> Places) : Resolution;
}

/// <summary>
/// The gazetteer: GeoNames populated places (db/gazetteer/places.tsv.gz, loaded once into a
/// database), curated alternate spellings, and editors' own places. Names are compared by
/// place_key (lower case, accents and apostrophe-like marks removed), exactly, by prefix or by
/// trigram similarity.
/// </summary>
public sealed class Gazetteer(NpgsqlDataSource dataSource, Database.DatabaseResilience resilience, ILogger<Gazetteer> logger,
    [FromKeyedServices(Database.DatabaseServiceCollectionExtensions.AdHocReadsKey)] NpgsqlDataSource adHocReads,
    Collections.DataVersion dataVersion)
{
    /// <summary>
    /// How closely a name of <c>place_names n</c> spells the text in <paramref name="parameter"/>: pg_trgm's similarity
    /// of their keys, a tenth less for GeoNames' other names (migration 0046), so that of two names spelled as close
    /// the place's own comes first: "Homz" is Homs before Qom (900,000 people), whose other name Homo is as close.
    /// </summary>
    internal static string Similarity(string parameter) =>
        $"similarity(n.key, place_key({parameter})) * CASE WHEN n.other THEN 0.9 ELSE 1 END";

    /// <summary>Reverse geocoding only names a place this close to the incident.</summary>
    public const double ReverseRadiusMetres = 25_000;

    /// <summary>How many places a name's lookup returns at most (so an ambiguous name lists at most this many).</summary>
    public const int MaxCandidates = 10;

    /// <summary>How many similar names an unknown name's answer suggests.</summary>
    public const int MaxSuggestions = 5;

    private const string MatchColumns = """
        p.id, p.name, p.country::text AS country, p.admin1, p.kind, p.population, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.source
        """;

    /// <summary>
    /// How long the places' extent is kept while the data version moves. The data version moves
    /// with every incident written too, and reading the extent scans every place (about 45 ms for the
    /// 135,233 GeoNames places): it is read again at most this often, or at once after a place is
    /// written through this process (<see cref="PlacesChanged"/>). Places written elsewhere (the
    /// places import command, another instance, SQL) show within this time.
    /// </summary>
    public static readonly TimeSpan ExtentKeptFor = TimeSpan.FromMinutes(1);

    // One reference, swapped whole. At: this process's clock (ms) when it was read. Changes: how many
    // place writes of this process had been seen when the read started (a read that began before a
    // write, and ends after it, is not kept beyond it).
    private sealed record CachedExtent(long Version, long Changes, double[]? Bbox, long At);
    private volatile CachedExtent? _extent;
    private long _changes;

    /// <summary>
    /// The bounding box of every place (west, south, east, north; WGS 84), or null when there is none:
    /// the places collection's spatial extent. Read from the data, and kept as <see cref="ExtentKeptFor"/> says.
    /// </summary>
    public async Task<double[]?> ExtentAsync(CancellationToken ct)
    {
        var changes = Interlocked.Read(ref _changes);
        var version = dataVersion.Current;
        var cached = _extent;
        if (cached is not null && cached.Changes == changes
            && (cached.Version == version || Environment.TickCount64 - cached.At < ExtentKeptFor.TotalMilliseconds))
            return cached.Bbox;
        var started = Environment.TickCount64;
        var row = await resilience.ExecuteAsync(async token =>
        {
            await using var connection = await adHocReads.OpenConnectionAsync(token);
            return await connection.QuerySingleAsync<(double? West, double? South, double? East, double? North)>(new CommandDefinition("""
                SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom)::geometry AS e FROM places) s
                """, cancellationToken: token));
        }, ct);
        double[]? bbox = row.West is null ? null : [row.West.Value, row.South!.Value, row.East!.Value, row.North!.Value];
        _extent = new CachedExtent(version, changes, bbox, started);
        return bbox;
    }

    /// <summary>A place was added, changed or deleted through this process: the next extent is read afresh.</summary>
    public void PlacesChanged() => Interlocked.Increment(ref _changes);

    /// <summary>The curated spellings beside the shipped gazetteer (country, GeoNames name, spellings separated by |).</summary>
    internal const string CuratedFile = "alternate-names.tsv";

    /// <summary>The first-level divisions' names by GeoNames code beside the shipped gazetteer (country, code, name; db/gazetteer/build.mjs).</summary>
    internal const string Admin1File = "admin1.tsv";

    /// <summary>Loads the shipped gazetteer unless this database already has it. Safe when several instances start at once.</summary>
    public async Task EnsureLoadedAsync(string directory, CancellationToken ct)
    {
        var file = Path.Combine(directory, "places.tsv.gz");
        if (!File.Exists(file))
        {
            logger.LogWarning("No gazetteer at {File}: place search and geocoding know only editors' places", file);
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // Loading runs once, at startup, and may take longer than a request's statement timeout
        // (Database:StatementTimeoutSeconds); so may waiting for another instance that is loading it.
        // So is the driver's own timeout (Database:StatementTimeoutSeconds plus 10 s): every statement here has none.
        await connection.ExecuteAsync(new CommandDefinition($"SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock({LoadLock})", transaction: tx, commandTimeout: 0, cancellationToken: ct));
        var curated = Path.Combine(directory, CuratedFile);
        var withOtherNames = HasOtherNames(file);
        if (!withOtherNames)
            logger.LogWarning("The gazetteer {File} has no other_names column (a file from before migration 0046): places are found by their own names only", file);
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM places WHERE source = 'geonames')", transaction: tx, commandTimeout: 0, cancellationToken: ct)))
        {
            // A database loaded before the gazetteer had other names (migration 0046) gets them once, before the
            // curated spellings, which stay own names.
            if (withOtherNames && !await PartLoadedAsync(connection, tx, OtherNamesPart, ct))
            {
                var filling = DateTime.UtcNow;
                var filled = await FillOtherNamesAsync(connection, tx, file, ct);
                await MarkLoadedAsync(connection, tx, OtherNamesPart, ct);
                logger.LogInformation("Gazetteer: other names added to {Places} places in {Seconds:0.0} s", filled, (DateTime.UtcNow - filling).TotalSeconds);
            }
            // Spellings added to the curated list since the gazetteer was loaded reach it too.
            if (await ApplyAlternateNamesAsync(connection, tx, curated, ct) is > 0 and var added)
                logger.LogInformation("Gazetteer: curated spellings added to {Places} places", added);
            await ApplyAdmin1DivisionsAsync(connection, tx, Path.Combine(directory, Admin1File), ct);
            await tx.CommitAsync(ct);
            return;
        }

        var started = DateTime.UtcNow;
        var rows = await CopyGeoNamesTsvAsync(connection, "places", file, ct);
        await ApplyAlternateNamesAsync(connection, tx, curated, ct);
        await ApplyAdmin1DivisionsAsync(connection, tx, Path.Combine(directory, Admin1File), ct);
        if (withOtherNames) await MarkLoadedAsync(connection, tx, OtherNamesPart, ct);
        await tx.CommitAsync(ct);
        logger.LogInformation("Gazetteer: {Rows} places loaded in {Seconds:0.0} s", rows, (DateTime.UtcNow - started).TotalSeconds);
    }

    /// <summary>
    /// The lock that loading the shipped gazetteer and <c>places import</c> take for their transaction: instances
    /// starting at once load it once, and a one-time fill of every place cannot deadlock with an import writing the same rows.
    /// </summary>
    internal const long LoadLock = 5291836307089764402;

    /// <summary>Whether the shipped file has migration 0046's tenth column, the places' other names (its header says).</summary>
    private static bool HasOtherNames(string file)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(file), CompressionMode.Decompress));
        return reader.ReadLine()?.Split('\t') is { Length: > 9 } header && header[9] == "other_names";
    }

    /// <summary>The part of the shipped gazetteer that migration 0046 added: its places' other names.</summary>
    internal const string OtherNamesPart = "other_names";

    private static Task<bool> PartLoadedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string part, CancellationToken ct) =>
        connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT FROM gazetteer_parts WHERE part = @part)", new { part }, tx, commandTimeout: 0, cancellationToken: ct));

    private static Task MarkLoadedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string part, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gazetteer_parts (part) VALUES (@part) ON CONFLICT DO NOTHING", new { part }, tx, commandTimeout: 0, cancellationToken: ct));

    /// <summary>
    /// Gives the GeoNames places of a database loaded before migration 0046 their other names: a shipped place the
    /// file's, by geonameid. Its alternate names beyond the file's (a <c>places import</c> of before 0046 made a dump's
    /// alternate names own names; the shipped file's own column once held country codes) become other names as
    /// <see cref="OtherNames.Keep"/> keeps them; the curated spellings go back on afterwards, as at every start.
    /// Places that already have other names (an import since) are left as they are. One UPDATE, so the names trigger
    /// runs once. Returns the places changed.
    /// </summary>
    private static async Task<int> FillOtherNamesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string file, CancellationToken ct)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            CREATE TEMP TABLE gazetteer_file (
                geonameid bigint, name text, alternate_names text[], country char(2), admin1 text, kind text, population integer, geom geometry, other_names text[]
            ) ON COMMIT DROP;
            CREATE TEMP TABLE gazetteer_renamed (id bigint, own text[], other text[]) ON COMMIT DROP
            """,
            transaction: tx, commandTimeout: 0, cancellationToken: ct));
        await CopyGeoNamesTsvAsync(connection, "gazetteer_file", file, ct);
        // The places with alternate names the file does not give them (none, in a database no import wrote to, but a
        // few hundred curated spellings): their names are sorted here, where OtherNames' rule is.
        var renamed = new List<(long Id, string[] Own, string[] Other)>();
        await using (var reader = await connection.ExecuteReaderAsync(new CommandDefinition("""
            SELECT p.id, p.name, p.alternate_names, coalesce(f.alternate_names, '{}'), coalesce(f.other_names, '{}')
            FROM places p LEFT JOIN gazetteer_file f ON f.geonameid = p.geonameid
            WHERE p.source = 'geonames' AND p.other_names = '{}' AND NOT p.alternate_names <@ coalesce(f.alternate_names, '{}')
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct)))
            while (await reader.ReadAsync(ct))
            {
                var (name, names, fileOwn, fileOther) = (reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.GetFieldValue<string[]>(3), reader.GetFieldValue<string[]>(4));
                var demoted = OtherNames.From(names.Where(n => !fileOwn.Contains(n)), name);
                renamed.Add((reader.GetInt64(0), [.. names.Where(fileOwn.Contains)], [.. fileOther.Concat(demoted).Distinct().Take(OtherNames.MaxPerPlace)]));
            }
        await using (var copy = await connection.BeginBinaryImportAsync("COPY gazetteer_renamed FROM STDIN (FORMAT BINARY)", ct))
        {
            copy.Timeout = TimeSpan.Zero;
            foreach (var (id, own, other) in renamed)
                await copy.WriteRowAsync(ct, id, own, other);
            await copy.CompleteAsync(ct);
        }
        return await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE places p SET alternate_names = coalesce(r.own, p.alternate_names), other_names = coalesce(r.other, f.other_names)
            FROM places q LEFT JOIN gazetteer_file f ON f.geonameid = q.geonameid LEFT JOIN gazetteer_renamed r ON r.id = q.id
            WHERE q.id = p.id AND p.source = 'geonames' AND p.other_names = '{}'
              AND (r.id IS NOT NULL OR f.other_names <> '{}')
            """, transaction: tx, commandTimeout: 0, cancellationToken: ct));
    }

    /// <summary>Copies the shipped file's places into <paramref name="table"/> (places, or a copy of its columns). Returns the rows.</summary>
    private static async Task<int> CopyGeoNamesTsvAsync(NpgsqlConnection connection, string table, string file, CancellationToken ct)
    {
        await using var stream = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
        using var reader = new StreamReader(stream);
        await reader.ReadLineAsync(ct);
        await using var copy = await connection.BeginBinaryImportAsync(
            $"COPY {table} (geonameid, name, alternate_names, country, admin1, kind, population, geom, other_names) FROM STDIN (FORMAT BINARY)", ct);
        copy.Timeout = TimeSpan.Zero; // none, as statement_timeout
        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        var rows = 0;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            var f = line.Split('\t');
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(long.Parse(f[0], CultureInfo.InvariantCulture), NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(f[1], NpgsqlDbType.Text, ct);
            await copy.WriteAsync(f[2].Length == 0 ? Array.Empty<string>() : f[2].Split(','), NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            await copy.WriteAsync(f[3], NpgsqlDbType.Char, ct);
            if (f[4].Length == 0) await copy.WriteNullAsync(ct); else await copy.WriteAsync(f[4], NpgsqlDbType.Text, ct);
            await copy.WriteAsync(f[5], NpgsqlDbType.Text, ct);
            await copy.WriteAsync(int.Parse(f[6], CultureInfo.InvariantCulture), NpgsqlDbType.Integer, ct);
            await copy.WriteAsync(factory.CreatePoint(new Coordinate(
                double.Parse(f[7], CultureInfo.InvariantCulture), double.Parse(f[8], CultureInfo.InvariantCulture))), NpgsqlDbType.Geometry, ct);
            // A file from before migration 0046 has no tenth column.
            await copy.WriteAsync(f.Length > 9 ? OtherNames.From(f[9], f[1]) : [], NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            rows++;
        }
        await copy.CompleteAsync(ct);
        return rows;
    }

    /// <summary>
    /// Makes admin1_divisions (migration 0042) what the file lists: at every start, as the curated spellings,
    /// so that a database gets a later list's names; and before a <c>places import</c>, which names a place's
    /// admin1 by its code (a database the service has not started on yet has none). One statement, which
    /// writes nothing when the table already matches. No file: the table is left as it is. Returns the rows changed.
    /// </summary>
    internal static async Task<int> ApplyAdmin1DivisionsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string file, CancellationToken ct)
    {
        if (!File.Exists(file)) return 0;
        // A line without its three fields is left out; a list with none (a file cut short to its header) leaves the
        // table as it is rather than emptying it (review).
        var lines = (await File.ReadAllLinesAsync(file, ct)).Skip(1).Select(l => l.Split('\t'))
            .Where(f => f.Length >= 3 && f[0].Length == 2 && f[1].Length > 0 && f[2].Trim().Length > 0).ToList();
        if (lines.Count == 0) return 0;
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition("""
            WITH listed AS (
                SELECT DISTINCT ON (country, code) country::char(2) AS country, code, name
                FROM unnest(@countries, @codes, @names) AS l(country, code, name)
            ), written AS (
                INSERT INTO admin1_divisions (country, code, name)
                SELECT l.country, l.code, l.name FROM listed l
                WHERE NOT EXISTS (SELECT FROM admin1_divisions d WHERE d.country = l.country AND d.code = l.code AND d.name = l.name)
                ON CONFLICT (country, code) DO UPDATE SET name = EXCLUDED.name
                RETURNING 1
            ), removed AS (
                DELETE FROM admin1_divisions d
                WHERE NOT EXISTS (SELECT FROM listed l WHERE l.country = d.country AND l.code = d.code)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM written) + (SELECT count(*) FROM removed)
            """, new
        {
            countries = lines.Select(f => f[0]).ToArray(),
            codes = lines.Select(f => f[1]).ToArray(),
            names = lines.Select(f => f[2]).ToArray(),
        }, tx, commandTimeout: 0, cancellationToken: ct));
    }

    /// <summary>
    /// Adds the curated spellings a place lacks (to the most populous GeoNames place of that name and country);
    /// a place that has them all is not written. One statement for the whole list: it runs at every start, and a
    /// statement a line (each planned, each firing the places' change trigger) took 1–1.5 s of it.
    /// Returns the places changed.
    /// </summary>
    internal static async Task<int> ApplyAlternateNamesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string file, CancellationToken ct)
    {
        if (!File.Exists(file)) return 0;
        var lines = (await File.ReadAllLinesAsync(file, ct)).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToList();
        if (lines.Count == 0) return 0;
        return await connection.ExecuteAsync(new CommandDefinition("""
            WITH curated AS (
                SELECT t.id, array_agg(DISTINCT n) AS names
                FROM unnest(@countries, @names, @spellings) AS c(country, name, spellings)
                CROSS JOIN LATERAL (SELECT id FROM places WHERE country = c.country::char(2) AND name = c.name AND source = 'geonames'
                                    ORDER BY population DESC NULLS LAST LIMIT 1) t
                CROSS JOIN unnest(string_to_array(c.spellings, '|')) n
                GROUP BY t.id
            )
            UPDATE places p SET alternate_names = ARRAY(SELECT DISTINCT unnest(p.alternate_names || c.names))
            FROM curated c
            WHERE p.id = c.id AND NOT p.alternate_names @> c.names
            """, new
        {
            countries = lines.Select(f => f[0]).ToArray(),
            names = lines.Select(f => f[1]).ToArray(),
            spellings = lines.Select(f => f[2]).ToArray(),
        }, tx, commandTimeout: 0, cancellationToken: ct));
    }

    /// <summary>
    /// Geocodes a place name. Only exact (normalised) matches of a name, alternate name or other name count;
    /// a place's own name wins over another's other name (<see cref="Named"/>), then country and admin1 decide
    /// between several; an other name alone is taken only with a country or a matching admin1 (else
    /// <see cref="Resolution.OtherName"/>). Several left → ambiguous; none → unknown, with the
    /// most similar spellings as suggestions; an admin1 that none of the places lies in → outside
    /// admin1. A similar spelling is never taken for the place: across 135,000 places one is nearly
    /// always found, and often elsewhere ("Kharkov" is Khārk in Iran, "Taiz" Taï in Côte d'Ivoire),
    /// so the client chooses.
    /// </summary>
    public async Task<Resolution> ResolveAsync(string name, string? country, string? admin1, CancellationToken ct)
    {
        // An admin1 of no letters or digits ("-") has an empty key, which every division's starts with: it names none.
        if (admin1 is not null && !PlaceInput.HasKey(admin1)) admin1 = null;
        var admin1Given = admin1 is not null;
        var candidates = await resilience.ExecuteAsync(async token =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(token);
            // Similar names are those pg_trgm's % finds (similarity at least pg_trgm.similarity_threshold, 0.3).
            return (await connection.QueryAsync<Candidate>(new CommandDefinition($"""
                WITH divisions AS MATERIALIZED (
                    -- the divisions (by country) the admin1 given names in another spelling, read once: 2 for a
                    -- spelling of the division's own name (admin1_spellings, migration 0043: "Rural Damascus"),
                    -- 1 for a name of the division's seat, with or without the article ("Idleb", "Al Hasakeh",
                    -- "Dimashq"): GeoNames' PPLA (seat of a first-level division) or PPLC (capital), by its own
                    -- names, not GeoNames' other names (old and foreign names of places elsewhere). Any town stood
                    -- for its division: "Portland" with admin1 Damascus was Portland, Oregon, where a Damascus lies.
                    SELECT country, admin1, max(rank) AS rank FROM (
                        SELECT ap.country, place_key(ap.admin1) AS admin1, 1 AS rank
                        FROM place_names an JOIN places ap ON ap.id = an.place_id
                        WHERE @admin1::text IS NOT NULL AND ap.admin1 IS NOT NULL AND NOT an.other AND ap.kind IN ('PPLA', 'PPLC')
                          AND an.key IN (place_key(@admin1), admin1_key(@admin1), 'al ' || admin1_key(@admin1))
                        UNION ALL
                        SELECT s.country, place_key(s.admin1), 2
                        FROM admin1_spellings s
                        WHERE @admin1::text IS NOT NULL AND admin1_key(s.spelling) = admin1_key(@admin1)
                    ) named
                    GROUP BY country, admin1
                )
                SELECT id, name, country, admin1, kind, population, lon, lat, source, similarity, exact, named, admin1match
                FROM (
                SELECT c.*,
                       -- The best of each class Judge weighs, so that the cut to MaxCandidates never drops a better
                       -- one: exact names, then own names before other names, then admin1; with a country given,
                       -- the places of no known country are a class of their own (judged when those of the country
                       -- are not in the admin1 given), cut apart. Own names first: an editor's country-less
                       -- "La Chapelle" ranked below 10 French places whose other name it is, was cut, and its name
                       -- was "Other name of 10 or more places" (review).
                       row_number() OVER (PARTITION BY @country::text IS NOT NULL AND c.country IS NULL
                                          ORDER BY exact DESC, named DESC, admin1match DESC,
                                                   (@admin1::text IS NOT NULL AND c.admin1 IS NULL) DESC,
                                                   c.country IS NOT NULL DESC, similarity DESC, population DESC NULLS LAST, id) AS place_rank
                FROM (
                SELECT {MatchColumns}, max({Similarity("@name")})::float8 AS similarity,
                       bool_or(n.key = place_key(@name)) AS exact,
                       bool_or(n.key = place_key(@name) AND NOT n.other) AS named,
                       CASE WHEN @admin1::text IS NULL OR p.admin1 IS NULL THEN 0
                            -- the division's own name, or a longer or shorter form of it in whole words ("Damascus
                            -- Governorate"), with or without the article ("Anbar" for Al-Anbar, "As-Suwayda" for
                            -- Suwayda); a string prefix is not a word: "Hama" is not Hamadan Province, nor "H" any h…
                            WHEN admin1_key(p.admin1) = admin1_key(@admin1)
                              OR starts_with(admin1_key(p.admin1), admin1_key(@admin1) || ' ')
                              OR starts_with(admin1_key(@admin1), admin1_key(p.admin1) || ' ') THEN 2
                            -- the division's own name with a word written longer or shorter, word for word, beside a
                            -- word written alike ("North Darfur" for Northern Darfur; never South Darfur for it, nor
                            -- "Hom" for Homs)
                            WHEN coalesce((SELECT bool_and(coalesce(starts_with(w.a, w.b) OR starts_with(w.b, w.a), false)) AND bool_or(w.a = w.b)
                                           FROM unnest(string_to_array(admin1_key(p.admin1), ' '), string_to_array(admin1_key(@admin1), ' ')) AS w(a, b)),
                                          false) THEN 2
                            -- the division in another spelling, in its country; for a place of no known country (an
                            -- editor's may have none), in the country given, else in any ("Rural Damascus" for an
                            -- editor's place in Rif-dimashq)
                            ELSE coalesce((SELECT max(d.rank) FROM divisions d
                                           WHERE d.admin1 = place_key(p.admin1)
                                             AND (d.country IS NOT DISTINCT FROM p.country
                                                  OR (p.country IS NULL AND (@country::text IS NULL OR d.country = @country)))), 0)
                            END AS admin1match
                FROM place_names n JOIN places p ON p.id = n.place_id
                WHERE (n.key = place_key(@name) OR n.key % place_key(@name))
                  -- A place of no known country contradicts none; it ranks below the places of the country given.
                  AND (@country::text IS NULL OR p.country = @country OR p.country IS NULL)
                GROUP BY p.id
                ) c
                ) r
                WHERE place_rank <= {MaxCandidates}
                ORDER BY exact DESC, named DESC, admin1match DESC, country IS NOT NULL DESC, similarity DESC, population DESC NULLS LAST, id
                """, new { name, country, admin1 }, cancellationToken: token))).AsList();
        }, ct);

        var exact = candidates.Where(c => c.Exact).ToList();
        if (exact.Count == 0)
            return new Resolution.Unknown(candidates
                .OrderByDescending(c => c.Similarity).ThenByDescending(c => c.Population ?? -1)
                .Take(MaxSuggestions).Select(c => c.ToMatch()).ToList());
        if (country is null) return Judge(exact, country, admin1Given);
        // With a country, a place of no known country (an editor's may have none) contradicts it no more than a place
        // of no known admin1 contradicts an admin1, but ranks below the places of that country: those are judged
        // first, and the others only when none of them has the name, or none lies in the admin1 given.
        var (known, open) = (exact.Where(c => c.Country is not null).ToList(), exact.Where(c => c.Country is null).ToList());
        if (known.Count == 0) return Judge(open, country, admin1Given);
        var judged = Judge(known, country, admin1Given);
        if (judged is not Resolution.OutsideAdmin1(var outside) || open.Count == 0) return judged;
        var fallback = Judge(open, country, admin1Given);
        return fallback is Resolution.OutsideAdmin1(var alsoOutside) ? new Resolution.OutsideAdmin1([.. outside.Concat(alsoOutside).Take(MaxCandidates)]) : fallback;
    }

    /// <summary>
    /// Chooses among the places <paramref name="pool"/> that have the name exactly (<see cref="ResolveAsync"/>): own names
    /// before other names, then admin1, then whether a country or admin1 confirms an other name.
    /// </summary>
    private static Resolution Judge(List<Candidate> pool, string? country, bool admin1Given)
    {
        // Places whose own name this is come first, before country or admin1 judge: an other name is GeoNames' old,
        // foreign or transliterated name, and "Homs" is Homs, Syria, whatever else GeoNames calls by it (review: an
        // admin1 judged first let "Rivne" with a wrong admin1 be the village whose other name it is, not a 422).
        pool = Named(pool);
        // An other name alone is taken only when the writer's country or admin1 confirms the place: across 135,000
        // places, other names include plain words ("Market" is an old name of Marquette, US), so without either it
        // is offered, never taken.
        var confirmed = pool.Any(c => c.Named) || country is not null;
        if (admin1Given)
        {
            // admin1 decides between places of one name: the division's own name counts before a
            // place's name that only lies in it.
            if (pool.Max(c => c.Admin1Match) is > 0 and var best)
            {
                pool = pool.Where(c => c.Admin1Match == best).ToList();
                confirmed = true;
            }
            else
            {
                // And it rules out a place whose admin1 is another: Homs with admin1 Idlib is no place
                // the gazetteer knows (a village missing from it, or a slip), never Homs city with a
                // contradicting admin1 stored beside its point. A place of no known admin1 (an editor's
                // may have none) contradicts nothing. An other name given with an admin1 that names none of its
                // places is still only offered.
                if (!confirmed) return new Resolution.OtherName(pool.Select(c => c.ToMatch()).ToList());
                var open = pool.Where(c => c.Admin1 is null).ToList();
                if (open.Count == 0) return new Resolution.OutsideAdmin1(pool.Select(c => c.ToMatch()).ToList());
                // Without a country, a place of no admin1 may lie in any country, the writer's division's or
                // another's: it does not win over the others silently (review).
                if (country is null && open.Count < pool.Count) return new Resolution.Ambiguous(pool.Select(c => c.ToMatch()).ToList());
                pool = open;
            }
        }
        if (!confirmed) return new Resolution.OtherName(pool.Select(c => c.ToMatch()).ToList());
        return pool.Count == 1 ? new Resolution.Found(pool[0].ToMatch()) : new Resolution.Ambiguous(pool.Select(c => c.ToMatch()).ToList());
    }

    /// <summary>
    /// The places a name is an own name of (its name, or an alternate name an editor or the curated list gave it),
    /// when some are: they win over places that have it only among GeoNames' other names (migration 0046). "Homs"
    /// is Homs, Syria, not Al Khums, Libya, whose old name it also is; "Homs" with country LY is Al Khums.
    /// </summary>
    private static List<Candidate> Named(List<Candidate> pool) => pool.Any(c => c.Named) ? pool.Where(c => c.Named).ToList() : pool;

    /// <summary>
    /// A place of another country this close to a point is as likely to be the point's country as the
    /// nearest place's: twice the nearest's distance, plus a kilometre for points on top of a place.
    /// </summary>
    public const double BorderFactor = 2, BorderMarginMetres = 1_000;

    /// <summary>
    /// The arguments, after the row's own columns, of the SQL function <c>incident_place_fill</c>
    /// (migration 0023), which reverse geocodes single writes and imports alike.
    /// </summary>
    internal const string FillThresholds = "@radius, @factor, @margin";

    internal static readonly object FillParameters = new { radius = ReverseRadiusMetres, factor = BorderFactor, margin = BorderMarginMetres };

    /// <summary>
    /// Fills whichever of location_name, admin1 and country the draft lacks from the nearest place
    /// within <see cref="ReverseRadiusMetres"/> (see <c>incident_place_fill</c>, migration 0023).
    /// </summary>
    public async Task<Filled> FillAsync(Geometry geometry, string? locationName, string? admin1, string? country,
        long? placeId, string[] derived, CancellationToken ct) =>
        await resilience.ExecuteAsync(async token =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(token);
            var parameters = new DynamicParameters(FillParameters);
            parameters.AddDynamicParams(new { geometry, locationName, admin1, country, placeId, derived });
            var row = await connection.QuerySingleAsync<FilledRow>(new CommandDefinition($"""
                SELECT location_name AS LocationName, admin1, country, place_id AS PlaceId, derived_fields AS DerivedFields
                FROM incident_place_fill(@geometry, @locationName, @admin1, @country, @placeId, @derived, {FillThresholds})
                """, parameters, cancellationToken: token));
            return new Filled(row.LocationName, row.Admin1, row.Country, row.PlaceId, row.DerivedFields);
        }, ct);

    // Dapper reads a text[] column as an Array, which no record constructor takes.
    private sealed class FilledRow
    {
        public string? LocationName { get; init; }
        public string? Admin1 { get; init; }
        public string? Country { get; init; }
        public long? PlaceId { get; init; }
        public string[] DerivedFields { get; init; } = [];
    }

    /// <summary>What reverse geocoding left in the place fields (the given ones where it filled nothing).</summary>
    public sealed record Filled(string? LocationName, string? Admin1, string? Country, long? PlaceId, string[] DerivedFields);

    private sealed record Candidate(long Id, string Name, string? Country, string? Admin1, string Kind, int? Population,
        double Lon, double Lat, string Source, double Similarity, bool Exact, bool Named, int Admin1Match)
    {
        public PlaceMatch ToMatch() => new(Id, Name, Country, Admin1, Kind, Population, Lon, Lat, Source);
    }
}
