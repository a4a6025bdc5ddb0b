using System.Diagnostics;

namespace IncidentMap.Bench;

/// <summary>An export format and how many lines precede the first feature.</summary>
public sealed record ExportFormat(string Name, int HeaderLines);

public sealed record ExportResult(ExportFormat Format, long Expected, long Delivered, double ApiSeconds, double RawSeconds,
    long? RssBeforeKb, long? RssPeakKb, long? HighWaterMarkKb);

/// <summary>
/// Full exports: the API streaming every matching incident over HTTP, against psql's <c>\copy</c> of
/// the same SQL to /dev/null. While the API exports, its resident memory is sampled every 100 ms.
/// </summary>
public sealed class Export(HttpClient http, string psql, IReadOnlyDictionary<string, string> connection, int? apiPid)
{
    public async Task<ExportResult> RunAsync(ExportFormat format, BenchQuery query, long expected, int runs)
    {
        var raw = new List<double>();
        for (var run = 0; run < runs; run++) raw.Add(await TimeAsync(() => CopyAsync(query)));

        var rssBefore = ApiMemory("VmRSS");
        long? rssPeak = null;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            for (; !stop.IsCancellationRequested; await Task.Delay(100))
                if (ApiMemory("VmRSS") is { } kb) rssPeak = Math.Max(rssPeak ?? 0, kb);
        });

        var api = new List<double>();
        long delivered = 0;
        for (var run = 0; run < runs; run++) api.Add(await TimeAsync(async () => delivered = await DownloadAsync(query) - format.HeaderLines));
        await stop.CancelAsync();
        await sampler;

        return new ExportResult(format, expected, delivered, Median(api), Median(raw), rssBefore, rssPeak, ApiMemory("VmHWM"));
    }

    private async Task CopyAsync(BenchQuery query)
    {
        // \copy takes its statement on one line; the builder's line breaks are only layout.
        var sql = query.Sql.ReplaceLineEndings(" ");
        await ExternalTool.RunAsync(psql, ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--command", $"\\copy ({sql}) TO '/dev/null'"], connection);
    }

    /// <summary>Reads the whole response and returns how many lines it had.</summary>
    private async Task<long> DownloadAsync(BenchQuery query)
    {
        using var response = await http.GetAsync(query.Path, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[1 << 20];
        long lines = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0) lines += buffer.AsSpan(0, read).Count((byte)'\n');
        return lines;
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var clock = Stopwatch.StartNew();
        await action();
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>A memory figure of the API process from /proc (VmRSS: now, VmHWM: its peak so far) in KiB; null without a process.</summary>
    private long? ApiMemory(string field)
    {
        if (apiPid is not { } pid) return null;
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":"));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
