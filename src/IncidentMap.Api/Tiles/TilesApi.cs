using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Collections;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Problems;
using IncidentMap.Api.Querying;
using Microsoft.Extensions.Caching.Memory;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// Map clients: Mapbox Vector Tiles in the OGC WebMercatorQuad tiling (clusters below zoom 8), TileJSON
/// and OGC tileset metadata, and the same aggregation as GeoJSON clusters and hexagon bins.
/// </summary>
public static class TilesApi
{
    public const string MvtType = "application/vnd.mapbox-vector-tile";
    public const int MaxZoom = 24;

    /// <summary>
    /// The deepest zoom TileJSON and the OGC tileset metadata advertise. A z16 tile is 611 m across and
    /// its 4096 units are 15 cm, finer than any incident's geocoding: a deeper tile holds the same features
    /// as its z16 ancestor, and each level costs clients four times the requests. Clients overzoom z16
    /// tiles (MapLibre does past a source's maxzoom); tiles to <see cref="MaxZoom"/> stay served for
    /// clients that ask.
    /// </summary>
    public const int AdvertisedMaxZoom = 16;
    private const int MaxHexagons = 50_000;
    private const int MaxClusters = 50_000;
    private const int MaxHexagonKm = (int)(TileSql.WorldSize / 1000); // 40075

    /// <summary>
    /// The shortest hexagon edge, in metres. PostGIS numbers ST_HexagonGrid's hexagons in 32-bit integers, which overflow
    /// past 2³¹ edges from the origin (an edge under 6.2 mm at the map's rim): the hexagon it then gave did not hold the
    /// point, and the incident was left out of the bins without a word; an edge of 1e-200 made PostgreSQL's arithmetic
    /// overflow, a 400 that named no parameter (tiles hunter). An edge of a metre is already finer than any incident's point.
    /// </summary>
    internal const double MinHexagonMetres = 1;
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>Tiles revalidate against the data version; clients may reuse one for this long meanwhile.</summary>
    private const string TileCacheControl = "public, max-age=15";

