using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// A database of its own whose incidents lie where counting a box over grid cells could go wrong: on the
/// quarter-degree grid lines and a rounding error either side of them, at longitude ±180 and at the poles,
/// lines and polygons crossing into a box, and incidents of a month's precision that start before a window.
/// </summary>
public sealed class AreaCountDatabase : IAsyncLifetime
{
    private OwnDatabase _database = null!;

    public NpgsqlDataSource DataSource => _database.DataSource;

    /// <summary>Offsets from a grid line: none, the next doubles either side, a rounding error of the sums, a millimetre, a tenth of a degree.</summary>
    public static double[] Near(double line) =>
        [line, Math.BitDecrement(line), Math.BitIncrement(line), line - 3e-14, line + 3e-14, line - 1e-8, line + 1e-8, line - 0.1, line + 0.1];

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("areacount");
        await new Migrator(DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        GeometryTypeHandler.Register();

        var points = new List<(double Lon, double Lat)>();
        foreach (var lon in new[] { 10.0, 10.25, 10.5, 11.0 }.SelectMany(Near))
            foreach (var lat in new[] { 20.0, 20.5, 21.0 }.SelectMany(Near))
                points.Add((lon, lat));
        points.Add((10.015, 20.015)); // in the box smaller than a cell
        foreach (var lon in new[] { 180, Math.BitDecrement(180.0), 179.99999999999997, 179.9, -180, Math.BitIncrement(-180.0), -179.9 })
            foreach (var lat in new[] { -1, 0, 0.5, 1, 89.9, 90, -90 })
                points.Add((lon, lat));
        // Times: a day apart over 90 days from 2020-01-01, every fourth of a month's precision (it lasts to the month's end).
        await using var connection = await DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, time_precision, geom)
            SELECT 'Point ' || n, 'battles', timestamptz '2020-01-01' + (n % 90) * interval '1 day',
                   CASE WHEN n % 4 = 0 THEN 'month' ELSE 'exact' END, ST_SetSRID(ST_MakePoint(lon, lat), 4326)
            FROM unnest(@lons, @lats) WITH ORDINALITY AS p(lon, lat, n)
            """, new { lons = points.Select(p => p.Lon).ToArray(), lats = points.Select(p => p.Lat).ToArray() });
        // Scattered round the centres of the radius cases (one across the antimeridian, one far north), in
        // and out of their circles and cells, so that a cell wrongly taken as wholly inside shows.
        var random = new Random(2016);
        var scattered = new List<(double Lon, double Lat)>();
        foreach (var (lon, lat) in new[] { (10.5, 20.5), (179.9, 0.3), (30.0, 75.0) })
            for (var n = 0; n < 3_000; n++)
                scattered.Add((Math.Clamp(lon + (random.NextDouble() * 2 - 1) * 1.6 / Math.Cos(lat * Math.PI / 180), -180, 180), lat + (random.NextDouble() * 2 - 1) * 1.6));
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom)
            SELECT 'Scattered ' || n, 'riots', timestamptz '2020-01-01' + (n % 2000) * interval '1 hour', ST_SetSRID(ST_MakePoint(lon, lat), 4326)
            FROM unnest(@lons, @lats) WITH ORDINALITY AS p(lon, lat, n)
            """, new { lons = scattered.Select(p => p.Lon).ToArray(), lats = scattered.Select(p => p.Lat).ToArray() });
        // Lines and polygons, inside, crossing an edge from outside, and outside.
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom) VALUES
              ('Road inside', 'battles', '2020-02-01', ST_GeomFromText('LINESTRING(10.3 20.3, 10.6 20.6)', 4326)),
              ('Road crossing in', 'battles', '2020-02-01', ST_GeomFromText('LINESTRING(9.5 20.7, 10.2 20.7)', 4326)),
              ('Area crossing in', 'battles', '2020-02-01', ST_GeomFromText('POLYGON((10.9 20.9, 11.5 20.9, 11.5 21.5, 10.9 21.5, 10.9 20.9))', 4326)),
              ('Road outside', 'battles', '2020-02-01', ST_GeomFromText('LINESTRING(12 22, 13 23)', 4326)),
              ('Two points', 'battles', '2020-02-01', ST_GeomFromText('MULTIPOINT((10.4 20.4), (30 30))', 4326)),
              ('Road to the circle', 'battles', '2020-02-01', ST_GeomFromText('LINESTRING(9.0 20.5, 9.98 20.5)', 4326))
            """);
        await connection.ExecuteAsync("VACUUM ANALYZE incidents");
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();
}

/// <summary>
/// numberMatched of a bbox (and a time window) counts the cells inside the box from the index alone and
/// tests only the rim's incidents (migration 0037, <see cref="CellSplit"/>); a time window alone counts the
/// incidents starting in it from the time index. It must be the same number the plain count gives, for
/// every box: on grid lines or a rounding error off them, across the antimeridian, at the poles, too small
/// to hold a cell.
/// </summary>
public sealed class AreaCountTests(AreaCountDatabase database) : IClassFixture<AreaCountDatabase>
{
    public static TheoryData<string> Boxes() => new()
    {
        "10,20,11,21", "10.25,20,10.5,20.5", "10.1,20.1,10.9,20.9", "9.9,19.9,11.1,21.1",
        $"{Math.BitIncrement(10.0):R},{Math.BitIncrement(20.0):R},{Math.BitDecrement(11.0):R},{Math.BitDecrement(21.0):R}",
        $"{10 - 3e-14:R},{20 + 3e-14:R},{11 + 3e-14:R},{21 - 3e-14:R}",
        "10.01,20.01,10.02,20.02", // smaller than a cell: counted as before
        "-180,-90,180,90", "179,-1,-179,1", "179.5,-1,180,1", "-180,-1,-179.5,1", "-180,89,180,90", "-180,-90,180,-89",
        "0,0,180,90", "-180,0,0,90",
        "", // a time window alone
    };

    private static readonly string?[] Windows = [null, "2020-01-20T00:00:00Z/2020-03-01T00:00:00Z", "../2020-02-10T00:00:00Z", "2020-02-15T12:00:00Z/.."];

    [Theory]
    [MemberData(nameof(Boxes))]
    public async Task A_box_counts_what_the_plain_count_does(string bbox)
    {
        foreach (var window in Windows)
        {
            var sql = await AssertCountedAsPlainAsync(bbox == "" ? "" : $"bbox={bbox}", window);
            Assert.Equal(bbox is not ("10.01,20.01,10.02,20.02" or ""), sql.Contains("cells_rim", StringComparison.Ordinal));
            // A window with a start counts those starting in it apart from those starting before it.
            Assert.Equal(window?.StartsWith("20", StringComparison.Ordinal) == true && bbox != "10.01,20.01,10.02,20.02",
                sql.Contains("i.occurred_at < @from AND", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("lat=20.5&lon=10.5&radius=50km", true)]
    [InlineData("lat=20.5&lon=10.5&radius=120km", true)]
    [InlineData("lat=20.37&lon=10.61&radius=80km", true)]
    [InlineData("lat=20.5&lon=10.5&radius=20km", false)] // no cell wholly inside: counted as before
    [InlineData("lat=0.3&lon=179.9&radius=100km", true)] // across the antimeridian
    [InlineData("lat=75&lon=30&radius=150km", true)]
    [InlineData("lat=75&lon=30&radius=500km", true)]
    [InlineData("lat=75&lon=30&radius=1000km", false)] // its box would hold over 10,000 cells: counted as before
    [InlineData("lat=89.5&lon=30&radius=100km", false)] // near a pole: counted as before
    public async Task A_radius_counts_what_the_plain_count_does(string circle, bool byCells)
    {
        foreach (var window in Windows)
        {
            var sql = await AssertCountedAsPlainAsync(circle, window);
            Assert.Equal(byCells, sql.Contains("cells_rim", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("POLYGON((10 20, 11 20, 11 21, 10 21, 10 20))", true)] // on grid lines
    [InlineData("POLYGON((10.5 19.4, 11.6 20.5, 10.5 21.6, 9.4 20.5, 10.5 19.4))", true)] // a diamond round the scattered points
    [InlineData("POLYGON((9.5 19.5, 11.5 19.5, 11.5 21.5, 9.5 21.5, 9.5 19.5), (10.3 20.3, 10.8 20.3, 10.8 20.8, 10.3 20.8, 10.3 20.3))", true)] // a hole
    [InlineData("MULTIPOLYGON(((10 20, 10.5 20, 10.5 20.5, 10 20.5, 10 20)), ((10.75 20.75, 11.25 20.75, 11.25 21.25, 10.75 21.25, 10.75 20.75)))", true)]
    [InlineData("POLYGON((10.25 20, 10.5 20, 10.5 20.25, 10.25 20.25, 10.25 20))", true)] // one cell exactly
    // Up to the antimeridian: its edge on 180 is also the meridian -180 (QueryParser.EdgeAliases), whose
    // incidents lie outside the shape's cells, so it is counted from the table.
    [InlineData("POLYGON((179.5 -1, 180 -1, 180 1, 179.5 1, 179.5 -1))", false)]
    [InlineData("POLYGON((179.5 -1, 179.9 -1, 179.9 1, 179.5 1, 179.5 -1))", true)] // short of it
    [InlineData("MULTIPOLYGON(((10 20, 10.5 20, 10.5 20.5, 10 20.5, 10 20)), ((179.5 -1, 180 -1, 180 1, 179.5 1, 179.5 -1)))", false)] // a box of 58,000 cells
    [InlineData("POLYGON((10.01 20.01, 10.2 20.01, 10.2 20.2, 10.01 20.01))", false)] // no cell inside
    [InlineData("LINESTRING(9 20.5, 12 20.5)", false)]
    public async Task A_shape_counts_what_the_plain_count_does(string wkt, bool byCells)
    {
        var shape = new NetTopologySuite.IO.WKTReader().Read(wkt);
        shape.SRID = 4326;
        foreach (var window in Windows)
        {
            var sql = await AssertCountedAsPlainAsync("", window, shape);
            Assert.Equal(byCells, sql.Contains("cells_rim", StringComparison.Ordinal));
        }
    }

    /// <summary>Counts as numberMatched does and as the plain count does, and checks they agree; the first's SQL.</summary>
    private async Task<string> AssertCountedAsPlainAsync(string parameters, string? window, NetTopologySuite.Geometries.Geometry? intersects = null)
    {
        var values = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(parameters).ToDictionary(p => p.Key, p => p.Value.ToString());
        if (window is not null) values["datetime"] = window;
        var (query, errors) = QueryParser.Parse(values, DateTimeOffset.UtcNow, intersects: intersects);
        Assert.True(query is not null, string.Join("; ", errors));

        var (sql, counting) = IncidentSqlBuilder.Count(query!);
        var plain = new DynamicParameters();
        var plainSql = $"SELECT count(*) FROM incidents i WHERE {string.Join(" AND ", IncidentSqlBuilder.Where(query!, plain))}";
        await using var connection = await database.DataSource.OpenConnectionAsync();
        var (counted, expected) = (await connection.ExecuteScalarAsync<long>(sql, counting), await connection.ExecuteScalarAsync<long>(plainSql, plain));

        Assert.True(expected == counted, $"{parameters} datetime={window}: {counted} counted, {expected} expected\n{sql}");
        Assert.True(expected > 0 || window is not null, $"{parameters} {intersects}: nothing to count");
        return sql;
    }

    [Fact]
    public async Task The_boxes_hold_the_tricky_incidents()
    {
        // Guards the test above: its boxes hold incidents on and beside their edges, and some in the window.
        await using var connection = await database.DataSource.OpenConnectionAsync();
        const string points = "(SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM incidents WHERE GeometryType(geom) = 'POINT' OFFSET 0) p";
        var edge = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {points} WHERE x = 10 AND y BETWEEN 20 AND 21");
        var beside = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {points} WHERE x < 10 AND x > 10 - 1e-13");
        var antimeridian = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {points} WHERE x = 180");
        Assert.True(edge > 0 && beside > 0 && antimeridian > 0, $"{edge}, {beside}, {antimeridian}");
    }

    [Fact]
    public async Task A_cell_holds_exactly_the_points_of_its_square_as_the_service_computes_it()
    {
        var random = new Random(37);
        var lines = Enumerable.Range(0, 1441).Select(n => n / 4.0 - 180).ToArray();
        var lons = lines.SelectMany(AreaCountDatabase.Near).Concat(Enumerable.Range(0, 2000).Select(_ => random.NextDouble() * 360 - 180))
            .Where(l => l is >= -180 and <= 180).ToArray();
        var lats = lons.Select((_, n) => lines[n % 721] / 2).Select(l => AreaCountDatabase.Near(l)[random.Next(9)]).Select(l => Math.Clamp(l, -90, 90)).ToArray();

        await using var connection = await database.DataSource.OpenConnectionAsync();
        var cells = (await connection.QueryAsync<int>("""
            SELECT incident_cell(ST_SetSRID(ST_MakePoint(lon, lat), 4326)) FROM unnest(@lons, @lats) WITH ORDINALITY AS p(lon, lat, n) ORDER BY n
            """, new { lons, lats })).ToArray();

        for (var n = 0; n < lons.Length; n++)
        {
            var (row, column) = (cells[n] / RadiusCells.Columns, cells[n] % RadiusCells.Columns);
            var (south, west) = (row / 4.0 - 90, column / 4.0 - 180);
            Assert.True(west <= lons[n] && (lons[n] < west + 0.25 || column == RadiusCells.Columns - 1 && lons[n] <= 180), $"longitude {lons[n]:R} in column {column}");
            Assert.True(south <= lats[n] && (lats[n] < south + 0.25 || row == RadiusCells.Rows - 1 && lats[n] <= 90), $"latitude {lats[n]:R} in row {row}");
            Assert.Equal((row, column), (RadiusCells.Row(lats[n]), RadiusCells.Column(lons[n])));
        }
    }
}
