using System.Text.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace IncidentMap.Api.Incidents;

/// <summary>OGC API – Features items of the <c>incidents</c> collection: query, read, create, replace, patch, delete.</summary>
public static class IncidentsApi
{
    public const string GeoJson = "application/geo+json";
    private static readonly string[] FeatureMediaTypes = [GeoJson, "application/json"];
    private static readonly string[] PatchMediaTypes = ["application/merge-patch+json", "application/json", GeoJson];
    private static readonly HashSet<string> ListParameters = ["limit", "cursor", "f"];

    public static RouteGroupBuilder MapIncidents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/incidents/items").WithTags("Incidents");

        group.MapGet("", ListIncidents)
            .WithName("getIncidents")
            .WithSummary("Incidents, newest first")
            .WithDescription("A GeoJSON FeatureCollection streamed from the database. Follow the `next` link to page; " +
                             "pages never repeat or skip an incident, even while new ones arrive.")
            .Produces<IncidentFeatureCollectionDoc>(StatusCodes.Status200OK, GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest);

        group.MapPost("", CreateIncident)
            .WithName("createIncident")
            .WithSummary("Record an incident")
            .Accepts<IncidentFeatureDoc>(GeoJson, "application/json")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status201Created, GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapGet("/{featureId}", GetIncident)
            .WithName("getIncident")
            .WithSummary("One incident")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPut("/{featureId}", ReplaceIncident)
            .WithName("replaceIncident")
            .WithSummary("Replace an incident")
            .WithDescription("Full replacement; send `If-Match` with the ETag you read to refuse lost updates (412).")
            .Accepts<IncidentFeatureDoc>(GeoJson, "application/json")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapPatch("/{featureId}", PatchIncident)
            .WithName("patchIncident")
            .WithSummary("Change part of an incident (JSON merge patch, RFC 7396)")
            .WithDescription("For example `{\"properties\":{\"fatalities_max\":62}}`; `null` clears a property.")
            .Accepts<IncidentPatchDoc>("application/merge-patch+json", "application/json")
            .Produces<IncidentFeatureDoc>(StatusCodes.Status200OK, GeoJson)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapDelete("/{featureId}", DeleteIncident)
            .WithName("deleteIncident")
            .WithSummary("Delete an incident")
            .WithDescription("The incident disappears from every read; it is kept as a tombstone for the change feed.")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed);

        return group;
    }

    /// <param name="limit">Features per page: 1 to 10000, default 10; larger values are clamped to 10000.</param>
    /// <param name="cursor">Opaque position from a `next` link.</param>
    /// <param name="f">Output format: `json` (GeoJSON, the default).</param>
    internal static async Task<IResult> ListIncidents(HttpContext context, IncidentReader reader,
        string? limit = null, string? cursor = null, string? f = null)
    {
        foreach (var key in context.Request.Query.Keys)
        {
            if (!ListParameters.Contains(key))
                return Problem.BadParameter(key, $"is not a query parameter of this endpoint (known: {string.Join(", ", ListParameters)})");
        }
        if (f is not null and not ("json" or "geojson"))
            return Problem.BadParameter("f", $"'{f}' is not a supported format (json)");

        var query = new IncidentQuery();
        if (limit is not null)
        {
            if (!int.TryParse(limit, out var n) || n < 1)
                return Problem.BadParameter("limit", $"'{limit}' is not a whole number of at least 1");
            query = query with { Limit = Math.Min(n, IncidentQuery.MaxLimit) };
        }
        if (cursor is not null)
        {
            if (!PageCursor.TryDecode(cursor, out var after) || !IncidentSqlBuilder.CursorMatches(after!, query.Sort))
                return Problem.BadParameter("cursor", "is not a cursor this endpoint issued; follow the `next` link as given");
            query = query with { After = after };
        }

        var rows = await reader.OpenAsync(IncidentSqlBuilder.Build(query, IncidentSqlBuilder.GeoJsonFeature), context.RequestAborted);
        var request = context.Request;
        string LinkWithCursor(string c)
        {
            var parameters = QueryHelpers.ParseQuery(request.QueryString.Value);
            parameters["cursor"] = c;
            parameters["limit"] = query.Limit.ToString();
            return UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, request.Path,
                QueryString.Create(parameters));
        }
        return new FeatureCollectionResult(rows, query, LinkWithCursor, request.GetEncodedUrl());
    }

    internal static async Task<IResult> GetIncident(HttpContext context, string featureId, IncidentReader reader)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        var stored = await reader.GetFeatureAsync(id, context.RequestAborted);
        if (stored is null) return UnknownIncident(featureId);

        var etag = ETag(stored.Value.Version);
        context.Response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Any(v => v is not null && v.Split(',').Any(t => t.Trim() == etag || t.Trim() == "*")))
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        return Feature(stored.Value.Feature, StatusCodes.Status200OK);
    }

    internal static async Task<IResult> CreateIncident(HttpContext context, IncidentStore store)
    {
        var (document, problem) = await JsonBody.ReadAsync(context.Request, FeatureMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;

        var (draft, errors) = IncidentInput.Parse(document!.RootElement);
        if (draft is null) return Problem.Validation(errors);

        var outcome = await store.CreateAsync(draft, context.RequestAborted);
        if (outcome is WriteOutcome.Stored stored)
            context.Response.Headers.Location = $"{context.Request.PathBase}/collections/incidents/items/{stored.Id}";
        return Respond(context, outcome, StatusCodes.Status201Created);
    }

    internal static async Task<IResult> ReplaceIncident(HttpContext context, string featureId, IncidentStore store)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (!TryReadIfMatch(context.Request, out var expected)) return StaleIfMatch();

        var (document, problem) = await JsonBody.ReadAsync(context.Request, FeatureMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;

        var (draft, errors) = IncidentInput.Parse(document!.RootElement);
        if (draft is null) return Problem.Validation(errors);
        return Respond(context, await store.ReplaceAsync(id, draft, expected, context.RequestAborted), StatusCodes.Status200OK, featureId);
    }

    internal static async Task<IResult> PatchIncident(HttpContext context, string featureId, IncidentStore store, IncidentReader reader)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (!TryReadIfMatch(context.Request, out var expected)) return StaleIfMatch();

        var (document, problem) = await JsonBody.ReadAsync(context.Request, PatchMediaTypes, context.RequestAborted);
        if (problem is not null) return problem;
        using var _ = document;
        if (document!.RootElement.ValueKind != JsonValueKind.Object)
            return Problem.Validation([new FieldError("body", "a merge patch must be a JSON object")]);

        var current = await reader.GetFeatureAsync(id, context.RequestAborted);
        if (current is null) return UnknownIncident(featureId);
        if (expected is not null && expected != current.Value.Version)
            return Respond(context, new WriteOutcome.VersionMismatch(current.Value.Version), StatusCodes.Status200OK, featureId);

        var merged = IncidentInput.MergePatch(JsonNode.Parse(current.Value.Feature), JsonNode.Parse(document.RootElement.GetRawText()));
        using var mergedDocument = JsonDocument.Parse(merged!.ToJsonString());
        var (draft, errors) = IncidentInput.Parse(mergedDocument.RootElement);
        if (draft is null) return Problem.Validation(errors);

        // The version read above guards the merge: a concurrent change in between answers 412, not a lost update.
        return Respond(context, await store.ReplaceAsync(id, draft, expected ?? current.Value.Version, context.RequestAborted),
            StatusCodes.Status200OK, featureId);
    }

    internal static async Task<IResult> DeleteIncident(HttpContext context, string featureId, IncidentStore store)
    {
        if (!TryParseId(featureId, out var id)) return UnknownIncident(featureId);
        if (!TryReadIfMatch(context.Request, out var expected)) return StaleIfMatch();
        var outcome = await store.DeleteAsync(id, expected, context.RequestAborted);
        return outcome is WriteOutcome.Stored ? TypedResults.NoContent() : Respond(context, outcome, StatusCodes.Status204NoContent, featureId);
    }

    private static IResult Respond(HttpContext context, WriteOutcome outcome, int successStatus, string? featureId = null) => outcome switch
    {
        WriteOutcome.Stored stored => SetETag(context, stored.Version, Feature(stored.Feature, successStatus)),
        WriteOutcome.Invalid invalid => Problem.Validation(invalid.Errors),
        WriteOutcome.NotFound => UnknownIncident(featureId ?? ""),
        WriteOutcome.VersionMismatch mismatch => Problem.Status(StatusCodes.Status412PreconditionFailed, "Incident has changed",
            $"If-Match does not match the current version; the incident is now at version {mismatch.CurrentVersion} (ETag {ETag(mismatch.CurrentVersion)}). Read it again and retry.",
            "If-Match"),
        WriteOutcome.DuplicateExternalId duplicate => Problem.Status(StatusCodes.Status409Conflict, "Duplicate external_id",
            $"An incident with external_id '{duplicate.ExternalId}' already exists.", "properties.external_id"),
        _ => throw new InvalidOperationException($"Unexpected write outcome {outcome}"),
    };

    private static IResult SetETag(HttpContext context, int version, IResult result)
    {
        context.Response.Headers.ETag = ETag(version);
        return result;
    }

    private static IResult Feature(string json, int status) => TypedResults.Text(json, GeoJson, System.Text.Encoding.UTF8, status);

    public static string ETag(int version) => $"\"v{version}\"";

    private static bool TryParseId(string text, out long id) => long.TryParse(text, System.Globalization.NumberStyles.None, null, out id) && id > 0;

    private static IResult UnknownIncident(string featureId) => Problem.NotFound($"There is no incident with id '{featureId}'.");

    /// <summary>Reads an optional If-Match (one of our ETags, or *). False when it names no version we issue.</summary>
    private static bool TryReadIfMatch(HttpRequest request, out int? version)
    {
        version = null;
        var header = request.Headers.IfMatch.ToString();
        if (string.IsNullOrWhiteSpace(header) || header.Trim() == "*") return true;
        if (EntityTagHeaderValue.TryParse(header.Trim(), out var tag) && !tag.IsWeak
            && tag.Tag.Value is { Length: > 3 } value && value[1] == 'v' && int.TryParse(value[2..^1], out var v))
        {
            version = v;
            return true;
        }
        return false;
    }

    private static IResult StaleIfMatch() => Problem.Status(StatusCodes.Status412PreconditionFailed, "Incident has changed",
        "If-Match does not name a version of this incident; read it again and send its ETag.", "If-Match");
}