    public static IEndpointRouteBuilder MapTiles(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/collections/incidents").WithTags("Map clients").RequireAuthorization(Security.SecuritySetup.ReadPolicy);
        group.MapMethods("/tiles", ReadMethods, TileSets).WithName("getTileSetsList").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("Vector tilesets of the incidents").Produces<JsonObject>(StatusCodes.Status200OK, CollectionsApi.Json);
        group.MapMethods("/tiles/WebMercatorQuad", ReadMethods, TileSet).WithName("getTileSet").JsonOnly().PreconditionsWithoutETag()
            .WithSummary("Tileset metadata (OGC API – Tiles)").Produces<JsonObject>(StatusCodes.Status200OK, CollectionsApi.Json);
        group.MapMethods("/tiles/WebMercatorQuad/tilejson.json", ReadMethods, TileJson).WithName("getTileJson")
            .WithSummary("TileJSON 3.0 for MapLibre; query parameters (filters) carry over to the tile URLs")
            .WithMetadata(new QueryParametersMetadata { Page = [] }, FormatDoc("json"))
            .Produces<JsonObject>(StatusCodes.Status200OK, CollectionsApi.Json)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapMethods("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}", ReadMethods, GetTile).WithName("getTile")
            .WithSummary("A Mapbox Vector Tile: layer `incidents` from zoom 8, layer `clusters` below")
            .WithDescription("Every incident filter of /items applies. Incident features have the incident's id as feature id; " +
                             $"cluster features the id {TileSql.ClusterIdDoc}. Empty tiles answer 204. Tiles carry an ETag; " +
                             "If-None-Match answers 304 without touching the database while the data is unchanged.")
            .WithMetadata(new QueryParametersMetadata { Page = [] }, FormatDoc("mvt"))
            .Produces(StatusCodes.Status200OK, null, MvtType)
            .Produces(StatusCodes.Status204NoContent)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapMethods("/clusters", ReadMethods, GetClusters).WithName("getClusters")
            .WithSummary("Incidents clustered on the tile grid of a zoom level, as GeoJSON")
            .WithDescription("`zoom` (0–24) picks the grid: 8×8 cells per map tile of that zoom. Each cluster has " +
                             "count, fatalities_min_sum, fatalities_max_sum and the dominant event_type; counts add up " +
                             "to the number of incidents /items returns for the same filters, except incidents that lie " +
                             "wholly beyond Web Mercator's ±85.0511° (polar; they are on no map tile either). An answer " +
                             "of more than 50,000 clusters is a 400 rather than cut short: give a bbox or a lower zoom.")
            .WithMetadata(new QueryParametersMetadata { Page = ["precision"] }, FormatDoc("json", "geojson"),
                new QueryParameterDoc("zoom", "The map zoom whose grid clusters form on (8×8 cells per tile).", "integer", Required: true, Minimum: "0", Maximum: $"{MaxZoom}"))
            .Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapMethods("/hexbins", ReadMethods, GetHexbins).WithName("getHexbins")
            .WithSummary("Incident counts per hexagon (PostGIS ST_HexagonGrid in Web Mercator), as GeoJSON")
            .WithDescription("`bbox` is required and `size` is the hexagon edge in Web Mercator metres, at most " +
                             $"{MaxHexagonKm} km (the width of the Web Mercator world, where one hexagon covers any bbox) and at least {MinHexagonMetres:0} m; at most 50000 hexagons.")
            .WithMetadata(new QueryParametersMetadata { Page = ["precision"] }, FormatDoc("json", "geojson"),
                new QueryParameterDoc("size", $"Hexagon edge length in Web Mercator metres, at least {MinHexagonMetres:0}, or with unit m, km or mi (20km).", Required: true),
                new QueryParameterDoc("bbox", "Required: the box the hexagon grid covers, minLon,minLat,maxLon,maxLat (WGS 84), not across the antimeridian " +
                    "(ask for each side); incidents whose geometry meets it are counted, each in the hexagon of its representative point.",
                    "number[]", Required: true, MinItems: 4, MaxItems: 6))
            .Produces<JsonObject>(StatusCodes.Status200OK, IncidentsApi.GeoJson)
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        app.MapTileMatrixSets();
        return app;
    }


    /// <summary>f on an endpoint with one format: clients that always send f (f=json, f=mvt) are served.</summary>
    private static QueryParameterDoc FormatDoc(params string[] names) =>
        new("f", $"{string.Join(" or ", names)}, the only format; anything else is a 400.", Enum: names);

    /// <summary>The f of <see cref="FormatDoc"/>: absent or one of <paramref name="names"/>, else a 400 naming f.
    /// A repeated f is named as other parameters' repeats are: 'mvt,mvt' was called a format not offered.</summary>
    private static IResult? OnlyFormat(HttpRequest request, params string[] names) =>
        !request.Query.TryGetValue("f", out var f) ? null
        : f.Count > 1 ? Problem.BadParameter("f", $"is given {f.Count} times; give it once")
        : !names.Contains(f[0]) ? Problem.BadParameter("f", $"'{f}' is not offered here; give f={string.Join(" or f=", names)}, or no f")
        : null;

    internal static IResult TileSets(HttpRequest request)
    {
        var tiles = RequestUrl.Incidents(request) + "/tiles";
        return TypedResults.Json(new JsonObject
        {
            ["links"] = new JsonArray(RequestUrl.Link(tiles, "self", CollectionsApi.Json, "Tilesets")),
            ["tilesets"] = new JsonArray(new JsonObject
            {
                ["title"] = "Incidents in WebMercatorQuad",
                ["dataType"] = "vector",
                ["crs"] = "http://www.opengis.net/def/crs/EPSG/0/3857",
                // The registry's URI names the scheme (TMS 2.0: required for a registered one); the link is to this service's copy.
                ["tileMatrixSetURI"] = TileMatrixSets.Uri,
                ["links"] = new JsonArray(
                    RequestUrl.Link(tiles + "/WebMercatorQuad", "self", CollectionsApi.Json, "Tileset metadata"),
                    RequestUrl.Link(TileMatrixSets.DefinitionUrl(request), TileMatrixSets.TilingSchemeRel, CollectionsApi.Json, "WebMercatorQuad")),
            }),
        }, contentType: CollectionsApi.Json);
    }

