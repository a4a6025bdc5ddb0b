using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;

namespace IncidentMap.Api.Querying;

/// <summary>
/// Boxes that together hold a search's <c>intersects</c> shape, much less of the map than the shape's own box when
/// the shape is a line, a few points or a thin polygon.
/// <para>
/// <c>ST_Intersects(i.geom, @shape)</c> finds its candidates through the GiST index by the shape's box. A line from
/// (35, 32) to (43, 38) has a box of 8° by 6° holding 208,000 of the bench's million incidents, each read from the
/// table and tested (7 s for a count that found none); PostgreSQL, estimating as many matches, walked the time index
/// for a page (4.3 s). Every point of the shape lies in one of these boxes, so <c>i.geom &amp;&amp; ANY(boxes)</c> is a
/// necessary condition of intersecting it (whatever the incident's shape: a point where the two meet lies in a box and in
/// the incident's own box), which the GiST index serves box by box, and which PostgreSQL estimates box by box.
/// </para>
/// </summary>
public static class ShapeCover
{
    /// <summary>The most boxes: each is one probe of the GiST index.</summary>
    public const int MaxBoxes = 256;

    /// <summary>Boxes whose longer side is under this many degrees are not split further (about 100 m).</summary>
    private const double MinSide = 0.001;

    /// <summary>
    /// The boxes, or null when they would hold more than half of the shape's own box (a fat polygon: its box serves as
    /// well) or the shape is empty. A box is closed, and split into two halves that share the line between them, so the
    /// halves hold every point the box held; a half the shape does not touch (by NTS's exact predicates) is dropped.
    /// </summary>
    public static Envelope[]? Boxes(Geometry shape) => Covers.GetValue(shape, s => new Cover(Compute(s))).Boxes;

    /// <summary>A request's shape is covered once, though its conditions are written for the count and the page.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Geometry, Cover> Covers = new();

    private sealed record Cover(Envelope[]? Boxes);

    private static Envelope[]? Compute(Geometry shape)
    {
        if (shape.IsEmpty) return null;
        var whole = shape.EnvelopeInternal;
        var prepared = PreparedGeometryFactory.Prepare(shape);
        var factory = shape.Factory;
        var kept = new List<Envelope>();
        // Largest first, so that the boxes are refined evenly until there are MaxBoxes.
        var open = new PriorityQueue<Envelope, double>();
        open.Enqueue(whole, -Side(whole));
        while (open.TryDequeue(out var box, out _))
        {
            if (kept.Count + open.Count + 2 > MaxBoxes || Side(box) < MinSide || prepared.Covers(factory.ToGeometry(box)))
            {
                kept.Add(box);
                continue;
            }
            var wide = box.Width >= box.Height;
            var middle = wide ? box.MinX + box.Width / 2 : box.MinY + box.Height / 2;
            Envelope[] halves = wide
                ? [new Envelope(box.MinX, middle, box.MinY, box.MaxY), new Envelope(middle, box.MaxX, box.MinY, box.MaxY)]
                : [new Envelope(box.MinX, box.MaxX, box.MinY, middle), new Envelope(box.MinX, box.MaxX, middle, box.MaxY)];
            foreach (var half in halves)
                if (prepared.Intersects(factory.ToGeometry(half))) open.Enqueue(half, -Side(half));
        }
        // Each box shrunk to the part of the shape inside it (a line crossing a box holds a diagonal of it, and its box is half
        // the area or less), widened by a hair against the rounding of the clipped coordinates; a box whose clip fails stays.
        kept = kept.Select(box => Clipped(shape, prepared, factory, box)).ToList();
        var area = kept.Sum(b => b.Width * b.Height);
        var wholeArea = whole.Width * whole.Height;
        return wholeArea > 0 && area > wholeArea / 2 ? null : kept.ToArray();
    }

    private static double Side(Envelope box) => Math.Max(box.Width, box.Height);

    /// <summary>A hair of a degree (about 0.1 mm), far above the rounding of a clipped coordinate (1e-14° near 180°).</summary>
    private const double Hair = 1e-9;

    /// <summary>
    /// The box of the part of the shape inside <paramref name="box"/>, widened by a <see cref="Hair"/>: the pieces of its
    /// edges inside the box (clipped to the box widened by a hair, so that rounding never drops a piece that touches it),
    /// its points inside the box, and the box's corners the shape covers (where a polygon's inside fills the box to its corner).
    /// </summary>
    private static Envelope Clipped(Geometry shape, IPreparedGeometry prepared, GeometryFactory factory, Envelope box)
    {
        var wide = new Envelope(box.MinX - Hair, box.MaxX + Hair, box.MinY - Hair, box.MaxY + Hair);
        var part = new Envelope();
        for (var n = 0; n < shape.NumGeometries; n++)
        {
            var piece = shape.GetGeometryN(n);
            if (piece is Point point)
            {
                if (wide.Contains(point.Coordinate)) part.ExpandToInclude(point.Coordinate);
                continue;
            }
            foreach (var line in NetTopologySuite.Geometries.Utilities.LinearComponentExtracter.GetLines(piece).Cast<LineString>())
            {
                var coordinates = line.Coordinates;
                for (var c = 0; c + 1 < coordinates.Length; c++) Clip(coordinates[c], coordinates[c + 1], wide, part);
                if (coordinates.Length == 1) Clip(coordinates[0], coordinates[0], wide, part);
            }
        }
        if (shape.Dimension == Dimension.Surface)
            foreach (var corner in new[] { new Coordinate(box.MinX, box.MinY), new Coordinate(box.MinX, box.MaxY), new Coordinate(box.MaxX, box.MinY), new Coordinate(box.MaxX, box.MaxY) })
                if (prepared.Intersects(factory.CreatePoint(corner))) part.ExpandToInclude(corner);
        if (part.IsNull) return box;
        part.ExpandBy(Hair);
        return part.Intersection(wide);
    }

    /// <summary>Adds to <paramref name="part"/> the piece of the segment from a to b inside <paramref name="box"/> (Liang–Barsky).</summary>
    private static void Clip(Coordinate a, Coordinate b, Envelope box, Envelope part)
    {
        double t0 = 0, t1 = 1, dx = b.X - a.X, dy = b.Y - a.Y;
        foreach (var (p, q) in new[] { (-dx, a.X - box.MinX), (dx, box.MaxX - a.X), (-dy, a.Y - box.MinY), (dy, box.MaxY - a.Y) })
        {
            if (p == 0)
            {
                if (q < 0) return;
                continue;
            }
            var r = q / p;
            if (p < 0)
            {
                if (r > t1) return;
                if (r > t0) t0 = r;
            }
            else
            {
                if (r < t0) return;
                if (r < t1) t1 = r;
            }
        }
        part.ExpandToInclude(a.X + t0 * dx, a.Y + t0 * dy);
        part.ExpandToInclude(a.X + t1 * dx, a.Y + t1 * dy);
    }

    /// <summary>The boxes as polygons (or lines and points where a box has no width or height) in WGS 84.</summary>
    public static Geometry[] AsGeometries(IEnumerable<Envelope> boxes, GeometryFactory factory) =>
        boxes.Select(b =>
        {
            var geometry = factory.ToGeometry(b);
            geometry.SRID = 4326;
            return geometry;
        }).ToArray();
}
