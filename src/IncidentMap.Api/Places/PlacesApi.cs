using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Security;
using NetTopologySuite.Geometries;
using Npgsql;

namespace IncidentMap.Api.Places;

/// <summary>The <c>places</c> collection: gazetteer search and editors' own places.</summary>
public static class PlacesApi
{
    public const int DefaultLimit = 10;

    /// <summary>Most matches a ranked name search returns (it has no next page: the best come first).</summary>
    public const int MaxLimit = 100;

    /// <summary>Most places a page of the browsed collection holds (no q: GIS clients page through it all).</summary>
    public const int MaxBrowseLimit = 10_000;

    /// <summary>The place search's parameters: documented in OpenAPI, and the only ones it takes.</summary>
    private static readonly QueryParameterDoc[] SearchDocs =
    [
        new("q", "A place name in any spelling, 1 to 200 characters with a letter or digit."),
        new("country", "ISO 3166-1 alpha-2 code."),
        new("bbox", "minLon,minLat,maxLon,maxLat (WGS 84); minLon > maxLon crosses the antimeridian."),
        // The maximum is declared: GDAL 3.8 and later page by it (older ones ask 10 a page unless told).
        new("limit", $"Places per page (default {DefaultLimit}): at most {MaxLimit} with q, {MaxBrowseLimit} without; larger values are clamped.",
            "integer", Minimum: "1", Maximum: $"{MaxBrowseLimit}"),
        new("cursor", "Opaque position from a next link (without q)."),
        new("f", "json, the only format.", Enum: ["json"]),
    ];

    private static readonly HashSet<string> SearchParameters = [.. SearchDocs.Select(d => d.Name)];
    private static readonly string[] EditorKinds = ["town", "village", "suburb", "district", "neighbourhood", "site", "region"];