    internal static IResult TileSet(HttpRequest request)
    {
        var tileset = RequestUrl.Incidents(request) + "/tiles/WebMercatorQuad";
        return TypedResults.Json(new JsonObject
        {
            ["title"] = "Incidents in WebMercatorQuad",
            ["dataType"] = "vector",
            ["crs"] = "http://www.opengis.net/def/crs/EPSG/0/3857",
            ["tileMatrixSetURI"] = TileMatrixSets.Uri,
            // Only the advertised zoom levels, as TileJSON's maxzoom: OGC clients overzoom past the limits.
            ["tileMatrixSetLimits"] = new JsonArray([.. Enumerable.Range(0, AdvertisedMaxZoom + 1).Select(z => (JsonNode)new JsonObject
            {
                ["tileMatrix"] = z.ToString(CultureInfo.InvariantCulture),
                ["minTileRow"] = 0, ["maxTileRow"] = (1L << z) - 1, ["minTileCol"] = 0, ["maxTileCol"] = (1L << z) - 1,
            })]),
            ["links"] = new JsonArray(
                RequestUrl.Link(tileset, "self", CollectionsApi.Json, "This tileset"),
                RequestUrl.Link(tileset + "/{tileMatrix}/{tileRow}/{tileCol}", "item", MvtType, "Mapbox vector tiles", templated: true),
                RequestUrl.Link(TileMatrixSets.DefinitionUrl(request), TileMatrixSets.TilingSchemeRel, CollectionsApi.Json, "WebMercatorQuad"),
                RequestUrl.Link(tileset + "/tilejson.json", "describedby", CollectionsApi.Json, "TileJSON 3.0"),
                RequestUrl.Link(RequestUrl.Incidents(request), "http://www.opengis.net/def/rel/ogc/1.0/geodata", CollectionsApi.Json, "The incidents collection")),
            ["layers"] = new JsonArray(
                // OGC API – Tiles layers say geometryDimension (0 = points); incidents mix points, lines and areas.
                new JsonObject { ["id"] = "clusters", ["dataType"] = "vector", ["geometryDimension"] = 0, ["minTileMatrix"] = "0", ["maxTileMatrix"] = (TileSql.ClusterBelowZoom - 1).ToString(CultureInfo.InvariantCulture) },
                new JsonObject { ["id"] = "incidents", ["dataType"] = "vector", ["minTileMatrix"] = TileSql.ClusterBelowZoom.ToString(CultureInfo.InvariantCulture), ["maxTileMatrix"] = AdvertisedMaxZoom.ToString(CultureInfo.InvariantCulture) }),
        }, contentType: CollectionsApi.Json);
    }

