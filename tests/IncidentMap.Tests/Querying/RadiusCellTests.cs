using System.Text.Json.Nodes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Newest-first radius pages of 10 km and more read the grid cells that cover the circle, merged in time
/// order (<see cref="RadiusCells"/>). They must return exactly what a plain "within r, newest first"
/// returns: every point of the circle whatever cell it is filed in, shapes, both sides of the antimeridian.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RadiusCellTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData(34.7324, 36.7137, 25_000)]  // Homs
    [InlineData(0.001, 0.001, 30_000)]      // where four cells meet at the equator and the prime meridian
    [InlineData(-33.87, 151.21, 50_000)]    // Sydney, southern hemisphere
    [InlineData(64.15, -21.94, 40_000)]     // Reykjavík, where cells are narrow
    [InlineData(-16.5, 179.95, 30_000)]     // Fiji, across the antimeridian
    public async Task A_newest_first_radius_page_holds_exactly_the_incidents_within_the_circle(double lat, double lon, double metres)
    {
        var tag = NewTag();
        var expected = new List<(long Id, string At)>();
        var doubtful = new HashSet<long>();
        var random = new Random(Seed.Of(lat, lon));
        // Points on rings at 50%–150% of the radius, all around the centre, so they fall in every cell the
        // circle touches and in cells around it; times spread so the merge order matters.
        // The last twelve sit within 1% of the rim, where the sphere cannot decide and the spheroid must.
        double[] nearRim = [0.990, 0.993, 0.995, 0.997, 0.999, 0.9995, 1.0005, 1.001, 1.003, 1.005, 1.007, 1.010];
        for (var n = 0; n < 48 + nearRim.Length; n++)
        {
            var bearing = n * 7.5 * Math.PI / 180;
            var fraction = n < 48 ? 0.5 + random.NextDouble() : nearRim[n - 48];
            var (pLat, pLon) = Offset(lat, lon, metres * fraction, bearing);
            var at = new DateTime(2016, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddHours(random.Next(0, 24 * 365)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
            var id = await _client.CreateAsync(Incident(tag, Features.Point(pLon, pLat), at));
            // Right at the boundary it is PostGIS's call (to its own precision); such points may go either way.
            var distance = GeodesicMetres(lat, lon, pLat, pLon);
            if (Math.Abs(distance - metres) < 1) doubtful.Add(id);
            else if (distance < metres) expected.Add((id, at));
        }
        // A line through the centre (not a point: filed in the shapes' cell) and a deleted point at the centre.
        var line = await _client.CreateAsync(Incident(tag, Features.Geometry(
            $$"""{"type":"LineString","coordinates":[[{{Inv(lon - 0.001)}},{{Inv(lat)}}],[{{Inv(lon + 0.001)}},{{Inv(lat)}}]]}"""), "2015-06-01T00:00:00Z"));
        expected.Add((line, "2015-06-01T00:00:00Z"));
        var deleted = await _client.CreateAsync(Incident(tag, Features.Point(lon, lat), "2017-06-01T00:00:00Z"));
        await _client.DeleteCurrentAsync($"{Items}/{deleted}");

        var query = $"lat={Inv(lat)}&lon={Inv(lon)}&radius={metres}&tags={tag}";
        Assert.NotNull(RadiusCells.Covering(lat, lon, metres));

        var first = await _client.GetJsonAsync($"{Items}?{query}&limit=7");
        var ids = (await _client.AllPagesAsync(first)).SelectMany(Ids).ToList();

        var newestFirst = expected.OrderByDescending(e => e.At, StringComparer.Ordinal).ThenByDescending(e => e.Id).Select(e => e.Id).ToList();
        Assert.True(expected.Count >= 15, $"only {expected.Count} points inside: the test would prove little");
        Assert.Equal(newestFirst, ids.Where(id => !doubtful.Contains(id)));
        Assert.DoesNotContain(deleted, ids);

        // Oldest first reads the same cells the other way.
        var oldest = (await _client.AllPagesAsync(await _client.GetJsonAsync($"{Items}?{query}&limit=5&sortby=occurred_at"))).SelectMany(Ids).ToList();
        Assert.Equal(ids.AsEnumerable().Reverse(), oldest);
    }

    [Fact]
    public void The_covering_cells_include_the_cell_of_every_point_within_the_circle()
    {
        var random = new Random(7);
        var tested = 0;
        for (var n = 0; n < 4_000; n++)
        {
            var (lat, lon) = (random.NextDouble() * 160 - 80, random.NextDouble() * 360 - 180);
            var metres = 10_000 + random.NextDouble() * 40_000;
            if (RadiusCells.Covering(lat, lon, metres) is not { } cells) continue;
            // Near the rim, where a missing cell would show; the offset is spherical, so keep only points
            // that are inside on the ellipsoid.
            var (pLat, pLon) = Offset(lat, lon, metres * (0.99 + random.NextDouble() * 0.02), random.NextDouble() * 2 * Math.PI);
            if (GeodesicMetres(lat, lon, pLat, pLon) >= metres) continue;
            Assert.Contains(Cell(pLat, pLon), cells);
            tested++;
        }
        Assert.True(tested > 1_000, $"only {tested} points tested");
    }

    [Theory]
    [InlineData(34.73, 36.71, 5_000)]      // small: the GiST index and a sort are cheaper
    [InlineData(34.73, 36.71, 500_000)]    // large: too many cells
    [InlineData(88.5, 0, 20_000)]          // near the pole
    public void Small_large_and_polar_circles_are_not_merged_from_cells(double lat, double lon, double metres) =>
        Assert.Null(RadiusCells.Covering(lat, lon, metres));

    [Theory]
    [InlineData(-16.5, 179.995, 3_000)]   // small, across the antimeridian
    [InlineData(89.95, 45, 8_000)]        // around the north pole
    [InlineData(34.73, 36.71, 150_000)]   // too many cells for a merge
    public async Task A_radius_search_by_boxes_holds_exactly_the_incidents_within_the_circle(double lat, double lon, double metres)
    {
        // These circles are not merged from cells: the GiST index on geom finds the candidates in the
        // boxes of RadiusCells.Bounds, and the spheroid decides.
        Assert.Null(RadiusCells.Covering(lat, lon, metres));
        var tag = NewTag();
        var expected = new HashSet<long>();
        var doubtful = new HashSet<long>();
        var random = new Random(Seed.Of(lat, lon, metres));
        for (var n = 0; n < 40; n++)
        {
            // All around the centre, half of them within 1% of the rim on either side.
            var fraction = n % 2 == 0 ? 0.99 + random.NextDouble() * 0.02 : 0.3 + random.NextDouble() * 1.4;
            var (pLat, pLon) = Offset(lat, lon, metres * fraction, n * 9 * Math.PI / 180);
            var id = await _client.CreateAsync(Incident(tag, Features.Point(pLon, pLat)));
            var distance = GeodesicMetres(lat, lon, pLat, pLon);
            if (Math.Abs(distance - metres) < 1) doubtful.Add(id);
            else if (distance < metres) expected.Add(id);
        }

        var first = await _client.GetJsonAsync($"{Items}?lat={Inv(lat)}&lon={Inv(lon)}&radius={metres}&tags={tag}&sortby=distance&limit=9");
        var ids = (await _client.AllPagesAsync(first)).SelectMany(Ids).Where(id => !doubtful.Contains(id)).ToHashSet();

        Assert.True(expected.Count >= 12, $"only {expected.Count} points inside: the test would prove little");
        Assert.Equal(expected.Order(), ids.Order());
    }

    /// <summary>Where the geodesic from (0° E, 70° N) to (40° E, 70° N) runs furthest north, at 20° E (spherical).</summary>
    private static readonly double BulgeLat = Math.Atan(Math.Tan(70 * Math.PI / 180) / Math.Cos(20 * Math.PI / 180)) * 180 / Math.PI;

    [Theory]
    [InlineData(5_000, "sortby=-occurred_at")]    // boxes, newest first
    [InlineData(5_000, "sortby=distance")]        // boxes, nearest first
    [InlineData(20_000, "sortby=-occurred_at")]   // merged from cells
    public async Task A_radius_search_finds_a_line_where_its_geodesic_bulges_beyond_the_box_of_its_vertices(double metres, string sort)
    {
        // The line's edge is a geodesic: at 20° E it runs at 71.1° N, though its vertices' box ends at
        // 70° N. A circle around that bulge must find it, by whichever path the search takes.
        var tag = NewTag();
        var line = await _client.CreateAsync(Incident(tag, Features.Geometry("""{"type":"LineString","coordinates":[[0,70],[40,70]]}""")));
        var beside = await _client.CreateAsync(Incident(tag, Features.Point(20, 70)));   // 124 km south of the bulge
        Assert.True(BulgeLat > 71.1);
        Assert.True(GeodesicMetres(BulgeLat, 20, 70, 20) > 100_000);

        var ids = await _client.IdsAsync($"lat={Inv(BulgeLat)}&lon=20&radius={metres}&tags={tag}&{sort}");
        Assert.Equal([line], ids);
        Assert.DoesNotContain(beside, ids);
    }

    [Fact]
    public async Task S_DWITHIN_finds_lines_by_their_geodesic_and_points_near_a_long_query_line()
    {
        var tag = NewTag();
        var line = await _client.CreateAsync(Incident(tag, Features.Geometry("""{"type":"LineString","coordinates":[[0,70],[40,70]]}""")));
        var onTheBulge = await _client.CreateAsync(Incident(tag, Features.Point(20, BulgeLat)));
        var onTheParallel = await _client.CreateAsync(Incident(tag, Features.Point(20, 70)));

        // A point query near the stored line's bulge.
        var nearBulge = Uri.EscapeDataString($"S_DWITHIN(geometry, POINT(20 {Inv(BulgeLat)}), 2, km)");
        Assert.Equal(new[] { line, onTheBulge }.Order(), (await _client.IdsAsync($"tags={tag}&filter={nearBulge}")).Order());

        // The same line as the query shape: the point on its bulge is within 2 km, the one on the 70th
        // parallel (inside the box of the line's vertices) is 124 km away.
        var alongLine = Uri.EscapeDataString("S_DWITHIN(geometry, LINESTRING(0 70, 40 70), 2, km)");
        Assert.Equal(new[] { line, onTheBulge }.Order(), (await _client.IdsAsync($"tags={tag}&filter={alongLine}")).Order());
        Assert.DoesNotContain(onTheParallel, await _client.IdsAsync($"tags={tag}&filter={alongLine}"));
    }

    [Fact]
    public void The_bounds_hold_every_point_within_the_circle()
    {
        var random = new Random(11);
        var tested = 0;
        for (var n = 0; n < 20_000; n++)
        {
            // Anywhere, poles and antimeridian included, up to the largest radius the API takes.
            var (lat, lon) = (random.NextDouble() * 180 - 90, random.NextDouble() * 360 - 180);
            var metres = Math.Exp(Math.Log(100) + random.NextDouble() * (Math.Log(IncidentQuery.MaxRadiusMetres) - Math.Log(100)));
            var (pLat, pLon) = Offset(lat, lon, metres * (0.98 + random.NextDouble() * 0.02), random.NextDouble() * 2 * Math.PI);
            if (GeodesicMetres(lat, lon, pLat, pLon) >= metres) continue;
            var boxes = RadiusCells.Bounds(lat, lon, metres);
            Assert.True(boxes.Any(b => b.MinLon <= pLon && pLon <= b.MaxLon && b.MinLat <= pLat && pLat <= b.MaxLat),
                $"({pLat}, {pLon}) is within {metres:0} m of ({lat}, {lon}) but in none of {string.Join(", ", boxes)}");
            tested++;
        }
        Assert.True(tested > 10_000, $"only {tested} points tested");
    }

    /// <summary>incident_cell(geometry) of migration 0011 for a point.</summary>
    private static int Cell(double lat, double lon) =>
        Math.Min((int)Math.Floor((lat + 90) * 4), 719) * 1440 + (int)Math.Floor((lon + 180) * 4) % 1440;

    /// <summary>The point <paramref name="metres"/> from (lat, lon) on an initial bearing (spherical; the tests measure the result on the ellipsoid).</summary>
    private static (double Lat, double Lon) Offset(double lat, double lon, double metres, double bearing)
    {
        const double earth = 6_371_008.8;
        var (phi, lambda, delta) = (lat * Math.PI / 180, lon * Math.PI / 180, metres / earth);
        var phi2 = Math.Asin(Math.Sin(phi) * Math.Cos(delta) + Math.Cos(phi) * Math.Sin(delta) * Math.Cos(bearing));
        var lambda2 = lambda + Math.Atan2(Math.Sin(bearing) * Math.Sin(delta) * Math.Cos(phi), Math.Cos(delta) - Math.Sin(phi) * Math.Sin(phi2));
        var lon2 = (lambda2 * 180 / Math.PI + 540) % 360 - 180;
        return (phi2 * 180 / Math.PI, lon2);
    }
}
