using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Collections;
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

    /// <summary>Most matches a ranked name search has (the best come first), paged by limit with next links.</summary>
    public const int MaxLimit = 100;

    /// <summary>Most places a page of the browsed collection holds (no q: GIS clients page through it all).</summary>
    public const int MaxBrowseLimit = 10_000;

    /// <summary>The place search's parameters: documented in OpenAPI, and the only ones it takes.</summary>
    private static readonly QueryParameterDoc[] SearchDocs =
    [
        new("q", "A place name in any spelling, 1 to 200 characters with a letter or digit."),
        new("country", "ISO 3166-1 alpha-2 code."),
        new("bbox", "minLon,minLat,maxLon,maxLat (WGS 84); minLon > maxLon crosses the antimeridian.",
            "number[]", MinItems: 4, MaxItems: 6),
        // The maximum is declared: GDAL 3.8 and later page by it (older ones ask 10 a page unless told).
        new("limit", $"Places per page (default {DefaultLimit}): at most {MaxLimit} with q, {MaxBrowseLimit} without; larger values are clamped.",
            "integer", Minimum: "1", Maximum: $"{MaxBrowseLimit}", Default: $"{DefaultLimit}"),
        // OGC API – Features clients may send datetime to any collection; places have no time.
        new("datetime", "Accepted as on the incidents (RFC 3339 instant or interval) and checked, but places have no time: it selects every place."),
        new("cursor", "Opaque position from a next link (of the browsed collection, or of a search with q)."),
        new("count", $"true: numberMatched (exact) on every page; false: never; default: on the first page. Without q it counts every place " +
            $"the filters select; with q, the ranked matches, of which there are at most {MaxLimit} ({MaxLimit} means {MaxLimit} or more).",
            "boolean"),
        new("f", "json, the only format.", Enum: ["json"]),
    ];

    private static readonly HashSet<string> SearchParameters = [.. SearchDocs.Select(d => d.Name)];

    public static IEndpointRouteBuilder MapPlaces(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/places").WithTags("Places");
        group.MapMethods("/items", [HttpMethods.Get, HttpMethods.Head], Search).WithName("searchPlaces").RequireAuthorization(SecuritySetup.ReadPolicy)
            .WithSummary("Find places by name: accent-, case- and spelling-tolerant")
            .WithDescription("`q` (e.g. Homs, Hims, Ḥimṣ), `country`, `bbox`, `limit` (default 10). With `q`, at most 100 matches, ranked: " +
                             "places' own names first: exact, then with or without the Arabic article (Bab: Al Bāb), then prefixes (by population, then spelling: Alep finds Aleppo first, Dam Damascus); " +
                             "then GeoNames' other names in the same order (Homs finds Homs, Syria before Al Khums, Libya, whose old name it is); then similar spellings (an other name counts a tenth less similar); ties by population; " +
                             "`limit` a page, with a `next` link to the rest of the 100. " +
                             "Without `q`, the places in order of population, up to 10000 a page, with a `next` link to the rest. " +
                             "`numberMatched` (on the first page unless `count` says otherwise) is every place the filters select; " +
                             "with `q`, the ranked matches returned at the largest `limit` (at most 100).")
            .WithMetadata(SearchDocs)
            .Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);
        group.MapMethods("/items/{placeId}", [HttpMethods.Get, HttpMethods.Head], GetPlace).WithName("getPlace").JsonOnly().RequireAuthorization(SecuritySetup.ReadPolicy)
            .WithSummary("One place").Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson).Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(404).ProducesProblem(StatusCodes.Status412PreconditionFailed);
        group.MapPost("/items", CreatePlace).WithName("createPlace").OwnParametersOnly().RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Add a place the gazetteer lacks (write scope), with alternate spellings")
            .WithDescription("A GeoJSON Feature with a Point and properties name, alternate_names, country, admin1 and kind " +
                             $"({string.Join(", ", PlaceInput.EditorKinds)}). Send an Idempotency-Key to make retries safe, as on " +
                             "the incidents: a retry with the same key and body gets the first answer again (Idempotent-Replayed: true) " +
                             "instead of a 409 about the place it created.")
            .WithMetadata(new HeaderParameterDoc(IdempotencyKeys.Header, IdempotencyKeys.Description),
                new OpenApi.ResponseHeaderDoc("ETag", "The new place's ETag, for If-Match on a PATCH or DELETE.", StatusCodes.Status201Created),
                IdempotencyKeys.ReplayedDoc)
            .Accepts<JsonObject>(IncidentsApi.GeoJson, "application/json")
            .Produces<JsonObject>(StatusCodes.Status201Created, IncidentsApi.GeoJson)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(409).ProducesProblem(413)
            .ProducesProblem(415).ProducesProblem(422).DeclaresPreconditionsWithoutETag();
        group.MapPatch("/items/{placeId}", PatchPlace).WithName("patchPlace").OwnParametersOnly().RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Correct an editor's place (write scope; JSON merge patch, RFC 7396)")
            .WithDescription("Only places editors added (source editor); GeoNames places are read-only (405). Incidents geocoded " +
                             "to the place keep the coordinates and names they were given. If-Match with the place's ETag (optional) " +
                             "refuses the change with a 412 when the place changed since it was read; If-None-Match naming it, or *, " +
                             "with a 412 too.")
            .Accepts<JsonObject>(IncidentsApi.PatchMediaTypes[0], IncidentsApi.PatchMediaTypes[1..])
            .Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(405).ProducesProblem(409)
            .ProducesProblem(412).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422);
        group.MapDelete("/items/{placeId}", DeletePlace).WithName("deletePlace").OwnParametersOnly().RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Delete an editor's place (write scope)")
            .WithDescription("Only places editors added; GeoNames places are read-only (405). Incidents geocoded to it keep their " +
                             "coordinates, names and place_id, which then answers 404. If-Match and If-None-Match as on PATCH.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404).ProducesProblem(405).ProducesProblem(412);
        // QGIS and other editors read Allow from OPTIONS to decide whether a layer is editable (as on the incidents).
        group.MapMethods("/items", [HttpMethods.Options], (HttpResponse response) => Allow(response, ItemsMethods))
            .WithName("optionsPlaces").WithSummary("Methods allowed on the places").Produces(StatusCodes.Status204NoContent).ProducesProblem(400)
            .RequireAuthorization(SecuritySetup.ReadPolicy);
        group.MapMethods("/items/{placeId}", [HttpMethods.Options], OptionsPlace)
            .WithName("optionsPlace").WithSummary("Methods allowed on a place")
            .WithDescription("An editor's place: GET, HEAD, PATCH, DELETE, OPTIONS. A GeoNames place is read-only: GET, HEAD, OPTIONS.")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(400).ProducesProblem(404)
            .RequireAuthorization(SecuritySetup.ReadPolicy);
        // Any other method on a place (PUT, POST …): routing's own 405 named every method of the path (a GeoNames
        // place's PATCH and DELETE too) and answered a place that does not exist with a 405. Without methods of its own,
        // this endpoint takes only the methods no other endpoint of the path takes, and answers as OPTIONS does.
        group.Map("/items/{placeId}", OtherMethod).WithName("otherMethodOnPlace").ExcludeFromDescription()
            .RequireAuthorization(SecuritySetup.ReadPolicy);
        return app;
    }

    /// <summary>What the items allow: reading, and adding a place (with the write scope).</summary>
    private const string ItemsMethods = "GET, HEAD, POST, OPTIONS";

    /// <summary>What an editor's place allows (with the write scope for PATCH and DELETE).</summary>
    private const string EditorPlaceMethods = "GET, HEAD, PATCH, DELETE, OPTIONS";

    /// <summary>What a GeoNames place allows: it is read-only (PATCH and DELETE are a 405 naming these).</summary>
    private const string GazetteerPlaceMethods = "GET, HEAD, OPTIONS";

    private static IResult Allow(HttpResponse response, string methods)
    {
        response.Headers.Allow = methods;
        return TypedResults.NoContent();
    }

    // OPTIONS on a place: what this place allows, so an editor offers editing only its own places.
    internal static async Task<IResult> OptionsPlace(HttpResponse response, string placeId, IncidentReader reader, CancellationToken ct)
    {
        var source = IncidentsApi.TryParseId(placeId, out var id)
            ? await reader.ScalarAsync<string?>("SELECT source FROM places WHERE id = @id", new DynamicParameters(new { id }), ct)
            : null;
        if (source is null) return UnknownPlace(placeId);
        if (source != "editor") return Allow(response, GazetteerPlaceMethods);
        response.Headers["Accept-Patch"] = IncidentsApi.AcceptPatch; // RFC 5789 §3.1
        return Allow(response, EditorPlaceMethods);
    }

    /// <summary>A method a place has no endpoint for: a 405 with the place's own Allow (RFC 9110 §15.5.6), or a 404 when there is no such place.</summary>
    internal static async Task<IResult> OtherMethod(HttpContext context, string placeId, IncidentReader reader, CancellationToken ct)
    {
        // A method a place's endpoints take comes here only when routing passed its endpoint over for the body's type (a
        // PATCH sent as text/plain): the 415 routing gives then (ProblemDefaults names the types that would do).
        if (EditorPlaceMethods.Split(", ").Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase))
            return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        var source = IncidentsApi.TryParseId(placeId, out var id)
            ? await reader.ScalarAsync<string?>("SELECT source FROM places WHERE id = @id", new DynamicParameters(new { id }), ct)
            : null;
        if (source is null) return UnknownPlace(placeId);
        if (source != "editor") return ReadOnlyPlace(context, id);
        context.Response.Headers.Allow = EditorPlaceMethods;
        return Problem.Status(StatusCodes.Status405MethodNotAllowed, "Method not allowed",
            $"{context.Request.Method} is not allowed on place {id}: an editor's place takes {EditorPlaceMethods} (PATCH to change it, a JSON merge patch).");
    }

    public static object Describe(PlaceMatch p) => new
    {
        id = p.Id, name = p.Name, country = p.Country, admin1 = p.Admin1, kind = p.Kind, population = p.Population,
        lon = p.Lon, lat = p.Lat,
    };

    /// <summary>"Kharkiv (UA, Kharkiv) or Khārk (IR, Bushehr)": places as a problem's detail names them (joined by <paramref name="conjunction"/>).</summary>
    public static string DidYouMean(IReadOnlyList<PlaceMatch> places, string conjunction = "or")
    {
        var named = places.Select(p => string.Join(", ", new[] { p.Country, p.Admin1 }.Where(x => x is not null)) is { Length: > 0 } where
            ? $"{p.Name} ({where})" : p.Name).ToList();
        return named.Count == 1 ? named[0] : $"{string.Join(", ", named[..^1])} {conjunction} {named[^1]}";
    }

    /// <summary>A place of <c>places p</c> as a GeoJSON Feature, <paramref name="more"/> properties after its own (json keeps their order; jsonb would sort the keys).</summary>
    private static string PlaceFeature(string more = "") => $"""
        json_build_object('type', 'Feature', 'id', p.id,
            -- Every digit as stored, as incidents geocoded to the place get it: float8 prints the shortest exact
            -- text (ST_AsGeoJSON stops at 15 decimals). Places are points.
            'geometry', json_build_object('type', 'Point', 'coordinates', json_build_array(ST_X(p.geom), ST_Y(p.geom))),
            'properties', json_build_object('name', p.name, 'alternate_names', p.alternate_names, 'other_names', p.other_names, 'country', p.country,
                'admin1', p.admin1, 'kind', p.kind, 'population', p.population, 'source', p.source, 'geonameid', p.geonameid{more}))
        """;

    private static readonly string FeatureSql = PlaceFeature();

    /// <summary>A place found by q: its feature with how q matched it, last among its properties.</summary>
    private static readonly string MatchedFeatureSql =
        PlaceFeature(", 'match', CASE p.tier WHEN 4 THEN 'exact' WHEN 3 THEN 'article' WHEN 2 THEN 'prefix' ELSE 'similar' END");

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
        // Counted composed (NFC), as names are compared: 200 accented letters typed decomposed are 200, not 400.
        if (q is not null && (q.Trim().Length == 0 || !IncidentInput.IsStorableText(q) || IncidentInput.Characters(q.Normalize(NormalizationForm.FormC)) > 200))
            errors.Add(new FieldError("q", "must be 1 to 200 characters of valid text"));
        // Names are compared by their letters and digits: without any, every place would be a prefix match.
        else if (q is not null && !PlaceInput.HasKey(q)) errors.Add(new FieldError("q", $"'{q}' has no letters or digits to search by (ayn, hamza and prime marks and tatweel are ignored)"));
        var country = Get("country")?.ToUpperInvariant();
        if (country is not null && !Vocabulary.CountryCodes.Contains(country)) errors.Add(new FieldError("country", $"'{country}' is not an ISO 3166-1 alpha-2 code"));
        if (Get("f") is { } f && f is not ("json" or "geojson")) errors.Add(new FieldError("f", "only json"));
        if (Get("datetime") is { } datetime)
            errors.AddRange(QueryParser.Parse(new Dictionary<string, string> { ["datetime"] = datetime }, DateTimeOffset.UtcNow).Errors);

        var pageSize = Math.Min(limit, q is null ? MaxBrowseLimit : MaxLimit);
        var parameters = new DynamicParameters(new { q, country, limit = pageSize, cap = MaxLimit });
        // What selects places (counted by numberMatched), and where this page starts (not counted).
        var where = new List<string> { "(@country::text IS NULL OR p.country = @country)" };
        string? after = null;
        var cursor = Get("cursor");
        if (cursor is not null)
        {
            // Browsing goes by (population, id), a search by its rank and id; the cursor is the last place of the page before.
            if (q is not null)
            {
                if (SearchCursor.TryParse(cursor, out var ranked))
                {
                    after = $"({SearchKey}) > (NOT @afterNamed, -@afterTier, -@afterScore, -@afterPopulation::bigint, @afterId)";
                    parameters.Add("afterNamed", ranked.Named);
                    parameters.Add("afterTier", ranked.Tier);
                    parameters.Add("afterScore", ranked.Score);
                    parameters.Add("afterPopulation", ranked.Population);
                    parameters.Add("afterId", ranked.Id);
                }
                else errors.Add(new FieldError("cursor", "is not a cursor from a next link of a search with q"));
            }
            else if (BrowseCursor.TryParse(cursor, out var last))
            {
                after = $"({BrowseKey}, p.id) > (-@afterPopulation::bigint, @afterId)";
                parameters.Add("afterPopulation", last.Population);
                parameters.Add("afterId", last.Id);
            }
            else errors.Add(new FieldError("cursor", "is not a cursor from a next link"));
        }
        // numberMatched as on the incidents: on the first page unless told.
        var count = cursor is null;
        switch (Get("count"))
        {
            case null: break;
            case "true": count = true; break;
            case "false": count = false; break;
            case var other: errors.Add(new FieldError("count", $"'{other}' is not true or false")); break;
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
        // The data version moves with every place written (this process's writes, and the places trigger's NOTIFY for
        // other processes': an import, SQL), so a page that has not changed is revalidated without a query. Weak: the
        // page's timeStamp differs from one answer to the next.
        if (Conditional.Evaluate(request.HttpContext, Conditional.Weak(Conditional.DataETag(Version(request), "places")), Conditional.Revalidate) is { } conditional)
            return conditional;

        var filter = string.Join(" AND ", where);
        if (q is null)
        {
            // Exact, by the same filters without the cursor (about 8 ms over every place, less with country or bbox).
            long? matched = count ? await reader.ScalarAsync<long>($"SELECT count(*) FROM places p WHERE {filter}", parameters, ct) : null;
            // The page's keys first, along places_browse_idx (migration 0049), then the features of those alone:
            // sorting every place with its feature built took about a second a page.
            var rows = (await reader.ListAsync($"""
                SELECT {FeatureSql}::text AS feature, coalesce(p.population, -1)::bigint AS population, p.id
                FROM (SELECT p.id FROM places p WHERE {(after is null ? filter : filter + " AND " + after)}
                      ORDER BY {BrowseKey}, p.id LIMIT @limit) page
                JOIN places p ON p.id = page.id
                ORDER BY {BrowseKey}, p.id
                """, parameters, r => (Feature: r.GetString(0), Population: r.GetInt64(1), Id: r.GetInt64(2)), ct));
            var next = rows.Count == pageSize ? new BrowseCursor(rows[^1].Population, rows[^1].Id).ToString() : null;
            return Page(request, rows.Select(r => r.Feature).ToList(), next, matched);
        }
        // The ranked result is the best MaxLimit matches, paged by limit along their rank and id (next links, keyset as
        // the browsing's); numberMatched counts them all, so it never promises a place no request can return.
        var sql = $"""
              WITH matches AS (
                  -- A place's best name, ranked: an own name that is q, that is q with or without the article, that
                  -- starts with q (8, 7, 6); then GeoNames' other names the same way (4, 3, 2); then similar names of
                  -- either kind (1). q=Homs finds Homs, Syria before Al Khums, Libya, whose old name it is; q=Hom Homs
                  -- before Qom (900,000), other name Homo; q=Dam Damascus before Dome, Ghana, other name Dam (review).
                  SELECT r.place_id, CASE WHEN r.rank > 4 THEN r.rank - 4 ELSE r.rank END AS tier, r.rank > 4 AS named, r.score
                  FROM (SELECT n.place_id,
                               max(CASE WHEN t.tier >= 2 AND NOT n.other THEN t.tier + 4 ELSE t.tier END) AS rank,
                               max({Gazetteer.Similarity("@q")}) AS score
                        FROM place_names n
                        -- (IN with the article's NULL is NULL, not false, where no key matches: CASE takes it as not matched.)
                        CROSS JOIN LATERAL (SELECT CASE WHEN n.key = place_key(@q) THEN 4 WHEN n.key IN ({ArticleKeys}) THEN 3
                                                        WHEN n.key LIKE place_key_prefix(@q) THEN 2 ELSE 1 END AS tier) t
                        WHERE n.key = place_key(@q) OR n.key IN ({ArticleKeys}) OR n.key LIKE place_key_prefix(@q) OR n.key % place_key(@q)
                        GROUP BY n.place_id) r
              ),
              ranked AS (
                  -- Names that start with q rank by importance first, then by how close they spell q: one point
                  -- per tenfold population (a place without one, null or GeoNames' 0, counts as 1,000) plus the
                  -- similarity (0 to 1), so a place ten times as populous always ranks first and spelling decides
                  -- between places of about one size. q=Alep finds Aleppo (1.6 million) before Alépé (population 0),
                  -- whose name is nearer in length, and q=Dam finds Damascus before Dam Dam (122,719) and Dammam,
                  -- and Damme (16,024) before Dambam (population 0): a tenth per tenfold let spelling win both.
                  -- Other tiers rank by spelling alone. In float8: an editor's population of 2147483647 overflowed an integer + 1.
                  SELECT p.*, m.tier, m.named,
                         CASE WHEN m.tier = 2 THEN m.score + log(coalesce(nullif(p.population, 0), 1000)::float8 + 1) ELSE m.score END AS score
                  FROM matches m JOIN places p ON p.id = m.place_id
                  WHERE {filter}
                  ORDER BY m.named DESC, m.tier DESC, score DESC, coalesce(p.population, -1) DESC, p.id
                  LIMIT @cap
              ),
              page AS (
                  -- rest: the ranked places from this page on, this page's included (a next link when it holds more)
                  SELECT p.*, count(*) OVER () AS rest
                  FROM ranked p
                  {(after is null ? "" : "WHERE " + after)}
                  ORDER BY {SearchKey}
                  LIMIT @limit
              )
              -- The count of them all even on a page past the last (no rows): one row then, with no place.
              SELECT {MatchedFeatureSql}::text, c.matched, p.rest, p.named, p.tier, p.score, coalesce(p.population, -1)::bigint, p.id
              FROM (SELECT count(*) AS matched FROM ranked) c LEFT JOIN page p ON true
              ORDER BY {SearchKey}
              """;
        var ranks = await reader.ListAsync(sql, parameters, r => r.IsDBNull(7)
            ? ((string?)null, r.GetInt64(1), 0L, default(SearchCursor))
            : ((string?)r.GetString(0), r.GetInt64(1), r.GetInt64(2),
               new SearchCursor(r.GetBoolean(3), r.GetInt32(4), r.GetDouble(5), r.GetInt64(6), r.GetInt64(7))), ct);
        var found = ranks.Where(r => r.Item1 is not null).ToList();
        var more = found.Count > 0 && found[0].Item3 > found.Count ? found[^1].Item4.ToString() : null;
        return Page(request, found.Select(r => r.Item1!).ToList(), more, count ? ranks.FirstOrDefault().Item2 : null);
    }

    /// <summary>
    /// A search's order, as a row of ascending keys (a keyset cursor compares them at once): own names first, then the
    /// tier (exact, article, prefix, similar), the score, the population (none last) and the id.
    /// </summary>
    private const string SearchKey = "NOT p.named, -p.tier, -p.score, -(coalesce(p.population, -1)::bigint), p.id";

    /// <summary>
    /// Where a page of a search with q ended: the last place's rank (whether it matched by an own name, its tier and score),
    /// population (-1 for none) and id. The score round-trips exactly ("R"), so the next page starts right after it.
    /// </summary>
    private readonly record struct SearchCursor(bool Named, int Tier, double Score, long Population, long Id)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"s{(Named ? 1 : 0)}_{Tier}_{Score:R}_{Population}_{Id}");

        public static bool TryParse(string text, out SearchCursor cursor)
        {
            cursor = default;
            var parts = text.StartsWith('s') ? text[1..].Split('_') : [];
            if (parts.Length != 5 || parts[0] is not ("0" or "1")
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var tier) || tier is < 1 or > 4
                || !double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var score) || !double.IsFinite(score)
                || !long.TryParse(parts[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var population)
                || !BrowseCursor.IsPopulation(population)
                || !long.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                return false;
            cursor = new SearchCursor(parts[0] == "1", tier, score, population, id);
            return true;
        }
    }

    /// <summary>
    /// The query's key with the Arabic article added, or taken off when it has one (place_key writes
    /// every form of it "al"): "Bab" is Al Bāb, "el Qantar" is Qantar. Left out or added, it is the same
    /// name, so it ranks right after exact names (match "article"), above names that only start with q.
    /// </summary>
    private const string ArticleKeys =
        "'al ' || place_key(@q), CASE WHEN starts_with(place_key(@q), 'al ') THEN substr(place_key(@q), 4) END";

    /// <summary>A FeatureCollection page with its self link, a next link when there is more (OGC API – Features), and numberMatched when counted.</summary>
    /// <remarks>A HEAD gets here too, having run the page's queries: its status is the GET's (a 503 while the database
    /// is down; it answered 200 without asking the database).</remarks>
    private static IResult Page(HttpRequest request, IReadOnlyCollection<string> features, string? next, long? numberMatched)
    {
        if (HttpMethods.IsHead(request.Method)) return Head(request.HttpContext);
        var self = new { href = Collections.RequestUrl.With(request), rel = "self", type = IncidentsApi.GeoJson, title = "This page" };
        return IncidentListResult.Small(features, next is null
            ? [self]
            : [self, new { href = Collections.RequestUrl.With(request, ("cursor", next)), rel = "next", type = IncidentsApi.GeoJson, title = "Next page" }],
            numberMatched);
    }

    /// <summary>The browse order's key, as places_browse_idx indexes it: the largest population first, none last.</summary>
    private const string BrowseKey = "(-(coalesce(p.population, -1)::bigint))";

    private readonly record struct BrowseCursor(long Population, long Id)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Population}.{Id}");

        /// <summary>
        /// A population as the browse key has it: a place's (0 to 2147483647) or -1 for none. Anything else is no
        /// cursor of ours (-9223372036854775808 overflowed the key's negation: a 400 naming nothing).
        /// </summary>
        public static bool IsPopulation(long population) => population is >= -1 and <= int.MaxValue;

        public static bool TryParse(string text, out BrowseCursor cursor)
        {
            cursor = default;
            var dot = text.IndexOf('.');
            if (dot < 0 || !long.TryParse(text.AsSpan(0, dot), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var population)
                || !IsPopulation(population)
                || !long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                return false;
            cursor = new BrowseCursor(population, id);
            return true;
        }
    }

    internal static async Task<IResult> GetPlace(HttpRequest request, string placeId, IncidentReader reader, CancellationToken ct)
    {
        var feature = IncidentsApi.TryParseId(placeId, out var id) ? await ReadAsync(reader, id, ct) : null;
        if (feature is null) return UnknownPlace(placeId);
        return Conditional.Evaluate(request.HttpContext, ETag(feature), Conditional.Revalidate)
               ?? PlaceResult(request, feature, id, StatusCodes.Status200OK);
    }

    /// <summary>
    /// A place's ETag: a digest of the place as stored (its feature without links), since places carry no version
    /// number. Strong, so an editor's PATCH or DELETE can send it as If-Match; it changes only with the place, not
    /// with other data.
    /// </summary>
    private static string ETag(string feature) =>
        $"\"p{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(feature)), 0, 8)}\"";

    private static DataVersion Version(HttpRequest request) => request.HttpContext.RequestServices.GetRequiredService<DataVersion>();

    private static Task<string?> ReadAsync(IncidentReader reader, long id, CancellationToken ct) =>
        reader.ScalarAsync<string?>($"SELECT {FeatureSql}::text FROM places p WHERE p.id = @id", new DynamicParameters(new { id }), ct);

    /// <summary>A place as its write leaves it, read in the write's transaction: what the answer (and a stored Idempotency-Key) sends.</summary>
    private static async Task<string> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long id, CancellationToken ct) =>
        (await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            $"SELECT {FeatureSql}::text FROM places p WHERE p.id = @id", new { id }, tx, cancellationToken: ct)))!;

    /// <summary>
    /// Locks an editor's place for a change and checks the change's If-Match and If-None-Match against it: the place as
    /// stored, or the answer instead (404, 405 for a GeoNames place, or a precondition's 400 or 412). Locked, two changes of one place apply
    /// one after the other, each to what the other left.
    /// </summary>
    private static async Task<(string? Feature, IResult? Refused)> LockForChangeAsync(HttpContext context, NpgsqlConnection connection,
        NpgsqlTransaction tx, long id, string placeId)
    {
        var current = await connection.QuerySingleOrDefaultAsync<(string Source, string Feature)?>(new CommandDefinition(
            $"SELECT p.source, {FeatureSql}::text FROM places p WHERE p.id = @id FOR UPDATE", new { id }, tx, cancellationToken: context.RequestAborted));
        if (current is not { } stored) return (null, UnknownPlace(placeId));
        if (stored.Source != "editor") return (null, ReadOnlyPlace(context, id));
        return Conditional.EvaluateChange(context, ETag(stored.Feature)) is { } refused ? (null, refused) : (stored.Feature, null);
    }

    /// <summary>A place with its self and collection links, as an incident has (OGC API – Features).</summary>
    private static IResult PlaceResult(HttpRequest request, string feature, long id, int status)
    {
        if (HttpMethods.IsHead(request.Method)) return Head(request.HttpContext);
        var root = Collections.RequestUrl.Root(request) + "/collections/places";
        var links = $$"""
            ,"links":[{"href":"{{root}}/items/{{id}}","rel":"self","type":"{{IncidentsApi.GeoJson}}","title":"This place"},{"href":"{{root}}","rel":"collection","type":"application/json","title":"The places collection"}]}
            """;
        var compact = JsonText.Compact(feature);
        return TypedResults.Text(string.Concat(compact.AsSpan(0, compact.LastIndexOf('}')), links), IncidentsApi.GeoJson, Encoding.UTF8, status);
    }

    /// <summary>HEAD: GET's status and headers, no body (as the incidents answer it): the Content-Type a GET's text result sends.</summary>
    private static IResult Head(HttpContext context)
    {
        context.Response.ContentType = IncidentsApi.GeoJson + "; charset=utf-8";
        return TypedResults.Ok();
    }

    private static IResult UnknownPlace(string placeId) => Problem.NotFound($"There is no place with id '{placeId}'.");

    /// <summary>GeoNames places are shared reference data: corrected through the curated list or a new import, not by a request.</summary>
    private static IResult ReadOnlyPlace(HttpContext context, long id)
    {
        context.Response.Headers.Allow = GazetteerPlaceMethods;
        return Problem.Status(StatusCodes.Status405MethodNotAllowed, "Gazetteer place",
            $"Place {id} comes from the GeoNames gazetteer, which is read-only: only places editors added can be changed or deleted. " +
            "Add a place of your own (POST /collections/places/items) for a spelling or point the gazetteer lacks.");
    }

    /// <summary>
    /// Adds an editor's place. With an Idempotency-Key (as on the incidents' POST) a retry whose answer was lost gets
    /// the first 201 again rather than a 409 "Place exists" about the place it created: the key is claimed before the
    /// duplicate check, in the same transaction as the insert.
    /// </summary>
    internal static async Task<IResult> CreatePlace(HttpContext context, NpgsqlDataSource dataSource)
    {
        var (key, badKey) = IdempotencyKeys.Read(context.Request);
        if (badKey is not null) return badKey;
        // As on the incidents' POST: the collection exists and has no single ETag.
        if (Conditional.EvaluateChangeWithoutETag(context) is { } failed) return failed;
        var (document, hash, problem) = await JsonBody.ReadWithHashAsync(context.Request, [IncidentsApi.GeoJson, "application/json"], context.RequestAborted);
        if (problem is not null) return problem;
        using var owned = document;
        var (draft, errors) = PlaceInput.Parse(document!.RootElement);
        if (draft is null) return Problem.Validation(errors);
        var idempotency = IdempotencyKeys.For(context, key, hash, "places");

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await using var tx = await connection.BeginTransactionAsync(context.RequestAborted);
        if (idempotency is not null && await IdempotencyKeys.ClaimAsync(connection, tx, idempotency, context.RequestAborted) is { } earlier)
        {
            if (earlier is not IdempotencyKeys.Earlier.Answer answer) return IdempotencyKeys.Refusal(earlier, "place");
            IdempotencyKeys.MarkReplayed(context, answer.Location);
            context.Response.Headers.ETag = ETag(answer.Body);
            return PlaceResult(context.Request, answer.Body, answer.Id, StatusCodes.Status201Created);
        }
        if (await SamePlaceAsync(context, connection, tx, draft, null) is { } conflict) return conflict;
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            INSERT INTO places (name, alternate_names, country, admin1, kind, population, geom, source, created_by)
            VALUES (@Name, @AlternateNames, @Country, @Admin1, @Kind, @Population, @Geometry, 'editor', @by) RETURNING id
            """, Parameters(draft, context), tx, cancellationToken: context.RequestAborted));
        var feature = await ReadAsync(connection, tx, id, context.RequestAborted);
        var location = $"/collections/places/items/{id}";
        if (idempotency is not null)
            await IdempotencyKeys.StoreAsync(connection, tx, idempotency, location, null, feature, context.RequestAborted);
        await tx.CommitAsync(context.RequestAborted);
        Changed(context);
        context.Response.Headers.Location = context.Request.PathBase + location;
        context.Response.Headers.ETag = ETag(feature);
        return PlaceResult(context.Request, feature, id, StatusCodes.Status201Created);
    }

    internal static async Task<IResult> PatchPlace(HttpContext context, string placeId, NpgsqlDataSource dataSource)
    {
        if (!IncidentsApi.TryParseId(placeId, out var id)) return UnknownPlace(placeId);
        var (document, problem) = await JsonBody.ReadAsync(context.Request, IncidentsApi.PatchMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var owned = document;
        if (document!.RootElement.ValueKind != JsonValueKind.Object)
            return Problem.Validation([new FieldError("body", "a merge patch must be a JSON object")]);

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await using var tx = await connection.BeginTransactionAsync(context.RequestAborted);
        var (stored, refused) = await LockForChangeAsync(context, connection, tx, id, placeId);
        if (refused is not null) return refused;

        var merged = IncidentInput.MergePatch(JsonNode.Parse(stored!), JsonNode.Parse(document.RootElement.GetRawText()));
        using var mergedDocument = JsonDocument.Parse(merged!.ToJsonString());
        var (draft, errors) = PlaceInput.Parse(mergedDocument.RootElement);
        if (draft is null) return Problem.Validation(errors);
        if (await SamePlaceAsync(context, connection, tx, draft, id) is { } conflict) return conflict;
        var parameters = new DynamicParameters(Parameters(draft, context));
        parameters.Add("id", id);
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE places SET name = @Name, alternate_names = @AlternateNames, country = @Country, admin1 = @Admin1,
                              kind = @Kind, population = @Population, geom = @Geometry
            WHERE id = @id
            """, parameters, tx, cancellationToken: context.RequestAborted));
        var feature = await ReadAsync(connection, tx, id, context.RequestAborted);
        await tx.CommitAsync(context.RequestAborted);
        Changed(context);
        context.Response.Headers.ETag = ETag(feature);
        return PlaceResult(context.Request, feature, id, StatusCodes.Status200OK);
    }

    /// <summary>
    /// Answers near a place (near=) change with it: the data version moves at once for this process's
    /// next read (the listener also moves it on the places trigger's NOTIFY, for other processes), and
    /// the places collection's extent is read afresh.
    /// </summary>
    private static void Changed(HttpContext context)
    {
        context.RequestServices.GetRequiredService<Gazetteer>().PlacesChanged();
        context.RequestServices.GetRequiredService<Collections.DataVersion>().Advance();
    }

    /// <summary>
    /// Deletes an editor's place. Incidents geocoded to it keep what they copied from it (coordinates,
    /// location names) and their place_id: rewriting them would change incidents behind their version
    /// and change feed, and the id still says where their point came from (ids are never reused).
    /// </summary>
    internal static async Task<IResult> DeletePlace(HttpContext context, string placeId, NpgsqlDataSource dataSource)
    {
        if (!IncidentsApi.TryParseId(placeId, out var id)) return UnknownPlace(placeId);
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        await using var tx = await connection.BeginTransactionAsync(context.RequestAborted);
        if ((await LockForChangeAsync(context, connection, tx, id, placeId)).Refused is { } refused) return refused;
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM places WHERE id = @id", new { id }, tx, cancellationToken: context.RequestAborted));
        await tx.CommitAsync(context.RequestAborted);
        return Deleted(context);
    }

    private static IResult Deleted(HttpContext context)
    {
        Changed(context);
        return TypedResults.NoContent();
    }

    private static object Parameters(PlaceDraft draft, HttpContext context) => new
    {
        draft.Name, draft.AlternateNames, draft.Country, draft.Admin1, draft.Kind, draft.Population, draft.Geometry, by = context.User.KeyName(),
    };

    /// <summary>
    /// The same name within 1 km, in the same country or where either place has none, is the same
    /// place: a second copy would make the name ambiguous for geocoding for good (a "Homs" without a
    /// country beside Homs, SY made "Homs" ambiguous). Every name counts, alternates too (an alternate equal to
    /// a nearby place's name makes that name ambiguous as surely); a GeoNames place's other names do not (migration 0046:
    /// the editor's own name wins over them, so an editor may add the place under a name GeoNames only lists among its
    /// old or foreign ones). Serialised per name (locks taken
    /// in key order), so two editors cannot both add it.
    /// </summary>
    private static async Task<IResult?> SamePlaceAsync(HttpContext context, NpgsqlConnection connection, NpgsqlTransaction tx, PlaceDraft draft, long? self)
    {
        var names = draft.AlternateNames.Prepend(draft.Name).ToArray();
        await connection.ExecuteAsync(new CommandDefinition("""
            SELECT pg_advisory_xact_lock(hashtext('place:' || k)) FROM (SELECT DISTINCT place_key(x) AS k FROM unnest(@names) x ORDER BY 1) keys
            """, new { names }, tx, cancellationToken: context.RequestAborted));
        var existing = await connection.QueryFirstOrDefaultAsync<(long Id, string Name, string? Country)?>(new CommandDefinition("""
            SELECT p.id, x, p.country::text FROM unnest(@names) WITH ORDINALITY AS given(x, i)
            JOIN place_names n ON n.key = place_key(x) AND NOT n.other
            JOIN places p ON p.id = n.place_id
            WHERE (p.country = @Country OR p.country IS NULL OR @Country::text IS NULL)
              AND ST_DWithin(p.geog, @Geometry::geography, 1000) AND p.id IS DISTINCT FROM @self
            ORDER BY i LIMIT 1
            """, new { names, draft.Country, draft.Geometry, self }, tx, cancellationToken: context.RequestAborted));
        if (existing is not { } same) return null;
        var field = same.Name == draft.Name ? "properties.name" : "properties.alternate_names";
        return Problem.Status(StatusCodes.Status409Conflict, "Place exists",
            $"{field} '{same.Name}' is already a name of place {same.Id} ({same.Country ?? "no country"}), within 1 km: geocoding already finds it by this name, and a second copy would make the name ambiguous.", field,
            new Dictionary<string, object?> { ["existing"] = $"{context.Request.PathBase}/collections/places/items/{same.Id}" });
    }
}
