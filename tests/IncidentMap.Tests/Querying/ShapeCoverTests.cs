using IncidentMap.Api.Querying;
using NetTopologySuite.Geometries;

namespace IncidentMap.Tests.Querying;

/// <summary>
/// A search's thin intersects shape is read through boxes that hold it (<see cref="ShapeCover"/>): every point the shape
/// holds must lie in one of them, or an incident there would be left out.
/// </summary>
public sealed class ShapeCoverTests
{
    private static readonly GeometryFactory Factory = new(new PrecisionModel(), 4326);

    [Fact]
    public void Every_point_of_random_thin_shapes_lies_in_one_of_their_boxes()
    {
        var random = new Random(20261202);
        var checkedPoints = 0;
        for (var n = 0; n < 300; n++)
        {
            var shape = RandomShape(random, n % 4);
            var boxes = ShapeCover.Boxes(shape);
            if (boxes is null) continue;
            Assert.InRange(boxes.Length, 1, ShapeCover.MaxBoxes);
            foreach (var point in Probes(shape, random))
            {
                if (!shape.Intersects(Factory.CreatePoint(point))) continue;
                checkedPoints++;
                Assert.True(boxes.Any(b => b.Covers(point)), $"{shape}: {point} lies in no box");
            }
            // Far less of the map than the shape's own box: the point of the boxes.
            var area = boxes.Sum(b => b.Width * b.Height);
            Assert.True(area <= shape.EnvelopeInternal.Area / 2 || shape.EnvelopeInternal.Area == 0, $"{shape}: boxes of {area}");
        }
        Assert.True(checkedPoints > 3_000, $"only {checkedPoints} points of the shapes were checked");
    }

    [Fact]
    public void A_fat_polygon_keeps_its_own_box()
    {
        var square = Factory.CreatePolygon([new(35, 32), new(43, 32), new(43, 38), new(35, 38), new(35, 32)]);
        Assert.Null(ShapeCover.Boxes(square));
    }

    [Fact]
    public void A_long_line_is_held_by_boxes_of_a_small_share_of_its_box()
    {
        var line = Factory.CreateLineString([new(35, 32), new(43, 38)]);
        var boxes = ShapeCover.Boxes(line)!;
        var area = boxes.Sum(b => b.Width * b.Height);
        Assert.True(area < 48.0 / 40, $"{boxes.Length} boxes of {area} square degrees");
    }

    /// <summary>A line, a few points, a thin polygon (a sliver along a diagonal) or a multi-line, somewhere on the Earth.</summary>
    private static Geometry RandomShape(Random random, int kind)
    {
        Coordinate Near(double x, double y, double spread) =>
            new(Math.Clamp(x + (random.NextDouble() - 0.5) * spread, -180, 180), Math.Clamp(y + (random.NextDouble() - 0.5) * spread, -90, 90));
        var (x, y) = (random.NextDouble() * 340 - 170, random.NextDouble() * 160 - 80);
        var spread = Math.Pow(10, random.NextDouble() * 3 - 1); // 0.1° to 100°
        switch (kind)
        {
            case 0 when random.Next(2) == 0:
                return Factory.CreateLineString(Enumerable.Range(0, 2 + random.Next(6)).Select(_ => Near(x, y, spread)).ToArray());
            case 0:
            {
                // Steps east-west and north-south: the points along them lie exactly on the line.
                var steps = new List<Coordinate> { Near(x, y, spread) };
                for (var n = 0; n < 2 + random.Next(6); n++)
                {
                    var next = Near(x, y, spread);
                    steps.Add(n % 2 == 0 ? new Coordinate(next.X, steps[^1].Y) : new Coordinate(steps[^1].X, next.Y));
                }
                return Factory.CreateLineString([.. steps]);
            }
            case 1:
                return Factory.CreateMultiPointFromCoords(Enumerable.Range(0, 1 + random.Next(20)).Select(_ => Near(x, y, spread)).ToArray());
            case 2:
            {
                var (a, b) = (Near(x, y, spread), Near(x, y, spread));
                var c = new Coordinate(b.X + spread * 1e-3, b.Y + spread * 1e-3 * (random.NextDouble() - 0.5));
                return Factory.CreatePolygon([a, b, c, a.Copy()]);
            }
            default:
                return Factory.CreateMultiLineString(Enumerable.Range(0, 2 + random.Next(3))
                    .Select(_ => Factory.CreateLineString([Near(x, y, spread), Near(x, y, spread)])).ToArray());
        }
    }

    /// <summary>
    /// Points the shape may hold: its vertices, points along its edges (on them, as far as a double can be, or a hair
    /// off), and random points in its box.
    /// </summary>
    private static IEnumerable<Coordinate> Probes(Geometry shape, Random random)
    {
        var vertices = shape.Coordinates;
        foreach (var v in vertices) yield return v;
        for (var n = 0; n + 1 < vertices.Length; n++)
            for (var k = 0; k < 30; k++)
            {
                var t = k < 3 ? k / 2.0 : random.NextDouble();
                var (a, b) = (vertices[n], vertices[n + 1]);
                yield return new Coordinate(a.X + t * (b.X - a.X), a.Y + t * (b.Y - a.Y));
                // Points where a line is exactly horizontal, vertical or diagonal through round numbers are exactly on it.
                yield return new Coordinate(a.X, a.Y + t * (b.Y - a.Y));
                yield return new Coordinate(a.X + t * (b.X - a.X), a.Y);
            }
        var box = shape.EnvelopeInternal;
        for (var k = 0; k < 50; k++)
            yield return new Coordinate(box.MinX + random.NextDouble() * box.Width, box.MinY + random.NextDouble() * box.Height);
        // A polygon's inside.
        if (shape.Dimension == Dimension.Surface) yield return shape.InteriorPoint.Coordinate;
    }
}