    internal static async Task<IResult> TileJson(HttpRequest request, CollectionExtent extent, DataVersion version, CancellationToken ct)
    {
        if (OnlyFormat(request, "json") is { } badFormat) return badFormat;
        var (query, problem) = await QueryParser.ParseFiltersAsync(request, "f");
        if (problem is not null) return problem;
        // Its bounds follow the data: a map revalidates it as it does the tiles.
        if (Conditional.Evaluate(request.HttpContext, Conditional.DataETag(version, query!, "tilejson"), Conditional.Revalidate) is { } conditional) return conditional;
        var e = await extent.GetAsync(ct);
        var template = RequestUrl.Incidents(request) + "/tiles/WebMercatorQuad/{z}/{y}/{x}" + CarriedQuery(request.QueryString.Value);
        JsonObject Fields(params (string Name, string Description)[] fields) =>
            new(fields.Select(f => KeyValuePair.Create(f.Name, (JsonNode?)JsonValue.Create(f.Description))));
        return TypedResults.Json(new JsonObject
        {
            ["tilejson"] = "3.0.0",
            ["name"] = "IncidentMap incidents",
            ["description"] = $"Incidents from zoom {TileSql.ClusterBelowZoom}; clusters below.",
            ["attribution"] = "IncidentMap",
            ["scheme"] = "xyz",
            ["tiles"] = new JsonArray(template),
            ["minzoom"] = 0,
            ["maxzoom"] = AdvertisedMaxZoom,
            ["bounds"] = new JsonArray([.. Bounds(e.Bbox, query!.Bbox).Select(v => JsonValue.Create(v))]),
            ["vector_layers"] = new JsonArray(
                new JsonObject
                {
                    ["id"] = "clusters", ["minzoom"] = 0, ["maxzoom"] = TileSql.ClusterBelowZoom - 1,
                    ["description"] = $"Incidents grouped on an 8×8 grid per tile; feature id {TileSql.ClusterIdDoc}",
                    ["fields"] = Fields(("count", "Number"), ("fatalities_min_sum", "Number"), ("fatalities_max_sum", "Number"), ("event_type", "String")),
                },
                new JsonObject
                {
                    ["id"] = "incidents", ["minzoom"] = TileSql.ClusterBelowZoom, ["maxzoom"] = AdvertisedMaxZoom,
                    ["description"] = "One feature per incident",
                    ["fields"] = Fields(("title", "String"), ("event_type", "String"), ("sub_event_type", "String"), ("occurred_at", "Number (seconds since 1970-01-01 UTC)"),
                        ("time_precision", "String"), ("fatalities_min", "Number"), ("fatalities_max", "Number"), ("country", "String"),
                        ("geo_precision", "String"), ("status", "String")),
                }),
        }, contentType: CollectionsApi.Json);
    }

    private const double MercatorLatitude = 85.0511;

    /// <summary>
    /// TileJSON bounds (MapLibre asks for no tile outside them): the data's extent, within the bbox filter.
    /// A bbox over the antimeridian comes as two boxes, and TileJSON bounds cannot cross it (MapLibre asks
    /// for no tile at all when west > east): their hull keeps the longitudes in between. Incidents that
    /// only reach into the bbox are cut at its edge (the bounds' tiles): what a bbox filter is for.
    /// </summary>
    internal static double[] Bounds(double[]? extent, IReadOnlyList<Box>? bbox)
    {
        var world = new Box(-180, -90, 180, 90);
        var data = extent is null ? world : new Box(extent[0], extent[1], extent[2], extent[3]);
        var boxes = (bbox?.Where(b => !b.Alias) ?? [world])
            .Select(b => new Box(Math.Max(b.MinLon, data.MinLon), Math.Max(b.MinLat, data.MinLat), Math.Min(b.MaxLon, data.MaxLon), Math.Min(b.MaxLat, data.MaxLat)))
            .Where(b => b.MinLon <= b.MaxLon && b.MinLat <= b.MaxLat)
            .ToList();
        // A bbox beside all the data: its tiles are empty, but the bounds still say where the filter looks.
        if (boxes.Count == 0) boxes = [.. bbox!.Where(b => !b.Alias)];
        double Lat(double lat) => Math.Clamp(lat, -MercatorLatitude, MercatorLatitude);
        return [boxes.Min(b => b.MinLon), Lat(boxes.Min(b => b.MinLat)), boxes.Max(b => b.MaxLon), Lat(boxes.Max(b => b.MaxLat))];
    }

    /// <summary>
    /// The filters as the tile URLs carry them, without f (TileJSON's f=json would be a 400 on every tile).
    /// MapLibre substitutes every {name} in a tile URL, the query too: a raw brace (browsers send q={z}
    /// unencoded) would turn a filter into the zoom level.
    /// </summary>
    internal static string CarriedQuery(string? query)
    {
        var kept = (query ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Uri.UnescapeDataString(p.Split('=')[0]) != "f");
        var carried = string.Join("&", kept).Replace("{", "%7B", StringComparison.Ordinal).Replace("}", "%7D", StringComparison.Ordinal);
        return carried.Length == 0 ? "" : "?" + carried;
    }

