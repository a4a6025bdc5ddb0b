namespace IncidentMap.Api.Querying;

/// <summary>
/// The quarter-degree grid of <c>incident_cell(geometry)</c> (migrations 0011 and 0037): which cells a geodesic
/// circle or a bbox can touch, so a newest-first page of a radius or a map's view reads only those cells, each in time order.
/// </summary>
public static class RadiusCells
{
    internal const int PerDegree = 4, Rows = 180 * PerDegree, Columns = 360 * PerDegree;

    /// <summary>The cell of shapes other than points (in the same index, in time order).</summary>
    public const int OtherShapes = -1;

    /// <summary>More cells than this and merging them costs more than sorting the circle's candidates.</summary>
    public const int MaxCells = 36;

    /// <summary>
    /// Smaller circles hold few candidates, which the GiST index finds and a sort orders cheaply; a cell
    /// (about 28 km wide) would be mostly outside them.
    /// </summary>
    public const double MinRadiusMetres = 10_000;

    /// <summary>Shortest length of a degree of latitude on WGS 84 (at the equator), in metres.</summary>
    private const double MinMetresPerDegreeLatitude = 110_574;

    /// <summary>Length of a degree of longitude on the equator (the longest parallel), in metres.</summary>
    private const double MetresPerDegreeLongitudeAtEquator = 111_319.49;

    /// <summary>
    /// Every cell holding a point within <paramref name="metres"/> of (lat, lon), or null when the circle
    /// is smaller than <see cref="MinRadiusMetres"/>, needs more than <see cref="MaxCells"/> cells or comes near a pole. A point within r lies within
    /// r / 110,574 m of latitude (the meridian is the shortest way between parallels), and every point on
    /// the way stays below that latitude φ, where a degree of longitude is at least 111,319 m × cos φ.
    /// Bounds are widened by 1% against rounding.
    /// </summary>
    public static int[]? Covering(double lat, double lon, double metres) =>
        metres < MinRadiusMetres || Touched(lat, lon, metres, MaxCells) is not { } touched ? null : touched.Select(c => c.Cell).Distinct().ToArray();

    /// <summary>
    /// Smaller boxes hold few candidates, which the GiST index finds and a sort orders cheaply; walking the
    /// cells under them would read mostly incidents outside them (a cell is a quarter of a degree).
    /// </summary>
    public const double MinBoxDegrees = 0.1;

    /// <summary>
    /// A box covering less than this share of a cell leaves a sliver of it: walking the whole cell in time order
    /// for the few incidents in the sliver would read mostly others (a box whose north or east edge lies on a grid
    /// line, as round numbers do, touches a row or column of cells along that line alone).
    /// </summary>
    public const double SliverShare = 0.1;

    /// <summary>
    /// A cell of a merged page (a radius's or a box's); <paramref name="Sliver"/> is the part of the cell a box covers,
    /// when that is less than <see cref="SliverShare"/> of it (a closed box holding every point of the cell that lies
    /// in the box), and null for a cell walked whole.
    /// </summary>
    public sealed record MergedCell(int Cell, Box? Sliver);

    /// <summary>
    /// Every cell holding a point of the boxes (closed: a point on an edge is in a box), in order, or null when a box
    /// is narrower or lower than <see cref="MinBoxDegrees"/>, or the boxes need more than <see cref="MaxCells"/> cells.
    /// A cell that two boxes touch is never a sliver.
    /// </summary>
    public static List<MergedCell>? CoveringBoxes(IReadOnlyList<Box> boxes)
    {
        var cells = new Dictionary<int, Box?>();
        foreach (var box in boxes)
        {
            if (!(box.MaxLon - box.MinLon >= MinBoxDegrees && box.MaxLat - box.MinLat >= MinBoxDegrees)) return null;
            var (firstRow, lastRow, firstColumn, lastColumn) = (Row(box.MinLat), Row(box.MaxLat), Column(box.MinLon), Column(box.MaxLon));
            if ((lastRow - firstRow + 1) * (lastColumn - firstColumn + 1) > MaxCells) return null;
            for (var row = firstRow; row <= lastRow; row++)
                for (var column = firstColumn; column <= lastColumn; column++)
                {
                    var part = new Box(Math.Max(box.MinLon, West(column)), Math.Max(box.MinLat, South(row)),
                        Math.Min(box.MaxLon, West(column) + 1.0 / PerDegree), Math.Min(box.MaxLat, South(row) + 1.0 / PerDegree));
                    var share = (part.MaxLon - part.MinLon) * (part.MaxLat - part.MinLat) * PerDegree * PerDegree;
                    var cell = row * Columns + column;
                    cells[cell] = cells.ContainsKey(cell) || share >= SliverShare ? null : part;
                }
        }
        return cells.Count > MaxCells ? null : [.. cells.OrderBy(c => c.Key).Select(c => new MergedCell(c.Key, c.Value))];
    }

