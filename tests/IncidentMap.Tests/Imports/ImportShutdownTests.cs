using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Imports running when the service is stopped (SIGTERM, as <c>docker stop</c> sends it) or the import
/// command is interrupted (Ctrl+C, SIGTERM): they stop at a batch boundary, report how far they got, and
/// the process ends within seconds. They used to run on until the shutdown timeout cut them off with
/// no report (a job left "running"), and the command died printing nothing, or ignored Ctrl+C.
/// Serial: the time the service takes to stop is measured, and these imports keep the database busy.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ImportShutdownTests
{
    [Fact]
    public async Task SIGTERM_stops_a_running_job_and_a_synchronous_import_at_a_batch_boundary_each_saying_how_far_it_got()
    {
        var (jobSource, syncSource) = (Unique(), Unique());
        await using var database = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        var (key, _) = await new ApiKeys(database).CreateAsync("shutdown-" + jobSource, [Scopes.Read, Scopes.Write]);
        await using var service = new SignalledProcess(ServiceProcess.StartInfo(
            new Dictionary<string, string> { ["Gazetteer__Path"] = "", ["Imports__MaxConcurrent"] = "3" }, "serve"));
        using var http = new HttpClient { BaseAddress = new Uri(await service.ListeningAsync()), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Add("X-API-Key", key);

        var accepted = await http.PostAsync($"{Url}?async=true&source={jobSource}", Streamed(new GeneratedCsvStream(jobSource, 300_000), "text/csv"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var jobId = JsonNode.Parse(await accepted.Content.ReadAsStringAsync())!["id"]!.GetValue<long>();
        var posting = http.PostAsync($"{Url}?source={syncSource}", Streamed(new GeneratedCsvStream(syncSource, 1_000_000), "text/csv"));
        // And the upload of a job that comes slowly, a large file over a slow link (by hand: HttpClient shows
        // no answer before it has sent the whole body).
        using var uploader = new TcpClient();
        await uploader.ConnectAsync(http.BaseAddress!.Host, http.BaseAddress.Port);
        var upload = uploader.GetStream();
        using var uploaded = new CancellationTokenSource();
        var trickling = Task.Run(async () =>
        {
            try
            {
                await upload.WriteAsync(Encoding.ASCII.GetBytes(
                    $"POST {Url}?async=true&source={Unique()} HTTP/1.1\r\nHost: {http.BaseAddress.Authority}\r\nX-API-Key: {key}\r\n" +
                    "Content-Type: text/csv\r\nContent-Length: 100000000\r\n\r\nexternal_id,title,event_type,occurred_at,lon,lat\n"), uploaded.Token);
                // Well above Kestrel's minimum request body data rate (240 bytes/s), which would end it first with a 408:
                // ten rows (about 450 bytes) a tenth of a second. One row a tick (about 450 bytes/s) fell under it once,
                // in a full run on a slow machine, when the two imports beside it stretched the ticks.
                for (var n = 1; ; n += 10)
                {
                    var rows = string.Concat(Enumerable.Range(n, 10).Select(k => $"slow-{k},Row {k},riots,2016-01-01,36.7,34.7\n"));
                    await upload.WriteAsync(Encoding.ASCII.GetBytes(rows), uploaded.Token);
                    await Task.Delay(100, uploaded.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // The service closed the connection, or the test has its answer.
            }
        });
        await WaitUntilAsync(async () => await StoredAsync(database, jobSource) > 0 && await StoredAsync(database, syncSource) > 0, "a batch of each import stored");

        var clock = Stopwatch.StartNew();
        service.Signal(SignalledProcess.SIGTERM);
        var exit = await service.ExitAsync(TimeSpan.FromSeconds(60));
        var stoppedIn = clock.Elapsed;

        Assert.True(exit == 0, $"exit {exit}\n{service.Output}");
        // Well within the host's 30 s shutdown timeout: each import waits only for the batch it was writing.
        Assert.True(stoppedIn < TimeSpan.FromSeconds(15), $"the service took {stoppedIn} to stop\n{service.Output}");

        // The synchronous client is answered, its report saying where the import stopped.
        using var response = await posting;
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {problem}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter is not null, "no Retry-After");
        Assert.Contains("stopped because the server is shutting down", problem["detail"]!.GetValue<string>());
        Assert.Contains("send the same file again", problem["detail"]!.GetValue<string>());
        Assert.Equal("import", problem["errors"]![0]!["field"]!.GetValue<string>());
        await AssertStoppedReportAsync(database, syncSource, problem["report"]!, 1_000_000);

        // The slow upload is answered rather than waited for.
        using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            var refusal = await new StreamReader(upload).ReadToEndAsync(patience.Token);
            Assert.StartsWith("HTTP/1.1 503 ", refusal);
            Assert.Contains("the upload was not stored", refusal);
        }
        await uploaded.CancelAsync();
        await trickling;

        // The job is recorded as failed with its report, not left "running" for the staleness rule.
        string status, report;
        await using (var connection = await database.OpenConnectionAsync())
            (status, report) = await connection.QuerySingleAsync<(string, string)>("SELECT status, report::text FROM import_jobs WHERE id = @jobId", new { jobId });
        Assert.Equal("failed", status);
        var jobReport = JsonNode.Parse(report)!;
        Assert.Contains("stopped because the server is shutting down", jobReport["error"]!["reason"]!.GetValue<string>());
        await AssertStoppedReportAsync(database, jobSource, jobReport, 300_000);

        // Each stopped import is named in a warning.
        var warnings = Regex.Matches(service.Output, @"^warn: .*\n.*$", RegexOptions.Multiline).Select(m => m.Value).ToList();
        Assert.Contains(warnings, w => w.Contains($"Import job {jobId} ({jobSource}, by shutdown-{jobSource}) stopped because the server is shutting down"));
        Assert.Contains(warnings, w => w.Contains($"Import ({syncSource}, by shutdown-{jobSource}) stopped because the server is shutting down"));
    }

    [Theory]
    [InlineData(SignalledProcess.SIGINT, 130, "SIGINT (Ctrl+C)")]
    [InlineData(SignalledProcess.SIGTERM, 143, "SIGTERM")]
    public async Task The_first_signal_stops_the_import_command_at_a_batch_boundary_with_its_report_and_running_it_again_completes_it(
        int signal, int code, string signalName)
    {
        // Few enough rows (five batches) for the whole file to be read while the first batches are written:
        // a progress bar by bytes read says 100 % long before the rows are stored.
        const int rows = 50_000;
        var source = Unique();
        var path = Path.Combine(Path.GetTempPath(), $"{source}.csv");
        await using var database = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        try
        {
            await using (var file = File.Create(path))
                await new GeneratedCsvStream(source, rows).CopyToAsync(file);
            int exit;
            string stdout, stderr, dispositions;
            await using (var command = new SignalledProcess(ServiceProcess.StartInfo(null, "import", path, "--source", source)))
            {
                // The writers are held at their first batch (no insert passes a SHARE lock) until the signal has
                // come, so that it finds batches waiting whatever the machine's speed, as in a file of millions of rows.
                await using (var holder = await database.OpenConnectionAsync())
                await using (var hold = await holder.BeginTransactionAsync())
                {
                    await holder.ExecuteAsync("LOCK TABLE incidents IN SHARE MODE", transaction: hold);
                    // Then the reader reads on to the end of the file, which fits in the batches the writers' lanes hold, and waits.
                    await WaitUntilAsync(async () => await WritersWaitingAsync(database) == 2 && await command.IdleAsync(), "both writers waiting, the reader done");
                    dispositions = command.SignalDispositions();
                    command.Signal(signal);
                }
                exit = await command.ExitAsync(TimeSpan.FromSeconds(30));
                (stdout, stderr) = (command.Stdout, command.Stderr);
            }

            Assert.True(exit == code, $"exit {exit} ({dispositions})\n{stderr}");
            var report = JsonNode.Parse(stdout)!;
            Assert.True(report["rows"]!.GetValue<long>() == rows, $"the signal came before the file was read to its end: {report}");
            var reason = report["error"]!["reason"]!.GetValue<string>();
            Assert.Contains($"stopped by {signalName}", reason);
            Assert.Contains("run the same command again", reason);
            Assert.Contains($"{path}:{report["error"]!["line"]}: import stopped by {signalName}", stderr);
            var stored = await AssertStoppedReportAsync(database, source, report, rows);
            // The bar stops short of 100 %: not every row was stored.
            Assert.DoesNotMatch(@"\b100\s?%", stderr);

            (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "import", path, "--source", source);

            Assert.True(exit == 0, $"exit {exit}\n{stderr}");
            AssertCounts(JsonNode.Parse(stdout)!, rows - stored, 0, stored, 0);
            Assert.Equal(rows, await StoredAsync(database, source));
            Assert.Matches(@"\b100\s?%", stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The report of an import stopped part-way: it counts what the database holds, and every row before
    /// the one it names (rows of <see cref="GeneratedCsvStream"/>: row n is line n + 1, external_id source-n) is stored.
    /// </summary>
    /// <returns>The rows stored.</returns>
    private static async Task<long> AssertStoppedReportAsync(NpgsqlDataSource database, string source, JsonNode report, int rows)
    {
        var error = report["error"]!;
        Assert.Equal("import", error["field"]!.GetValue<string>());
        var record = error["record"]!.GetValue<long>();
        Assert.Equal(record + 1, error["line"]!.GetValue<long>());
        var stored = await StoredAsync(database, source);
        Assert.True(stored > 0 && stored < rows, $"{stored} of {rows} rows stored: {report}");
        AssertCounts(report, stored, 0, 0, 0);
        Assert.Contains($"({stored} rows stored, 0 rejected)", error["reason"]!.GetValue<string>());
        await using var connection = await database.OpenConnectionAsync();
        Assert.Equal(record - 1, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM incidents WHERE import_source = @source AND split_part(external_id, '-', 2)::int < @record", new { source, record }));
        return stored;
    }

    /// <summary>Connections of the test database waiting for a lock on the incidents.</summary>
    private static async Task<long> WritersWaitingAsync(NpgsqlDataSource database)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM pg_locks
            WHERE NOT granted AND relation = 'incidents'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """);
    }

    private static async Task<long> StoredAsync(NpgsqlDataSource database, string source)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @source", new { source });
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException($"not within a minute: {what}");
            await Task.Delay(50);
        }
    }
}

/// <summary>The service binary as a process that the test signals, as a terminal's Ctrl+C or a container runtime does.</summary>
internal sealed class SignalledProcess : IAsyncDisposable
{
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new(), _output = new();

    public SignalledProcess(ProcessStartInfo start)
    {
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Stdout => Read(_stdout);
    public string Stderr => Read(_stderr);

    /// <summary>Standard output and error, interleaved as they came.</summary>
    public string Output => Read(_output);

    /// <summary>Whether the process used no processor time for a while (Linux's /proc): all its threads wait.</summary>
    public async Task<bool> IdleAsync()
    {
        var before = ProcessorTime();
        await Task.Delay(300);
        return ProcessorTime() == before;
    }

    /// <summary>utime + stime, in clock ticks (fields 14 and 15 of /proc/PID/stat; the name before them may hold spaces).</summary>
    private long ProcessorTime()
    {
        var fields = File.ReadAllText($"/proc/{_process.Id}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(fields[11]) + long.Parse(fields[12]);
    }

    /// <summary>The signals the process ignores and catches (Linux's SigIgn, SigCgt masks): a SIGINT ignored from the start stays ignored in .NET.</summary>
    public string SignalDispositions() =>
        string.Join(", ", File.ReadLines($"/proc/{_process.Id}/status").Where(l => l.StartsWith("SigIgn:") || l.StartsWith("SigCgt:")));

    public void Signal(int signal) => Assert.True(Kill(_process.Id, signal) == 0, $"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");

    /// <summary>The base URL of a serving process, once it listens.</summary>
    public async Task<string> ListeningAsync()
    {
        var clock = Stopwatch.StartNew();
        Match listening;
        while (!(listening = Regex.Match(Output, @"Now listening on: (http://\S+)")).Success)
        {
            if (_process.HasExited || clock.Elapsed > TimeSpan.FromMinutes(1)) throw new InvalidOperationException($"the service did not start:\n{Output}");
            await Task.Delay(50);
        }
        return listening.Groups[1].Value;
    }

    public async Task<int> ExitAsync(TimeSpan within)
    {
        using var patience = new CancellationTokenSource(within);
        try
        {
            await _process.WaitForExitAsync(patience.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"still running {within} after the signal:\n{Output}");
        }
        _process.WaitForExit(); // the last lines of output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private void Append(StringBuilder stream, string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            stream.AppendLine(line);
            _output.AppendLine(line);
        }
    }

    private string Read(StringBuilder stream)
    {
        lock (_output) return stream.ToString();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
