using System.Globalization;
using Npgsql;

namespace IncidentMap.Bench;

/// <summary>How <c>run</c> measures: where the API is, which process it is, how long each load run lasts.</summary>
public sealed record HarnessOptions(Uri Api, int? ApiPid, TimeSpan Warmup, TimeSpan Duration, int ExportRuns, string PgBin,
    IReadOnlySet<string>? Only = null, TimeSpan ApiWarmup = default, int Rounds = 3)
{
    /// <summary>Whether <paramref name="part"/> (a load scenario's name, "dashboards" or "exports") is to run.</summary>
    public bool Runs(string part) => Only is null || Only.Contains(part);
}

/// <summary>
/// <c>run</c>: every scenario through the API (wrk, or an HTTP download for exports) and straight
/// against PostgreSQL (pgbench, or psql's \copy) with the same SQL and concurrency, then the two
/// side by side.
/// </summary>
public static class Harness
{
    private const double ExportTargetPerSecond = 150_000;
    private const long RssTargetKb = 300 * 1024;

    /// <summary>
    /// One scenario at one client count: a raw run and an API run per round. The machine's speed drifts by tens
    /// of percent over minutes (other tenants of the host), so a ratio is taken within each round, from two runs
    /// seconds apart, and the median of the rounds' ratios is the result; the rounds alternate which side goes
    /// first, so a steady drift does not favour either.
    /// </summary>
    private sealed record LoadRow(LoadScenario Scenario, int Clients, IReadOnlyList<(LoadResult Raw, LoadResult Api)> Rounds)
    {
        private IEnumerable<double> Ratios => Rounds.Select(r => r.Api.PerSecond / r.Raw.PerSecond);
        public double Ratio => Median(Ratios);
        public double MinRatio => Ratios.Min();
        public double MaxRatio => Ratios.Max();
        public LoadResult Raw => Summary(Rounds.Select(r => r.Raw).ToList());
        public LoadResult Api => Summary(Rounds.Select(r => r.Api).ToList());

        /// <summary>The rounds' medians, and their CPU split weighted by the queries each round ran (equal durations).</summary>
        private static LoadResult Summary(List<LoadResult> runs) => new(
            Median(runs.Select(r => r.PerSecond)), Median(runs.Select(r => r.P50Ms)), Median(runs.Select(r => r.P99Ms)),
            runs.All(r => r.Cpu is not null)
                ? new CpuSplit(Weighted(runs, c => c.ApiUs), Weighted(runs, c => c.PostgresUs), Weighted(runs, c => c.OtherUs),
                    Weighted(runs, c => c.Switches))
                : null);

