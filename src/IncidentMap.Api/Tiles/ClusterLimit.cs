using IncidentMap.Api.Querying;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// Tells, before the clusters are computed, a /clusters request whose answer would be refused for
/// holding more than the cap. Computed first, zoom 24 over the whole world took 2.5 s of a database
/// core on a million incidents (5 s on a busy machine) only to answer 400, and anonymous clients could
/// ask again and again.
/// <para>
/// A cluster is a cell of the zoom's grid holding a matching incident, so there are no more clusters
/// than cells under the area searched (<see cref="CellsUnder"/>), nor than matching incidents. A map
/// asks for its viewport (some thousands of cells at any zoom): that bound alone lets it through
/// with no query. Over more cells than the cap, the first matching incidents the plan finds are counted into cells,
/// a sample of <see cref="SampleRows"/> at most (<see cref="TileSql.ClusterCount"/>): more cells
/// than the cap there is a refusal certain without the rest (at zoom 24 nearly every incident has a
/// cell of its own); otherwise (few incidents, or many in few cells) the clusters are computed, and
/// their count is checked as before.
/// </para>
/// </summary>
public static class ClusterLimit
{
    /// <summary>
    /// The most matching incidents counted into cells: twice the cap. At the deepest zooms nearly every
    /// incident has a cell of its own; over the bench's million incidents worldwide, 100,002 of them fill
    /// more than 50,000 cells from zoom 12 on (50,001 of them only from zoom 20). A request that is not
    /// refused pays for this read on top (0.2–0.3 s for the whole world at zoom 5, about a sixth more).
    /// </summary>
    public static int SampleRows(int maxClusters) => 2 * (maxClusters + 1);

    /// <summary>Whether the clusters of <paramref name="query"/> at <paramref name="zoom"/> are known to number more than <paramref name="maxClusters"/>.</summary>
    public static async Task<bool> ExceededAsync(IncidentReader reader, IncidentQuery query, int zoom, int maxClusters, CancellationToken ct,
        bool byWindowIndex = false)
    {
        if (CellsUnder(query, zoom) <= maxClusters) return false;
        // From the grid, the exact count costs a tenth of the clusters themselves (the world at zoom 7: 91,264
        // clusters, 0.9 s to compute and refuse).
        if (TileSql.GridClusterCount(query, zoom) is var (gridSql, gridParameters))
            return await reader.ScalarAsync<long>(gridSql, gridParameters, ct) > maxClusters;
        var (sql, parameters) = TileSql.ClusterCount(query, zoom, SampleRows(maxClusters), byWindowIndex);
        return await reader.ScalarAsync<long>(sql, parameters, ct) > maxClusters;
    }

    /// <summary>
    /// Cells of the zoom's grid under the area the query searches: its bbox, the box round its radius,
    /// the smaller of the two, or the world. Clusters form where the incidents' representative points lie,
    /// and a line or polygon may reach into the area from a point outside it; a bound that such shapes
    /// exceed only costs them the sample, and the clusters' own count still decides.
    /// </summary>
    public static double CellsUnder(IncidentQuery query, int zoom)
    {
        var cells = Cells([new Box(-180, -90, 180, 90)], zoom);
        // Another spelling of the area's edge (a Box.Alias, a line) adds a row of cells at most: not counted.
        if (query.Bbox is { } bbox) cells = Math.Min(cells, Cells(bbox.Where(b => !b.Alias), zoom));
        if (query is { Near: { } near, RadiusMetres: { } radius })
            cells = Math.Min(cells, Cells(RadiusCells.Bounds(near.Y, near.X, radius), zoom));
        return cells;
    }

    /// <summary>Cells of the zoom's grid (8×8 per tile) that the boxes touch, edges included.</summary>
    private static double Cells(IEnumerable<Box> boxes, int zoom)
    {
        var count = 1L << (zoom + TileSql.CellsPerTileShift);
        var cell = TileSql.WorldSize / count;
        long Index(double metres) => Math.Clamp((long)Math.Floor(metres / cell), 0, count - 1);
        return boxes.Sum(box =>
        {
            var (west, south) = TileSql.Mercator(box.MinLon, box.MinLat);
            var (east, north) = TileSql.Mercator(box.MaxLon, box.MaxLat);
            var columns = Index(east + TileSql.WorldHalf) - Index(west + TileSql.WorldHalf) + 1;
            var rows = Index(TileSql.WorldHalf - south) - Index(TileSql.WorldHalf - north) + 1;
            return (double)columns * rows;
        });
    }
}
