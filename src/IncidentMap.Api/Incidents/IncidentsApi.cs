using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Problems;
using Microsoft.Extensions.Caching.Memory;
using IncidentMap.Api.Places;
using IncidentMap.Api.Querying;
using IncidentMap.Api.Security;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using NetTopologySuite.Geometries;

namespace IncidentMap.Api.Incidents;

/// <summary>OGC API – Features items of the <c>incidents</c> collection: query, read, create, replace, patch, delete.</summary>
public static partial class IncidentsApi
{
    /// <summary>The most vertices a search's intersects shape may have: as many as a geometry in a filter.</summary>
    public const int MaxSearchVertices = IncidentQuery.MaxShapeVertices;

    public const string GeoJson = "application/geo+json";
    private static readonly string[] FeatureMediaTypes = [GeoJson, "application/json"];
    /// <summary>RFC 7396 JSON merge patch, what PATCH takes.</summary>
    public const string MergePatch = "application/merge-patch+json";

    /// <summary>What PATCH reads as a merge patch (GeoJSON too: editors send a partial Feature as such).
    /// Declared as the endpoint's Accepts, so routing's 415 and Accept-Patch name all of them.</summary>
    internal static readonly string[] PatchMediaTypes = [MergePatch, "application/json", GeoJson];

    /// <summary>What OPTIONS names in Accept-Patch where PATCH is allowed: every type PATCH takes, as its 415 names them.</summary>
    internal static readonly string AcceptPatch = string.Join(", ", PatchMediaTypes);

    public static RouteGroupBuilder MapIncidents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/incidents/items").WithTags("Incidents");

        group.MapMethods("", [HttpMethods.Get, HttpMethods.Head], ListIncidents)
            .WithName("getIncidents")
            .WithSummary("Query incidents: radius, bbox, time window, properties, full text")
            .WithDescription("Streams matching incidents, newest first unless `sortby` says otherwise. GeoJSON pages " +
                             "carry a `next` link that never repeats or skips an incident, even while new ones arrive; " +
                             "CSV, GeoJSON text sequences and NDJSON return every match (an export) unless `limit` is given; " +
                             "an export may stream for 15 minutes, but is a 503 when it finds no first incident within the " +
                             "statement timeout of other reads (Database:StatementTimeoutSeconds, 30 s by default).")
            .WithMetadata(new QueryParametersMetadata())
            .RequireAuthorization(SecuritySetup.ReadPolicy)
            .Produces<IncidentFeatureCollectionDoc>(StatusCodes.Status200OK, GeoJson, "text/csv", "application/geo+json-seq", "application/x-ndjson")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        app.MapPost("/collections/incidents/search", SearchIncidents)
            .WithTags("Incidents")
            .WithName("searchIncidents")
            .OwnParametersOnly() // the parameters go in the body; a query string would be ignored
            .WithSummary("Query incidents with a body: polygon search and every items parameter")
            .WithDescription("For shapes too large for a URL. The body's members are the items endpoint's query parameters " +
                             "plus `intersects`, a GeoJSON geometry the incidents must intersect. The `next` link carries " +
                             "`method: POST` and the `body` to send for the next page.")
            .Accepts<SearchRequestDoc>("application/json")
            .RequireAuthorization(SecuritySetup.ReadPolicy)
            .Produces<IncidentFeatureCollectionDoc>(StatusCodes.Status200OK, GeoJson, "text/csv", "application/geo+json-seq", "application/x-ndjson")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .DeclaresPreconditionsWithoutETag()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

        group.MapPost("", CreateIncident)
            .WithName("createIncident")
            .OwnParametersOnly()
            .WithSummary("Record an incident")
            .WithDescription("Needs a key with the write scope. Send an Idempotency-Key to make retries safe: a retry with " +
                             "the same key and body gets the first answer again (Idempotent-Replayed: true) and creates nothing; " +
                             "the same key with another body is refused (422); a retry while the first is running gets 409. " +
                             "Keys belong to the API key and are kept 24 hours.")
            .RequireAuthorization(SecuritySetup.WritePolicy)
            .WithMetadata(new HeaderParameterDoc(IdempotencyKeys.Header, IdempotencyKeys.Description),
                new OpenApi.ResponseHeaderDoc("ETag", "The new incident's version, for If-Match.", StatusCodes.Status201Created),
                IdempotencyKeys.ReplayedDoc)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .Accepts<IncidentFeatureDoc>(GeoJson, "application/json")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status201Created, GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .DeclaresPreconditionsWithoutETag()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapMethods("/{featureId}", [HttpMethods.Get, HttpMethods.Head], GetIncident)
            .WithName("getIncident")
            .JsonOnly()
            .WithSummary("One incident")
            .RequireAuthorization(SecuritySetup.ReadPolicy)
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPut("/{featureId}", ReplaceIncident)
            .WithName("replaceIncident")
            .OwnParametersOnly()
            .RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Replace an incident")
            .WithDescription("Full replacement. `If-Match` with the ETag you read is required (428 without it, 412 when stale).")
            .Accepts<IncidentFeatureDoc>(GeoJson, "application/json")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .ProducesChangeProblems();

        group.MapPatch("/{featureId}", PatchIncident)
            .WithName("patchIncident")
            .OwnParametersOnly()
            .RequireAuthorization(SecuritySetup.WritePolicy)
            .WithSummary("Change part of an incident (JSON merge patch, RFC 7396)")
            .WithDescription("For example `{\"properties\":{\"fatalities_max\":62}}`; `null` clears a property.")
            .Accepts<IncidentPatchDoc>(PatchMediaTypes[0], PatchMediaTypes[1..])
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .ProducesChangeProblems();

