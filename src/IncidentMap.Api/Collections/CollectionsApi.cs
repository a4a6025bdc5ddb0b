using System.Text.Json.Nodes;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Collections;

/// <summary>OGC API – Features discovery: landing page, conformance, the collections and their metadata.</summary>
public static class CollectionsApi
{
    public const string Json = "application/json";
    public const string OpenApiType = "application/vnd.oai.openapi+json;version=3.0";
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    public static IEndpointRouteBuilder MapCollections(this IEndpointRouteBuilder app)
    {
        // None of these answers has an ETag: If-Match is evaluated all the same (PreconditionsWithoutETag), a list
        // of tags being a 412 and * alone true.
        var group = app.MapGroup("").WithTags("Discovery").RequireAuthorization(Security.SecuritySetup.ReadPolicy);
        group.MapMethods("/", ReadMethods, Landing).WithName("getLandingPage").JsonOnly().PreconditionsWithoutETag().WithSummary("Landing page")
            .Produces<JsonObject>(StatusCodes.Status200OK, Json);
        group.MapMethods("/conformance", ReadMethods, GetConformance).WithName("getConformanceDeclaration").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("Conformance classes implemented").Produces<JsonObject>(StatusCodes.Status200OK, Json);
        group.MapMethods("/collections", ReadMethods, GetCollections).WithName("getCollections").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The feature collections").Produces<JsonObject>(StatusCodes.Status200OK, Json);
        group.MapMethods("/collections/incidents", ReadMethods, GetIncidentsCollection).WithName("describeCollection").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The incidents collection: extent, links").Produces<JsonObject>(StatusCodes.Status200OK, Json);
        group.MapMethods("/collections/places", ReadMethods, GetPlacesCollection).WithName("describePlaces").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The places collection (gazetteer): extent, links").Produces<JsonObject>(StatusCodes.Status200OK, Json);
        group.MapMethods("/collections/incidents/queryables", ReadMethods, GetQueryables).WithName("getQueryables").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("What a CQL2 filter may name (JSON Schema 2020-12)")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/schema+json");
        group.MapMethods("/collections/incidents/schema", ReadMethods, GetIncidentsSchema).WithName("getIncidentsSchema").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The JSON Schema (2020-12) of an incident Feature: each property's type (GDAL types a layer's fields from it)")
            .Produces<JsonObject>(StatusCodes.Status200OK, FeatureSchemas.MediaType);
        group.MapMethods("/collections/places/schema", ReadMethods, GetPlacesSchema).WithName("getPlacesSchema").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The JSON Schema (2020-12) of a place Feature")
            .Produces<JsonObject>(StatusCodes.Status200OK, FeatureSchemas.MediaType);
        return app;
    }

    internal static IResult Landing(HttpRequest request)
    {
        var root = RequestUrl.Root(request);
        return TypedResults.Json(new JsonObject
        {
            ["title"] = "IncidentMap",
            ["description"] = "Geocoded incidents (bombings, airstrikes, clashes, protests) as OGC API – Features.",
            ["links"] = new JsonArray(
                RequestUrl.Link(root + "/", "self", Json, "This document"),
                RequestUrl.Link(root + "/openapi/v1.json", "service-desc", OpenApiType, "The API definition (OpenAPI 3.0)"),
                RequestUrl.Link(root + "/swagger", "service-doc", "text/html", "The API documentation"),
                RequestUrl.Link(root + "/conformance", "conformance", Json, "Conformance classes implemented"),
                RequestUrl.Link(root + "/collections", "data", Json, "The feature collections"),
                RequestUrl.Link(root + "/tileMatrixSets", "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", Json, "The tiling schemes of the vector tiles")),
        }, contentType: Json);
    }

    internal static IResult GetConformance() =>
        TypedResults.Json(new JsonObject { ["conformsTo"] = new JsonArray([.. Conformance.Classes.Select(c => JsonValue.Create(c))]) }, contentType: Json);

    internal static async Task<IResult> GetCollections(HttpRequest request, CollectionExtent extent, Places.Gazetteer gazetteer, CancellationToken ct)
    {
        var root = RequestUrl.Root(request);
        return TypedResults.Json(new JsonObject
        {
            ["links"] = new JsonArray(RequestUrl.Link(root + "/collections", "self", Json, "This document")),
            ["collections"] = new JsonArray(await IncidentsCollectionAsync(root, extent, ct), await PlacesCollectionAsync(root, gazetteer, ct)),
        }, contentType: Json);
    }

    internal static async Task<IResult> GetIncidentsCollection(HttpRequest request, CollectionExtent extent, CancellationToken ct) =>
        TypedResults.Json(await IncidentsCollectionAsync(RequestUrl.Root(request), extent, ct), contentType: Json);

    /// <summary>The same object in /collections and /collections/incidents, so they can never disagree.</summary>
    private static async Task<JsonObject> IncidentsCollectionAsync(string root, CollectionExtent extent, CancellationToken ct)
    {
        var e = await extent.GetAsync(ct);
        var self = root + "/collections/incidents";
        return new JsonObject
        {
            ["id"] = "incidents",
            ["title"] = "Incidents",
            ["description"] = "Geocoded incidents with times, places, fatality bounds, claims and sources.",
            ["itemType"] = "feature",
            ["crs"] = new JsonArray(Conformance.Crs84),
            ["extent"] = new JsonObject
            {
                ["spatial"] = Spatial(e.Bbox),
                ["temporal"] = new JsonObject
                {
                    ["interval"] = new JsonArray(new JsonArray(Iso(e.Start), Iso(e.End))),
                    ["trs"] = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
                },
            },
            ["links"] = new JsonArray([
                RequestUrl.Link(self, "self", Json, "This collection"),
                RequestUrl.Link(self + "/items", "items", IncidentsApi.GeoJson, "Incidents as GeoJSON"),
                RequestUrl.Link(self + "/items?f=csv", "items", "text/csv", "Incidents as CSV"),
                RequestUrl.Link(self + "/items?f=geojsonseq", "items", "application/geo+json-seq", "Incidents as GeoJSON text sequence"),
                .. FeatureSchemas.Links(self + "/schema", "The JSON Schema of an incident Feature"),
                RequestUrl.Link(self + "/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Queryables for filter"),
                RequestUrl.Link(self + "/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", Json, "Vector tiles"),
                RequestUrl.Link(self + "/tiles/WebMercatorQuad/tilejson.json", "describedby", Json, "TileJSON for MapLibre")]),
        };
    }

    /// <summary>A collection's spatial extent: its bbox (west, south, east, north), the whole world when it holds nothing.</summary>
    private static JsonObject Spatial(double[]? bbox) => new()
    {
        ["bbox"] = new JsonArray(bbox is null ? new JsonArray(-180, -90, 180, 90) : new JsonArray([.. bbox.Select(v => JsonValue.Create(v))])),
        ["crs"] = Conformance.Crs84,
    };

    internal static async Task<IResult> GetPlacesCollection(HttpRequest request, Places.Gazetteer gazetteer, CancellationToken ct) =>
        TypedResults.Json(await PlacesCollectionAsync(RequestUrl.Root(request), gazetteer, ct), contentType: Json);

    /// <summary>
    /// The same object in /collections and /collections/places. The spatial extent is every place's
    /// (GDAL and QGIS take a layer's extent from it rather than reading every place); places have no time.
    /// </summary>
    private static async Task<JsonObject> PlacesCollectionAsync(string root, Places.Gazetteer gazetteer, CancellationToken ct)
    {
        var bbox = await gazetteer.ExtentAsync(ct);
        return new JsonObject
        {
            ["id"] = "places",
            ["title"] = "Places",
            ["description"] = "Populated places from GeoNames (CC BY 4.0) and editors' own places, searchable with q.",
            ["itemType"] = "feature",
            ["crs"] = new JsonArray(Conformance.Crs84),
            ["extent"] = new JsonObject { ["spatial"] = Spatial(bbox) },
            ["links"] = new JsonArray([
                RequestUrl.Link(root + "/collections/places", "self", Json, "This collection"),
                RequestUrl.Link(root + "/collections/places/items", "items", IncidentsApi.GeoJson, "Places as GeoJSON"),
                .. FeatureSchemas.Links(root + "/collections/places/schema", "The JSON Schema of a place Feature")]),
        };
    }

    internal static IResult GetQueryables(HttpRequest request) =>
        TypedResults.Json(Filtering.Queryables.Document(RequestUrl.Root(request) + "/collections/incidents/queryables"),
            contentType: "application/schema+json");

    internal static IResult GetIncidentsSchema(HttpRequest request) =>
        TypedResults.Json(FeatureSchemas.Incidents(RequestUrl.Root(request) + "/collections/incidents/schema"), contentType: FeatureSchemas.MediaType);

    internal static IResult GetPlacesSchema(HttpRequest request) =>
        TypedResults.Json(FeatureSchemas.Places(RequestUrl.Root(request) + "/collections/places/schema"), contentType: FeatureSchemas.MediaType);

    private static JsonNode? Iso(DateTime? time) => time is { } t ? JsonValue.Create(t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")) : null;
}