    internal static async Task<IResult> GetTile(HttpContext context, string tileMatrix, string tileRow, string tileCol,
        IncidentReader reader, DataVersion version, IMemoryCache cache, Hosting.Settings settings)
    {
        // One spelling per tile: 8/88/129/ or 08/88/129 would be a second URL and cache entry for 8/88/129.
        if (context.Request.Path.Value!.EndsWith('/'))
            return Problem.Status(StatusCodes.Status404NotFound, "No such tile", "A tile's URL has no trailing slash.");
        if (TileIndex("tileMatrix", tileMatrix, MaxZoom + 1, $"a zoom level from 0 to {MaxZoom}", out var zoom) is { } badMatrix) return badMatrix;
        var z = (int)zoom;
        var size = 1L << z;
        if (TileIndex("tileRow", tileRow, size, $"in 0..{size - 1} at tileMatrix {z}", out var y) is { } badRow) return badRow;
        if (TileIndex("tileCol", tileCol, size, $"in 0..{size - 1} at tileMatrix {z}", out var x) is { } badCol) return badCol;
        if (OnlyFormat(context.Request, "mvt") is { } badFormat) return badFormat;
        var (query, problem) = await QueryParser.ParseFiltersAsync(context.Request, "f");
        if (problem is not null) return problem;

        // The data version names the tile's content: same version, same bytes, so revalidation is free.
        var etag = Conditional.DataETag(version, query!);
        if (Conditional.Evaluate(context, etag, TileCacheControl) is { } conditional) return conditional;

        // Tiles:Cache = false computes every tile (the benchmark compares that cost with raw SQL).
        var cached = settings.TileCache;
        var key = $"tile:{etag}:{z}/{x}/{y}{context.Request.QueryString}";
        if (!cached || !cache.TryGetValue(key, out byte[]? tile))
        {
            var (sql, parameters) = TileSql.Tile(query!, z, (int)x, (int)y);
            // Incident tiles read one tile's envelope through the spatial index whatever the tile: prepared.
            // Cluster tiles are planned for their own values: a generic plan of a grid tile expects a handful of the
            // grid's rows and sorts them to group them, where a plan for the tile's own cells hashes them (2026-12-01,
            // the bench's million incidents, best of three: the world tile 118 ms instead of 68, z3 over Homs 10.8
            // instead of 8.5; planning costs about 0.4 ms).
            tile = await reader.ScalarAsync<byte[]>(sql, parameters, context.RequestAborted, stablePlan: z >= TileSql.ClusterBelowZoom) ?? [];
            // The key counts too: it holds the query string, and an empty tile under a 7 KB filter was
            // counted as 64 bytes, so the 64 MB cache could hold a million of them (security audit).
            if (cached) cache.Set(key, tile, new MemoryCacheEntryOptions { Size = tile.Length + 2 * key.Length + 64, SlidingExpiration = TimeSpan.FromMinutes(10) });
        }
        if (tile!.Length == 0) return TypedResults.NoContent();
        return TypedResults.Bytes(tile, MvtType);
    }