        private static double Weighted(List<LoadResult> runs, Func<CpuSplit, double> part) =>
            runs.Sum(r => part(r.Cpu!) * r.PerSecond) / runs.Sum(r => r.PerSecond);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    public static async Task RunAsync(NpgsqlDataSource db, string connectionString, HarnessOptions options)
    {
        using var http = new HttpClient { BaseAddress = options.Api, Timeout = Timeout.InfiniteTimeSpan };
        (await http.GetAsync("/health/ready")).EnsureSuccessStatusCode();

        // Not db.ConnectionString: the data source hides the password.
        var connection = new NpgsqlConnectionStringBuilder(connectionString);
        // pgbench and psql take the connection from libpq's environment variables.
        var libpq = new Dictionary<string, string>
        {
            ["PGHOST"] = connection.Host!, ["PGPORT"] = connection.Port.ToString(CultureInfo.InvariantCulture),
            ["PGUSER"] = connection.Username!, ["PGPASSWORD"] = connection.Password!, ["PGDATABASE"] = connection.Database!,
        };
        var work = Directory.CreateTempSubdirectory("incidentmap-bench-");
        try
        {
            // Each table is printed as soon as it is complete, so a failure later keeps what was measured.
            Console.WriteLine(await HeaderAsync(db, options));
            var pgbench = new PgBench(Path.Combine(options.PgBin, "pgbench"), libpq, work);
            var wrk = new Wrk("wrk", options.Api, work);

            // A fresh .NET process runs unoptimised code for its first seconds under load and then
            // recompiles its hot paths (tiered compilation with dynamic PGO): measured from a cold start
            // the radius pages reached half their steady rate. Measure the service as it runs in production.
            var selected = Scenarios.Load().Where(s => options.Runs(s.Name)).ToList();
            var cheap = selected.Where(s => !s.Name.StartsWith("tile-z3", StringComparison.Ordinal)).SelectMany(s => s.Queries).ToList();
            // The dashboards' poll is a radius page too: warm it up when the radius scenario is not selected.
            if (options.Runs("dashboards") && !options.Runs("radius")) cheap.Add(Scenarios.Poll());
            if (options.ApiWarmup > TimeSpan.Zero && cheap.Count > 0)
            {
                Progress.Say($"warming the API up for {options.ApiWarmup.TotalSeconds:0} s (JIT tiering)");
                await wrk.RunAsync("jit-warmup", cheap, 4, options.ApiWarmup, TimeSpan.FromSeconds(1));
            }

            var meter = await CpuMeter.OpenAsync(db, options.ApiPid);
            if (selected.Count > 0) Console.WriteLine(await HttpFloorAsync(wrk, meter, options));

            var load = new List<LoadRow>();
            foreach (var scenario in selected)
            {
                // A failing request would otherwise only show up as wrk's error count.
                foreach (var query in scenario.Queries) await ExpectOkAsync(http, query.Path);
                foreach (var clients in scenario.Clients)
                {
                    var rounds = new List<(LoadResult Raw, LoadResult Api)>();
                    for (var round = 0; round < options.Rounds; round++)
                    {
                        // The first run of each side warms it up for the full warm-up; later ones for a second,
                        // after the other side's run.
                        var warmup = round == 0 ? options.Warmup : TimeSpan.FromSeconds(1);
                        var step = $"{scenario.Title}, {clients} client(s), round {round + 1} of {options.Rounds}";
                        Task<LoadResult> Raw()
                        {
                            Progress.Say($"{step}: pgbench");
                            return pgbench.RunAsync(scenario.Name, scenario.Queries, clients, warmup, options.Duration, meter);
                        }
                        Task<LoadResult> Api()
                        {
                            Progress.Say($"{step}: wrk");
                            return wrk.RunAsync(scenario.Name, scenario.Queries, clients, warmup, options.Duration, meter);
                        }
                        if (round % 2 == 0)
                        {
                            var raw = await Raw();
                            rounds.Add((raw, await Api()));
                        }
                        else
                        {
                            var api = await Api();
                            rounds.Add((await Raw(), api));
                        }
                    }
                    load.Add(new LoadRow(scenario, clients, rounds));
                }
            }
            Console.WriteLine(LoadTable(load));
            if (load.Any(r => r.Raw.Cpu is not null && r.Api.Cpu is not null)) Console.WriteLine(CpuTable(load));

            foreach (var tile in Scenarios.Load().Where(s => s.Name.StartsWith("tile", StringComparison.Ordinal) && options.Runs(s.Name)))
            {
                var bytes = (await http.GetByteArrayAsync(tile.Queries[0].Path)).Length;
                Console.WriteLine($"{tile.Title}: {bytes / 1024.0:N1} KB (target for the world view: under 500 KB)");
            }
            Console.WriteLine();

            if (options.Runs("dashboards"))
            {
                Progress.Say("e) polling with and without the current ETag");
                Console.WriteLine(await Dashboards.PollingAsync(http, options.Api, Scenarios.Poll().Path, 8, options.Duration, work));
                Progress.Say("f) commit-to-event latency of the stream");
                Console.WriteLine(await Dashboards.StreamLatencyAsync(db, options.Api, 20, options.Duration));
                Console.WriteLine();
            }

            var export = new Export(http, Path.Combine(options.PgBin, "psql"), libpq, options.ApiPid);
            var exports = new List<ExportResult>();
            foreach (var format in options.Runs("exports") ? Scenarios.ExportFormats : [])
            {
                var query = Scenarios.Export(format);
                var expected = await db.CreateCommand(query.CountSql).ScalarAsync<long>();
                Progress.Say($"c) export {format.Name}: {expected:N0} features, {options.ExportRuns} run(s) each side");
                exports.Add(await export.RunAsync(format, query, expected, options.ExportRuns));
            }

            if (exports.Count > 0) Console.WriteLine(ExportTable(exports));
            Console.WriteLine($"machine load average (1/5/15 min) at the end: {LoadAverage()}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<string> HeaderAsync(NpgsqlDataSource db, HarnessOptions options)
    {
        var rows = await db.CreateCommand("SELECT count(*) FROM incidents WHERE deleted_at IS NULL").ScalarAsync<long>();
        var versions = await db.CreateCommand("SELECT split_part(version(), ' ', 2) || ', PostGIS ' || postgis_lib_version()").ScalarAsync<string>();
        return $"""
            IncidentMap benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC
            data: {rows:N0} incidents; PostgreSQL {versions}; {Environment.ProcessorCount} cores shared by PostgreSQL, the API and the load tools
            load: {options.Rounds} round(s) per scenario, each a raw and an API run of {options.Duration.TotalSeconds:0} s (first {options.Warmup.TotalSeconds:0} s of warm-up, then 1 s; the sides take turns going first); API/raw is the median of the rounds' ratios, rates and latencies the rounds' medians (the API warmed up {options.ApiWarmup.TotalSeconds:0} s before the first); raw = pgbench -M prepared, API = wrk; same SQL, count=false
            machine load average (1/5/15 min) at the start: {LoadAverage()} (anything else running skews the numbers)
            """;
    }

    private static string LoadAverage() => string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string LoadTable(List<LoadRow> rows) => Table.Render(
        ["scenario (GeoJSON)", "clients", "raw q/s", "API q/s", "API/raw", "rounds' API/raw", "target", "raw p50 ms", "raw p99 ms", "API p50 ms", "API p99 ms", "p99 API/raw", "API p99 target"],
        rows.Select(r =>
        {
            var ratio = r.Ratio;
            return new[]
            {
                r.Scenario.Title, $"{r.Clients}", $"{r.Raw.PerSecond:N1}", $"{r.Api.PerSecond:N1}", $"{ratio:0.00}",
                r.Rounds.Count > 1 ? $"{r.MinRatio:0.00}–{r.MaxRatio:0.00} ({r.Rounds.Count})" : "",
                $">={r.Scenario.TargetRatio:0.00} {Verdict(ratio >= r.Scenario.TargetRatio)}",
                $"{r.Raw.P50Ms:N2}", $"{r.Raw.P99Ms:N2}", $"{r.Api.P50Ms:N2}", $"{r.Api.P99Ms:N2}", $"{r.Api.P99Ms / r.Raw.P99Ms:0.00}",
                r.Scenario.P99TargetMs is { } target && r.Clients == r.Scenario.Clients.Max()
                    ? $"<{target:0} ms {Verdict(r.Api.P99Ms < target)}" : "",
            };
        }).ToList());

    /// <summary>
    /// The fixed cost of an HTTP request to the API on this machine: a path that touches no database,
    /// one client. A ratio against raw PostgreSQL cannot exceed raw / (raw + this) for a short query.
    /// </summary>
    private static async Task<string> HttpFloorAsync(Wrk wrk, CpuMeter? meter, HarnessOptions options)
    {
        Progress.Say("the HTTP floor: GET /health/live, 1 client");
        var live = new BenchQuery("/health/live", "", "");
        var floor = await wrk.RunAsync("http-floor", [live], 1, options.Warmup, options.Duration, meter);
        var cpu = floor.Cpu is { } split ? $", API CPU {split.ApiUs:N0} µs per request" : "";
        return $"HTTP floor (GET /health/live, no database, 1 client): {floor.PerSecond:N0} req/s, p50 {floor.P50Ms:N3} ms, p99 {floor.P99Ms:N3} ms{cpu}\n";
    }

    /// <summary>
    /// Where each query's CPU time went, raw and through the API. With every core busy, throughput is
    /// cores / CPU per query, so API/raw comes to (raw total) / (API total).
    /// </summary>
    private static string CpuTable(List<LoadRow> rows) => Table.Render(
        ["CPU µs per query", "clients", "raw: PostgreSQL", "raw: pgbench+kernel", "API: PostgreSQL", "API: API process", "API: wrk+kernel",
         "raw total", "API total", "machine busy raw / API", "context switches raw / API"],
        rows.Where(r => r.Raw.Cpu is not null && r.Api.Cpu is not null).Select(r =>
        {
            var (raw, api) = (r.Raw.Cpu!, r.Api.Cpu!);
            var rawTotal = raw.ApiUs + raw.PostgresUs + raw.OtherUs;
            var apiTotal = api.ApiUs + api.PostgresUs + api.OtherUs;
            // Busy share of all cores: CPU per query times queries per second over the cores.
            string Busy(double total, double perSecond) => $"{total * perSecond / 1e6 / Environment.ProcessorCount:P0}";
            return new[]
            {
                r.Scenario.Title, $"{r.Clients}", $"{raw.PostgresUs:N0}", $"{raw.OtherUs + raw.ApiUs:N0}",
                $"{api.PostgresUs:N0}", $"{api.ApiUs:N0}", $"{api.OtherUs:N0}", $"{rawTotal:N0}", $"{apiTotal:N0}",
                $"{Busy(rawTotal, r.Raw.PerSecond)} / {Busy(apiTotal, r.Api.PerSecond)}",
                $"{raw.Switches:N1} / {api.Switches:N1}",
            };
        }).ToList());

    private static string ExportTable(List<ExportResult> rows) => Table.Render(
        ["c) export (all rows)", "features", "raw \\copy s", "raw feat/s", "API s", "API feat/s", "API/raw", $"target {ExportTargetPerSecond:N0}/s",
         "API RSS before MB", "API RSS peak MB", "VmHWM MB", "target < 300 MB"],
        rows.Select(r =>
        {
            var apiRate = r.Expected / r.ApiSeconds;
            return new[]
            {
                r.Format.Name,
                r.Delivered == r.Expected ? $"{r.Expected:N0}" : $"{r.Delivered:N0} of {r.Expected:N0} MISSING",
                $"{r.RawSeconds:N2}", $"{r.Expected / r.RawSeconds:N0}", $"{r.ApiSeconds:N2}", $"{apiRate:N0}",
                $"{r.RawSeconds / r.ApiSeconds:0.00}", Verdict(apiRate >= ExportTargetPerSecond),
                Megabytes(r.RssBeforeKb), Megabytes(r.RssPeakKb), Megabytes(r.HighWaterMarkKb),
                r.RssPeakKb is { } peak ? Verdict(peak < RssTargetKb) : "n/a",
            };
        }).ToList());

    private static string Verdict(bool met) => met ? "ok" : "MISS";

    private static string Megabytes(long? kb) => kb is { } k ? $"{k / 1024.0:N0}" : "n/a";

    private static async Task ExpectOkAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