    /// <summary>
    /// The cells a circle covers (as <see cref="Covering"/> finds them, up to <paramref name="maxCells"/> in its
    /// box), split into those wholly within it and the others; null near a pole or over a quarter of the world
    /// wide. A cell is within when the great-circle distance to its farthest corner is within 0.99 of the
    /// radius. On the sphere the farthest point of a cell is a corner: along a parallel the distance grows
    /// with the difference in longitude (under 180° here), along a meridian it has a single minimum, and its
    /// only maximum, the antipode, is nowhere near. Such a point passes <c>WithinOnSpheroid</c>'s first,
    /// spherical test (0.993 of the radius) whatever the spheroid says.
    /// </summary>
    internal static (List<int> Inside, List<int> Rim)? Inside(double lat, double lon, double metres, int maxCells)
    {
        if (Touched(lat, lon, metres, maxCells) is not { } touched) return null;
        var (inside, rim) = (new List<int>(), new List<int>());
        foreach (var (row, column, cell) in touched)
            (FarthestCornerMetres(lat, lon, row, column) <= metres * 0.99 ? inside : rim).Add(cell);
        return (inside, rim);
    }

    /// <summary>
    /// The cells a circle covers (as <see cref="Inside"/> finds them, up to <paramref name="maxCells"/> in its box), each with
    /// bounds of the geodesic distance from (lat, lon) of any point of it: <c>Nearest</c>, the great-circle distance (mean
    /// radius) of its nearest point (<see cref="NearestPointMetres"/>) × 0.99, and <c>Farthest</c>, that of its farthest corner
    /// ÷ 0.99 (on the sphere a cell's farthest point is a corner: see <see cref="Inside"/>). A path's length on the spheroid
    /// is between 0.9944 (a degree of meridian at the equator, 110,574 m against the sphere's 111,195) and 1.0045 times (the
    /// radii of curvature at the poles, 6,399,594 m against 6,371,009) its length on the sphere, so the geodesic distance is too. Ordered farthest
    /// first by <c>Nearest</c>, those wholly beyond the radius left out. Null near a pole, over a quarter of the world wide,
    /// or with more cells than <paramref name="maxCells"/> in the box.
    /// </summary>
    internal static List<(int Cell, double Nearest, double Farthest)>? Ring(double lat, double lon, double metres, int maxCells)
    {
        if (Touched(lat, lon, metres, maxCells) is not { } touched) return null;
        return touched
            .Select(c => (c.Cell, Nearest: NearestPointMetres(lat, lon, c.Row, c.Column) * 0.99,
                Farthest: FarthestCornerMetres(lat, lon, c.Row, c.Column) / 0.99))
            // A cell wholly beyond the radius holds no match, and would count for the ring what it cannot hold.
            .Where(c => c.Nearest <= metres)
            .DistinctBy(c => c.Cell)
            .OrderByDescending(c => c.Nearest).ThenBy(c => c.Cell)
            .ToList();
    }

