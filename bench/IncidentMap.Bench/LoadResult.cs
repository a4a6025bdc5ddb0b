namespace IncidentMap.Bench;

/// <summary>Throughput and latency of one load run, and where its CPU time went when measured.</summary>
public sealed record LoadResult(double PerSecond, double P50Ms, double P99Ms, CpuSplit? Cpu = null)
{
    /// <summary>From the throughput and every request's latency in microseconds (nearest-rank percentiles).</summary>
    public static LoadResult FromLatencies(double perSecond, List<double> micros)
    {
        if (micros.Count == 0) throw new InvalidOperationException("no request completed");
        micros.Sort();
        double Percentile(double p) => micros[Math.Max(0, (int)Math.Ceiling(p / 100 * micros.Count) - 1)] / 1000;
        return new LoadResult(perSecond, Percentile(50), Percentile(99));
    }
}