        // QGIS and other editors read Allow from OPTIONS to decide whether a layer is editable.
        group.MapMethods("", [HttpMethods.Options], (HttpResponse response) => Allow(response, "GET, HEAD, POST, OPTIONS"))
            .WithName("optionsIncidents").WithSummary("Methods allowed on the items").Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest) // a parameter none of the methods takes
            .RequireAuthorization(SecuritySetup.ReadPolicy);
        // For an incident as GET answers for it: one that is not there (or an id that names none) is a 404.
        group.MapMethods("/{featureId}", [HttpMethods.Options], async (HttpResponse response, string featureId, IncidentReader reader, CancellationToken ct) =>
            {
                if (!TryParseId(featureId, out var id) || !await reader.ScalarAsync<bool>(
                        "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = @id AND deleted_at IS NULL)", new Dapper.DynamicParameters(new { id }), ct))
                    return UnknownIncident(featureId);
                response.Headers["Accept-Patch"] = AcceptPatch; // RFC 5789 §3.1
                return Allow(response, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
            })
            .WithName("optionsIncident").WithSummary("Methods allowed on an incident").Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(SecuritySetup.ReadPolicy);

        group.MapMethods("/{featureId}/history", [HttpMethods.Get, HttpMethods.Head], GetHistory)
            .WithName("getIncidentHistory")
            .OwnParametersOnly()
            .WithSummary("Every revision of an incident: who changed what, when (deleted incidents too)")
            .RequireAuthorization(SecuritySetup.ReadPolicy)
            .Produces<HistoryDoc>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapMethods("/{featureId}/history/{version}", [HttpMethods.Get, HttpMethods.Head], GetRevision)
            .WithName("getIncidentRevision")
            .OwnParametersOnly()
            .WithSummary("An incident as it was at one version")
            .RequireAuthorization(SecuritySetup.ReadPolicy)
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapDelete("/{featureId}", DeleteIncident)
            .WithName("deleteIncident")
            .OwnParametersOnly()
            .RequireAuthorization(SecuritySetup.WritePolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status428PreconditionRequired)
            .WithSummary("Delete an incident")
            .WithDescription("The incident disappears from every read, its history included for keys without the write " +
                             "scope; it is kept as a tombstone for the change feed, and editors can still read its history.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);

        return group;
    }

    internal static async Task<IResult> ListIncidents(HttpContext context, IncidentReader reader)
    {
        var request = context.Request;
        var (query, problem) = await QueryParser.ParseRequestAsync(request, useAccept: true);
        if (problem is not null) return problem;

        // A window relative to now (PT24H) is pinned in the links to the instants this page used: resolved again
        // by every next page, its start slid forward while a client paged, and incidents near it that
        // numberMatched had counted were never returned.
        (string, string?)[] pinned = query!.RelativeTo is null ? [] : [("datetime", TimeWindow.Format(query.From, query.Until))];
        object NextLink(string cursor) => new { href = RequestUrl.With(request, [("cursor", cursor), .. pinned]), rel = "next", type = GeoJson, title = "Next page" };
        // The same page in the other formats (OGC API – Features /req/core/fc-links: rel alternate).
        object[] alternates = query!.Format != OutputFormat.GeoJson ? [] :
        [
            .. new[] { ("csv", "text/csv", "This page as CSV"), ("geojsonseq", "application/geo+json-seq", "This page as a GeoJSON text sequence"),
                ("ndjson", "application/x-ndjson", "This page as newline-delimited GeoJSON") }.Select(a => (object)new
            {
                // A page in another format has the same size: CSV and sequences are otherwise whole exports.
                href = RequestUrl.With(request, [("f", a.Item1), ("limit", query.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. pinned]),
                rel = "alternate", type = a.Item2, title = a.Item3,
            }),
        ];
        return await RunAsync(context, reader, query, request.GetEncodedUrl(), NextLink, alternates);
    }

    /// <summary>
    /// A JSON number as a query parameter writes it: a whole number in digits alone, however the JSON spelled it
    /// (<c>5e1</c> and <c>50.0</c> are 50, as a write reads <c>57.0</c> as 57), since limit, precision and the tolls take
    /// digits; any other number as written.
    /// </summary>
    private static string NumberText(JsonElement number) =>
        IncidentInput.IsWholeNumber(number.GetRawText()) && number.TryGetDecimal(out var value)
            ? decimal.Truncate(value).ToString("0", System.Globalization.CultureInfo.InvariantCulture)
            : number.GetRawText();

    /// <summary>
    /// Members of the search body: every query parameter of the items endpoint (strings, numbers,
    /// booleans or arrays of strings) plus <c>intersects</c>, a GeoJSON geometry.
    /// </summary>
    internal static async Task<IResult> SearchIncidents(HttpContext context, IncidentReader reader)
    {
        var request = context.Request;
        // A search reads, but by POST: its preconditions are a POST's (RFC 9110 §13.1.1–2, a 412 and never a 304 when
        // one fails), against a resource that exists and whose answers carry no ETag (README "Caching and CORS").
        if (Conditional.EvaluateChangeWithoutETag(context) is { } failed) return failed;
        var (document, problem) = await JsonBody.ReadAsync(request, ["application/json", GeoJson], context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;
        var root = document!.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            return Problem.BadParameter("body", "must be a JSON object of search parameters");

        var errors = new List<FieldError>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        Geometry? intersects = null;
        foreach (var member in root.EnumerateObject())
        {
            // null is the member left out, as for every other member.
            if (member.Name == "intersects" && member.Value.ValueKind != JsonValueKind.Null)
            {
                intersects = IncidentInput.ParseGeometry(member.Value, "intersects", errors);
                if (intersects is not null && intersects.NumPoints > MaxSearchVertices)
                {
                    // Every candidate is tested against the whole shape: near the write limit (100,000), a
                    // search with count ran into the 30 s statement timeout and held a connection all along.
                    errors.Add(new FieldError("intersects.coordinates",
                        $"has {intersects.NumPoints} vertices; a search shape may have at most {MaxSearchVertices}: simplify it, or search by bbox"));
                    intersects = null;
                }
                if (intersects is not null && new NetTopologySuite.Operation.Valid.IsValidOp(intersects).ValidationError is { } invalidShape)
                {
                    errors.Add(new FieldError("intersects", $"is not a valid geometry: {invalidShape.Message} at {invalidShape.Coordinate}"));
                    intersects = null;
                }
                continue;
            }
            string? text = member.Value.ValueKind switch
            {
                JsonValueKind.String => member.Value.GetString(),
                JsonValueKind.Number => NumberText(member.Value),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Array when member.Value.EnumerateArray().All(e => e.ValueKind is JsonValueKind.String or JsonValueKind.Number) =>
                    QueryParser.Joined(member.Name, member.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : NumberText(e))),
                JsonValueKind.Null => null,
                // A cql2-json filter may come as the JSON itself rather than as a string holding it.
                JsonValueKind.Object when member.Name == "filter" => member.Value.GetRawText(),
                _ => "\0invalid",
            };
            if (text == "\0invalid") errors.Add(new FieldError(member.Name, "must be a string, number, boolean or array of strings (filter: also a cql2-json object)"));
            // An array is a comma list or a repeated parameter: one that a GET may not repeat (q, lat, datetime …)
            // takes one value here too. Joined, {"q": ["convoy", "market"]} searched for both words, where
            // q=convoy&q=market is a 400. bbox's JSON form is its numbers.
            else if (member.Value.ValueKind == JsonValueKind.Array && member.Value.GetArrayLength() > 1
                     && member.Name != "bbox" && !QueryParser.MayRepeat(member.Name))
                errors.Add(new FieldError(member.Name, $"is an array of {member.Value.GetArrayLength()} values; give one value (only list parameters take several, as only they may be repeated in a GET)"));
            else if (member.Value.ValueKind is JsonValueKind.String or JsonValueKind.Array
                     && QueryParser.HoldsSeparator(member.Value.ValueKind == JsonValueKind.String ? [member.Value.GetString()]
                         : member.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : null)))
                errors.Add(new FieldError(member.Name, QueryParser.SeparatorHeld));
            else if (text is not null) values[member.Name] = text;
        }
        // A filter given as a JSON object can only be CQL2 JSON, which filter-lang need not say again.
        if (root.TryGetProperty("filter", out var filterMember) && filterMember.ValueKind == JsonValueKind.Object)
        {
            if (!values.TryAdd("filter-lang", Filtering.Cql2.JsonLanguage) && values["filter-lang"] != Filtering.Cql2.JsonLanguage)
                errors.Add(new FieldError("filter-lang", $"a filter given as a JSON object is {Filtering.Cql2.JsonLanguage}, not {values["filter-lang"]}; send CQL2 text as a string"));
        }
        if (errors.Count > 0) return Problem.Validation(errors, StatusCodes.Status400BadRequest);
        if (await NearParameter.ResolveAsync(values, context.RequestServices.GetRequiredService<Gazetteer>(), context.RequestAborted) is { } near)
            return near;

        var (query, parseErrors) = QueryParser.Parse(values, DateTimeOffset.UtcNow, request.Headers.Accept.ToString(), intersects);
        if (query is null) return Problem.Validation(parseErrors, StatusCodes.Status400BadRequest);
        if (await QueryParser.SearchableTextAsync(query, context) is { } empty) return empty;

        var self = request.GetEncodedUrl();
        var rawBody = root.GetRawText();
        object NextLink(string cursor)
        {
            var body = JsonNode.Parse(rawBody)!.AsObject();
            body["cursor"] = cursor;
            // Pinned as on GET (ListIncidents).
            if (query.RelativeTo is not null) body["datetime"] = TimeWindow.Format(query.From, query.Until);
            return new { href = self, rel = "next", type = GeoJson, title = "Next page", method = "POST", body };
        }
        return await RunAsync(context, reader, query, self, NextLink);
    }

    private static IResult Allow(HttpResponse response, string methods)
    {
        response.Headers.Allow = methods;
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RunAsync(HttpContext context, IncidentReader reader, IncidentQuery query,
        string self, Func<string, object> nextLink, IReadOnlyList<object>? alternates = null)
    {
        var ct = context.RequestAborted;
        var version = context.RequestServices.GetRequiredService<DataVersion>();
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            // Same URL, same data version: same body. Answered without touching the database.
            // The format is in the ETag because Accept can change it at the same URL. A GeoJSON page's
            // timeStamp is the second it was written, so its bytes change with the same data: its tag is
            // weak (RFC 9110 §8.8.1), one for every coding (audit: a strong tag stood for differing bytes).
            context.Response.Headers.Vary = "Accept, Accept-Encoding";
            var etag = Conditional.DataETag(version, query, query.Format.ToString().ToLowerInvariant());
            if (query.Format == OutputFormat.GeoJson) etag = Conditional.Weak(etag);
            if (Conditional.Evaluate(context, etag, Conditional.Revalidate) is { } conditional) return conditional;
        }
        System.Threading.RateLimiting.RateLimitLease? exportLease = null;
        if (query.Limit is null)
        {
            exportLease = context.RequestServices.GetRequiredService<ExportLimiter>().TryAcquire(context);
            if (!exportLease.IsAcquired)
            {
                exportLease.Dispose();
                context.Response.Headers.RetryAfter = "10";
                return Problem.Status(StatusCodes.Status429TooManyRequests, "Too many exports",
                    "This client already runs as many whole-collection exports as allowed; retry when one finishes, or page with limit.",
                    null, new Dictionary<string, object?>());
            }
        }
        try
        {
            var counts = context.RequestServices.GetRequiredService<MatchCounts>();
            long? matched = query.Count ? await counts.CountAsync(query, ct) : null;
            var sql = IncidentSqlBuilder.Build(query, matched ?? await PlanningCountAsync(context, counts, query, ct));
            var rows = query.Limit is { } limit && limit <= IncidentReader.ShortReadRows
                ? await reader.OpenPageAsync(sql, ct)
                : query.Limit is not null
                    ? await reader.OpenAsync(sql, ct, longRead: true)
                    : await reader.OpenAsync(sql, ct, longRead: true, statementTimeout: IncidentReader.ExportTimeout,
                        firstRowTimeout: FirstRowTimeout(context));
            if (HttpMethods.IsHead(context.Request.Method))
            {
                // A GET's status is known once its first row is (RunAsync answers 429, 503 or a timeout's problem before
                // that): a HEAD runs the same query that far and reads no further. It answered 200 without the database,
                // while the GET of the same URL was a 503 (database down), a 429 (exports) or a timeout's 503.
                await rows.AbandonAsync();
                exportLease?.Dispose();
                IncidentListResult.Describe(context.Response, query.Format);
                return TypedResults.Ok();
            }
            return new IncidentListResult(rows, query, matched, self, nextLink, alternates ?? [], exportLease);
        }
        catch
        {
            exportLease?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The count a page's plan follows when the client did not ask for one (<see cref="IncidentSqlBuilder.PlanFollowsCount"/>):
    /// a later page of the same filter finds its first page's count here; and tags, actors or property values
    /// (a place, a claimant …) that PostgreSQL's statistics do not list as common are counted first, through
    /// their index (a few ms), so that a page of a tag or place in no incident, or in a handful, is not a walk
    /// of the whole table (<see cref="RareValues"/>).
    /// </summary>
    private static async Task<long?> PlanningCountAsync(HttpContext context, MatchCounts counts, IncidentQuery query, CancellationToken ct)
    {
        if (!IncidentSqlBuilder.PlanFollowsCount(query)) return null;
        if (counts.Known(query) is { } known) return known;
        return await context.RequestServices.GetRequiredService<RareValues>().AllRareAsync(query, ct)
            ? await counts.CountAsync(query, ct)
            : null;
    }

    /// <summary>
    /// How long an export may take to its first row: the statement timeout of every other read
    /// (Database:StatementTimeoutSeconds; 0 is none). Only then does it get <see cref="IncidentReader.ExportTimeout"/>.
    /// </summary>
    private static TimeSpan? FirstRowTimeout(HttpContext context) =>
        context.RequestServices.GetRequiredService<Hosting.Settings>().StatementTimeoutSeconds is > 0 and var seconds
            ? TimeSpan.FromSeconds(seconds)
            : null;

    internal static async Task<IResult> GetIncident(HttpContext context, string featureId, IncidentReader reader,
        DataVersion dataVersion, IMemoryCache cache)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);

        // The ETag names the incident's version (If-Match uses it). To answer If-None-Match without a
        // query, remember which version was current at which data version.
        var dataAt = dataVersion.Current;
        var known = $"etag:{id}";
        if (cache.TryGetValue(known, out (long DataVersion, string ETag) seen) && seen.DataVersion == dataAt
            && Conditional.Evaluate(context, seen.ETag, Conditional.Revalidate) is { } early)
            return early;

        var stored = await reader.GetFeatureAsync(id, context.RequestAborted);
        if (stored is null) return UnknownIncident(featureId);
        var etag = ETag(stored.Value.Version);
        cache.Set(known, (dataAt, etag), new MemoryCacheEntryOptions { Size = 64, SlidingExpiration = TimeSpan.FromMinutes(5) });
        if (Conditional.Evaluate(context, etag, Conditional.Revalidate) is { } conditional) return conditional;
        return Feature(WithLinks(stored.Value.Feature, context.Request, id), StatusCodes.Status200OK);
    }

    private static WriteContext Writer(HttpContext context, IdempotencyRequest? idempotency = null) =>
        new(context.User.KeyName(), idempotency);

    /// <summary>Validates a Feature after geocoding fills what the server may fill (see <see cref="Geocoding"/>).</summary>
    /// <param name="keep">For a change of a stored incident that derives no point from a name: the
    /// draft with what it keeps of the stored place link and derivation marks, or null to derive
    /// afresh. Complete when the change leaves the place as it was: then nothing is derived again, so
    /// a restated incident keeps them even where the derivation would now differ. Otherwise what is
    /// still missing is derived, beside the marks kept.</param>
    private static async Task<(IncidentDraft? Draft, IResult? Problem)> DraftAsync(HttpContext context, JsonElement feature,
        Func<IncidentDraft, (IncidentDraft Draft, bool Complete)?>? keep = null)
    {
        var geocoding = context.RequestServices.GetRequiredService<Geocoding>();
        var (prepared, problem) = await geocoding.GeocodeAsync(feature, context.RequestAborted);
        if (problem is not null) return (null, problem);
        using var owned = prepared!.Owned;
        var (draft, errors) = IncidentInput.Parse(prepared.Feature);
        if (draft is null) return (null, Problem.Validation(errors));
        draft = draft with { PlaceId = prepared.PlaceId, DerivedFields = prepared.Derived };
        if (prepared.Derived.Length == 0 && keep?.Invoke(draft) is var (kept, complete))
        {
            if (complete) return (kept, null);
            draft = kept;
        }
        return (await geocoding.ReverseAsync(draft, context.RequestAborted), null);
    }

    internal static async Task<IResult> CreateIncident(HttpContext context, IncidentStore store)
    {
        var (idempotencyKey, badKey) = IdempotencyKeys.Read(context.Request);
        if (badKey is not null) return badKey;
        // The collection exists and has no single ETag: If-Match with tags, or If-None-Match: *, creates nothing.
        if (Conditional.EvaluateChangeWithoutETag(context) is { } failed) return failed;

        var (document, hash, problem) = await JsonBody.ReadWithHashAsync(context.Request, FeatureMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;
        var idempotency = IdempotencyKeys.For(context, idempotencyKey, hash);

        var (draft, invalid) = await DraftAsync(context, document!.RootElement);
        if (invalid is not null) return invalid;

        var outcome = await store.CreateAsync(draft!, Writer(context, idempotency), context.RequestAborted);
        switch (outcome)
        {
            case WriteOutcome.Stored stored:
                context.Response.Headers.Location = $"{context.Request.PathBase}/collections/incidents/items/{stored.Id}";
                break;
            case WriteOutcome.Replayed replayed:
                IdempotencyKeys.MarkReplayed(context, $"/collections/incidents/items/{replayed.Id}");
                return SetETag(context, replayed.Version, Feature(WithLinks(replayed.Feature, context.Request, replayed.Id), StatusCodes.Status201Created));
        }
        return Respond(context, outcome, StatusCodes.Status201Created);
    }

    internal static async Task<IResult> ReplaceIncident(HttpContext context, string featureId, IncidentStore store, IncidentReader reader)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (Preconditions(context.Request, out var condition) is { } precondition) return precondition;

        var (document, problem) = await JsonBody.ReadAsync(context.Request, FeatureMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;
        if (OtherId(document!.RootElement, id) is { } otherId) return otherId;

        var stored = await reader.GetFeatureAsync(id, context.RequestAborted) is { } current ? JsonNode.Parse(current.Feature) : null;
        if (stored is not null && FinerThanStored(document!.RootElement, stored) is { } finer) return finer;
        using var replaced = stored is null ? null : ForgetOutdatedDerivations(document!.RootElement, stored);
        var body = replaced?.RootElement ?? document!.RootElement;
        var (draft, invalid) = await DraftAsync(context, body,
            d => stored is not null && ReplacedPlace(stored, body) is { } names ? (WithStoredPlace(d, stored, names), names.Count == 0) : null);
        if (invalid is not null) return invalid;
        return Respond(context, await store.ReplaceAsync(id, draft!, condition, Writer(context), context.RequestAborted), StatusCodes.Status200OK, featureId);
    }

    /// <summary>
    /// A body naming another incident than its URL (an "id" member, as a GET gives it, number or
    /// string) is a 400: sent to the wrong URL, it would have replaced the wrong incident.
    /// </summary>
    private static IResult? OtherId(JsonElement body, long id)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("id", out var member) || member.ValueKind == JsonValueKind.Null) return null;
        var given = member.ValueKind switch
        {
            JsonValueKind.Number => member.GetRawText(),
            JsonValueKind.String => member.GetString(),
            _ => null,
        };
        return given == id.ToString(System.Globalization.CultureInfo.InvariantCulture) ? null
            : Problem.BadParameter("id", $"the body is feature {member.GetRawText()}, the URL incident {id}; send it to its own URL, or leave id out");
    }

    /// <summary>
    /// A replacement read back from the incident and sent with one thing changed (a GIS editor's save) echoes
    /// what was derived from what it changes. As a patch of that change would (<see cref="ForgetWhatThePatchOutdates"/>),
    /// a moved geometry drops the echoed place names and precision derived with the old one, to be derived again
    /// from the new point, and a new place name drops a geocoded point, to be geocoded again. Null when nothing is
    /// dropped. (A moved point kept "Homs", to town precision, 150 km away.)
    /// </summary>
    private static JsonDocument? ForgetOutdatedDerivations(JsonElement body, JsonNode stored)
    {
        var derived = stored["properties"]?["derived_fields"]?.AsArray().Select(d => d?.GetValue<string>()).ToHashSet() ?? [];
        if (derived.Count == 0 || JsonNode.Parse(body.GetRawText()) is not JsonObject feature || feature["properties"] is not JsonObject properties) return null;
        bool Echoed(string name) => JsonNode.DeepEquals(stored["properties"]?[name], properties[name]);
        string[] forget;
        var sameGeometry = SameGeometry(stored["geometry"], feature["geometry"]);
        if (feature["geometry"] is not null && !sameGeometry)
            forget = ["location_name", "admin1", "country", "geo_precision"];
        else if (derived.Contains("geometry") && sameGeometry && !PlaceNames.All(Echoed))
        {
            feature.Remove("geometry");
            forget = ["admin1", "country", "geo_precision"];
        }
        // A new country for the writer's own point: the names taken from a place of another country (CountryDerivedNames).
        else if (!derived.Contains("geometry") && sameGeometry && !Echoed("country"))
            forget = ["location_name", "admin1"];
        else return null;
        foreach (var name in forget.Where(n => derived.Contains(n) && Echoed(n))) properties.Remove(name);
        return JsonDocument.Parse(feature.ToJsonString());
    }

    /// <summary>
    /// The place names a replacement changes (sends with another value than the stored one, or leaves out), or null
    /// when it sends another geometry (then the place is derived afresh): as <see cref="PatchedPlace"/> for a patch.
    /// A client that reads an incident and sends it back with one name changed (a GIS editor's save) keeps what
    /// geocoding derived for the rest (place_id, derived_fields), since those values are the same, so their origin
    /// is too; the name it changed is its own. Restating them all (none changed) keeps everything. It dropped the
    /// place link and every mark instead, so a later move of the point left the old place's names (review).
    /// </summary>
    private static List<string>? ReplacedPlace(JsonNode stored, JsonElement body)
    {
        var sent = JsonNode.Parse(body.GetRawText())!;
        if (!SameGeometry(stored["geometry"], sent["geometry"])) return null;
        return PlaceNames.Where(name => !JsonNode.DeepEquals(stored["properties"]?[name], sent["properties"]?[name])).ToList();
    }

    /// <summary>
    /// The draft with the stored incident's place link and derivation marks, less what the writer
    /// changed: a name it sets is its own (and a country or admin1 settles country_undecided), a new
    /// location_name unlinks the place, and a geo_precision other than the stored one is its own too.
    /// </summary>
    private static IncidentDraft WithStoredPlace(IncidentDraft draft, JsonNode stored, IReadOnlyCollection<string> changedNames)
    {
        var properties = stored["properties"];
        var marks = properties?["derived_fields"]?.AsArray().Select(d => d!.GetValue<string>()).ToList() ?? [];
        marks.RemoveAll(changedNames.Contains);
        if (changedNames.Contains("country") || changedNames.Contains("admin1")) marks.Remove(Geocoding.CountryUndecided);
        if (draft.GeoPrecision != properties?["geo_precision"]?.GetValue<string>()) marks.Remove("geo_precision");
        return draft with
        {
            PlaceId = changedNames.Contains("location_name") ? null : properties?["place_id"]?.GetValue<long?>(),
            DerivedFields = [.. marks],
        };
    }

    private static readonly string[] PlaceNames = ["location_name", "admin1", "country"];

    internal static async Task<IResult> PatchIncident(HttpContext context, string featureId, IncidentStore store, IncidentReader reader)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (Preconditions(context.Request, out var condition) is { } precondition) return precondition;

        var (document, problem) = await JsonBody.ReadAsync(context.Request, PatchMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;
        if (document!.RootElement.ValueKind != JsonValueKind.Object)
            return Problem.Validation([new FieldError("body", "a merge patch must be a JSON object")]);
        if (OtherId(document.RootElement, id) is { } otherId) return otherId;
        if (Uncleared(document.RootElement) is { } uncleared) return uncleared;

        // Patches that take any version queue here rather than race (PatchTurns).
        var anyVersion = condition.Match is null;
        await using var turn = anyVersion ? await PatchTurns.EnterAsync(id, PatchRaceBudget, context.RequestAborted) : null;
        if (anyVersion && turn is null)
            return BusyWithOtherWrites(context, $"Other patches of incident {featureId} kept it busy for {PatchRaceBudget.TotalSeconds:0} s; retry shortly.");
        var racing = System.Diagnostics.Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            var current = await reader.GetFeatureAsync(id, context.RequestAborted);
            if (current is null) return UnknownIncident(featureId);
            if (condition.Refuses(current.Value.Version) is { } header)
                return Respond(context, new WriteOutcome.VersionMismatch(current.Value.Version, header), StatusCodes.Status200OK, featureId);

            var stored = JsonNode.Parse(current.Value.Feature)!;
            var merged = IncidentInput.MergePatch(stored, JsonNode.Parse(document.RootElement.GetRawText()));
            ForgetWhatThePatchOutdates(merged!, document.RootElement, stored);
            using var mergedDocument = JsonDocument.Parse(merged!.ToJsonString());
            if (FinerThanStored(mergedDocument.RootElement, stored) is { } finer) return finer;
            var (draft, invalid) = await DraftAsync(context, mergedDocument.RootElement,
                d => PatchedPlace(document.RootElement, stored) is { } names ? (WithStoredPlace(d, stored, names), names.Count == 0) : null);
            if (invalid is not null) return invalid;

            // The version read above guards the merge: a concurrent change in between is not overwritten.
            // With If-Match: * any current version will do (RFC 9110 §13.1.1), so the patch is merged
            // into the newer one and tried again; with a named version it is a 412.
            var outcome = await store.ReplaceAsync(id, draft!, VersionCondition.Exactly(current.Value.Version), Writer(context), context.RequestAborted);
            if (outcome is WriteOutcome.VersionMismatch)
            {
                // "*" matches whatever version is current, so losing a race is never a 412 (24 editors
                // patching one incident at once got 412s after 20 tries: concurrency audit); nor is it for a
                // list of tags while the version now current is in it (RFC 9110 §13.1.1: any of them): the next
                // read decides. A single tag's loss is the 412 of that read. A random pause parts writers that
                // keep colliding; past the budget, the answer is "retry", but not before three tries: a patch
                // that waited out an import's batch on the row lock had spent the budget before it first lost.
                if (racing.Elapsed > PatchRaceBudget && attempt >= 3)
                    return BusyWithOtherWrites(context,
                        $"Other writers changed incident {featureId} each time this patch was merged, for {PatchRaceBudget.TotalSeconds:0} s; retry shortly.");
                await Task.Delay(Random.Shared.Next(1, 1 + Math.Min(attempt, 10) * 5), context.RequestAborted);
                continue;
            }
            return Respond(context, outcome, StatusCodes.Status200OK, featureId);
        }
    }

    /// <summary>
    /// Properties a merge patch may not clear with null. Each always has a value, and a cleared one
    /// took its default: time_precision "exact" made a month an exact midnight, geo_precision "exact"
    /// made a town's centre the very spot, status "reported" undid a verification.
    /// </summary>
    private static readonly (string Name, string[] Values)[] NeverCleared =
        [("time_precision", Vocabulary.TimePrecisions), ("geo_precision", Vocabulary.GeoPrecisions), ("status", Vocabulary.Statuses)];

    private static IResult? Uncleared(JsonElement patch)
    {
        if (!patch.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object) return null;
        var errors = NeverCleared
            .Where(p => properties.TryGetProperty(p.Name, out var value) && value.ValueKind == JsonValueKind.Null)
            .Select(p => new FieldError($"properties.{p.Name}", $"cannot be cleared (null): every incident has one; give one of {string.Join(", ", p.Values)}"))
            .ToList();
        return errors.Count == 0 ? null : Problem.Validation(errors);
    }

    /// <summary>
    /// A time_precision finer than the stored one, without the occurred_at that would say the finer time: a month
    /// made a day would be its 1st, which nobody reported (a POST of "2016-03" with "day" is the same 422). The
    /// stored time reads back as a full date-time, which alone says an exact time, so the document to store cannot
    /// tell: a write whose occurred_at is the stored instant (sent back as read, or in another offset) keeps the
    /// stored precision or a coarser one, and a time_precision left out is "exact", as <see cref="IncidentInput"/>
    /// takes it (a month read and sent back without it became midnight on the 1st). A date or month says its own.
    /// </summary>
    /// <param name="feature">What is to be stored: a PUT's body, or a PATCH merged into the stored incident (as
    /// <see cref="ForgetWhatThePatchOutdates"/> left it), so that both judge the same document alike.</param>
    private static IResult? FinerThanStored(JsonElement feature, JsonNode storedFeature)
    {
        var stored = storedFeature["properties"];
        // A body that is no object, or a time that does not parse, is validation's to refuse.
        if (feature.ValueKind != JsonValueKind.Object || !feature.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object
            || !properties.TryGetProperty("occurred_at", out var at) || at.ValueKind != JsonValueKind.String
            || !Rfc3339.TryParseIncidentTime(at.GetString()!, out var sent, out var implied) || implied is not null
            || stored?["occurred_at"]?.GetValue<string>() is not { } storedAt || !Rfc3339.TryParseIncidentTime(storedAt, out var storedTime, out _)
            || sent.UtcTicks != storedTime.UtcTicks)
            return null;
        var given = properties.TryGetProperty("time_precision", out var precision) ? precision : (JsonElement?)null;
        if (given is { ValueKind: not (JsonValueKind.String or JsonValueKind.Null) }) return null;
        var meant = given?.GetString() ?? "exact";
        var was = stored?["time_precision"]?.GetValue<string>();
        var finer = Array.IndexOf(Vocabulary.TimePrecisions, meant);
        if (finer < 0 || finer >= Array.IndexOf(Vocabulary.TimePrecisions, was)) return null;
        return Problem.Validation([new FieldError("properties.time_precision", given?.GetString() is null
            ? $"is left out, which makes occurred_at {FieldError.Quoted(at.GetString())} an exact time, finer than the stored {was} ({storedAt}); " +
              $"send time_precision {was} (as read) to keep it, or an occurred_at that says the finer time"
            : $"'{meant}' is finer than the stored {was} ({storedAt}); send occurred_at with the {meant} it means")]);
    }

    /// <summary>A patch that could not get its turn, or kept losing the merge race, within <see cref="PatchRaceBudget"/>: retry in a second.</summary>
    private static IResult BusyWithOtherWrites(HttpContext context, string detail)
    {
        context.Response.Headers.RetryAfter = "1";
        return Problem.Status(StatusCodes.Status503ServiceUnavailable, "Busy with other writes", detail, null, new Dictionary<string, object?>());
    }

    /// <summary>How long a PATCH with If-Match: * goes on merging again after losing races with other writers.</summary>
    private static readonly TimeSpan PatchRaceBudget = TimeSpan.FromSeconds(10);

    /// <summary>
    /// What the stored incident holds only because of something the patch replaces is left out of the
    /// merged document, so that it is worked out again as a new incident's would be:
    /// <list type="bullet">
    /// <item>a new occurred_at without a time_precision takes the precision it implies ("2016-03" is a
    /// month), not the old one;</item>
    /// <item>a new geometry (<see cref="NewGeometry"/>: not the stored one sent again) drops the place names and precision geocoding derived from or with the old
    /// one (reverse geocoding then fills what is missing from the new point);</item>
    /// <item>a new place name drops the point, and the names and precision, geocoding derived from the old name.</item>
    /// </list>
    /// </summary>
    private static void ForgetWhatThePatchOutdates(JsonNode merged, JsonElement patch, JsonNode stored)
    {
        if (merged["properties"] is not JsonObject properties) return;
        var patched = patch.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        bool Patches(string name) => patched.ValueKind == JsonValueKind.Object && patched.TryGetProperty(name, out _);
        var derived = stored["properties"]?["derived_fields"]?.AsArray().Select(d => d?.GetValue<string>()).ToHashSet() ?? [];

        if (Patches("occurred_at") && !Patches("time_precision")) properties.Remove("time_precision");
        var newGeometry = NewGeometry(patch, stored);
        if (newGeometry)
            foreach (var name in new[] { "location_name", "admin1", "country", "geo_precision" })
                if (derived.Contains(name) && !Patches(name)) properties.Remove(name);
        // Geocoding a name derived the point and whichever of country, admin1 and geo_precision the
        // writer left out: a new name derives them all again from its place (Homs → Aleppo must not
        // keep admin1 Homs).
        if (!newGeometry && derived.Contains("geometry") && (Patches("location_name") || Patches("admin1") || Patches("country")))
        {
            merged.AsObject().Remove("geometry");
            foreach (var name in new[] { "admin1", "country", "geo_precision" })
                if (derived.Contains(name) && !Patches(name)) properties.Remove(name);
        }
        // A new country for a point re-derives the names taken from a place of another country (an
        // editor settling country_undecided, or correcting a border case).
        foreach (var name in CountryDerivedNames(patch, stored))
            properties.Remove(name);
    }

    /// <summary>The names a patch of the country (and not the point or the names) makes derive again from a place of that country.</summary>
    private static IEnumerable<string> CountryDerivedNames(JsonElement patch, JsonNode stored)
    {
        var patched = patch.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        bool Patches(string name) => patched.ValueKind == JsonValueKind.Object && patched.TryGetProperty(name, out _);
        var derived = stored["properties"]?["derived_fields"]?.AsArray().Select(d => d?.GetValue<string>()).ToHashSet() ?? [];
        if (NewGeometry(patch, stored) || derived.Contains("geometry") || !Patches("country")) return [];
        return new[] { "location_name", "admin1" }.Where(name => derived.Contains(name) && !Patches(name));
    }

    /// <summary>
    /// Whether a patch sets a geometry other than the stored one (or clears it). The stored geometry sent again, as
    /// an editor sends back the feature it read, is no new point, as in a replacement (<see cref="ForgetOutdatedDerivations"/>):
    /// taken for one, a new location_name beside it kept the old town's point, made exact.
    /// </summary>
    private static bool NewGeometry(JsonElement patch, JsonNode stored) =>
        patch.TryGetProperty("geometry", out var geometry) && !SameGeometry(stored["geometry"], JsonNode.Parse(geometry.GetRawText()));

    /// <summary>
    /// Whether a geometry sent is the stored one as it would be stored: a height (or M value) and a bbox member are
    /// read and not stored (README), so the point read back with a height added, as a PointZ layer or a KML-born
    /// feature sends it, is no new point. Compared as JSON, it was one: beside a new location_name it kept the old
    /// town's point, made exact, and alone it turned a geocoded town's precision to exact.
    /// </summary>
    private static bool SameGeometry(JsonNode? stored, JsonNode? sent)
    {
        if (JsonNode.DeepEquals(stored, sent)) return true;
        if (stored is not JsonObject || sent is not JsonObject) return false;
        var errors = new List<Problems.FieldError>();
        using var storedJson = JsonDocument.Parse(stored.ToJsonString());
        using var sentJson = JsonDocument.Parse(sent.ToJsonString());
        var (a, b) = (IncidentInput.ParseGeometry(storedJson.RootElement, "geometry", errors), IncidentInput.ParseGeometry(sentJson.RootElement, "geometry", errors));
        return errors.Count == 0 && a is not null && b is not null && SamePlanar(a, b);

        // The same parts, rings and positions in the plane, exactly.
        static bool SamePlanar(NetTopologySuite.Geometries.Geometry a, NetTopologySuite.Geometries.Geometry b) => (a, b) switch
        {
            (NetTopologySuite.Geometries.GeometryCollection x, NetTopologySuite.Geometries.GeometryCollection y) =>
                x.GeometryType == y.GeometryType && x.NumGeometries == y.NumGeometries
                && Enumerable.Range(0, x.NumGeometries).All(n => SamePlanar(x.GetGeometryN(n), y.GetGeometryN(n))),
            (NetTopologySuite.Geometries.Polygon x, NetTopologySuite.Geometries.Polygon y) =>
                x.NumInteriorRings == y.NumInteriorRings && SamePlanar(x.ExteriorRing, y.ExteriorRing)
                && Enumerable.Range(0, x.NumInteriorRings).All(n => SamePlanar(x.GetInteriorRingN(n), y.GetInteriorRingN(n))),
            _ when a is not NetTopologySuite.Geometries.GeometryCollection and not NetTopologySuite.Geometries.Polygon
                   && b is not NetTopologySuite.Geometries.GeometryCollection and not NetTopologySuite.Geometries.Polygon =>
                a.GeometryType == b.GeometryType && a.NumPoints == b.NumPoints
                && a.Coordinates.Zip(b.Coordinates).All(pair => pair.First.X == pair.Second.X && pair.First.Y == pair.Second.Y),
            _ => false,
        };
    }

    /// <summary>
    /// The place names a patch sets, or null when it sets a new geometry (then the place is derived
    /// afresh). A patch keeps what geocoding derived for the rest (place_id, derived_fields) instead
    /// of forgetting it; names it leaves missing are derived again.
    /// </summary>
    private static List<string>? PatchedPlace(JsonElement patch, JsonNode stored)
    {
        if (NewGeometry(patch, stored)) return null;
        var props = patch.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        return PlaceNames.Where(name => props.ValueKind == JsonValueKind.Object && props.TryGetProperty(name, out _))
            .Union(CountryDerivedNames(patch, stored)).ToList();
    }

    internal static async Task<IResult> DeleteIncident(HttpContext context, string featureId, IncidentStore store)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (Preconditions(context.Request, out var condition) is { } precondition) return precondition;
        var outcome = await store.DeleteAsync(id, condition, Writer(context), context.RequestAborted);
        return outcome is WriteOutcome.Stored ? TypedResults.NoContent() : Respond(context, outcome, StatusCodes.Status204NoContent, featureId);
    }

    /// <summary>What a change to an existing incident (PUT, PATCH) can answer besides success.</summary>
    private static RouteHandlerBuilder ProducesChangeProblems(this RouteHandlerBuilder builder)
    {
        foreach (var status in new[] { 400, 401, 403, 404, 409, 412, 413, 415, 422, 428 }) builder.ProducesProblem(status);
        return builder;
    }

    /// <summary>
    /// A deleted incident is gone from every read, its history included, except for editors (write
    /// scope), who may need to see what was removed and by whom. So what history shows depends on
    /// the key, and the answer says so: no cache may hand one client's copy to another.
    /// </summary>
    private static bool SeesDeleted(HttpContext context)
    {
        context.Response.Headers.CacheControl = "private, no-cache";
        // The key comes in either header (ApiKeyAuthentication takes Authorization: Bearer too).
        context.Response.Headers.Vary = "X-API-Key, Authorization";
        return Scopes.IsEditor(context.User);
    }

    private const string VisibleIncident = """
        (@deleted_too OR EXISTS (SELECT 1 FROM incidents WHERE id = @id AND deleted_at IS NULL))
        """;

    /// <summary>
    /// A history read: its ETag is the data version (any write may add a revision or delete the incident), the URL's
    /// incident and revision, and whether the key sees deleted incidents, since the answer depends on it. Its
    /// preconditions are evaluated once the answer is known to exist, as a 404 ignores them (RFC 9110 §13.2.1): at
    /// once, without a query, when this process found it at the current data version; else after the query.
    /// </summary>
    private static async Task<IResult> HistoryReadAsync(HttpContext context, DataVersion dataVersion, IMemoryCache cache,
        string variant, Func<Task<IResult?>> read, Func<IResult> missing)
    {
        var etag = Conditional.DataETag(dataVersion, SeesDeleted(context) ? variant + "-e" : variant);
        var known = $"found:{etag}";
        if (cache.TryGetValue(known, out bool _) && Conditional.Evaluate(context, etag, "private, no-cache") is { } early) return early;
        if (await read() is not { } answer) return missing();
        cache.Set(known, true, new MemoryCacheEntryOptions { Size = 64, SlidingExpiration = TimeSpan.FromMinutes(5) });
        return Conditional.Evaluate(context, etag, "private, no-cache") ?? answer;
    }

    internal static Task<IResult> GetHistory(HttpRequest request, string featureId, IncidentReader reader, DataVersion version,
        IMemoryCache cache, CancellationToken ct)
    {
        if (!TryParseId(featureId, out var id)) return Task.FromResult(UnknownIncident(featureId));
        var self = $"{RequestUrl.Incidents(request)}/items/{id}/history";
        return HistoryReadAsync(request.HttpContext, version, cache, $"h{id}", async () =>
            await reader.ScalarAsync<string?>($"""
                SELECT json_build_object('id', @id, 'revisions', json_agg(json_build_object(
                    'version', version, 'kind', kind, 'changed_by', changed_by, 'changed_at', changed_at,
                    'changed_fields', changed_fields, 'href', @self || '/' || version) ORDER BY version))::text
                FROM incident_revisions WHERE incident_id = @id AND {VisibleIncident}
                HAVING count(*) > 0
                """, new Dapper.DynamicParameters(new { id, self, deleted_too = SeesDeleted(request.HttpContext) }), ct) is { } history
                ? TypedResults.Text(JsonText.Compact(history), "application/json", System.Text.Encoding.UTF8)
                : null,
            () => UnknownIncident(featureId));
    }

    /// <summary>The properties in the order a read of the incident writes them, for its earlier versions (stored as jsonb).</summary>
    private static readonly string[] PropertyOrder = [.. Columns.All.Select(c => c.Name)];

    internal static Task<IResult> GetRevision(HttpContext context, string featureId, string version, IncidentReader reader,
        DataVersion dataVersion, IMemoryCache cache, CancellationToken ct)
    {
        if (!TryParseId(featureId, out var id)) return Task.FromResult(UnknownIncident(featureId));
        if (!int.TryParse(version, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v))
            return Task.FromResult<IResult>(Problem.NotFound($"Incident '{featureId}' has no version '{version}': versions are whole numbers from 1."));
        // The current version's revision holds no feature (migration 0012): it is the incident row.
        return HistoryReadAsync(context, dataVersion, cache, $"h{id}-{v}", async () =>
            await reader.ScalarAsync<string?>($"""
                SELECT coalesce(r.feature, incident_feature_jsonb(i))::text
                FROM incident_revisions r JOIN incidents i ON i.id = r.incident_id
                WHERE r.incident_id = @id AND r.version = @v AND (r.feature IS NOT NULL OR i.version = r.version) AND {VisibleIncident}
                """, new Dapper.DynamicParameters(new { id, v, deleted_too = SeesDeleted(context) }), ct) is { } feature
                ? Feature(JsonText.OrderedFeature(feature, PropertyOrder), StatusCodes.Status200OK)
                : null,
            () => Problem.NotFound($"Incident '{featureId}' has no version '{version}'."));
    }

    private static IResult Respond(HttpContext context, WriteOutcome outcome, int successStatus, string? featureId = null) => outcome switch
    {
        WriteOutcome.Stored stored => SetETag(context, stored.Version, Feature(WithLinks(stored.Feature, context.Request, stored.Id), successStatus)),
        WriteOutcome.Invalid invalid => Problem.Validation(invalid.Errors),
        WriteOutcome.NotFound => UnknownIncident(featureId ?? ""),
        // The current ETag as a header too: an editor can retry against it without reading first.
        WriteOutcome.VersionMismatch { Header: VersionCondition.IfMatch } mismatch => SetETag(context, mismatch.CurrentVersion, Problem.Status(StatusCodes.Status412PreconditionFailed, "Incident has changed",
            $"If-Match does not match the current version; the incident is now at version {mismatch.CurrentVersion} (ETag {ETag(mismatch.CurrentVersion)}). Read it again and retry.",
            VersionCondition.IfMatch)),
        WriteOutcome.VersionMismatch mismatch => SetETag(context, mismatch.CurrentVersion, Problem.Status(StatusCodes.Status412PreconditionFailed, "Precondition Failed",
            $"If-None-Match names the incident's current version, {ETag(mismatch.CurrentVersion)} (or is *, and the incident exists), so the change was not made.",
            VersionCondition.IfNoneMatch)),
        WriteOutcome.DuplicateExternalId duplicate => Problem.Status(StatusCodes.Status409Conflict, "Duplicate external_id",
            $"An incident with properties.external_id '{duplicate.ExternalId}' already exists.", "properties.external_id"),
        WriteOutcome.IdempotencyRefused refused => IdempotencyKeys.Refusal(refused.Earlier, "incident"),
        _ => throw new InvalidOperationException($"Unexpected write outcome {outcome}"),
    };

    private static IResult SetETag(HttpContext context, int version, IResult result)
    {
        context.Response.Headers.ETag = ETag(version);
        return result;
    }

    private static IResult Feature(string json, int status) => TypedResults.Text(json, GeoJson, System.Text.Encoding.UTF8, status);

    /// <summary>Adds the self and collection links OGC API – Features asks of a single feature.</summary>
    private static string WithLinks(string feature, HttpRequest request, long id)
    {
        var root = RequestUrl.Incidents(request);
        var links = $$"""
            ,"links":[{"href":"{{root}}/items/{{id}}","rel":"self","type":"{{GeoJson}}","title":"This incident"},{"href":"{{root}}","rel":"collection","type":"application/json","title":"The incidents collection"}]}
            """;
        return string.Concat(feature.AsSpan(0, feature.LastIndexOf('}')), links);
    }

    public static string ETag(int version) => $"\"v{version}\"";

    /// <summary>A feature id in a path: digits only, from 1 (incidents and places alike).</summary>
    internal static bool TryParseId(string text, out long id) => long.TryParse(text, System.Globalization.NumberStyles.None, null, out id) && id > 0;

    private static IResult UnknownIncident(string featureId) => Problem.NotFound($"There is no incident with id '{featureId}'.");

    // Exactly the ETags we issue ("v1", never "v01"): If-Match is a strong comparison.
    [System.Text.RegularExpressions.GeneratedRegex("^\"v([1-9][0-9]{0,8})\"$")]
    private static partial System.Text.RegularExpressions.Regex OurETag();

    /// <summary>
    /// The versions named by the required If-Match (a list matches when any entry is current): null
    /// for "*", a problem when it is missing (428), is not "*" or a list of strong entity tags (400:
    /// a weak W/"v1" never matches under If-Match's strong comparison, RFC 9110 §13.1.1, so a 412 would
    /// send the client to read again for a tag it already has); a tag we never issued matches no version (a 412 naming the current one).
    /// <c>Writes:RequireIfMatch=false</c> lets a write without If-Match through, unconditionally, for
    /// clients that never send one (QGIS's OGC API editing); every version stays in the history.
    /// </summary>
    private static IResult? IfMatch(HttpRequest request, out IReadOnlyCollection<int>? versions)
    {
        versions = null;
        var header = request.Headers.IfMatch.ToString().Trim();
        if (header.Length == 0 && !request.HttpContext.RequestServices.GetRequiredService<Hosting.Settings>().RequireIfMatch)
            return null;
        if (header.Length == 0)
            return Problem.Status(StatusCodes.Status428PreconditionRequired, "Precondition Required",
                "Changing an incident needs If-Match with the ETag you read (GET it first), so two editors cannot overwrite each other.", "If-Match");
        if (header == "*") return null;
        if (!EntityTagHeaderValue.TryParseStrictList(request.Headers.IfMatch, out var tags) || tags.Count == 0
            || tags.Any(t => t.Equals(EntityTagHeaderValue.Any)))
            return Problem.BadParameter("If-Match",
                "must be * or quoted strong entity tags as the ETag header sent them (\"v1\", quotes included)");
        if (tags.Any(t => t.IsWeak))
            return Problem.BadParameter("If-Match",
                "holds a weak entity tag (W/\"…\"), which If-Match never matches (RFC 9110 §13.1.1); send the ETag as the incident's ETag header gave it, without W/ (a proxy may have weakened it)");
        var found = new List<int>();
        foreach (var tag in tags)
        {
            // A compressed answer's tag names its coding ("v1-gzip"): the same version.
            // A tag we never issue ("V1", "d1f") matches no version: the store's 412 then names the current one.
            if (Version(tag) is { } version) found.Add(version);
        }
        versions = found;
        return null;
    }

    /// <summary>The version an ETag of ours names (a compressed answer's names its coding, "v1-gzip": the same version), else null.</summary>
    private static int? Version(EntityTagHeaderValue tag) =>
        OurETag().Match(Hosting.CacheHeaders.WithoutCoding(tag.Tag.Value!)) is { Success: true } match
            ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>A write's If-Match and If-None-Match, as the condition the store checks on the locked row.</summary>
    private static IResult? Preconditions(HttpRequest request, out VersionCondition condition)
    {
        condition = new VersionCondition(null);
        if (IfMatch(request, out var match) is { } ifMatch) return ifMatch;
        var header = request.Headers.IfNoneMatch;
        if (header.Count == 0)
        {
            condition = new VersionCondition(match);
            return null;
        }
        // If-None-Match compares weakly (RFC 9110 §13.1.2): W/"v3" names version 3 too. * is false for an incident
        // that exists; a tag we never issue names no version.
        if (!EntityTagHeaderValue.TryParseStrictList(header, out var tags) || tags.Count == 0
            || (tags.Count > 1 && tags.Any(t => t.Equals(EntityTagHeaderValue.Any))))
            return Problem.BadParameter(VersionCondition.IfNoneMatch, "must be * or quoted entity tags as the ETag header sent them (\"v1\", quotes included)");
        condition = tags[0].Equals(EntityTagHeaderValue.Any)
            ? new VersionCondition(match, NoneMatchAny: true)
            : new VersionCondition(match, [.. tags.Select(Version).OfType<int>()]);
        return null;
    }
}