    /// <summary>
    /// A tile path segment: not a whole number at all (b, 1.5, +1) is a 400; a number outside the matrix
    /// (25, -1, 2^40) or written with leading zeros is no tile, a 404.
    /// </summary>
    private static IResult? TileIndex(string name, string text, long count, string valid, out long value)
    {
        value = 0;
        var digits = text.StartsWith('-') ? text[1..] : text;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
            return Problem.BadParameter(name, $"'{text}' is not a whole number");
        if (digits.Length > 1 && digits[0] == '0')
            return Problem.Status(StatusCodes.Status404NotFound, "No such tile", $"{name} '{text}' has leading zeros; a tile has one URL, without them.", name);
        if (text.StartsWith('-') || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) || value >= count)
            return Problem.Status(StatusCodes.Status404NotFound, "No such tile", $"{name} '{text}' is not {valid}.", name);
        return null;
    }

    internal static async Task<IResult> GetClusters(HttpRequest request, IncidentReader reader, DataVersion version, CancellationToken ct)
    {
        if (QueryParser.Repeated(request.Query) is { } repeated) return repeated;
        var zoomText = request.Query["zoom"].ToString();
        // Left out (or empty), it was "'' is not a zoom level", as if a value had been sent.
        if (zoomText.Length == 0) return Problem.BadParameter("zoom", $"is required: a zoom level from 0 to {MaxZoom}");
        if (!int.TryParse(zoomText, NumberStyles.None, CultureInfo.InvariantCulture, out var zoom) || zoom > MaxZoom)
            return Problem.BadParameter("zoom", $"'{zoomText}' is not a zoom level from 0 to {MaxZoom}");
        if (OnlyFormat(request, "json", "geojson") is { } badFormat) return badFormat;
        var (query, problem) = await QueryParser.ParseFiltersAsync(request, "zoom", "f");
        if (problem is not null) return problem;
        // Maps poll these as they do tiles: an unchanged answer is revalidated, not recomputed.
        if (Conditional.Evaluate(request.HttpContext, Conditional.DataETag(version, query!), Conditional.Revalidate) is { } conditional) return conditional;
        // Cut short, the counts would no longer add up to the matching incidents: refuse instead, before
        // computing them when that is sure (deep zooms over large areas).
        // A bbox and a time window: the incidents well inside the bbox from the window's index alone, where the planner
        // expects the bbox to hold enough of the window's incidents for that walk to cost less than reading them from the table.
        var byWindowIndex = TileSql.WindowIndexEstimate(query!) is var (estimateSql, estimateParameters)
            && TileSql.WindowIndexPays(await reader.ScalarAsync<string>(estimateSql, estimateParameters, ct));
        if (await ClusterLimit.ExceededAsync(reader, query!, zoom, MaxClusters, ct, byWindowIndex)) return TooManyClusters(zoom);
        var (sql, parameters) = TileSql.Clusters(query!, zoom, query!.Precision, MaxClusters, byWindowIndex);
        var clusters = await reader.ListAsync<string>(sql, parameters, ct);
        if (clusters.Count > MaxClusters) return TooManyClusters(zoom);
        return IncidentListResult.Small(clusters);
    }

    /// <summary>
    /// How many hexagons ST_HexagonGrid lays over a box <paramref name="columns"/> × 1.5 and <paramref name="rows"/> × √3
    /// metres: its whole columns 1.5 edges apart and rows √3 edges apart, one more of each at the far sides (a box of no
    /// width still takes a column).
    /// </summary>
    private static double Hexagons(double columns, double rows, double size) =>
        (Math.Floor(columns / size) + 2) * (Math.Floor(rows / size) + 2);

    /// <summary>
    /// The shortest edge, rounded up to three significant digits, that <see cref="Hexagons"/> allows (at most
    /// <see cref="MaxHexagons"/>), and never under <see cref="MinHexagonMetres"/>. The count only falls as the edge grows,
    /// so the shortest is found by halving. Solved without the floors, the answer was up to a few per cent too long: for
    /// bbox=35,32,43,38 it said 2,390 m, and 2,380 m was answered (tiles hunter).
    /// </summary>
    private static double SmallestHexagon(double columns, double rows)
    {
        double tooShort = 0, longEnough = TileSql.WorldSize;
        for (var i = 0; i < 200 && longEnough - tooShort > longEnough * 1e-12; i++)
        {
            var middle = (tooShort + longEnough) / 2;
            if (Hexagons(columns, rows, middle) > MaxHexagons) tooShort = middle; else longEnough = middle;
        }
        var unit = Math.Pow(10, Math.Floor(Math.Log10(longEnough)) - 2);
        var edge = Math.Ceiling(longEnough / unit) * unit;
        while (Hexagons(columns, rows, edge) > MaxHexagons) edge += unit;
        return Math.Max(edge, MinHexagonMetres);
    }

    private static IResult TooManyClusters(int zoom) =>
        Problem.BadParameter("zoom", $"{zoom} makes more than {MaxClusters} clusters here; give a bbox, a lower zoom or filters");

    internal static async Task<IResult> GetHexbins(HttpRequest request, IncidentReader reader, DataVersion version, CancellationToken ct)
    {
        if (QueryParser.Repeated(request.Query) is { } repeated) return repeated;
        var sizeText = request.Query["size"].ToString();
        if (sizeText.Length == 0)
            return Problem.BadParameter("size", "is required: the hexagon edge length, greater than 0: metres, or with unit m, km or mi (20km)");
        if (!QueryParser.TryDistance(sizeText, out var size) || !double.IsFinite(size) || size <= 0)
            return Problem.BadParameter("size", $"'{sizeText}' is not a hexagon edge length greater than 0: metres, or with unit m, km or mi (20km)");
        // One hexagon of this edge already covers any bbox; ST_HexagonGrid made none at all of 1e308.
        if (size > TileSql.WorldSize)
            return Problem.BadParameter("size", $"'{sizeText}' is longer than the maximum hexagon edge, {MaxHexagonKm} km (the width of the Web Mercator world)");
        if (OnlyFormat(request, "json", "geojson") is { } badFormat) return badFormat;
        var (query, problem) = await QueryParser.ParseFiltersAsync(request, "size", "f");
        if (problem is not null) return problem;
        // The grid is laid over the area asked for: another spelling of its edge (a Box.Alias) is no second area.
        if (query!.Bbox?.Where(b => !b.Alias).ToList() is not [var box])
            return Problem.BadParameter("bbox", query.Bbox is null ? "is required for hexagon bins" : "hexagon bins cannot cross the antimeridian; ask for each side");

        var (x0, y0) = TileSql.Mercator(box.MinLon, box.MinLat);
        var (x1, y1) = TileSql.Mercator(box.MaxLon, box.MaxLat);
        // ST_HexagonGrid covers the box with columns 1.5 edges apart and rows √3 edges apart, one
        // more of each at the far sides: a box of no width still takes a column of hexagons.
        var (columnsPerMetre, rowsPerMetre) = ((x1 - x0) / 1.5, (y1 - y0) / Math.Sqrt(3));
        var hexagons = Hexagons(columnsPerMetre, rowsPerMetre, size);
        if (hexagons > MaxHexagons)
        {
            var smallest = $"over this bbox the edge must be at least {SmallestHexagon(columnsPerMetre, rowsPerMetre).ToString("0.##", CultureInfo.InvariantCulture)} m, or give a smaller bbox";
            // A size such as 1e-300 makes more hexagons than a double counts: said in words, not "about Infinity".
            return Problem.BadParameter("size", hexagons < 1e12
                ? $"{size} m makes about {hexagons:0} hexagons over this bbox; the maximum is {MaxHexagons}: {smallest}"
                : $"'{sizeText}' is too small: it makes far more than the maximum of {MaxHexagons} hexagons; {smallest}");
        }
        if (size < MinHexagonMetres)
            return Problem.BadParameter("size", $"'{sizeText}' is shorter than the minimum hexagon edge, {MinHexagonMetres:0} m");
        if (Conditional.Evaluate(request.HttpContext, Conditional.DataETag(version, query), Conditional.Revalidate) is { } conditional) return conditional;

        // A bbox with at most a time window, event types and countries: the points well inside it from
        // incidents_occurred_points_idx alone, where the planner expects the bbox to hold enough of the index's incidents
        // for that walk to cost less than reading the bbox's from the table (as /clusters of a window).
        var byPointsIndex = TileSql.WindowIndexEstimate(query, anyTime: true) is var (estimateSql, estimateParameters)
            && TileSql.WindowIndexPays(await reader.ScalarAsync<string>(estimateSql, estimateParameters, ct));
        var bins = await reader.OnConnectionAsync(
            (connection, token) => HexagonBins.ComputeAsync(connection, query, size, query.Precision, byPointsIndex, token), ct);
        return IncidentListResult.Small(bins.Features);
    }
}
