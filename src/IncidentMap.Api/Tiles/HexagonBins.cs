using System.Data.Common;
using Dapper;
using IncidentMap.Api.Querying;
using Npgsql;

namespace IncidentMap.Api.Tiles;

/// <summary>
/// Hexagon bins (/hexbins): counts per hexagon of ST_HexagonGrid's grid of a given edge, laid from the origin of Web
/// Mercator, of the matching incidents, each in the hexagon that holds its representative point. PostgreSQL reads the
/// points (<see cref="TileSql.HexbinPoints"/>); each is placed and summed here, as the service renders rows rather than
/// PostgreSQL (docs/query-performance.md, "Rendering in .NET, not in SQL"); PostgreSQL then builds the hexagons'
/// GeoJSON (<see cref="TileSql.HexbinFeatures"/>). The world's 200 km bins over a million incidents took 5-21 s with the
/// placing and <c>mode()</c> in SQL, over the table.
/// </summary>
public static class HexagonBins
{
    /// <summary>
    /// Metres a point must lie inside a hexagon for <see cref="TryPlace"/> to place it: far more than the rounding of
    /// coordinates of up to 2·10^7 m (about 10^-8 m), far less than a geocoded position's precision.
    /// </summary>
    internal const double EdgeMargin = 1e-4;

    private static readonly double Sqrt3 = Math.Sqrt(3);

    /// <summary>
    /// The hexagon (i, j) of ST_HexagonGrid's grid of edge <paramref name="size"/> (from the origin) that holds the point
    /// (<paramref name="x"/>, <paramref name="y"/>), computed from its coordinates; false when the point lies within
    /// <see cref="EdgeMargin"/> of the hexagon's edge (or its index passes 10^9), where rounding, PostGIS's and this
    /// one's, could tell another hexagon: ST_HexagonGrid decides those (<see cref="TileSql.HexagonsOnEdges"/>).
    /// <para>
    /// PostGIS centres hexagon (i, j) at (1.5 i, √3 (j + (i mod 2) / 2)) edges from the origin, flat side up, and
    /// a regular hexagon is the set of points nearer its centre than any other's. Hexagons of column i span
    /// [1.5 i − 1, 1.5 i + 1] edges across, so a point between the centres of columns i0 and i0 + 1 lies in one of
    /// theirs, in each column the one nearest in y; of those two, the nearer. It lies clear of the edge it shares with
    /// another hexagon by (d² − d0²) / (2 √3 edge) to a neighbour in the other column (d and d0 the squared
    /// distances) and h − |y − centre y| to one above or below; the nearest neighbour of each kind is the candidate
    /// already found. The same arithmetic ran in SQL per row until 2026-12 (TileSql.HexagonOfPoints), in float8 as here.
    /// </para>
    /// </summary>
    public static bool TryPlace(double x, double y, double size, out int i, out int j)
    {
        var h = size * Sqrt3 / 2;
        var i0 = Math.Floor(x / (1.5 * size));
        // Column i0's offset: 1 for an odd column (a negative one too), else 0.
        var o0 = i0 - 2 * Math.Floor(i0 / 2);
        // Rounded half to even, as PostgreSQL's round(float8) (rint) did.
        var j0 = Math.Round((y / h - o0) / 2, MidpointRounding.ToEven);
        var j1 = Math.Round((y / h - 1 + o0) / 2, MidpointRounding.ToEven);
        // y0, y1: the point's height above the centre of the nearest hexagon in each column; d0, d1: its squared distances from them.
        var y0 = y - h * (2 * j0 + o0);
        var y1 = y - h * (2 * j1 + 1 - o0);
        var x0 = x - 1.5 * size * i0;
        var x1 = x - 1.5 * size * (i0 + 1);
        var d0 = x0 * x0 + y0 * y0;
        var d1 = x1 * x1 + y1 * y1;
        var first = d0 <= d1;
        var clear = (first ? h - Math.Abs(y0) : h - Math.Abs(y1)) >= EdgeMargin
                    && Math.Abs(d1 - d0) >= EdgeMargin * 2 * Sqrt3 * size
                    && Math.Abs(i0) < 1e9 && Math.Abs(j0) < 1e9 && Math.Abs(j1) < 1e9;
        (i, j) = clear ? ((int)(first ? i0 : i0 + 1), (int)(first ? j0 : j1)) : (0, 0);
        return clear;
    }

    /// <summary>The bins of the query as GeoJSON features, and how many points ST_HexagonGrid placed (those near an edge).</summary>
    public sealed record Answer(List<string> Features, int PointsOnEdges);

    private sealed class Bin(int i, int j, int kinds)
    {
        public readonly int I = i, J = j;
        public long Count, FatalitiesMin, FatalitiesMax;
        public long[] Kinds = new long[kinds];
    }