    public static IEndpointRouteBuilder MapPlaces(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/places").WithTags("Places");
        group.MapGet("/items", Search).WithName("searchPlaces").RequireAuthorization(SecuritySetup.ReadPolicy)
            .WithSummary("Find places by name: accent-, case- and spelling-tolerant")
            .WithDescription("`q` (e.g. Homs, Hims, Ḥimṣ), `country`, `bbox`, `limit` (default 10). With `q`, at most 100 matches, ranked: " +
                             "exact names (including alternate spellings) first, then prefixes, then similar spellings; ties by population. " +
                             "Without `q`, the places in order of population, up to 10000 a page, with a `next` link to the rest.")
            .WithMetadata(SearchDocs)
            .Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/items/{placeId}", GetPlace).WithName("getPlace").JsonOnly().RequireAuthorization(SecuritySetup.ReadPolicy)
            .WithSummary("One place").Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson).ProducesProblem(404);
        group.MapPost("/items", CreatePlace).WithName("createPlace").OwnParametersOnly().RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Add a place the gazetteer lacks (write scope), with alternate spellings")
            .WithDescription("A GeoJSON Feature with a Point and properties name, alternate_names, country, admin1 and kind " +
                             $"({string.Join(", ", EditorKinds)}).")
            .Accepts<JsonObject>(IncidentsApi.GeoJson, "application/json")
            .Produces<JsonObject>(StatusCodes.Status201Created, IncidentsApi.GeoJson)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(415).ProducesProblem(422);
        return app;
    }

    public static object Describe(PlaceMatch p) => new
    {
        id = p.Id, name = p.Name, country = p.Country, admin1 = p.Admin1, kind = p.Kind, population = p.Population,
        lon = p.Lon, lat = p.Lat,
    };

    /// <summary>"Kharkiv (UA, Kharkiv) or Khārk (IR, Bushehr)": places as a problem's detail names them.</summary>
    public static string DidYouMean(IReadOnlyList<PlaceMatch> places)
    {
        var named = places.Select(p => string.Join(", ", new[] { p.Country, p.Admin1 }.Where(x => x is not null)) is { Length: > 0 } where
            ? $"{p.Name} ({where})" : p.Name).ToList();
        return named.Count == 1 ? named[0] : $"{string.Join(", ", named[..^1])} or {named[^1]}";
    }

    private const string FeatureSql = """
        json_build_object('type', 'Feature', 'id', p.id,
            'geometry', ST_AsGeoJSON(p.geom, 6)::json,
            'properties', json_build_object('name', p.name, 'alternate_names', p.alternate_names, 'country', p.country,
                'admin1', p.admin1, 'kind', p.kind, 'population', p.population, 'source', p.source, 'geonameid', p.geonameid))
        """;

    internal static async Task<IResult> Search(HttpRequest request, IncidentReader reader, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        foreach (var key in request.Query.Keys.Where(k => !SearchParameters.Contains(k)))
            errors.Add(new FieldError(key, $"is not a parameter of place search ({string.Join(", ", SearchParameters)})"));
        // None takes a list: q=Homs&q=Hama would be searched as "Homs,Hama", matching neither.
        foreach (var (key, values) in request.Query.Where(p => p.Value.Count > 1 && SearchParameters.Contains(p.Key)))
            errors.Add(new FieldError(key, $"is given {values.Count} times; give it once"));
        string? Get(string name) => request.Query.TryGetValue(name, out var v) ? v.ToString() : null;

        var limit = DefaultLimit;
        if (Get("limit") is { } limitText && !QueryParser.TryLimit(limitText, MaxBrowseLimit, out limit))
            errors.Add(new FieldError("limit", QueryParser.LimitError(limitText)));
        var q = Get("q");
        if (q is not null && (q.Trim().Length == 0 || q.Length > 200 || !IncidentInput.IsStorableText(q))) errors.Add(new FieldError("q", "must be 1 to 200 characters of valid text"));
        // Names are compared by their letters and digits: without any, every place would be a prefix match.
        else if (q is not null && !q.Any(char.IsLetterOrDigit)) errors.Add(new FieldError("q", $"'{q}' has no letters or digits to search by"));
        var country = Get("country")?.ToUpperInvariant();
        if (country is not null && !Vocabulary.CountryCodes.Contains(country)) errors.Add(new FieldError("country", $"'{country}' is not an ISO 3166-1 alpha-2 code"));
        if (Get("f") is { } f && f is not ("json" or "geojson")) errors.Add(new FieldError("f", "only json"));

        var pageSize = Math.Min(limit, q is null ? MaxBrowseLimit : MaxLimit);
        var parameters = new DynamicParameters(new { q, country, limit = pageSize });
        var where = new List<string> { "(@country::text IS NULL OR p.country = @country)" };
        if (Get("cursor") is { } cursor)
        {
            // Browsing goes by (population, id); the cursor is the last place of the page before.
            if (q is not null) errors.Add(new FieldError("cursor", "pages the browsed collection; a search with q has no next page"));
            else if (BrowseCursor.TryParse(cursor, out var after))
            {
                where.Add("(coalesce(p.population, -1) < @afterPopulation OR (coalesce(p.population, -1) = @afterPopulation AND p.id > @afterId))");
                parameters.Add("afterPopulation", after.Population);
                parameters.Add("afterId", after.Id);
            }
            else errors.Add(new FieldError("cursor", "is not a cursor from a next link"));
        }
        if (Get("bbox") is { } bbox)
        {
            var (boxQuery, bboxErrors) = QueryParser.Parse(new Dictionary<string, string> { ["bbox"] = bbox }, DateTimeOffset.UtcNow);
            if (boxQuery?.Bbox is { } boxes)
            {
                where.Add("(" + string.Join(" OR ", boxes.Select((b, n) =>
                {
                    parameters.Add($"b{n}", new[] { b.MinLon, b.MinLat, b.MaxLon, b.MaxLat });
                    return $"p.geom && ST_MakeEnvelope((@b{n})[1], (@b{n})[2], (@b{n})[3], (@b{n})[4], 4326)";
                })) + ")");
            }
            errors.AddRange(bboxErrors);
        }
        if (errors.Count > 0) return Problem.Validation(errors, StatusCodes.Status400BadRequest);

        var filter = string.Join(" AND ", where);
        if (q is null)
        {
            var rows = (await reader.ListAsync($"""
                SELECT {FeatureSql}::text AS feature, coalesce(p.population, -1) AS population, p.id
                FROM places p WHERE {filter}
                ORDER BY coalesce(p.population, -1) DESC, p.id LIMIT @limit
                """, parameters, r => (Feature: r.GetString(0), Population: r.GetInt64(1), Id: r.GetInt64(2)), ct));
            var next = rows.Count == pageSize ? new BrowseCursor(rows[^1].Population, rows[^1].Id).ToString() : null;
            return Page(request, rows.Select(r => r.Feature).ToList(), next);
        }
        var sql = $"""
              WITH matches AS (
                  SELECT n.place_id,
                         max(CASE WHEN n.key = place_key(@q) THEN 3 WHEN n.key LIKE place_key_prefix(@q) THEN 2 ELSE 1 END) AS tier,
                         max(similarity(n.key, place_key(@q))) AS score
                  FROM place_names n
                  WHERE n.key = place_key(@q) OR n.key LIKE place_key_prefix(@q) OR n.key % place_key(@q)
                  GROUP BY n.place_id
              )
              SELECT jsonb_set({FeatureSql}::jsonb, ARRAY['properties', 'match'],
                         to_jsonb(CASE m.tier WHEN 3 THEN 'exact' WHEN 2 THEN 'prefix' ELSE 'similar' END))::text
              FROM matches m JOIN places p ON p.id = m.place_id
              WHERE {filter}
              ORDER BY m.tier DESC, m.score DESC, p.population DESC NULLS LAST, p.id
              LIMIT @limit
              """;
        return Page(request, await reader.ListAsync<string>(sql, parameters, ct), null);
    }

    /// <summary>A FeatureCollection page with its self link and, when there is more, a next link (OGC API – Features).</summary>
    private static IResult Page(HttpRequest request, IReadOnlyCollection<string> features, string? next)
    {
        var self = new { href = Collections.RequestUrl.With(request), rel = "self", type = IncidentsApi.GeoJson, title = "This page" };
        return IncidentListResult.Small(features, next is null
            ? [self]
            : [self, new { href = Collections.RequestUrl.With(request, ("cursor", next)), rel = "next", type = IncidentsApi.GeoJson, title = "Next page" }]);
    }

    private readonly record struct BrowseCursor(long Population, long Id)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Population}.{Id}");

        public static bool TryParse(string text, out BrowseCursor cursor)
        {
            cursor = default;
            var dot = text.IndexOf('.');
            if (dot < 0 || !long.TryParse(text.AsSpan(0, dot), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var population)
                || !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                return false;
            cursor = new BrowseCursor(population, id);
            return true;
        }
    }

    internal static async Task<IResult> GetPlace(string placeId, IncidentReader reader, CancellationToken ct)
    {
        var feature = long.TryParse(placeId, out var id)
            ? await reader.ScalarAsync<string?>($"SELECT {FeatureSql}::text FROM places p WHERE p.id = @id", new DynamicParameters(new { id }), ct)
            : null;
        return feature is null ? Problem.NotFound($"There is no place with id '{placeId}'.") : TypedResults.Text(feature, IncidentsApi.GeoJson, Encoding.UTF8);
    }

    internal static async Task<IResult> CreatePlace(HttpContext context, NpgsqlDataSource dataSource, IncidentReader reader)
    {
        var (document, problem) = await JsonBody.ReadAsync(context.Request, [IncidentsApi.GeoJson, "application/json"], context.RequestAborted);
        if (problem is not null) return problem;
        using var owned = document;
        var root = document!.RootElement;
        var errors = new List<FieldError>();
        if (root.ValueKind != JsonValueKind.Object) return Problem.Validation([new FieldError("", "the body must be a GeoJSON Feature")]);

        Geometry? geometry = root.TryGetProperty("geometry", out var g) ? IncidentInput.ParseGeometry(g, "geometry", errors) : null;
        if (geometry is not null and not Point) errors.Add(new FieldError("geometry.type", "a place is a Point"));
        if (!root.TryGetProperty("geometry", out _)) errors.Add(new FieldError("geometry", "is required"));
        var props = root.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        string? Str(string name) => props.ValueKind == JsonValueKind.Object && props.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        var name = Str("name")?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 200) errors.Add(new FieldError("properties.name", "is required, at most 200 characters"));
        var country = Str("country")?.ToUpperInvariant();
        if (country is not null && !Vocabulary.CountryCodes.Contains(country)) errors.Add(new FieldError("properties.country", $"'{country}' is not an ISO 3166-1 alpha-2 code"));
        var kind = Str("kind") ?? "town";
        if (!EditorKinds.Contains(kind)) errors.Add(new FieldError("properties.kind", $"'{kind}' is not one of {string.Join(", ", EditorKinds)}"));
        var alternates = new List<string>();
        if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty("alternate_names", out var alt))
        {
            if (alt.ValueKind != JsonValueKind.Array || alt.EnumerateArray().Any(a => a.ValueKind != JsonValueKind.String || a.GetString()!.Length is 0 or > 200))
                errors.Add(new FieldError("properties.alternate_names", "must be an array of names (1 to 200 characters)"));
            else alternates.AddRange(alt.EnumerateArray().Select(a => a.GetString()!.Trim()));
        }
        if (errors.Count > 0) return Problem.Validation(errors);

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        // The same name in the same country within 1 km is the same place: a second copy would make the
        // name ambiguous for geocoding for good. (Serialised per name, so two editors cannot both add it.)
        await using var tx = await connection.BeginTransactionAsync(context.RequestAborted);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(hashtext('place:' || place_key(@name)))",
            new { name }, tx, cancellationToken: context.RequestAborted));
        var existing = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("""
            SELECT p.id FROM places p JOIN place_names n ON n.place_id = p.id
            WHERE n.key = place_key(@name) AND p.country IS NOT DISTINCT FROM @country
              AND ST_DWithin(p.geog, @geometry::geography, 1000)
            LIMIT 1
            """, new { name, country, geometry }, tx, cancellationToken: context.RequestAborted));
        if (existing is { } same)
            return Problem.Status(StatusCodes.Status409Conflict, "Place exists",
                $"properties.name '{name}' in {country ?? "no country"} is already place {same}, within 1 km: geocoding already finds it by this name, and a second copy would make the name ambiguous.", "properties.name",
                new Dictionary<string, object?> { ["existing"] = $"{context.Request.PathBase}/collections/places/items/{same}" });
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            INSERT INTO places (name, alternate_names, country, admin1, kind, geom, source, created_by)
            VALUES (@name, @alternates, @country, @admin1, @kind, @geometry, 'editor', @by) RETURNING id
            """, new { name, alternates = alternates.Distinct().ToArray(), country, admin1 = Str("admin1"), kind, geometry, by = context.User.KeyName() },
            tx, cancellationToken: context.RequestAborted));
        await tx.CommitAsync(context.RequestAborted);
        context.Response.Headers.Location = $"{context.Request.PathBase}/collections/places/items/{id}";
        var feature = await reader.ScalarAsync<string>($"SELECT {FeatureSql}::text FROM places p WHERE p.id = @id", new DynamicParameters(new { id }), context.RequestAborted);
        return TypedResults.Text(feature!, IncidentsApi.GeoJson, Encoding.UTF8, StatusCodes.Status201Created);
    }
}
