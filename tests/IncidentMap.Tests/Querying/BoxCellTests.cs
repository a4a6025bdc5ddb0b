using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// Newest-first pages of a bbox of 0.1° and more (a map's view) read the grid cells under the box, merged in time
/// order (<see cref="RadiusCells.CoveringBoxes"/>); a sliver of a cell under the box's edge is found through the
/// GiST index instead. They must return exactly what a plain "in the box, newest first" returns: points on the
/// box's edges and corners and on grid lines, shapes crossing in, both sides of the antimeridian, the pole.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class BoxCellTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData(36.5, 34.5, 37.0, 35.0)]       // Homs, every edge on a grid line: the row and column past them hold only the edges
    [InlineData(36.61, 34.52, 36.93, 34.81)]   // thin slivers under the north edge
    [InlineData(36.2, 34.3, 37.3, 35.1)]       // 30 cells, slivers on every side
    [InlineData(-0.12, -0.12, 0.12, 0.12)]     // where four cells meet at the equator and the prime meridian
    [InlineData(179.8, -16.7, -179.8, -16.3)]  // across the antimeridian: two boxes
    [InlineData(10.0, 89.8, 10.5, 90.0)]       // up to the north pole, the last row closed
    public async Task A_newest_first_bbox_page_holds_exactly_the_incidents_in_the_box(double west, double south, double east, double north)
    {
        var boxes = west <= east
            ? new List<Box> { new(west, south, east, north) }
            : [new(west, south, 180, north), new(-180, south, east, north)];
        Assert.NotNull(RadiusCells.CoveringBoxes(boxes));
        bool InBox(double lon, double lat) => boxes.Any(b => b.MinLon <= lon && lon <= b.MaxLon && b.MinLat <= lat && lat <= b.MaxLat);

        var tag = NewTag();
        var random = new Random(Seed.Of(west, south, east, north));
        var points = new List<(double Lon, double Lat)>();
        // Scattered over the box and 0.15° around it; on each edge and corner, and a hair either side of them;
        // on the grid lines inside the box.
        foreach (var box in boxes)
        {
            for (var n = 0; n < 40; n++)
                points.Add((box.MinLon - 0.15 + random.NextDouble() * (box.MaxLon - box.MinLon + 0.3),
                            box.MinLat - 0.15 + random.NextDouble() * (box.MaxLat - box.MinLat + 0.3)));
            var midLon = (box.MinLon + box.MaxLon) / 2;
            var midLat = (box.MinLat + box.MaxLat) / 2;
            foreach (var lon in new[] { box.MinLon, box.MaxLon })
                foreach (var hair in new[] { -1e-9, 0, 1e-9 })
                    points.Add((lon + hair, midLat + random.NextDouble() * 0.01));
            foreach (var lat in new[] { box.MinLat, box.MaxLat })
                foreach (var hair in new[] { -1e-9, 0, 1e-9 })
                    points.Add((midLon + random.NextDouble() * 0.01, lat + hair));
            points.AddRange([(box.MinLon, box.MinLat), (box.MinLon, box.MaxLat), (box.MaxLon, box.MinLat), (box.MaxLon, box.MaxLat)]);
            for (var line = Math.Ceiling(box.MinLon * 4) / 4; line <= box.MaxLon; line += 0.25) points.Add((line, midLat));
            for (var line = Math.Ceiling(box.MinLat * 4) / 4; line <= box.MaxLat; line += 0.25) points.Add((midLon, line));
        }

        var expected = new List<(long Id, string At)>();
        var hour = 0;
        foreach (var (lon, lat) in points.Where(p => p.Lon is >= -180 and <= 180 && p.Lat is >= -90 and <= 90))
        {
            var at = new DateTime(2016, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddHours(random.Next(0, 24 * 365) + hour++ % 3).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
            var id = await _client.CreateAsync(Incident(tag, Features.Point(lon, lat), at));
            if (InBox(lon, lat)) expected.Add((id, at));
        }
        // A line crossing into the box from outside (filed with the shapes, not in a cell), one beside it, and a deleted point inside.
        var (b0, at0) = (boxes[0], "2015-06-01T00:00:00Z");
        var crossing = await _client.CreateAsync(Incident(tag, Features.Geometry(
            $$"""{"type":"LineString","coordinates":[[{{Inv(b0.MinLon - 0.5)}},{{Inv(b0.MinLat - 0.5)}}],[{{Inv((b0.MinLon + b0.MaxLon) / 2)}},{{Inv((b0.MinLat + b0.MaxLat) / 2)}}]]}"""), at0));
        expected.Add((crossing, at0));
        await _client.CreateAsync(Incident(tag, Features.Geometry(
            $$"""{"type":"LineString","coordinates":[[{{Inv(b0.MinLon - 0.5)}},{{Inv(b0.MinLat - 0.5)}}],[{{Inv(b0.MinLon - 0.1)}},{{Inv(b0.MinLat - 0.1)}}]]}"""), at0));
        var deleted = await _client.CreateAsync(Incident(tag, Features.Point((b0.MinLon + b0.MaxLon) / 2, (b0.MinLat + b0.MaxLat) / 2), "2017-06-01T00:00:00Z"));
        await _client.DeleteCurrentAsync($"{Items}/{deleted}");

        var query = $"bbox={Inv(west)},{Inv(south)},{Inv(east)},{Inv(north)}&tags={tag}";
        var ids = (await _client.AllPagesAsync(await _client.GetJsonAsync($"{Items}?{query}&limit=7"))).SelectMany(Ids).ToList();

        Assert.True(expected.Count >= 20, $"only {expected.Count} incidents in the box: the test would prove little");
        Assert.Equal(expected.OrderByDescending(e => e.At, StringComparer.Ordinal).ThenByDescending(e => e.Id).Select(e => e.Id), ids);
        Assert.DoesNotContain(deleted, ids);

        // Oldest first reads the same cells the other way.
        var oldest = (await _client.AllPagesAsync(await _client.GetJsonAsync($"{Items}?{query}&limit=5&sortby=occurred_at"))).SelectMany(Ids).ToList();
        Assert.Equal(ids.AsEnumerable().Reverse(), oldest);
    }

    [Fact]
    public void Every_point_of_a_box_is_in_one_of_its_cells_and_in_the_sliver_of_that_cell()
    {
        var random = new Random(11);
        var (tested, slivers) = (0, 0);
        for (var n = 0; n < 3_000; n++)
        {
            // Edges on grid lines a third of the time, as round numbers put them.
            double Edge(double min, double max) => random.Next(3) == 0 ? Math.Round((min + random.NextDouble() * (max - min)) * 4) / 4 : min + random.NextDouble() * (max - min);
            var (west, south) = (Edge(-180, 179), Edge(-90, 89.5));
            var box = new Box(west, south, Math.Min(180, west + 0.1 + random.NextDouble() * 1.2), Math.Min(90, south + 0.1 + random.NextDouble() * 1.2));
            if (RadiusCells.CoveringBoxes([box]) is not { } cells) continue;
            var byCell = cells.ToDictionary(c => c.Cell);
            for (var p = 0; p < 20; p++)
            {
                // Inside the box, on its edges and corners a quarter of the time.
                var lon = random.Next(4) == 0 ? (random.Next(2) == 0 ? box.MinLon : box.MaxLon) : box.MinLon + random.NextDouble() * (box.MaxLon - box.MinLon);
                var lat = random.Next(4) == 0 ? (random.Next(2) == 0 ? box.MinLat : box.MaxLat) : box.MinLat + random.NextDouble() * (box.MaxLat - box.MinLat);
                var cell = RadiusCells.Row(lat) * RadiusCells.Columns + RadiusCells.Column(lon);
                Assert.True(byCell.TryGetValue(cell, out var found), $"({lon}, {lat}) of {box}: cell {cell} is not covered");
                if (found!.Sliver is { } sliver)
                {
                    Assert.True(sliver.MinLon <= lon && lon <= sliver.MaxLon && sliver.MinLat <= lat && lat <= sliver.MaxLat,
                        $"({lon}, {lat}) of {box} is outside the sliver {sliver} of its cell {cell}");
                    slivers++;
                }
                tested++;
            }
        }
        Assert.True(tested > 20_000 && slivers > 1_000, $"only {tested} points tested, {slivers} in slivers");
    }

    [Theory]
    [InlineData(36.70, 34.70, 36.75, 34.75)]   // smaller than MinBoxDegrees: the GiST index and a sort
    [InlineData(36.70, 34.70, 36.75, 36.00)]   // too narrow
    [InlineData(35.0, 32.0, 42.0, 37.0)]       // too many cells
    public void Small_narrow_and_large_boxes_are_not_merged_from_cells(double west, double south, double east, double north) =>
        Assert.Null(RadiusCells.CoveringBoxes([new Box(west, south, east, north)]));
}
