using static IncidentMap.Api.Querying.RadiusCells;

namespace IncidentMap.Api.Querying;

/// <summary>
/// An area (a bbox, or a radius's circle) over the quarter-degree grid of <c>incidents.cell</c> (migration
/// 0037), for counting what it holds: the cells wholly inside it, whose points all match, so the index
/// (cell, occurred_at, id) counts them without reading the table, and the cells on its rim, whose points
/// are read and tested. Lines, polygons and multipoints (cell -1) are always tested, apart.
/// A cell (row, column) holds exactly the points of [west, west + 0.25) × [south, south + 0.25), the last
/// column and the last row closed on their east and north sides (longitude 180, latitude 90).
/// </summary>
/// <param name="From">First cell of each run of inside cells along a row.</param>
/// <param name="To">Last cell of each run (inclusive).</param>
/// <param name="Rim">Every other cell a point of the area can lie in.</param>
public sealed record CellSplit(int[] From, int[] To, int[] Rim)
{
    /// <summary>
    /// More rim cells than this (a box thinner than a cell, across half the world), or more cells than this
    /// in a circle's box (a circle of 1,000 km beyond about 47° of latitude), and counting reads the table as before.
    /// </summary>
    public const int MaxRim = 10_000;

    // A type of this namespace is named Columns too.
    private const int Columns = RadiusCells.Columns;

    /// <summary>The split of <paramref name="boxes"/>, or null when no cell lies wholly inside one or the rim is too long.</summary>
    public static CellSplit? OfBoxes(IReadOnlyList<Box> boxes)
    {
        var grids = new List<Grid>();
        foreach (var box in boxes)
        {
            if (!(box.MinLon <= box.MaxLon && box.MinLat <= box.MaxLat)) return null;
            var (firstRow, lastRow, firstColumn, lastColumn) = (Row(box.MinLat), Row(box.MaxLat), Column(box.MinLon), Column(box.MaxLon));
            // Inside when the cell's south and west edges are not outside the box, nor its north and east edges.
            var inside = new Grid(
                South(firstRow) >= box.MinLat ? firstRow : firstRow + 1, South(lastRow) + 1.0 / PerDegree <= box.MaxLat ? lastRow : lastRow - 1,
                West(firstColumn) >= box.MinLon ? firstColumn : firstColumn + 1, West(lastColumn) + 1.0 / PerDegree <= box.MaxLon ? lastColumn : lastColumn - 1);
            grids.Add(new Grid(firstRow, lastRow, firstColumn, lastColumn) with { Inside = inside.IsEmpty ? null : inside });
        }
        var insides = grids.Where(g => g.Inside is not null).Select(g => g.Inside!).ToList();
        if (insides.Count == 0) return null;
        if (grids.Sum(g => g.Cells - (g.Inside?.Cells ?? 0)) > MaxRim) return null;

        var rim = new HashSet<int>();
        foreach (var grid in grids)
            for (var row = grid.FirstRow; row <= grid.LastRow; row++)
                for (var column = grid.FirstColumn; column <= grid.LastColumn; column++)
                {
                    // Jump over this box's inside; another box's inside is not rim either.
                    if (grid.Inside is { } own && own.Holds(row, column)) column = own.LastColumn;
                    else if (!insides.Any(i => i.Holds(row, column))) rim.Add(row * Columns + column);
                }
        var runs = insides.SelectMany(i => Enumerable.Range(i.FirstRow, i.LastRow - i.FirstRow + 1)
            .Select(row => (row * Columns + i.FirstColumn, row * Columns + i.LastColumn)));
        return Of(runs, rim);
    }

    /// <summary>
    /// The split of the geodesic circle of <paramref name="metres"/> round (lat, lon), or null where
    /// <see cref="RadiusCells.Inside"/> gives none (near a pole, over a quarter of the world wide, no cell
    /// inside) or the rim is too long.
    /// </summary>
    public static CellSplit? OfCircle(double lat, double lon, double metres) =>
        RadiusCells.Inside(lat, lon, metres, MaxRim) is { Inside.Count: > 0 } cells ? Of(cells.Inside.Select(c => (c, c)), cells.Rim) : null;

    /// <summary>
    /// More cells than this in a shape's box and its split is not worth working out: each is tested
    /// against the shape here, in the request (a prepared polygon answers in microseconds).
    /// </summary>
    public const int MaxShapeCells = 4_000;

    /// <summary>
    /// The split of a shape that incidents must intersect (a search's polygon): cells whose closed square
    /// the shape covers are inside; cells whose square it touches are the rim; the others cannot hold a
    /// match. NTS decides covering with exact orientation tests, as GEOS decides a point's intersection,
    /// so a point on the shape's edge is inside it for both (AreaCountTests puts points on such edges). Null for a shape with no cell inside (a line, a point, a small
    /// polygon), or over <see cref="MaxShapeCells"/> in its box.
    /// </summary>
    public static CellSplit? OfShape(NetTopologySuite.Geometries.Geometry shape)
    {
        if (shape.Dimension != NetTopologySuite.Geometries.Dimension.Surface || shape.IsEmpty) return null;
        var box = shape.EnvelopeInternal;
        var (firstRow, lastRow, firstColumn, lastColumn) = (Row(box.MinY), Row(box.MaxY), Column(box.MinX), Column(box.MaxX));
        if ((long)(lastRow - firstRow + 1) * (lastColumn - firstColumn + 1) > MaxShapeCells) return null;

        var prepared = NetTopologySuite.Geometries.Prepared.PreparedGeometryFactory.Prepare(shape);
        var (inside, rim) = (new List<(int, int)>(), new List<int>());
        for (var row = firstRow; row <= lastRow; row++)
            for (var column = firstColumn; column <= lastColumn; column++)
            {
                var square = shape.Factory.ToGeometry(new NetTopologySuite.Geometries.Envelope(
                    West(column), West(column) + 1.0 / PerDegree, South(row), South(row) + 1.0 / PerDegree));
                var cell = row * Columns + column;
                if (prepared.Covers(square)) inside.Add((cell, cell));
                else if (prepared.Intersects(square)) rim.Add(cell);
            }
        // No rim can pass MaxRim: it is part of a box of at most MaxShapeCells.
        return inside.Count > 0 ? Of(inside, rim) : null;
    }

    /// <summary>
    /// The inside as runs of consecutive cells along each row, those that touch or overlap merged (so no
    /// cell is counted twice, and a run never spans two rows), and the rim in order.
    /// </summary>
    private static CellSplit Of(IEnumerable<(int From, int To)> inside, IEnumerable<int> rim)
    {
        var runs = new List<(int From, int To)>();
        foreach (var run in inside.OrderBy(r => r.From))
            if (runs.Count > 0 && run.From <= runs[^1].To + 1 && run.From / Columns == runs[^1].From / Columns)
                runs[^1] = (runs[^1].From, Math.Max(runs[^1].To, run.To));
            else runs.Add(run);
        return new CellSplit(runs.Select(r => r.From).ToArray(), runs.Select(r => r.To).ToArray(), rim.Distinct().Order().ToArray());
    }

    private sealed record Grid(int FirstRow, int LastRow, int FirstColumn, int LastColumn)
    {
        public Grid? Inside { get; init; }

        public bool IsEmpty => FirstRow > LastRow || FirstColumn > LastColumn;

        public long Cells => IsEmpty ? 0 : (long)(LastRow - FirstRow + 1) * (LastColumn - FirstColumn + 1);

        public bool Holds(int row, int column) => row >= FirstRow && row <= LastRow && column >= FirstColumn && column <= LastColumn;
    }
}
