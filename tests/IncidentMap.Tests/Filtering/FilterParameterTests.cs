using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// Filters over HTTP where they meet the other parameters of the items endpoint: a filter's BBOX means
/// what bbox= means. Every test creates its incidents under a tag of its own.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class FilterParameterTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<(string Tag, Dictionary<string, long> Ids)> CreateAsync(params (string Name, double Lon, double Lat)[] points)
    {
        var tag = NewTag();
        var ids = new Dictionary<string, long>();
        foreach (var (name, lon, lat) in points) ids[name] = await _client.CreateAsync(Incident(tag, Features.Point(lon, lat), title: name));
        return (tag, ids);
    }

    /// <summary>
    /// Boxes written with a longitude of ±180 on the far side (as clients that normalise longitudes write
    /// them): bbox= kept the part of no width at the antimeridian, the filter's BBOX dropped it.
    /// </summary>
    [Theory]
    [InlineData("170,-1,-180,1", "east175 east180 west180")]
    [InlineData("180,-1,-170,1", "east180 west180 west175")]
    [InlineData("180,-1,-180,1", "east180 west180")]
    // A box ending on 180 (or -180) holds that meridian under both spellings (RFC 7946 §3.1.9: one meridian).
    [InlineData("170,-1,180,1", "east175 east180 west180")]
    [InlineData("-180,-1,-170,1", "east180 west180 west175")]
    [InlineData("170,-1,-170,1", "east175 east180 west180 west175")]
    [InlineData("-10,0,10,0", "null")]
    public async Task A_filter_bbox_selects_what_the_bbox_parameter_selects(string box, string expected)
    {
        var (tag, ids) = await CreateAsync(("east175", 175, 0), ("east180", 180, 0), ("west180", -180, 0), ("west175", -175, 0), ("null", 0, 0));
        var wanted = expected.Split(' ').Select(name => ids[name]).Order().ToList();

        Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&bbox={box}")).Order());
        Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&filter={Esc($"S_INTERSECTS(geometry, BBOX({box}))")}")).Order());
        var json = $$"""{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[{{box}}]}]}""";
        Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&filter-lang=cql2-json&filter={Esc(json)}")).Order());
    }

    /// <summary>
    /// S_DWITHIN of a BBOX: the box bbox= means, or near its rim. Cast to geography whole, BBOX(-100,-10,100,10) was
    /// the box round the far side of the world (Fiji in, Lagos out), and a box from pole to pole a 500.
    /// </summary>
    [Theory]
    [InlineData("-100,-10,100,10", 0, "cali lagos")]
    [InlineData("-100,-10,100,10", 100, "cali lagos")]
    [InlineData("-100,-10,100,10", 1000, "cali lagos south")]
    [InlineData("170,-20,-170,-10", 0, "fiji")]
    [InlineData("0,-90,10,90", 1000, "lagos south")]
    [InlineData("-180,-90,180,90", 1000, "cali lagos south fiji")]
    // Boxes of no width or height are lines or points, their own rim; across the antimeridian, one part may be a line.
    [InlineData("5,-10,5,-9", 1000, "south")]
    [InlineData("5,-10,5,-9", 100, "")]
    [InlineData("5,-9.999,5,-9.999", 1000, "south")]
    [InlineData("179,-17,-180,-16", 1000, "fiji")]
    [InlineData("179.5,-16.5,-180,-16.3", 50000, "fiji")]
    public async Task S_DWITHIN_of_a_bbox_is_the_box_bbox_means_or_near_its_rim(string box, int metres, string expected)
    {
        // south: 556 m south of the box's southern edge, measured along the meridian (667 m south of -9.999).
        var (tag, ids) = await CreateAsync(("cali", -76.5, 3.4), ("lagos", 3.4, 6.5), ("south", 5, -10.005), ("fiji", 179.4, -16.4));
        var wanted = expected.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(name => ids[name]).Order().ToList();

        Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&filter={Esc($"S_DWITHIN(geometry, BBOX({box}), {metres}, meters)")}")).Order());
        var json = $$"""{"op":"s_dwithin","args":[{"bbox":[{{box}}]},{"property":"geometry"},{{metres}},"meters"]}""";
        Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&filter-lang=cql2-json&filter={Esc(json)}")).Order());
        if (metres == 0) Assert.Equal(wanted, (await _client.IdsAsync($"tags={tag}&bbox={box}")).Order());
    }

    [Theory]
    [InlineData("BBOX(190, -1, -170, 1)", "longitudes must be between -180 and 180")]
    [InlineData("BBOX(170, -91, -170, 1)", "latitudes must be between -90 and 90")]
    [InlineData("BBOX(170, 2, -170, 1)", "minLat 2 is greater than maxLat 1")]
    public async Task A_filter_bbox_is_refused_for_what_the_bbox_parameter_refuses(string filter, string message)
    {
        var response = await _client.GetAsync($"{Items}?filter={Esc($"S_INTERSECTS(geometry, {filter})")}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("at position 23", problem["detail"]!.GetValue<string>());
        Assert.Contains(message, problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_filter_shape_over_half_the_world_is_a_400_naming_its_position_as_a_search_shape_is()
    {
        const string polygon = "POLYGON((170 -10, -170 -10, -170 10, 170 10, 170 -10))";

        var response = await _client.GetAsync($"{Items}?filter={Esc($"S_DWITHIN(geometry, {polygon}, 0, meters)")}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("at position 20: the geometry has an edge spanning 180° or more of longitude; cut the shape at the antimeridian",
            problem["detail"]!.GetValue<string>());
        var search = await _client.SearchAsync(new JsonObject
        {
            ["intersects"] = JsonNode.Parse("""{"type":"Polygon","coordinates":[[[170,-10],[-170,-10],[-170,10],[170,10],[170,-10]]]}"""),
        });
        var refused = await ProblemAssert.IsProblemAsync(search, HttpStatusCode.BadRequest, "intersects.coordinates");
        Assert.Contains("has an edge spanning 180° or more of longitude", refused["detail"]!.GetValue<string>());
    }

    /// <summary>
    /// A filter's GeoJSON geometry that cannot be read is a 400 saying what is wrong in it and where, as a search
    /// shape's is. Both passed the reader's own words on: "… could not be converted to
    /// NetTopologySuite.Geometries.Geometry. Path: $ | LineNumber: 0 | BytePositionInLine: 33."
    /// </summary>
    [Fact]
    public async Task A_filter_geometry_that_cannot_be_read_is_a_400_saying_what_is_wrong_in_plain_words_as_a_search_shape_is()
    {
        const string point = """{"type":"Point","coordinates":[1]}""";
        var json = $$"""{"op":"s_intersects","args":[{"property":"geometry"},{{point}}]}""";

        var response = await _client.GetAsync($"{Items}?filter-lang=cql2-json&filter={Esc(json)}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("$.args[1].coordinates: has 1 number; a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored",
            problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("NetTopologySuite", problem.ToJsonString());
        var search = await _client.SearchAsync(new JsonObject { ["intersects"] = JsonNode.Parse(point) });
        var refused = await ProblemAssert.IsProblemAsync(search, HttpStatusCode.BadRequest, "intersects");
        Assert.Contains("is not a valid GeoJSON Point: coordinates has 1 number; a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored",
            refused["detail"]!.GetValue<string>());
        Assert.DoesNotContain("NetTopologySuite", refused.ToJsonString());
    }

    [Theory]
    [InlineData("bbox-crs")]
    [InlineData("filter-crs")]
    public async Task The_crs84_default_may_be_named_as_a_uri_or_a_safe_curie(string parameter)
    {
        var (tag, ids) = await CreateAsync(("homs", 36.72, 34.72), ("aleppo", 37.16, 36.2));
        var filter = $"tags={tag}&bbox=36,34,37,35&filter={Esc("S_INTERSECTS(geometry, BBOX(36, 34, 37, 35))")}";

        foreach (var crs in new[] { "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "[OGC:CRS84]" })
            await _client.AssertMatchesAsync($"{filter}&{parameter}={Esc(crs)}", ids["homs"]);
    }

    [Theory]
    [InlineData("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326")]
    [InlineData("bbox-crs", "[EPSG:3857]")]
    [InlineData("bbox-crs", "OGC:CRS84h")]
    [InlineData("filter-crs", "http://www.opengis.net/def/crs/EPSG/0/4326")]
    [InlineData("filter-crs", "[EPSG:4326]")]
    public async Task Any_other_crs_is_a_400_saying_only_crs84_is_offered(string parameter, string crs)
    {
        var response = await _client.GetAsync($"{Items}?bbox=36,34,37,35&filter=TRUE&{parameter}={Esc(crs)}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, parameter);
        Assert.Contains("only CRS84 (http://www.opengis.net/def/crs/OGC/1.3/CRS84, or [OGC:CRS84]: longitude, latitude) is offered",
            problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_search_filter_given_as_a_json_object_is_cql2_json_without_filter_lang()
    {
        var (tag, ids) = await CreateAsync(("homs", 36.72, 34.72), ("aleppo", 37.16, 36.2));
        var filter = JsonNode.Parse("""{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[36,34,37,35]}]}""");

        var page = await _client.SearchJsonAsync(new JsonObject { ["tags"] = tag, ["filter"] = filter!.DeepClone() });
        Assert.Equal([ids["homs"]], Ids(page));
        page = await _client.SearchJsonAsync(new JsonObject { ["tags"] = tag, ["filter"] = filter.DeepClone(), ["filter-lang"] = "cql2-json" });
        Assert.Equal([ids["homs"]], Ids(page));

        var response = await _client.SearchAsync(new JsonObject { ["tags"] = tag, ["filter"] = filter.DeepClone(), ["filter-lang"] = "cql2-text" });
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter-lang");
        Assert.Contains("a filter given as a JSON object is cql2-json", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_cql2_json_filter_sent_as_cql2_text_is_told_to_name_its_language()
    {
        var response = await _client.GetAsync($"{Items}?filter={Esc("""{"op":"=","args":[{"property":"id"},1]}""")}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("at position 0: unexpected character '{' (a cql2-json filter needs filter-lang=cql2-json)", problem["detail"]!.GetValue<string>());
    }
}
