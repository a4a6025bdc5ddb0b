using System.Globalization;

namespace IncidentMap.Bench;

/// <summary>
/// Queries that both sides run at each client count, each request picking one of them at random,
/// the share of the raw throughput the API is expected to reach, and the API's p99 latency target at
/// the largest client count, if any.
/// </summary>
public sealed record LoadScenario(string Name, string Title, double TargetRatio, int[] Clients, IReadOnlyList<BenchQuery> Queries,
    double? P99TargetMs = null);

public static class Scenarios
{
    /// <summary>The densest clusters of the synthetic data, so each search has thousands of candidates.</summary>
    private static readonly string[] DenseCities = ["Homs", "Aleppo", "Damascus", "Idlib", "Baghdad", "Mosul", "Kabul", "Mogadishu"];

    public static IReadOnlyList<LoadScenario> Load() =>
    [
        new("radius", "a) radius 25 km, newest 100", 0.7, [1, 16], AroundDenseCities(city => new()
        {
            ["lat"] = Number(city.Lat), ["lon"] = Number(city.Lon), ["radius"] = "25km", ["limit"] = "100", ["count"] = "false",
        }), P99TargetMs: 25),
        // A map's view of a city, newest first: merged from the grid cells under the box, as the radius page is.
        new("bbox-city", "b) bbox 0.5x0.5 deg, newest 100", 0.7, [1, 16], AroundDenseCities(city => new()
        {
            ["bbox"] = string.Join(",", Number(city.Lon - 0.25), Number(city.Lat - 0.25), Number(city.Lon + 0.25), Number(city.Lat + 0.25)),
            ["limit"] = "100", ["count"] = "false",
        })),
        new("bbox", "b) bbox 2x2 deg, limit 1000", 0.6, [1, 8], AroundDenseCities(city => new()
        {
            ["bbox"] = string.Join(",", Number(city.Lon - 1), Number(city.Lat - 1), Number(city.Lon + 1), Number(city.Lat + 1)),
            ["limit"] = "1000", ["count"] = "false",
        })),
        // Tiles are computed on every request here (the bench API runs with Tiles__Cache=false); in
        // service an unchanged tile comes from memory or as a 304.
        new("tile-z3", "d) tile z3 (clusters), Homs", 1 / 1.3, [1], [BenchQuery.FromTile(3, 36.7, 34.7)]),
        new("tile-z8", "d) tile z8 (incidents), Homs", 1 / 1.3, [1], [BenchQuery.FromTile(8, 36.7, 34.7)]),
        new("tile-z14", "d) tile z14 (incidents), Homs", 1 / 1.3, [1], [BenchQuery.FromTile(14, 36.7, 34.7)]),
    ];

    /// <summary>A dashboard's poll: the newest incidents around a city.</summary>
    public static BenchQuery Poll() => BenchQuery.From(new Dictionary<string, string>
    {
        ["lat"] = "34.73", ["lon"] = "36.71", ["radius"] = "25km", ["limit"] = "100", ["count"] = "false",
    });

    private static List<BenchQuery> AroundDenseCities(Func<City, Dictionary<string, string>> parameters) =>
        DenseCities.Select(Places.Get).Select(city => BenchQuery.From(parameters(city))).ToList();

    /// <summary>Exports take every incident: no limit, no filter.</summary>
    public static readonly ExportFormat[] ExportFormats = [new("csv", HeaderLines: 1), new("ndjson", HeaderLines: 0)];

    public static BenchQuery Export(ExportFormat format) =>
        BenchQuery.From(new Dictionary<string, string> { ["f"] = format.Name, ["count"] = "false" });

    private static string Number(double value) => Math.Round(value, 6).ToString(CultureInfo.InvariantCulture);
}
