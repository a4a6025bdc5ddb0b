using System.Globalization;
using Npgsql;

namespace IncidentMap.Bench;

/// <summary>
/// CPU time per query, in microseconds: the API process, the PostgreSQL cluster, and everything else (the load tool,
/// the kernel's interrupts); and the machine's context switches per query, a steadier sign of hand-offs between
/// threads and processes than a rate on this machine.
/// </summary>
public sealed record CpuSplit(double ApiUs, double PostgresUs, double OtherUs, double Switches);

/// <summary>CPU seconds a load run cost, split as in <see cref="CpuSplit"/>, and the context switches it made.</summary>
public sealed record CpuUsage(double Api, double Postgres, double Other, double Switches)
{
    public CpuSplit PerQuery(long queries)
    {
        double Micros(double seconds) => seconds * 1e6 / Math.Max(queries, 1);
        return new CpuSplit(Micros(Api), Micros(Postgres), Micros(Other), Switches / Math.Max(queries, 1));
    }
}

/// <summary>
/// Who spent the cores during a load run, from /proc: the API process, the PostgreSQL cluster
/// (postmaster, live backends and the backends it has reaped) and the whole machine. On a machine
/// whose cores are all busy, throughput is the cores divided by the CPU time a query costs, so the
/// split tells what an API/raw ratio can reach: (raw PostgreSQL + pgbench) / (PostgreSQL + API + wrk).
/// </summary>
public sealed class CpuMeter(int? apiPid, int postmasterPid)
{
    private static readonly double TicksPerSecond = ClockTicks();

    private readonly record struct Sample(double Api, double Postgres, double Machine, double Switches);

    /// <summary>The meter for the cluster behind <paramref name="db"/>, or null where /proc or its data directory cannot be read.</summary>
    public static async Task<CpuMeter?> OpenAsync(NpgsqlDataSource db, int? apiPid)
    {
        try
        {
            var dataDirectory = await db.CreateCommand("SHOW data_directory").ExecuteScalarAsync() as string;
            var pid = int.Parse(File.ReadLines(Path.Combine(dataDirectory!, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
            var meter = new CpuMeter(apiPid, pid);
            meter.Take();
            return meter;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PostgresException or FormatException)
        {
            Progress.Say($"no CPU split: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Runs <paramref name="run"/> and, when there is a meter, returns the CPU time it cost, to be
    /// divided by the queries it ran.
    /// </summary>
    public static async Task<(T Result, CpuUsage? Usage)> MeasureAsync<T>(CpuMeter? meter, Func<Task<T>> run) =>
        meter is null ? (await run(), null) : await meter.MeasureAsync(run);

    private async Task<(T Result, CpuUsage? Usage)> MeasureAsync<T>(Func<Task<T>> run)
    {
        // Backends exit as the load tool disconnects: let the postmaster reap those of the run before
        // (their time moves into its children's), so none is missed or counted twice between two reads.
        var settle = TimeSpan.FromMilliseconds(500);
        await Task.Delay(settle);
        var before = Take();
        var result = await run();
        await Task.Delay(settle);
        var after = Take();
        var api = after.Api - before.Api;
        var postgres = after.Postgres - before.Postgres;
        return (result, new CpuUsage(api, postgres, Math.Max(0, after.Machine - before.Machine - api - postgres), after.Switches - before.Switches));
    }

    private Sample Take()
    {
        var (busy, switches) = Machine();
        return new Sample(
            apiPid is { } pid ? ProcessTicks(pid, children: false) / TicksPerSecond : 0,
            PostgresTicks() / TicksPerSecond,
            busy / TicksPerSecond,
            switches);
    }

    private double PostgresTicks()
    {
        // Reaped backends' time is in the postmaster's cutime/cstime; live ones are read one by one.
        var total = ProcessTicks(postmasterPid, children: true);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == postmasterPid) continue;
            if (Stat(pid) is { } fields && fields[1] == postmasterPid.ToString(CultureInfo.InvariantCulture))
                total += double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        return total;
    }

    private static double ProcessTicks(int pid, bool children)
    {
        var fields = Stat(pid) ?? throw new IOException($"process {pid} is gone");
        // After the command's closing parenthesis: state, ppid, … utime is field 14 of stat, index 11 here.
        var ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
        if (children) ticks += double.Parse(fields[13], CultureInfo.InvariantCulture) + double.Parse(fields[14], CultureInfo.InvariantCulture);
        return ticks;
    }

    /// <summary>The fields of /proc/PID/stat after the command name (which may hold spaces), or null if the process is gone.</summary>
    private static string[]? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// From one read of /proc/stat: the busy time of all cores (user, nice, system, irq, softirq and steal from its
    /// first line), and the machine's context switches since boot (its <c>ctxt</c> line).
    /// </summary>
    private static (double BusyTicks, double Switches) Machine()
    {
        var lines = File.ReadAllLines("/proc/stat");
        var fields = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var busy = new[] { 1, 2, 3, 6, 7, 8 }.Sum(n => double.Parse(fields[n], CultureInfo.InvariantCulture));
        var switches = double.Parse(lines.First(l => l.StartsWith("ctxt ", StringComparison.Ordinal))[5..], CultureInfo.InvariantCulture);
        return (busy, switches);
    }

    private static double ClockTicks()
    {
        try
        {
            return double.Parse(ExternalTool.RunAsync("getconf", ["CLK_TCK"]).GetAwaiter().GetResult().Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception)
        {
            return 100; // Linux's USER_HZ on every common architecture
        }
    }
}
