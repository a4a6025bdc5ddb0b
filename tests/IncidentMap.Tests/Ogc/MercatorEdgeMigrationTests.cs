using Dapper;
using IncidentMap.Api.Tiles;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// Migration 0027 recomputes the Web Mercator copies of incidents stored before it: a point on the
/// map's edge then had none, and so was on no tile. A database of its own, migrated in two steps.
/// </summary>
public sealed class MercatorEdgeMigrationTests() : MigrationTest("edge", "0027")
{
    [Fact]
    public async Task Points_stored_on_the_edge_of_the_map_get_their_web_mercator_point()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom)
            SELECT 'edge ' || lat, 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(10.123, lat), 4326)
            FROM unnest(ARRAY[85.0511287798, -85.0511287798, 85.0511287798066, 85.06, 34.7]) AS lat
            """);

        await MigrateAsync();

        var points = (await connection.QueryAsync<(string Title, double? Y)>(
            "SELECT title, CASE WHEN NOT ST_IsEmpty(point_3857) THEN ST_Y(point_3857) END FROM incidents ORDER BY id")).ToList();
        const double Edge = TileSql.WorldHalf;
        Assert.Equal(Edge, Assert.NotNull(points[0].Y), 1e-4);
        Assert.Equal(-Edge, Assert.NotNull(points[1].Y), 1e-4);
        Assert.Equal(Edge, Assert.NotNull(points[2].Y), 1e-4);
        Assert.Null(points[3].Y);                                  // polar: on no tile, as before
        Assert.NotNull(points[4].Y);
        // The tile's copy too, which the incident tiles draw.
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM incidents WHERE ST_IsEmpty(geom_3857) AND title <> 'edge 85.06'"));
    }
}
