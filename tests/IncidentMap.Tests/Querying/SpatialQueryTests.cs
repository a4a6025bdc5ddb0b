using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>bbox, radius (geodesic, with distance_m and sortby=distance) and polygon search.</summary>
[Collection(ApiCollection.Name)]
public sealed class SpatialQueryTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    // City centres (lat, lon).
    private static readonly (double Lat, double Lon) Homs = (34.7324, 36.7137);
    private static readonly (double Lat, double Lon) Hama = (35.1318, 36.7578);
    private static readonly (double Lat, double Lon) Damascus = (33.5138, 36.2765);
    private static readonly (double Lat, double Lon) Beirut = (33.8938, 35.5018);

    /// <summary>
    /// PostGIS measures on the spheroid (Karney); Vincenty agrees to well under a millimetre at these
    /// distances, and distance_m is rounded to 0.1 m, so 0.5 m leaves room only for rounding.
    /// </summary>
    private const double DistanceTolerance = 0.5;

    private static JsonObject At((double Lat, double Lon) place) => Features.Point(place.Lon, place.Lat);

    private static JsonObject Geometry(string json) => Features.Geometry(json);

    [Fact]
    public void Test_geodesic_helper_reproduces_vincentys_published_reference_distance()
    {
        // Flinders Peak to Buninyong (Vincenty 1975; Geoscience Australia): 54 972.271 m.
        var flindersPeak = (Lat: -(37 + 57 / 60.0 + 3.72030 / 3600), Lon: 144 + 25 / 60.0 + 29.52440 / 3600);
        var buninyong = (Lat: -(37 + 39 / 60.0 + 10.15610 / 3600), Lon: 143 + 55 / 60.0 + 35.38390 / 3600);

        var metres = GeodesicMetres(flindersPeak.Lat, flindersPeak.Lon, buninyong.Lat, buninyong.Lon);

        Assert.InRange(metres, 54_972.270, 54_972.272);
    }

    [Fact]
    public async Task Bbox_with_min_lon_greater_than_max_lon_crosses_the_antimeridian()
    {
        var tag = NewTag();
        var east = await _client.CreateAsync(Incident(tag, Features.Point(179.5, 1)));
        var west = await _client.CreateAsync(Incident(tag, Features.Point(-179.5, -1)));
        await _client.CreateAsync(Incident(tag, Features.Point(0, 0)));
        await _client.CreateAsync(Incident(tag, Features.Point(179.5, 25)));
        await _client.CreateAsync(Incident(tag, Features.Point(-160, 0)));

        await _client.AssertMatchesAsync($"bbox=170,-20,-170,20&tags={tag}", east, west);
    }

    /// <summary>
    /// Longitudes 180 and -180 are one meridian, and a pole one point at every longitude (RFC 7946 §3.1.9): a box
    /// ending on either spelling of the meridian, or at a pole, finds what the other spelling would. The planar
    /// comparison missed (-180, -33.3) for a box ending at 180, and (123, 90) for a box reaching the pole at 0.
    /// </summary>
    [Fact]
    public async Task Bbox_on_the_antimeridian_or_a_pole_holds_both_spellings_of_it()
    {
        var tag = NewTag();
        var east = await _client.CreateAsync(Incident(tag, Features.Point(180, -33.3)));
        var west = await _client.CreateAsync(Incident(tag, Features.Point(-180, -33.3)));
        var inside = await _client.CreateAsync(Incident(tag, Features.Point(175, -33.3)));
        var line = await _client.CreateAsync(Incident(tag, Geometry("""{"type":"LineString","coordinates":[[-175,-33.5],[-180,-33.5]]}""")));
        var pole = await _client.CreateAsync(Incident(tag, Features.Point(0, 90)));
        var poleElsewhere = await _client.CreateAsync(Incident(tag, Features.Point(123, 90)));
        var southPole = await _client.CreateAsync(Incident(tag, Features.Point(-45, -90)));
        await _client.CreateAsync(Incident(tag, Features.Point(123, 89.5)));

        await _client.AssertMatchesAsync($"bbox=170,-34,180,-33&tags={tag}", east, west, inside, line);
        await _client.AssertMatchesAsync($"bbox=170,-34,-180,-33&tags={tag}", east, west, inside, line);
        await _client.AssertMatchesAsync($"bbox=-180,-34,-170,-33&tags={tag}", east, west, line);
        await _client.AssertMatchesAsync($"bbox=180,-34,-170,-33&tags={tag}", east, west, line);
        await _client.AssertMatchesAsync($"bbox=-10,89.9,10,90&tags={tag}", pole, poleElsewhere);
        await _client.AssertMatchesAsync($"bbox=100,-90,110,-89&tags={tag}", southPole);
        await _client.AssertMatchesAsync($"filter={Uri.EscapeDataString("S_INTERSECTS(geometry, BBOX(170,-34,180,-33))")}&tags={tag}", east, west, inside, line);
        await _client.AssertMatchesAsync($"filter={Uri.EscapeDataString("S_INTERSECTS(geometry, BBOX(-10,89.9,10,90))")}&tags={tag}", pole, poleElsewhere);
        await _client.AssertMatchesAsync($"filter={Uri.EscapeDataString("S_DWITHIN(geometry, BBOX(-10,89.9,10,90), 1, meters)")}&tags={tag}", pole, poleElsewhere);
    }

    [Fact]
    public async Task The_whole_world_as_a_bbox_tests_nothing_and_holds_every_incident()
    {
        var (world, _) = IncidentMap.Api.Querying.QueryParser.Parse(new Dictionary<string, string> { ["bbox"] = "-180,-90,180,90" }, DateTimeOffset.UtcNow);
        var (almost, _) = IncidentMap.Api.Querying.QueryParser.Parse(new Dictionary<string, string> { ["bbox"] = "-180,-90,180,89" }, DateTimeOffset.UtcNow);
        Assert.DoesNotContain(IncidentMap.Api.Querying.IncidentSqlBuilder.Where(world!, new Dapper.DynamicParameters()), c => c.Contains("Intersects"));
        Assert.Contains(IncidentMap.Api.Querying.IncidentSqlBuilder.Where(almost!, new Dapper.DynamicParameters()), c => c.Contains("Intersects"));

        var tag = NewTag();
        var corners = new[] { (-180.0, -90.0), (180, 90), (0, 0), (-180, 45) };
        var ids = new List<long>();
        foreach (var (lon, lat) in corners) ids.Add(await _client.CreateAsync(Incident(tag, Features.Point(lon, lat))));
        ids.Add(await _client.CreateAsync(Incident(tag, Geometry("""{"type":"LineString","coordinates":[[170,0],[180,1]]}"""))));

        await _client.AssertMatchesAsync($"bbox=-180,-90,180,90&tags={tag}", [.. ids]);
    }

    [Fact]
    public async Task Bbox_returns_lines_and_polygons_crossing_it_even_when_every_vertex_is_outside()
    {
        // The box is 10.9..11.1 E, -0.1..0.1 N.
        var tag = NewTag();
        var crossingLine = await _client.CreateAsync(Incident(tag, Geometry("""{"type":"LineString","coordinates":[[10,0],[12,0]]}""")));
        var enclosingPolygon = await _client.CreateAsync(Incident(tag, Geometry(
            """{"type":"Polygon","coordinates":[[[10,-1],[12,-1],[12,1],[10,1],[10,-1]]]}""")));
        var overlappingMulti = await _client.CreateAsync(Incident(tag, Geometry(
            """{"type":"MultiPolygon","coordinates":[[[[11,-5],[11.05,-5],[11.05,5],[11,5],[11,-5]]],[[[30,30],[31,30],[31,31],[30,30]]]]}""")));
        var pointInside = await _client.CreateAsync(Incident(tag, Features.Point(11, 0)));
        var pointOnEdge = await _client.CreateAsync(Incident(tag, Features.Point(11.1, 0.05)));
        // Its hole contains the whole box: the polygon itself does not touch it.
        await _client.CreateAsync(Incident(tag, Geometry(
            """{"type":"Polygon","coordinates":[[[10,-1],[12,-1],[12,1],[10,1],[10,-1]],[[10.5,-0.5],[11.5,-0.5],[11.5,0.5],[10.5,0.5],[10.5,-0.5]]]}""")));
        await _client.CreateAsync(Incident(tag, Geometry("""{"type":"LineString","coordinates":[[10,0.2],[12,0.2]]}""")));
        await _client.CreateAsync(Incident(tag, Features.Point(11.2, 0)));

        await _client.AssertMatchesAsync($"bbox=10.9,-0.1,11.1,0.1&tags={tag}",
            crossingLine, enclosingPolygon, overlappingMulti, pointInside, pointOnEdge);
    }

    [Fact]
    public async Task Radius_search_reports_distance_m_equal_to_an_independent_geodesic_computation()
    {
        var tag = NewTag();
        var hama = await _client.CreateAsync(Incident(tag, At(Hama)));
        var beirut = await _client.CreateAsync(Incident(tag, At(Beirut)));

        var homsToHama = GeodesicMetres(Homs.Lat, Homs.Lon, Hama.Lat, Hama.Lon);
        var damascusToBeirut = GeodesicMetres(Damascus.Lat, Damascus.Lon, Beirut.Lat, Beirut.Lon);
        Assert.InRange(homsToHama, 44_300, 44_500); // ≈ 44.4 km, as road atlases give it
        Assert.InRange(damascusToBeirut, 83_000, 83_600); // 0.38° north (≈ 42.2 km) and 0.775° west (≈ 71.8 km at 33.7° N)

        var fromHoms = await _client.GetJsonAsync($"{Items}?lat={Inv(Homs.Lat)}&lon={Inv(Homs.Lon)}&radius=50km&tags={tag}");
        var hamaFeature = Assert.Single(fromHoms["features"]!.AsArray())!;
        Assert.Equal(hama, hamaFeature["id"]!.GetValue<long>());
        AssertDistance(homsToHama, hamaFeature);

        var fromDamascus = await _client.GetJsonAsync($"{Items}?lat={Inv(Damascus.Lat)}&lon={Inv(Damascus.Lon)}&radius=100km&tags={tag}&sortby=distance");
        var features = fromDamascus["features"]!.AsArray();
        Assert.Equal([beirut], Ids(fromDamascus)); // Beirut ≈ 85 km; Hama, ≈ 180 km away, is outside
        AssertDistance(damascusToBeirut, features[0]!);
    }

    private static void AssertDistance(double expected, JsonNode feature)
    {
        var reported = feature["properties"]!["distance_m"]!.GetValue<double>();
        Assert.True(Math.Abs(reported - expected) <= DistanceTolerance, $"distance_m {reported}, geodesic {expected:F3}");
        Assert.Equal(Math.Round(reported, 1), reported);
    }

    [Fact]
    public async Task Radius_includes_a_point_50_m_inside_and_excludes_one_50_m_outside()
    {
        var tag = NewTag();
        var hama = await _client.CreateAsync(Incident(tag, At(Hama)));
        var d = GeodesicMetres(Homs.Lat, Homs.Lon, Hama.Lat, Hama.Lon);
        var centre = $"lat={Inv(Homs.Lat)}&lon={Inv(Homs.Lon)}&tags={tag}";

        await _client.AssertMatchesAsync($"{centre}&radius={Inv(Math.Round(d + 50, 1))}", hama);
        await _client.AssertMatchesAsync($"{centre}&radius={Inv(Math.Round(d - 50, 1))}");
        await _client.AssertMatchesAsync($"{centre}&radius={Inv(Math.Round((d + 50) / 1000, 4))}km", hama);
        await _client.AssertMatchesAsync($"{centre}&radius={Inv(Math.Round((d - 50) / 1000, 4))}km");
    }

    [Fact]
    public async Task Radius_understands_metres_kilometres_and_miles()
    {
        // Points due north of a centre at hand-picked geodesic distances around 500 m, 10 mi (16 093.44 m) and 25 km.
        var tag = NewTag();
        var (lat, lon) = (-12.5, 64.25);
        var ids = new Dictionary<double, long>();
        foreach (var metres in new[] { 490.0, 510, 16_043.44, 16_143.44, 24_950, 25_050 })
            ids[metres] = await _client.CreateAsync(Incident(tag, Features.Point(lon, LatitudeNorth(lat, lon, metres))));
        var centre = $"lat={Inv(lat)}&lon={Inv(lon)}&tags={tag}";

        await _client.AssertMatchesAsync($"{centre}&radius=500m", ids[490]);
        await _client.AssertMatchesAsync($"{centre}&radius=500", ids[490]);
        await _client.AssertMatchesAsync($"{centre}&radius=0.5km", ids[490]);
        await _client.AssertMatchesAsync($"{centre}&radius=10mi", ids[490], ids[510], ids[16_043.44]);
        await _client.AssertMatchesAsync($"{centre}&radius=25km", ids.Where(p => p.Key < 25_000).Select(p => p.Value).ToArray());
        await _client.AssertMatchesAsync($"{centre}&radius=26km", ids.Values.ToArray());
    }

    [Fact]
    public async Task Radius_search_sorted_by_distance_returns_nearest_first_with_each_distance()
    {
        var tag = NewTag();
        var centre = (Lat: 51.25, Lon: -30.5);
        var places = new (double Lat, double Lon)[] { (51.30, -30.4), (51.25, -30.51), (51.0, -30.5), (51.4, -30.9), (51.26, -30.48), (51.25, -31.2) };
        var created = new List<(long Id, double Metres)>();
        foreach (var place in places)
            created.Add((await _client.CreateAsync(Incident(tag, At(place))), GeodesicMetres(centre.Lat, centre.Lon, place.Lat, place.Lon)));

        var page = await _client.GetJsonAsync($"{Items}?lat={Inv(centre.Lat)}&lon={Inv(centre.Lon)}&radius=100km&sortby=distance&tags={tag}");

        Assert.Equal(created.OrderBy(c => c.Metres).Select(c => c.Id), Ids(page));
        foreach (var feature in page["features"]!.AsArray())
            AssertDistance(created.Single(c => c.Id == feature!["id"]!.GetValue<long>()).Metres, feature!);

        var farthestFirst = await _client.GetJsonAsync($"{Items}?lat={Inv(centre.Lat)}&lon={Inv(centre.Lon)}&radius=100km&sortby=-distance&tags={tag}");
        Assert.Equal(created.OrderByDescending(c => c.Metres).Select(c => c.Id), Ids(farthestFirst));
        // The property's own name sorts too.
        var byProperty = await _client.GetJsonAsync($"{Items}?lat={Inv(centre.Lat)}&lon={Inv(centre.Lon)}&radius=100km&sortby=-distance_m&tags={tag}");
        Assert.Equal(Ids(farthestFirst), Ids(byProperty));
    }

    [Fact]
    public async Task Radius_search_finds_lines_and_polygons_by_their_nearest_point()
    {
        var tag = NewTag();
        var (lat, lon) = (-40.0, -120.0);
        // A line passing about 1.1 km north of the centre, both vertices ~50 km away.
        var line = await _client.CreateAsync(Incident(tag, Geometry(
            $$"""{"type":"LineString","coordinates":[[{{Inv(lon - 0.6)}},{{Inv(lat + 0.01)}}],[{{Inv(lon + 0.6)}},{{Inv(lat + 0.01)}}]]}""")));
        await _client.CreateAsync(Incident(tag, Geometry(
            $$"""{"type":"LineString","coordinates":[[{{Inv(lon - 0.6)}},{{Inv(lat + 0.05)}}],[{{Inv(lon + 0.6)}},{{Inv(lat + 0.05)}}]]}""")));

        await _client.AssertMatchesAsync($"lat={Inv(lat)}&lon={Inv(lon)}&radius=2km&tags={tag}", line);
    }

    [Fact]
    public async Task Radius_of_up_to_1000_km_is_accepted()
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag, Features.Point(10, 0)));
        // ≈ 996 km along the equator (1 degree is 111.32 km there).
        await _client.AssertMatchesAsync($"lat=0&lon=1.05&radius=1000km&tags={tag}", id);
        await _client.AssertMatchesAsync($"lat=0&lon=1.05&radius=1000000&tags={tag}", id);
    }

    private static JsonObject Triangle => Geometry("""{"type":"Polygon","coordinates":[[[100,10],[102,10],[100,12],[100,10]]]}""");

    [Fact]
    public async Task Polygon_search_returns_incidents_intersecting_the_polygon_not_just_its_bounding_box()
    {
        var tag = NewTag();
        var inside = await _client.CreateAsync(Incident(tag, Features.Point(100.5, 10.5)));
        var crossingLine = await _client.CreateAsync(Incident(tag, Geometry("""{"type":"LineString","coordinates":[[99,11],[103,11]]}""")));
        var overlapping = await _client.CreateAsync(Incident(tag, Geometry(
            """{"type":"Polygon","coordinates":[[[101.5,9],[103,9],[103,10.2],[101.5,10.2],[101.5,9]]]}""")));
        // Inside the triangle's bounding box but beyond its hypotenuse.
        await _client.CreateAsync(Incident(tag, Features.Point(101.8, 11.8)));
        await _client.CreateAsync(Incident(tag, Features.Point(105, 10.5)));

        var page = await _client.SearchJsonAsync(new JsonObject { ["intersects"] = Triangle, ["tags"] = new JsonArray(tag) });

        Assert.Equal(new[] { inside, crossingLine, overlapping }.Order(), Ids(page).Order());
        Assert.Equal(3, page["numberMatched"]!.GetValue<int>());
    }

    [Fact]
    public async Task Polygon_search_combines_with_other_parameters_and_pages_through_post_next_links()
    {
        var tag = NewTag();
        var expected = new List<long>();
        for (var n = 0; n < 5; n++)
            expected.Add(await _client.CreateAsync(Incident(tag, Features.Point(100.2 + n * 0.1, 10.2), $"2016-02-0{n + 1}T00:00:00Z")));
        await _client.CreateAsync(Incident(tag, Features.Point(100.3, 10.3), "2015-12-01T00:00:00Z")); // too early
        await _client.CreateAsync(Incident(tag, Features.Point(104, 10.3), "2016-02-02T00:00:00Z"));   // outside

        var body = new JsonObject
        {
            ["intersects"] = Geometry("""{"type":"MultiPolygon","coordinates":[[[[100,10],[102,10],[100,12],[100,10]]],[[[0,0],[1,0],[1,1],[0,0]]]]}"""),
            ["tags"] = tag,
            ["datetime"] = "2016-01-01/2016-12-31",
            ["limit"] = 2,
        };
        var pages = await _client.AllPagesAsync(await _client.SearchJsonAsync(body));

        Assert.Equal(3, pages.Count);
        var seen = pages.SelectMany(Ids).ToList();
        expected.Reverse(); // newest first
        Assert.Equal(expected, seen);
        Assert.Equal("POST", NextLink(pages[0])!["method"]!.GetValue<string>());
    }
}
