using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Consistency;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

[Collection(ApiCollection.Name)]
public sealed class TileTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private const string Tiles = "/collections/incidents/tiles/WebMercatorQuad";

    /// <summary>Creates incidents tagged uniquely around a point; returns the tag.</summary>
    private async Task<string> CreateTaggedAsync(double lon, double lat, int count, double spread = 0.001, int fatalitiesEach = 2)
    {
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        for (var n = 0; n < count; n++)
        {
            var feature = Features.Valid(geometry: Features.Point(lon + (n % 7) * spread, lat + (n / 7) * spread));
            feature["properties"]!["tags"] = new JsonArray(tag);
            feature["properties"]!["fatalities_min"] = fatalitiesEach;
            feature["properties"]!["event_type"] = n % 3 == 0 ? "battles" : "riots";
            await _client.CreateAsync(feature);
        }
        return tag;
    }

    /// <summary>A random z10 tile in the empty South Atlantic, and the lon/lat of its centre.</summary>
    private static (int X, int Y, double Lon, double Lat) RemoteTile()
    {
        const int n = 1 << 10;
        var x = 400 + Random.Shared.Next(60);
        var y = 620 + Random.Shared.Next(60);
        var lon = (x + 0.5) / n * 360 - 180;
        var lat = Math.Atan(Math.Sinh(Math.PI * (1 - 2 * (y + 0.5) / n))) * 180 / Math.PI;
        return (x, y, lon, lat);
    }

    /// <summary>Decodes a tile with GDAL's MVT driver; returns each feature's attributes per layer.</summary>
    private static async Task<List<(string Layer, Dictionary<string, string> Fields)>> DecodeAsync(byte[] tile)
    {
        var path = Path.Combine(Path.GetTempPath(), $"incidentmap-{Guid.NewGuid():N}.mvt");
        await File.WriteAllBytesAsync(path, tile);
        try
        {
            var start = new ProcessStartInfo("ogrinfo") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "-ro", "-al", "-geom=NO", path }) start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(0, process.ExitCode);

            var features = new List<(string, Dictionary<string, string>)>();
            string layer = "";
            Dictionary<string, string>? current = null;
            foreach (var raw in output.Split('\n'))
            {
                var line = raw.Trim();
                if (line.StartsWith("Layer name: ")) layer = line["Layer name: ".Length..];
                else if (line.StartsWith("OGRFeature(")) features.Add((layer, current = []));
                else if (current is not null && line.Contains(" = ") && line.Contains(" ("))
                {
                    var name = line[..line.IndexOf(' ')];
                    current[name] = line[(line.IndexOf(" = ", StringComparison.Ordinal) + 3)..];
                }
            }
            return features;
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_city_tile_carries_each_matching_incident_and_gdal_reads_it()
    {
        var (x, y, lon, lat) = RemoteTile();
        var tag = await CreateTaggedAsync(lon, lat, 5);

        var response = await _client.GetAsync($"{Tiles}/10/{y}/{x}?tags={tag}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.mapbox-vector-tile", response.Content.Headers.ContentType?.MediaType);
        var features = await DecodeAsync(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(5, features.Count(f => f.Layer == "incidents"));
        Assert.All(features, f => Assert.Contains(f.Fields["event_type"], new[] { "battles", "riots" }));
    }

    [Theory]
    [InlineData(-179.5, 0)]
    [InlineData(179.5, 255)]
    [InlineData(-180.0, 0)]
    public async Task The_first_and_last_columns_next_to_the_antimeridian_carry_their_incidents(double lon, int column)
    {
        // The tile's margin used to wrap round at ±180°, to a box without the tile in it: these tiles were empty.
        var tag = await CreateTaggedAsync(lon, -47.3, 1);
        const int z = 8;
        var row = (int)Math.Floor((1 - Math.Log(Math.Tan(-47.3 * Math.PI / 180) + 1 / Math.Cos(-47.3 * Math.PI / 180)) / Math.PI) / 2 * (1 << z));

        var response = await _client.GetAsync($"{Tiles}/{z}/{row}/{column}?tags={tag}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(await DecodeAsync(await response.Content.ReadAsByteArrayAsync()), f => f.Layer == "incidents");
    }

    [Fact]
    public async Task An_incident_in_a_tiles_margin_is_drawn_on_it_and_one_past_the_margin_is_not()
    {
        // 32 and 96 of the tile's 4096 units past its east edge: the margin is 64.
        var (x, y, _, lat) = RemoteTile();
        const int z = 10;
        double East(double units) => (x + 1 + units / 4096) / (1 << z) * 360 - 180;
        var inside = await CreateTaggedAsync(East(32), lat, 1);
        var outside = await CreateTaggedAsync(East(96), lat, 1);

        var drawn = Mvt.Decode(await _client.GetByteArrayAsync($"{Tiles}/{z}/{y}/{x}?tags={inside}"));
        var response = await _client.GetAsync($"{Tiles}/{z}/{y}/{x}?tags={outside}");

        Assert.Equal(4096 + 32, Assert.Single(drawn).First!.Value.X);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task A_tile_gives_occurred_at_in_whole_seconds_truncated_as_time_windows_read_it()
    {
        var (x, y, lon, lat) = RemoteTile();
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        var feature = Features.Valid(geometry: Features.Point(lon, lat), occurredAt: "2020-06-15T12:34:56.789Z");
        feature["properties"]!["tags"] = new JsonArray(tag);
        await _client.CreateAsync(feature);

        var fields = (await DecodeAsync(await _client.GetByteArrayAsync($"{Tiles}/10/{y}/{x}?tags={tag}"))).Single().Fields;

        Assert.Equal("1592224496", fields["occurred_at"]);
    }

    [Fact]
    public async Task Hexbins_over_the_antimeridian_count_their_incidents_and_stay_on_the_map()
    {
        var tag = await CreateTaggedAsync(179.5, -47.3, 3, spread: 0.01);

        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?tags={tag}&bbox=170,-50,180,-45&size=150000");

        Assert.Equal(3, bins["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
        var longitudes = bins["features"]!.AsArray().SelectMany(f => f!["geometry"]!["coordinates"]![0]!.AsArray()).Select(p => p![0]!.GetValue<double>());
        Assert.All(longitudes, lon => Assert.InRange(lon, 0, 180)); // no ring wrapped round to -180
    }

    [Fact]
    public async Task Hexagons_cut_at_the_edges_of_the_map_keep_their_rings_counter_clockwise()
    {
        // Over the antimeridian and past ±85.05°, ST_ClipByBox2D turned the cut hexagons clockwise.
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        foreach (var (lon, lat) in new[] { (179.9, 0.0), (179.9, 10.0), (175.0, 84.9), (172.0, -30.0) })
        {
            var feature = Features.Valid(geometry: Features.Point(lon, lat));
            feature["properties"]!["tags"] = new JsonArray(tag);
            await _client.CreateAsync(feature);
        }

        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox=170,-60,180,85&size=300km&tags={tag}");

        var rings = bins["features"]!.AsArray().Select(f => f!["geometry"]!["coordinates"]![0]!.AsArray()
            .Select(p => (X: p![0]!.GetValue<double>(), Y: p[1]!.GetValue<double>())).ToList()).ToList();
        Assert.NotEmpty(rings);
        foreach (var ring in rings)
        {
            // Shoelace: twice the signed area, positive when counter-clockwise.
            var area = ring.Zip(ring.Skip(1)).Sum(e => e.First.X * e.Second.Y - e.Second.X * e.First.Y);
            Assert.True(area > 0, $"clockwise ring: {string.Join(" ", ring)}");
        }
        Assert.Contains(rings, r => r.Any(p => p.X == 180)); // some were cut
    }

    [Theory]
    [InlineData("30,30,40,40")]
    [InlineData("-180,-85,180,85")]
    public async Task The_largest_hexagon_counts_every_incident_in_the_box(string bbox)
    {
        var tag = await CreateTaggedAsync(35, 35, 5, spread: 0.5);

        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox={bbox}&size=40075km&tags={tag}");

        Assert.Equal(5, bins["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
    }

    [Theory]
    [InlineData("1e308")]
    [InlineData("40076km")]
    [InlineData("99999999999999999999")]
    public async Task A_hexagon_larger_than_the_world_is_a_400_naming_the_maximum(string size)
    {
        // 1e308 answered 200 with no hexagon although the box held incidents.
        await CreateTaggedAsync(35, 35, 1);
        var problem = await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/hexbins?bbox=30,30,40,40&size={size}"), HttpStatusCode.BadRequest, "size");
        Assert.Contains("40075 km", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Filters_apply_to_tiles()
    {
        var (x, y, lon, lat) = RemoteTile();
        var tag = await CreateTaggedAsync(lon, lat, 6);

        var tile = await _client.GetByteArrayAsync($"{Tiles}/10/{y}/{x}?tags={tag}&event_type=battles");

        Assert.Equal(2, (await DecodeAsync(tile)).Count);
    }

    [Fact]
    public async Task Cluster_counts_over_every_low_zoom_tile_add_up_to_the_matching_incidents()
    {
        // Spread over several z2 tiles: 40 incidents on a 7-column grid 4° apart around (-2°, 2°).
        var tag = await CreateTaggedAsync(-14, -10, 40, spread: 4);

        var total = 0;
        var fatalities = 0;
        for (var y = 0; y < 4; y++)
        for (var x = 0; x < 4; x++)
        {
            var response = await _client.GetAsync($"{Tiles}/2/{y}/{x}?tags={tag}");
            if (response.StatusCode == HttpStatusCode.NoContent) continue;
            foreach (var (layer, fields) in await DecodeAsync(await response.Content.ReadAsByteArrayAsync()))
            {
                Assert.Equal("clusters", layer);
                total += int.Parse(fields["count"]);
                fatalities += int.Parse(fields["fatalities_min_sum"]);
            }
        }

        Assert.Equal(40, total);
        Assert.Equal(80, fatalities);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    public async Task Cluster_features_in_tiles_have_an_id_from_their_cell_and_zoom(int zoom)
    {
        // MapLibre's feature-state and promoteId need feature ids; GeoJSON clusters had "cx/cy", tiles none.
        var tag = await CreateTaggedAsync(20.3, -35.3, 3, spread: 0.0001);
        var cluster = (await _client.GetJsonAsync($"/collections/incidents/clusters?zoom={zoom}&tags={tag}"))["features"]!.AsArray().Single()!;
        var cell = cluster["id"]!.GetValue<string>().Split('/').Select(long.Parse).ToArray();
        var (cx, cy) = (cell[0], cell[1]);

        var tile = await _client.GetByteArrayAsync($"{Tiles}/{zoom}/{cy >> 3}/{cx >> 3}?tags={tag}");

        var fields = (await DecodeAsync(tile)).Single(f => f.Layer == "clusters").Fields;
        Assert.Equal("3", fields["count"]);
        Assert.Equal(((cy << (zoom + 3)) + cx) * 32 + zoom, long.Parse(fields["mvt_id"]));
    }

    /// <summary>
    /// A cluster at the antimeridian stays on its side: members' millimetres are rounded, and a centre 0.2 mm past
    /// the map's edge came back from ST_Transform at the other edge, outside its own cell and the asked bbox.
    /// </summary>
    [Theory]
    [InlineData(-180.0, "-180,-17,-179.9,-15.9")]
    [InlineData(180.0, "179.9,-17,180,-15.9")]
    public async Task A_geojson_cluster_at_the_antimeridian_stays_on_its_side(double lon, string bbox)
    {
        var tag = await CreateTaggedAsync(lon, -16, 1);

        foreach (var zoom in new[] { 7, 12 })
        {
            var cluster = (await _client.GetJsonAsync($"/collections/incidents/clusters?zoom={zoom}&precision=12&tags={tag}&bbox={bbox}"))["features"]!.AsArray().Single()!;
            Assert.Equal(lon, cluster["geometry"]!["coordinates"]![0]!.GetValue<double>(), 6);
        }
    }

    [Fact]
    public async Task Geojson_clusters_add_up_to_numberMatched_of_the_same_filters()
    {
        var tag = await CreateTaggedAsync(20, -35, 30, spread: 0.5);
        const string bbox = "19,-36,24,-30";

        var clusters = await _client.GetJsonAsync($"/collections/incidents/clusters?zoom=6&tags={tag}&bbox={bbox}");
        var items = await _client.GetJsonAsync($"/collections/incidents/items?limit=1&tags={tag}&bbox={bbox}");

        var counts = clusters["features"]!.AsArray().Select(f => f!["properties"]!["count"]!.GetValue<int>()).ToList();
        Assert.True(counts.Count > 1, "expected several clusters at zoom 6");
        Assert.Equal(items["numberMatched"]!.GetValue<int>(), counts.Sum());
        Assert.Equal(30, counts.Sum());
    }

    [Fact]
    public async Task Hexbin_counts_add_up_to_the_incidents_in_the_box()
    {
        var tag = await CreateTaggedAsync(60, -40, 21, spread: 0.2);

        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox=59.5,-40.5,62,-38&size=15000&tags={tag}");

        var features = bins["features"]!.AsArray();
        Assert.True(features.Count > 1);
        Assert.Equal(21, features.Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
        // No fatalities_max known: its sum is 0, as in stats, not null.
        Assert.Equal(42, features.Sum(f => f!["properties"]!["fatalities_min_sum"]!.GetValue<long>()));
        Assert.All(features, f => Assert.Equal(0, f!["properties"]!["fatalities_max_sum"]!.GetValue<long>()));
        Assert.All(features, f => Assert.Equal("Polygon", f!["geometry"]!["type"]!.GetValue<string>()));
        // The size takes a unit as radius does.
        var inKm = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox=59.5,-40.5,62,-38&size=15km&tags={tag}");
        Assert.True(JsonNode.DeepEquals(bins["features"], inKm["features"]));
    }

    [Fact]
    public async Task Hexbins_count_a_line_that_crosses_the_box_from_a_point_outside_it_as_items_do()
    {
        // The line's representative point (its middle vertex) lies far east of the box; items, clusters and now hexbins count it.
        var tag = "t-" + Guid.NewGuid().ToString("N")[..10];
        var line = Features.Valid(geometry: Features.Geometry("""{"type":"LineString","coordinates":[[70.0,-45.0],[73.0,-45.0],[76.0,-45.0]]}"""));
        line["properties"]!["tags"] = new JsonArray(tag);
        await _client.CreateAsync(line);
        var point = Features.Valid(geometry: Features.Point(70.2, -45.1));
        point["properties"]!["tags"] = new JsonArray(tag);
        await _client.CreateAsync(point);
        const string box = "bbox=69.5,-45.5,70.5,-44.5";

        var items = await _client.GetJsonAsync($"/collections/incidents/items?{box}&tags={tag}");
        Assert.Equal(2, items["numberMatched"]!.GetValue<int>());
        foreach (var size in new[] { "500m", "5km", "50km" })
        {
            var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?{box}&size={size}&tags={tag}");
            Assert.Equal(2, bins["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
        }
    }

    [Fact]
    public async Task Hexbins_up_to_the_pole_lay_their_grid_over_the_map_only()
    {
        // The grid was laid up to latitude 90, where Web Mercator's y is ten map heights away: millions
        // of hexagons, a 30 s statement, and a few such requests took every read connection.
        var tag = await CreateTaggedAsync(5, 85.02, 3, spread: 0.001);

        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox=0,85.0,10,90&size=1km&tags={tag}");

        Assert.Equal(3, bins["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
    }

    [Theory]
    [InlineData(85.0511287798)]      // the edge of Web Mercator, as most tools round it
    [InlineData(-85.0511287798)]
    [InlineData(85.0511287798066)]   // the exact limit, atan(sinh π), as PostGIS prints it: a hair above the map's edge in metres
    public async Task A_point_on_the_edge_of_the_map_is_on_the_edge_tile_and_in_a_cluster_at_every_zoom(double lat)
    {
        // Clipped to a box of exactly ±85.0511287798°, which keeps only what lies strictly inside, such a
        // point had no Web Mercator copy: on no tile, in no cluster, and /clusters did not add up to /items.
        const double lon = 10.123;
        var tag = await CreateTaggedAsync(lon, lat, 1);

        for (var z = 0; z <= TilesApi.MaxZoom; z++)
        {
            var column = (int)Math.Floor((lon + 180) / 360 * (1 << z));
            var row = lat > 0 ? 0 : (1 << z) - 1;
            var response = await _client.GetAsync($"{Tiles}/{z}/{row}/{column}?tags={tag}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"z{z}/{row}/{column}: {(int)response.StatusCode}");
            var features = await DecodeAsync(await response.Content.ReadAsByteArrayAsync());
            if (z < 8) Assert.Equal("1", Assert.Single(features, f => f.Layer == "clusters").Fields["count"]);
            else Assert.Single(features, f => f.Layer == "incidents");

            var clusters = await _client.GetJsonAsync($"/collections/incidents/clusters?zoom={z}&tags={tag}");
            var cluster = Assert.Single(clusters["features"]!.AsArray())!;
            Assert.Equal(1, cluster["properties"]!["count"]!.GetValue<int>());
            // In the edge row of the zoom's grid: the row of the tile it is drawn on.
            Assert.Equal(row, long.Parse(cluster["id"]!.GetValue<string>().Split('/')[1]) >> 3);
        }
        var bins = await _client.GetJsonAsync($"/collections/incidents/hexbins?bbox=0,{(lat > 0 ? "80,20,90" : "-90,20,-80")}&size=50km&tags={tag}");
        Assert.Equal(1, bins["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
    }

    [Fact]
    public async Task A_point_beyond_the_edge_of_the_map_is_still_on_no_tile()
    {
        // Polar incidents stay off the map (README): 85.06° lies 1 km past its edge.
        var tag = await CreateTaggedAsync(10.123, 85.06, 1);

        Assert.Equal(HttpStatusCode.NoContent, (await _client.GetAsync($"{Tiles}/0/0/0?tags={tag}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.GetAsync($"{Tiles}/8/0/135?tags={tag}")).StatusCode);
        Assert.Empty((await _client.GetJsonAsync($"/collections/incidents/clusters?zoom=3&tags={tag}"))["features"]!.AsArray());
    }

    [Fact]
    public async Task Tilejson_is_revalidated_with_304_until_the_data_changes()
    {
        var url = $"{Tiles}/tilejson.json?event_type=riots";
        var first = await _client.GetAsync(url);
        var tag = first.Headers.ETag!.Tag;

        var again = new HttpRequestMessage(HttpMethod.Get, url);
        again.Headers.TryAddWithoutValidation("If-None-Match", tag);
        var revalidated = await _client.SendAsync(again);
        // Other tests write too: a 200 then carries another tag, never the same one.
        if (revalidated.StatusCode == HttpStatusCode.OK) Assert.NotEqual(tag, revalidated.Headers.ETag!.Tag);
        else Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);

        await _client.CreateAsync(Features.Valid());
        var changed = new HttpRequestMessage(HttpMethod.Get, url);
        changed.Headers.TryAddWithoutValidation("If-None-Match", tag);
        var after = await _client.SendAsync(changed);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.NotEqual(tag, after.Headers.ETag!.Tag);
    }

    [Fact]
    public async Task Tileset_metadata_follows_the_OGC_tiles_schema()
    {
        // tileSet-item.yaml requires a tiling-scheme link on every listed tileset; layers give geometryDimension.
        var list = await _client.GetJsonAsync("/collections/incidents/tiles");
        var item = list["tilesets"]![0]!;
        Assert.Contains(item["links"]!.AsArray(), l => l!["rel"]!.GetValue<string>() == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme");
        var tileset = await _client.GetJsonAsync(Tiles);
        var layers = tileset["layers"]!.AsArray().ToDictionary(l => l!["id"]!.GetValue<string>());
        Assert.Equal(0, layers["clusters"]!["geometryDimension"]!.GetValue<int>());
        Assert.All(layers.Values, l => Assert.Null(l!["geometryType"]));
    }

    [Fact]
    public async Task Tilejson_and_the_tileset_advertise_zoom_16_and_deeper_tiles_are_still_served()
    {
        // Advertised to 24, clients fetched tiles all the way down instead of overzooming.
        var tilejson = await _client.GetJsonAsync($"{Tiles}/tilejson.json");
        Assert.Equal(16, tilejson["maxzoom"]!.GetValue<int>());
        Assert.All(tilejson["vector_layers"]!.AsArray(), l => Assert.True(l!["maxzoom"]!.GetValue<int>() <= 16));

        var tileset = await _client.GetJsonAsync(Tiles);
        var limits = tileset["tileMatrixSetLimits"]!.AsArray();
        Assert.Equal(Enumerable.Range(0, 17).Select(z => z.ToString()), limits.Select(l => l!["tileMatrix"]!.GetValue<string>()));
        Assert.Equal(65535, limits[16]!["maxTileCol"]!.GetValue<long>());
        Assert.Equal("16", tileset["layers"]!.AsArray().Single(l => l!["id"]!.GetValue<string>() == "incidents")!["maxTileMatrix"]!.GetValue<string>());

        var (x, y, lon, lat) = RemoteTile();
        var tag = await CreateTaggedAsync(lon, lat, 1);
        var response = await _client.GetAsync($"{Tiles}/24/{(long)y << 14}/{(long)x << 14}?tags={tag}&bbox={lon - 1},{lat - 1},{lon + 1},{lat + 1}");
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent, $"{(int)response.StatusCode}");
    }

    [Fact]
    public async Task Tilesets_link_their_tiling_scheme_to_this_service_which_serves_webmercatorquad()
    {
        // The tiling-scheme link went to opengis.net only: OpenLayers fetches it, over http from an https page.
        const string rel = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";
        var tileset = await _client.GetJsonAsync(Tiles);
        var listed = (await _client.GetJsonAsync("/collections/incidents/tiles"))["tilesets"]![0]!;
        var hrefs = new[] { tileset, listed }.Select(t => t["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == rel)!["href"]!.GetValue<string>()).ToList();
        Assert.All(hrefs, h => Assert.Equal(_client.BaseAddress + "tileMatrixSets/WebMercatorQuad", h));
        // The registry's URI still names the scheme.
        Assert.Equal("http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad", tileset["tileMatrixSetURI"]!.GetValue<string>());

        var tms = await _client.GetJsonAsync(new Uri(hrefs[0]).PathAndQuery);

        Assert.Equal("WebMercatorQuad", tms["id"]!.GetValue<string>());
        Assert.Equal("http://www.opengis.net/def/crs/EPSG/0/3857", tms["crs"]!.GetValue<string>());
        var matrices = tms["tileMatrices"]!.AsArray();
        Assert.Equal(Enumerable.Range(0, 25).Select(z => z.ToString()), matrices.Select(m => m!["id"]!.GetValue<string>()));
        // The registry's values (opengeospatial/2D-Tile-Matrix-Set, WebMercatorQuad.json) for zoom 0 and 24.
        Assert.Equal(559082264.028717, matrices[0]!["scaleDenominator"]!.GetValue<double>(), 1e-5);
        Assert.Equal(156543.033928041, matrices[0]!["cellSize"]!.GetValue<double>(), 1e-8);
        Assert.Equal(33.3238997477990, matrices[24]!["scaleDenominator"]!.GetValue<double>(), 1e-9);
        Assert.Equal(0.00933069192933837, matrices[24]!["cellSize"]!.GetValue<double>(), 1e-14);
        Assert.Equal(16777216, matrices[24]!["matrixWidth"]!.GetValue<long>());
        Assert.All(matrices, m =>
        {
            Assert.Equal("topLeft", m!["cornerOfOrigin"]!.GetValue<string>());
            Assert.Equal([-20037508.3427892, 20037508.3427892], m["pointOfOrigin"]!.AsArray().Select(v => Math.Round(v!.GetValue<double>(), 7)));
            Assert.Equal(256, m["tileWidth"]!.GetValue<int>());
            Assert.Equal(m["matrixWidth"]!.GetValue<long>(), m["matrixHeight"]!.GetValue<long>());
        });
    }

    [Fact]
    public async Task The_landing_page_links_the_list_of_tiling_schemes()
    {
        var landing = await _client.GetJsonAsync("/");
        var link = landing["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes")!;

        var list = await _client.GetJsonAsync(new Uri(link["href"]!.GetValue<string>()).PathAndQuery);

        var item = list["tileMatrixSets"]!.AsArray().Single()!;
        Assert.Equal("WebMercatorQuad", item["id"]!.GetValue<string>());
        var self = item["links"]!.AsArray().Single(l => l!["rel"]!.GetValue<string>() == "self")!["href"]!.GetValue<string>();
        Assert.Equal("WebMercatorQuad", (await _client.GetJsonAsync(new Uri(self).PathAndQuery))["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_empty_tile_answers_204()
    {
        var response = await _client.GetAsync($"{Tiles}/12/100/100?tags=none-{Guid.NewGuid():N}");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Theory]
    [InlineData("3/8/0", "tileRow")]
    [InlineData("3/0/8", "tileCol")]
    [InlineData("25/0/0", "tileMatrix")]
    [InlineData("3/-1/0", "tileRow")]
    [InlineData("3/0/99999999999999999999", "tileCol")]
    [InlineData("08/88/129", "tileMatrix")]
    [InlineData("8/088/129", "tileRow")]
    public async Task A_tile_outside_the_matrix_is_a_404_problem(string path, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Tiles}/{path}"), HttpStatusCode.NotFound, parameter);
    }

    [Theory]
    [InlineData("a/0/0", "tileMatrix")]
    [InlineData("0/b/0", "tileRow")]
    [InlineData("2/0/1.5", "tileCol")]
    [InlineData("2/0/%2B1", "tileCol")]
    [InlineData("2/0/0.pbf", "tileCol")]
    public async Task A_tile_address_that_is_not_a_number_is_a_400_naming_it(string path, string parameter)
    {
        // 0/b/0 was a 404 saying "tileRow 'b' is outside 0..0".
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Tiles}/{path}"), HttpStatusCode.BadRequest, parameter);
        Assert.Contains("not a whole number", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_tile_has_one_url_not_a_second_with_a_trailing_slash()
    {
        await _client.CreateAsync(Features.Valid());
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"{Tiles}/0/0/0")).StatusCode);
        await ProblemAssert.IsProblemAsync(await _client.GetAsync($"{Tiles}/0/0/0/"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData($"{Tiles}/3/1/1?event_type=bombing", "event_type")]
    [InlineData("/collections/incidents/clusters?zoom=x", "zoom")]
    [InlineData("/collections/incidents/hexbins?bbox=0,0,1,1&size=-5", "size")]
    [InlineData("/collections/incidents/hexbins?size=5000", "bbox")]
    [InlineData("/collections/incidents/hexbins?bbox=-180,-80,180,80&size=100", "size")]
    [InlineData("/collections/incidents/hexbins?bbox=0,-80,0,80&size=1", "size")] // no width, yet a column of 18 million hexagons
    public async Task Bad_tile_and_cluster_parameters_are_400_problems(string url, string parameter)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, parameter);
    }

    /// <summary>
    /// A zoom or size left out is said to be required: it was "'' is not a zoom level from 0 to 24", as if an
    /// empty value had been sent (audit).
    /// </summary>
    [Theory]
    [InlineData("/collections/incidents/clusters", "zoom: is required: a zoom level from 0 to 24")]
    [InlineData("/collections/incidents/clusters?zoom=", "zoom: is required: a zoom level from 0 to 24")]
    [InlineData("/collections/incidents/clusters?bbox=9,9,11,11", "zoom: is required: a zoom level from 0 to 24")]
    [InlineData("/collections/incidents/hexbins?bbox=9,9,11,11", "size: is required: the hexagon edge length, greater than 0")]
    [InlineData("/collections/incidents/hexbins?bbox=9,9,11,11&size=", "size: is required: the hexagon edge length, greater than 0")]
    public async Task A_missing_zoom_or_size_is_a_400_saying_it_is_required(string url, string detail)
    {
        var parameter = detail[..detail.IndexOf(':')];
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, parameter);
        Assert.StartsWith(detail, problem["detail"]!.GetValue<string>());
    }

    /// <summary>
    /// A hexagon so small that their number overflows a double was "makes about Infinity hexagons" (audit): it is
    /// too small, and the answer names the shortest edge this bbox takes, which is then answered.
    /// </summary>
    [Theory]
    [InlineData("1e-300")]
    [InlineData("4.9e-324")]
    [InlineData("0.001")]
    [InlineData("1.5m")]
    public async Task A_hexagon_too_small_for_the_bbox_is_a_400_naming_the_shortest_edge_it_takes(string size)
    {
        var problem = await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/hexbins?bbox=9,9,11,11&size={size}"), HttpStatusCode.BadRequest, "size");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.DoesNotContain("Infinity", detail);
        Assert.DoesNotContain("∞", detail);
        Assert.Contains("the maximum", detail);
        var shortest = System.Text.RegularExpressions.Regex.Match(detail, @"the edge must be at least ([0-9.]+) m, or give a smaller bbox$");
        Assert.True(shortest.Success, detail);
        if (size.StartsWith("1e-300") || size.StartsWith("4.9e")) Assert.StartsWith($"size: '{size}' is too small", detail);

        var answered = await _client.GetAsync($"/collections/incidents/hexbins?bbox=9,9,11,11&size={shortest.Groups[1].Value}");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    /// <summary>
    /// The edge a too-small size's 400 names is the shortest the bbox takes, to three significant digits: it is
    /// answered, and the edge one digit shorter is refused. Solved without the grid's whole columns and rows, it named
    /// 2,390 m for bbox=35,32,43,38, where 2,380 m was answered (tiles hunter).
    /// </summary>
    [Theory]
    [InlineData("35,32,43,38")]
    [InlineData("0,0,0.001,50")]
    [InlineData("-180,85,180,90")]
    [InlineData("9,9,11,11")]
    [InlineData("36.7,34.7,36.8,34.8")]
    public async Task The_shortest_edge_a_400_names_is_answered_and_one_a_digit_shorter_is_not(string bbox)
    {
        var problem = await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/hexbins?bbox={bbox}&size=1.5m"), HttpStatusCode.BadRequest, "size");
        var detail = problem["detail"]!.GetValue<string>();
        var shortest = System.Text.RegularExpressions.Regex.Match(detail, @"the edge must be at least ([0-9.]+) m, or give a smaller bbox$");
        Assert.True(shortest.Success, detail);
        var edge = double.Parse(shortest.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var shorter = edge - Math.Pow(10, Math.Floor(Math.Log10(edge)) - 2);

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/incidents/hexbins?bbox={bbox}&size={edge.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}")).StatusCode);
        await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/hexbins?bbox={bbox}&size={shorter.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}"), HttpStatusCode.BadRequest, "size");
    }

    /// <summary>
    /// An edge under a metre is a 400 naming size. PostGIS numbers its hexagons in 32-bit integers: at 1 mm the point of
    /// an incident 4,000 km from the origin got a hexagon that did not hold it, and the incident was left out of the bins
    /// without a word; at 1e-200 PostgreSQL's arithmetic overflowed, a 400 naming no parameter (tiles hunter).
    /// </summary>
    [Theory]
    [InlineData("36.719999,34.729999,36.720001,34.730001", "0.001")]
    [InlineData("0,0,0,0", "0.000001")]
    [InlineData("36.72,34.73,36.72,34.73", "5e-324")]
    [InlineData("0,0,0,0", "1e-200")]
    [InlineData("0,0,0,0", "0.99m")]
    public async Task An_edge_under_a_metre_is_a_400_naming_size(string bbox, string size)
    {
        var problem = await ProblemAssert.IsProblemAsync(
            await _client.GetAsync($"/collections/incidents/hexbins?bbox={bbox}&size={size}"), HttpStatusCode.BadRequest, "size");
        Assert.Equal($"size: '{size}' is shorter than the minimum hexagon edge, 1 m", problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/collections/incidents/hexbins?bbox={bbox}&size=1m")).StatusCode);
    }

    /// <summary>
    /// Given twice, a parameter the endpoint reads itself is refused as any other is, saying so: zoom=3&amp;zoom=4 was
    /// read as one value, "'3,4' is not a zoom level from 0 to 24".
    /// </summary>
    [Theory]
    [InlineData("/collections/incidents/clusters?zoom=3&zoom=4", "zoom")]
    [InlineData("/collections/incidents/clusters?zoom=3&zoom=3", "zoom")]
    [InlineData("/collections/incidents/clusters?zoom=3&f=json&f=json", "f")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5km&size=10km", "size")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5km&f=json&f=geojson", "f")]
    [InlineData($"{Tiles}/0/0/0?f=mvt&f=mvt", "f")] // was "'mvt,mvt' is not offered here; give f=mvt"
    [InlineData($"{Tiles}/tilejson.json?f=json&f=json", "f")]
    public async Task A_cluster_or_hexbin_parameter_given_twice_is_a_400_saying_so(string url, string parameter)
    {
        var problem = await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, parameter);
        Assert.Equal($"{parameter}: is given 2 times; give it once", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tilejson_points_maplibre_at_tiles_that_keep_the_filters()
    {
        var tilejson = await _client.GetJsonAsync($"{Tiles}/tilejson.json?event_type=battles");

        Assert.Equal("3.0.0", tilejson["tilejson"]!.GetValue<string>());
        var template = tilejson["tiles"]![0]!.GetValue<string>();
        Assert.EndsWith("/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}?event_type=battles", template);
        Assert.Equal(["clusters", "incidents"], tilejson["vector_layers"]!.AsArray().Select(l => l!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Tilejson_keeps_braces_in_filters_out_of_maplibres_placeholders()
    {
        // Browsers send braces in a query unencoded (HttpClient would encode them: the test server takes the raw query).
        var context = await api.Server.SendAsync(c =>
        {
            c.Request.Method = "GET";
            c.Request.Path = $"{Tiles}/tilejson.json";
            c.Request.QueryString = new Microsoft.AspNetCore.Http.QueryString("?q={z}%7Bx%7D");
            c.Request.Headers["X-API-Key"] = api.Key;
        });
        Assert.Equal(200, context.Response.StatusCode);
        var template = JsonNode.Parse(context.Response.Body)!["tiles"]![0]!.GetValue<string>();

        Assert.EndsWith("/{z}/{y}/{x}?q=%7Bz%7D%7Bx%7D", template);
        Assert.Equal(3, template.Count(c => c == '{'));
    }

    [Fact]
    public async Task Tilejson_bounds_stay_within_a_bbox_filter()
    {
        // Data on both sides of the box: the extent alone reaches past it, as it did in the bounds.
        await CreateTaggedAsync(29, 29, 1);
        await CreateTaggedAsync(41, 41, 1);

        var bounds = (await _client.GetJsonAsync($"{Tiles}/tilejson.json?bbox=30,30,40,40"))["bounds"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();

        Assert.InRange(bounds[0], 30, 40);
        Assert.InRange(bounds[1], 30, 40);
        Assert.InRange(bounds[2], 30, 40);
        Assert.InRange(bounds[3], 30, 40);
    }

    [Theory]
    [InlineData("30,30,40,40", new[] { -50.0, -60, 50, 60 }, new[] { 30.0, 30, 40, 40 })]
    [InlineData("30,30,40,40", new[] { 35.0, 20, 50, 38 }, new[] { 35.0, 30, 40, 38 })]
    [InlineData(null, new[] { -50.0, -89, 50, 60 }, new[] { -50.0, -85.0511, 50, 60 })]
    [InlineData("0,80,10,90", new[] { -50.0, -60, 50, 89 }, new[] { 0.0, 80, 10, 85.0511 })]
    // Beside all the data: the bbox itself (its tiles are empty).
    [InlineData("100,0,110,10", new[] { -50.0, -60, 50, 60 }, new[] { 100.0, 0, 110, 10 })]
    // Over the antimeridian: TileJSON bounds cannot cross it, so the longitudes in between are kept.
    [InlineData("170,-10,-170,10", new[] { -180.0, -60, 180, 60 }, new[] { -180.0, -10, 180, 10 })]
    [InlineData("170,-10,-170,10", new[] { -175.0, -60, 175, 60 }, new[] { -175.0, -10, 175, 10 })]
    // Over the antimeridian with data on one side only: that side.
    [InlineData("170,-10,-170,10", new[] { 0.0, -60, 175, 60 }, new[] { 170.0, -10, 175, 10 })]
    public void Tilejson_bounds_are_the_data_extent_within_the_bbox(string? bbox, double[] extent, double[] expected)
    {
        var boxes = bbox is null ? null : IncidentMap.Api.Querying.QueryParser.Parse(
            new Dictionary<string, string> { ["bbox"] = bbox }, DateTimeOffset.UtcNow).Query!.Bbox;

        Assert.Equal(expected, IncidentMap.Api.Tiles.TilesApi.Bounds(extent, boxes));
    }

    [Theory]
    [InlineData($"{Tiles}/tilejson.json?f=json")]
    [InlineData("/collections/incidents/clusters?zoom=3&f=json")]
    [InlineData("/collections/incidents/clusters?zoom=3&f=geojson")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5km&f=json")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5km&f=geojson")]
    [InlineData($"{Tiles}/0/0/0?f=mvt")]
    public async Task Map_endpoints_take_f_naming_the_format_they_answer_in(string url)
    {
        // Clients that always send f (OGC API clients send f=json to every JSON resource) were refused.
        await _client.CreateAsync(Features.Valid());
        var response = await _client.GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData($"{Tiles}/tilejson.json?f=csv")]
    [InlineData($"{Tiles}/tilejson.json?f=mvt")]
    [InlineData("/collections/incidents/clusters?zoom=3&f=csv")]
    [InlineData("/collections/incidents/hexbins?bbox=35,33,36,34&size=5km&f=html")]
    [InlineData($"{Tiles}/0/0/0?f=json")]
    [InlineData($"{Tiles}/0/0/0?f=mvt&f=mvt")]
    public async Task Other_formats_on_map_endpoints_are_400s_naming_f(string url)
    {
        await ProblemAssert.IsProblemAsync(await _client.GetAsync(url), HttpStatusCode.BadRequest, "f");
    }

    [Fact]
    public async Task Tilejson_asked_with_f_json_leaves_f_out_of_the_tile_urls()
    {
        var template = (await _client.GetJsonAsync($"{Tiles}/tilejson.json?f=json&event_type=battles"))["tiles"]![0]!.GetValue<string>();

        Assert.EndsWith("/{z}/{y}/{x}?event_type=battles", template);
    }

    [Fact]
    public async Task Tiles_and_geojson_are_compressed_when_asked()
    {
        foreach (var (url, encoding) in new[] { ("/collections/incidents/items?limit=50", "gzip"), ($"{Tiles}/0/0/0", "br") })
        {
            await _client.CreateAsync(Features.Valid());
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(encoding));
            var response = await _client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(encoding, response.Content.Headers.ContentEncoding);
        }
    }
}

[Collection(SerialCollection.Name)]
public sealed class TileRevalidationTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private const string Tiles = "/collections/incidents/tiles/WebMercatorQuad";

    [Fact]
    public async Task A_tile_is_revalidated_with_304_until_the_data_changes()
    {
        var first = await _client.GetAsync($"{Tiles}/3/4/4");
        Assert.False(string.IsNullOrEmpty(first.Headers.CacheControl?.ToString()));
        var etag = await _client.SettledETagAsync($"{Tiles}/3/4/4");

        var again = new HttpRequestMessage(HttpMethod.Get, $"{Tiles}/3/4/4");
        again.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.NotModified, (await _client.SendAsync(again)).StatusCode);

        await _client.CreateAsync(Features.Valid());
        var after = new HttpRequestMessage(HttpMethod.Get, $"{Tiles}/3/4/4");
        after.Headers.IfNoneMatch.Add(etag);
        var changed = await _client.SendAsync(after);
        Assert.NotEqual(HttpStatusCode.NotModified, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag);
    }
}