    /// <summary>
    /// The bins of <paramref name="query"/> (whose bbox the grid covers), largest count first, then by i and j, each as
    /// a GeoJSON feature: what <c>GROUP BY i, j ORDER BY count(*) DESC, i, j</c> gave when PostgreSQL summed them, byte
    /// for byte. Three statements on <paramref name="connection"/>: the points (one snapshot: the others read no table),
    /// the hexagons of points on an edge (only if any), and the features.
    /// </summary>
    public static async Task<Answer> ComputeAsync(NpgsqlConnection connection, IncidentQuery query, double size, int precision,
        bool byPointsIndex, CancellationToken ct, NpgsqlTransaction? transaction = null)
    {
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        var kindNames = new List<string>();
        var bins = new Dictionary<long, Bin>();
        var onEdges = new List<(double X, double Y, int Kind, int? Min, int? Max)>();
        int KindOf(string kind)
        {
            if (kinds.TryGetValue(kind, out var k)) return k;
            kinds.Add(kind, kindNames.Count);
            kindNames.Add(kind);
            return kindNames.Count - 1;
        }
        // At most the six event types of the schema; a bin's array grows when a new one comes.
        void Add(int i, int j, int kind, int? min, int? max)
        {
            var key = ((long)i << 32) | (uint)j;
            if (!bins.TryGetValue(key, out var bin)) bins.Add(key, bin = new Bin(i, j, Math.Max(kindNames.Count, 6)));
            bin.Count++;
            bin.FatalitiesMin += min ?? 0;
            bin.FatalitiesMax += max ?? 0;
            if (kind >= bin.Kinds.Length) Array.Resize(ref bin.Kinds, kindNames.Count);
            bin.Kinds[kind]++;
        }

        var (sql, parameters) = TileSql.HexbinPoints(query, byPointsIndex);
        await using (var wrapped = await connection.ExecuteReaderAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: ct)))
        {
            var reader = wrapped is IWrappedDataReader { Reader: DbDataReader inner } ? inner : wrapped;
            while (await reader.ReadAsync(ct))
            {
                // An empty point: no hexagon holds it, and ST_HexagonGrid over it made none.
                if (reader.IsDBNull(0) || reader.IsDBNull(1)) continue;
                var (x, y) = (reader.GetDouble(0), reader.GetDouble(1));
                var kind = KindOf(reader.GetString(2));
                int? min = reader.IsDBNull(3) ? null : reader.GetInt32(3);
                int? max = reader.IsDBNull(4) ? null : reader.GetInt32(4);
                if (TryPlace(x, y, size, out var i, out var j)) Add(i, j, kind, min, max);
                else onEdges.Add((x, y, kind, min, max));
            }
        }

        if (onEdges.Count > 0)
        {
            var edgeParameters = new DynamicParameters();
            edgeParameters.Add("xs", onEdges.Select(p => p.X).ToArray());
            edgeParameters.Add("ys", onEdges.Select(p => p.Y).ToArray());
            edgeParameters.Add("size", size);
            // A point no hexagon holds (none that is not empty) is not counted, as before.
            foreach (var (n, i, j) in await connection.QueryAsync<(int, int, int)>(
                         new CommandDefinition(TileSql.HexagonsOnEdges, edgeParameters, transaction, cancellationToken: ct)))
            {
                var p = onEdges[n - 1];
                Add(i, j, p.Kind, p.Min, p.Max);
            }
        }
        if (bins.Count == 0) return new Answer([], onEdges.Count);

        var ordered = bins.Values.ToList();
        ordered.Sort((a, b) => b.Count != a.Count ? b.Count.CompareTo(a.Count) : a.I != b.I ? a.I.CompareTo(b.I) : a.J.CompareTo(b.J));
        var kindCount = kindNames.Count;
        var kindCounts = new long[ordered.Count * kindCount];
        for (var n = 0; n < ordered.Count; n++)
            for (var k = 0; k < kindCount && k < ordered[n].Kinds.Length; k++)
                kindCounts[n * kindCount + k] = ordered[n].Kinds[k];
        var featureParameters = new DynamicParameters();
        featureParameters.Add("size", size);
        featureParameters.Add("digits", precision);
        featureParameters.Add("i", ordered.Select(b => b.I).ToArray());
        featureParameters.Add("j", ordered.Select(b => b.J).ToArray());
        featureParameters.Add("count", ordered.Select(b => b.Count).ToArray());
        featureParameters.Add("fatalities_min_sum", ordered.Select(b => b.FatalitiesMin).ToArray());
        featureParameters.Add("fatalities_max_sum", ordered.Select(b => b.FatalitiesMax).ToArray());
        featureParameters.Add("kinds", kindNames.ToArray());
        featureParameters.Add("kind_counts", kindCounts);
        var features = (await connection.QueryAsync<string>(
            new CommandDefinition(TileSql.HexbinFeatures(kindCount), featureParameters, transaction, cancellationToken: ct))).AsList();
        return new Answer(features, onEdges.Count);
    }
}