    /// <summary>
    /// The cells of the circle's box (by <see cref="Reach"/>) that it can reach, each with its row, its column
    /// unwrapped (below 0 or past the last west or east of the antimeridian) and its cell; null near a pole,
    /// over a quarter of the world wide, or with more than <paramref name="maxCells"/> in the box.
    /// </summary>
    private static List<(int Row, int Column, int Cell)>? Touched(double lat, double lon, double metres, int maxCells)
    {
        if (Reach(lat, metres) is not { DLon: < 90 } reach) return null;
        var (dLat, dLon, metresPerDegreeLongitude) = reach;

        var (firstRow, lastRow) = (Row(lat - dLat), Row(lat + dLat));
        var (firstColumn, lastColumn) = ((int)Math.Floor((lon - dLon + 180) * PerDegree), (int)Math.Floor((lon + dLon + 180) * PerDegree));
        if ((long)(lastRow - firstRow + 1) * (lastColumn - firstColumn + 1) > maxCells) return null;

        var cells = new List<(int, int, int)>();
        for (var row = firstRow; row <= lastRow; row++)
            for (var column = firstColumn; column <= lastColumn; column++)
            {
                // A corner cell of the box may lie wholly outside the circle, and reading it would walk
                // all its incidents to find none: leave out cells the circle cannot reach.
                if (LowerBoundMetres(lat, lon, row, column, metresPerDegreeLongitude) > metres * 1.01) continue;
                // Across the antimeridian the columns wrap around.
                cells.Add((row, column, row * Columns + ((column % Columns) + Columns) % Columns));
            }
        return cells;
    }

    /// <summary>The great-circle distance (mean radius, as PostGIS's spherical distance) from (lat, lon) to the farthest corner of a cell.</summary>
    private static double FarthestCornerMetres(double lat, double lon, int row, int column)
    {
        var (south, west) = (South(row), West(column));
        var (north, east) = (south + 1.0 / PerDegree, west + 1.0 / PerDegree);
        return Math.Max(Math.Max(GreatCircleMetres(lat, lon, south, west), GreatCircleMetres(lat, lon, south, east)),
            Math.Max(GreatCircleMetres(lat, lon, north, west), GreatCircleMetres(lat, lon, north, east)));
    }

    /// <summary>
    /// The great-circle distance (mean radius) from (lat, lon) to the nearest point of a cell (its column unwrapped, less than 90°
    /// of longitude away). Within the cell's longitudes, straight along the meridian. Otherwise a point of the cell moved along
    /// its parallel towards (lat, lon) comes nearer, so the nearest lies on the cell's meridian edge nearer in longitude; along
    /// a meridian the distance falls to the foot of the perpendicular, at latitude atan(tan φ / cos Δλ), and rises beyond it.
    /// </summary>
    internal static double NearestPointMetres(double lat, double lon, int row, int column)
    {
        var (south, west) = (South(row), West(column));
        var (north, east) = (south + 1.0 / PerDegree, west + 1.0 / PerDegree);
        if (lon >= west && lon <= east) return GreatCircleMetres(lat, lon, Math.Clamp(lat, south, north), lon);
        var edge = lon < west ? west : east;
        const double radians = Math.PI / 180;
        var foot = Math.Atan(Math.Tan(lat * radians) / Math.Cos((edge - lon) * radians)) / radians;
        return GreatCircleMetres(lat, lon, Math.Clamp(foot, south, north), edge);
    }

    private static double GreatCircleMetres(double lat1, double lon1, double lat2, double lon2)
    {
        const double radians = Math.PI / 180, earth = 6_371_008.8;
        var (sinLat, sinLon) = (Math.Sin((lat2 - lat1) * radians / 2), Math.Sin((lon2 - lon1) * radians / 2));
        var h = sinLat * sinLat + Math.Cos(lat1 * radians) * Math.Cos(lat2 * radians) * sinLon * sinLon;
        return 2 * earth * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }

