using System.Globalization;
using System.Text;

namespace IncidentMap.Bench;

/// <summary>
/// The API side of a load scenario: wrk sends the queries' requests, each picking one of them at
/// random, and reports its latency histogram through a Lua <c>done</c> hook.
/// </summary>
public sealed class Wrk(string program, Uri api, DirectoryInfo work)
{
    private const string ResultMarker = "bench-result";

    public async Task<LoadResult> RunAsync(string name, IReadOnlyList<BenchQuery> queries, int clients, TimeSpan warmup, TimeSpan duration,
        CpuMeter? meter = null)
    {
        var script = Path.Combine(work.FullName, $"{name}.lua");
        await File.WriteAllTextAsync(script, Script(queries));

        await RunAsync(script, clients, warmup);
        var (output, usage) = await CpuMeter.MeasureAsync(meter, () => RunAsync(script, clients, duration));

        var line = output.Split('\n').SingleOrDefault(l => l.StartsWith(ResultMarker))
                   ?? throw new InvalidOperationException($"wrk printed no result:\n{output}");
        var fields = line.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
        if (fields["errors"] > 0) throw new InvalidOperationException($"{fields["errors"]} requests of {name} failed (non-2xx answers or socket errors):\n{output}");
        return new LoadResult(fields["requests"] / (fields["duration_us"] / 1e6), fields["p50_us"] / 1000, fields["p99_us"] / 1000,
            usage?.PerQuery((long)fields["requests"]));
    }

    private Task<string> RunAsync(string script, int clients, TimeSpan duration) =>
        ExternalTool.RunAsync(program,
        [
            $"--threads={Math.Min(clients, Environment.ProcessorCount)}", $"--connections={clients}",
            $"--duration={(int)duration.TotalSeconds}s", "--timeout=30s", $"--script={script}",
            new Uri(api, "/").ToString(),
        ]);

    private static string Script(IReadOnlyList<BenchQuery> queries)
    {
        var lua = new StringBuilder("local paths = {\n");
        // Escaped query strings hold no quote or backslash, so they are valid Lua strings as they are.
        foreach (var query in queries) lua.Append("  \"").Append(query.Path).Append("\",\n");
        lua.Append($$"""
            }

            request = function()
              return wrk.format("GET", paths[math.random(#paths)])
            end

            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("{{ResultMarker}} requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
                summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
                e.status + e.connect + e.read + e.write + e.timeout))
            end

            """);
        return lua.ToString();
    }
}
