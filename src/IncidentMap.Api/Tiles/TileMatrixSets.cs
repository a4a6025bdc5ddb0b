using System.Globalization;
using System.Text.Json.Nodes;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Problems;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// The tiling scheme served here, WebMercatorQuad, as OGC 2D Tile Matrix Set 2.0 JSON. Tilesets link to
/// this copy: clients such as OpenLayers' OGCVectorTile fetch the tiling-scheme link, and the registry's
/// http:// URL is mixed content on an https page and a dependency on opengis.net.
/// </summary>
public static class TileMatrixSets
{
    public const string Id = "WebMercatorQuad";
    public const string Uri = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
    public const string TilingSchemeRel = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";
    private const string Title = "Google Maps Compatible for the World";
    private const string Crs = "http://www.opengis.net/def/crs/EPSG/0/3857";
    private const int TileSize = 256;

    /// <summary>The standardised rendering pixel of TMS 2.0 (0.28 mm), which relates cell size and scale denominator.</summary>
    private const double PixelMetres = 0.00028;

    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    public static string DefinitionUrl(HttpRequest request) => RequestUrl.Root(request) + "/tileMatrixSets/" + Id;

    public static IEndpointRouteBuilder MapTileMatrixSets(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/tileMatrixSets").WithTags("Map clients").RequireAuthorization(Security.SecuritySetup.ReadPolicy);
        group.MapMethods("", ReadMethods, List).WithName("getTileMatrixSetsList").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("The tiling schemes of the tiles (OGC API – Tiles)").Produces<JsonObject>(StatusCodes.Status200OK, CollectionsApi.Json);
        group.MapMethods("/" + Id, ReadMethods, Definition).WithName("getTileMatrixSet").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("WebMercatorQuad as OGC Tile Matrix Set 2.0 JSON, zoom 0–24").Produces<JsonObject>(StatusCodes.Status200OK, CollectionsApi.Json);
        return app;
    }

    internal static IResult List(HttpRequest request)
    {
        var root = RequestUrl.Root(request);
        return TypedResults.Json(new JsonObject
        {
            ["links"] = new JsonArray(RequestUrl.Link(root + "/tileMatrixSets", "self", CollectionsApi.Json, "Tiling schemes")),
            ["tileMatrixSets"] = new JsonArray(new JsonObject
            {
                ["id"] = Id,
                ["title"] = Title,
                ["uri"] = Uri,
                ["crs"] = Crs,
                ["links"] = new JsonArray(RequestUrl.Link(DefinitionUrl(request), "self", CollectionsApi.Json, Id)),
            }),
        }, contentType: CollectionsApi.Json);
    }

    internal static IResult Definition() => TypedResults.Json(WebMercatorQuad, contentType: CollectionsApi.Json);

    /// <summary>The registry's definition, computed: each zoom halves the cell size of the one above.</summary>
    private static JsonObject WebMercatorQuad => new()
    {
        ["id"] = Id,
        ["title"] = Title,
        ["uri"] = Uri,
        ["crs"] = Crs,
        ["orderedAxes"] = new JsonArray("X", "Y"),
        ["wellKnownScaleSet"] = "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        ["tileMatrices"] = new JsonArray([.. Enumerable.Range(0, TilesApi.MaxZoom + 1).Select(z =>
        {
            var cellSize = TileSql.WorldSize / TileSize / (1L << z);
            return (JsonNode)new JsonObject
            {
                ["id"] = z.ToString(CultureInfo.InvariantCulture),
                ["scaleDenominator"] = cellSize / PixelMetres,
                ["cellSize"] = cellSize,
                ["cornerOfOrigin"] = "topLeft",
                ["pointOfOrigin"] = new JsonArray(-TileSql.WorldHalf, TileSql.WorldHalf),
                ["tileWidth"] = TileSize,
                ["tileHeight"] = TileSize,
                ["matrixWidth"] = 1L << z,
                ["matrixHeight"] = 1L << z,
            };
        })]),
    };
}