    /// <summary>
    /// Longitude/latitude boxes that together hold every point within <paramref name="metres"/> of
    /// (lat, lon), by the bounds of <see cref="Covering"/>: one box, two across the antimeridian, or the
    /// whole latitude band near a pole. Migration 0019's incident_dwithin_box is the same bound in SQL
    /// (near a pole it also reaches the pole, for the shapes it bounds).
    /// </summary>
    public static IReadOnlyList<Box> Bounds(double lat, double lon, double metres)
    {
        var dLat = DegreesOfLatitude(metres);
        var (south, north) = (Math.Max(lat - dLat, -90), Math.Min(lat + dLat, 90));
        if (Reach(lat, metres) is not { DLon: < 180 } reach) return [new Box(-180, south, 180, north)];
        var (west, east) = (lon - reach.DLon, lon + reach.DLon);
        if (west < -180) return [new Box(west + 360, south, 180, north), new Box(-180, south, east, north)];
        if (east > 180) return [new Box(west, south, 180, north), new Box(-180, south, east - 360, north)];
        return [new Box(west, south, east, north)];
    }

    /// <summary>Degrees of latitude that hold every point within <paramref name="metres"/>, 1% wider against rounding.</summary>
    private static double DegreesOfLatitude(double metres) => metres / MinMetresPerDegreeLatitude * 1.01;

    /// <summary>
    /// How far a circle reaches in latitude and longitude (each 1% wider against rounding), and the
    /// shortest degree of longitude within its latitudes; null when it comes within a degree of a pole.
    /// </summary>
    private static (double DLat, double DLon, double MetresPerDegreeLongitude)? Reach(double lat, double metres)
    {
        var dLat = DegreesOfLatitude(metres);
        var highest = Math.Abs(lat) + dLat;
        if (highest >= 89) return null;
        var metresPerDegreeLongitude = MetresPerDegreeLongitudeAtEquator * Math.Cos(highest * Math.PI / 180);
        return (dLat, metres / metresPerDegreeLongitude * 1.01, metresPerDegreeLongitude);
    }

    /// <summary>
    /// A lower bound of the geodesic distance from (lat, lon) to any point of a cell. Along any path,
    /// a step covers at least 110,574 m per degree of latitude and <paramref name="metresPerDegreeLongitude"/>
    /// per degree of longitude (the path stays below the circle's highest latitude), so by the triangle
    /// inequality for the integrated norm the length is at least the hypotenuse of the two totals, and
    /// those are at least the gaps between the centre and the cell's latitude and longitude bands.
    /// </summary>
    private static double LowerBoundMetres(double lat, double lon, int row, int column, double metresPerDegreeLongitude)
    {
        var (south, west) = (South(row), West(column));
        var (north, east) = (south + 1.0 / PerDegree, west + 1.0 / PerDegree);
        var latitudeGap = lat < south ? south - lat : lat > north ? lat - north : 0;
        var longitudeGap = lon < west ? west - lon : lon > east ? lon - east : 0;
        var (dy, dx) = (latitudeGap * MinMetresPerDegreeLatitude, longitudeGap * metresPerDegreeLongitude);
        return Math.Sqrt(dy * dy + dx * dx);
    }

    /// <summary>
    /// The row of a latitude as incident_cell computes it (0037): exact, where floor((lat + 90) * 4) alone
    /// lets the sum's rounding carry a latitude a hair south of a grid line into the row north of it.
    /// </summary>
    internal static int Row(double lat)
    {
        var row = Math.Floor((lat + 90) * PerDegree);
        if (lat < row / PerDegree - 90) row--;
        return (int)Math.Clamp(row, 0, Rows - 1);
    }

    /// <summary>The column of a longitude as incident_cell computes it; longitude 180 in the last column.</summary>
    internal static int Column(double lon)
    {
        var column = Math.Floor((lon + 180) * PerDegree);
        if (lon < column / PerDegree - 180) column--;
        return (int)Math.Clamp(column, 0, Columns - 1);
    }

    /// <summary>A row's southern edge.</summary>
    internal static double South(int row) => (double)row / PerDegree - 90;

    /// <summary>A column's western edge (of a column unwrapped across the antimeridian too).</summary>
    internal static double West(int column) => (double)column / PerDegree - 180;
}
