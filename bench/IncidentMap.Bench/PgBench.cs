using System.Globalization;
using System.Text.RegularExpressions;

namespace IncidentMap.Bench;

/// <summary>
/// The raw side of a load scenario: pgbench runs the queries' SQL over prepared statements, each
/// transaction picking one of the queries (one script file each) at random.
/// </summary>
public sealed partial class PgBench(string program, IReadOnlyDictionary<string, string> connection, DirectoryInfo work)
{
    // pgbench reads ":name" as a variable even inside string literals; "::" casts are fine.
    [GeneratedRegex(@"(?<!:):[A-Za-z_]")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^tps = ([0-9.]+) \(without initial connection time\)", RegexOptions.Multiline)]
    private static partial Regex TransactionsPerSecond();

    public async Task<LoadResult> RunAsync(string name, IReadOnlyList<BenchQuery> queries, int clients, TimeSpan warmup, TimeSpan duration,
        CpuMeter? meter = null)
    {
        var scripts = new List<string>();
        for (var n = 0; n < queries.Count; n++)
        {
            var sql = queries[n].SqlAt(clients);
            if (VariableReference().IsMatch(sql)) throw new NotSupportedException($"pgbench would read a variable in: {sql}");
            var file = Path.Combine(work.FullName, $"{name}-{n}.sql");
            await File.WriteAllTextAsync(file, sql + ";\n");
            scripts.Add(file);
        }

        await RunAsync(scripts, clients, warmup);
        // A directory of its own per run: pgbench names its logs after its process id, and a later run's
        // directory holding an earlier run's logs would count those transactions twice.
        var logs = work.CreateSubdirectory($"{name}-c{clients}-log-{Guid.NewGuid():N}");
        var (output, usage) = await CpuMeter.MeasureAsync(meter, () =>
            RunAsync(scripts, clients, duration, "--log", "--log-prefix", Path.Combine(logs.FullName, "tx")));
        // pgbench's own rate counts the transactions still running at the deadline over the time they took.
        var tps = TransactionsPerSecond().Match(output);
        if (!tps.Success) throw new InvalidOperationException($"pgbench printed no tps:\n{output}");

        // Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_fraction.
        var latencies = new List<double>();
        foreach (var log in logs.EnumerateFiles("tx.*"))
            foreach (var line in await File.ReadAllLinesAsync(log.FullName))
                latencies.Add(double.Parse(line.Split(' ')[2], CultureInfo.InvariantCulture));
        return LoadResult.FromLatencies(double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture), latencies)
            with { Cpu = usage?.PerQuery(latencies.Count) };
    }

    private Task<string> RunAsync(List<string> scripts, int clients, TimeSpan duration, params string[] extra) =>
        ExternalTool.RunAsync(program,
        [
            "--no-vacuum", "--protocol=prepared",
            $"--client={clients}", $"--jobs={Math.Min(clients, Environment.ProcessorCount)}",
            $"--time={(int)duration.TotalSeconds}",
            .. scripts.SelectMany(s => new[] { "--file", s }),
            .. extra,
        ], connection);
}
