using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// A service on a real loopback port (Kestrel counts a chunked body against the limit as it is read) that takes
/// uploads of at most <see cref="MaxBytes"/> bytes, writes batches of 50 rows, wants a body's bytes at 2,000 a second
/// after a grace of two seconds, and keeps what the importer logs.
/// </summary>
public sealed class ImportBodyLimitFactory : ConfiguredFactory
{
    public const long MaxBytes = 40_000;

    public string BaseUrl { get; private set; } = "";

    public ConcurrentQueue<(LogLevel Level, string Text)> ImporterLog { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
            services.AddSingleton(new ImportSettings { MaxConcurrent = 1, MaxBytes = MaxBytes, Writers = 1, BatchRows = 50 }));
        builder.ConfigureLogging(logging => logging.AddProvider(new ImporterLogProvider(ImporterLog)));
    }

    public override async Task InitializeAsync()
    {
        UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(2_000, TimeSpan.FromSeconds(2));
        });
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().TrimEnd('/');
        await base.InitializeAsync();
    }

    private sealed class ImporterLogProvider(ConcurrentQueue<(LogLevel, string)> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) =>
            categoryName == typeof(Importer).FullName ? new Logger(log) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        public void Dispose() { }

        private sealed class Logger(ConcurrentQueue<(LogLevel, string)> log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                log.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>
/// An upload that stops being read part-way, by the body limit or the minimum data rate, after batches of it were
/// stored. It was answered with a bare 413 (or nothing at all) and logged nothing, while thousands of rows stayed
/// stored; now it is answered as a cut-off compressed upload is: the report says which rows were stored and why
/// the rest was not read.
/// </summary>
public sealed class ImportBodyLimitTests(ImportBodyLimitFactory api) : IClassFixture<ImportBodyLimitFactory>
{
    private HttpClient Client()
    {
        var client = new HttpClient { BaseAddress = new Uri(api.BaseUrl), Timeout = TimeSpan.FromMinutes(1) };
        client.DefaultRequestHeaders.Add("X-API-Key", api.Key);
        return client;
    }

    private static async Task<long> StoredAsync(string source)
    {
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @source", new { source });
    }

    [Fact]
    public async Task A_chunked_upload_past_the_limit_is_a_413_whose_report_says_which_rows_were_stored()
    {
        var source = Unique();
        // About three times the limit, chunked (no Content-Length): Kestrel stops it as the limit is passed. In pieces,
        // as uploads over a network arrive, so that the importer has rows to store before it reads past the limit.
        var csv = Encoding.UTF8.GetBytes(RowsCsv(source, 1, 1_500, _ => "of a file too large"));
        Assert.True(csv.Length > 2 * ImportBodyLimitFactory.MaxBytes, $"{csv.Length} bytes");
        var (status, body) = await PostPacedAsync($"{Url}?source={source}", csv, async () =>
        {
            // Batches of the first part are stored before the rest is sent, whatever the machine's speed.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (await StoredAsync(source) < 100 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        });

        Assert.True(status == 413, $"{status}: {body}");
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("body", problem["errors"]![0]!["field"]!.GetValue<string>());
        var report = problem["report"]!;
        var stored = await StoredAsync(source);
        Assert.True(stored >= 100, $"only {stored} rows were stored before the limit: {problem}");
        AssertCounts(report, stored, 0, 0, 0);
        // Row n is on line n + 1: every row before the line the error names was stored, and none after.
        var error = report["error"]!;
        Assert.Equal((stored + 2, stored + 1, "body"), (error["line"]!.GetValue<long>(), error["record"]!.GetValue<long>(), error["field"]!.GetValue<string>()));
        Assert.Contains($"limit of {ImportBodyLimitFactory.MaxBytes} bytes", error["reason"]!.GetValue<string>());
        Assert.Contains("not read", error["reason"]!.GetValue<string>());
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains($"line {stored + 2}", detail);
        Assert.Contains($"The {stored} row(s) before it were imported", detail);
        Assert.Contains(api.ImporterLog, l => l.Level == LogLevel.Warning && l.Text.Contains(source) && l.Text.Contains($"{stored} inserted"));

        // The slot was given back.
        var small = await Client().PostAsync($"{Url}?source={source}", new StringContent(
            $"external_id,title,event_type,occurred_at,lon,lat\n{source}-small,Small,riots,2016-01-01,1,1\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }

    [Fact]
    public async Task A_job_whose_upload_is_past_the_limit_is_a_413_that_stores_nothing_and_creates_no_job()
    {
        var source = Unique();
        // Paced, and sending stops once the answer is there: with HttpClient the test lost a race now and then, failing
        // with a broken pipe when the server answered 413 and closed the connection while the client was still sending.
        var csv = Encoding.UTF8.GetBytes(RowsCsv(source, 1, 2_000, _ => "of a job too large"));
        Assert.True(csv.Length > 2 * ImportBodyLimitFactory.MaxBytes, $"{csv.Length} bytes");
        var (status, body) = await PostPacedAsync($"{Url}?async=true&source={source}", csv, () => Task.CompletedTask);

        Assert.True(status == 413, $"{status}: {body}");
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("body", problem["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Contains($"{ImportBodyLimitFactory.MaxBytes} bytes", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await StoredAsync(source));
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM import_jobs WHERE report ->> 'source' = @source", new { source }));
    }

    [Fact]
    public async Task An_upload_that_stalls_below_the_minimum_data_rate_reports_and_logs_the_rows_it_stored()
    {
        var source = Unique();
        var first = RowsCsv(source, 1, 120, _ => "before the stall");
        var response = await Client().PostAsync($"{Url}?source={source}", Streamed(new StallingStream(Encoding.UTF8.GetBytes(first)), "text/csv"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestTimeout, "body");
        Assert.Equal(120, await StoredAsync(source));
        AssertCounts(problem["report"]!, 120, 0, 0, 0);
        Assert.Equal(122, problem["report"]!["error"]!["line"]!.GetValue<long>());
        Assert.Contains("too slowly (less than 2000 bytes a second)", problem["detail"]!.GetValue<string>());
        Assert.Contains(api.ImporterLog, l => l.Level == LogLevel.Warning && l.Text.Contains(source) && l.Text.Contains("120 inserted") && l.Text.Contains("too slowly"));
    }

    /// <summary>
    /// An upload that ends before its Content-Length (the client half-closes its side, or the connection breaks) cannot be
    /// answered: Kestrel closes such a connection without a response, and aborts the request. It went unlogged, so that
    /// nobody could tell what became of its rows; now a warning says where the upload ended and what was stored. Should
    /// Kestrel ever answer it, this test fails, and the README (which says it is not answered) is to be corrected.
    /// </summary>
    [Fact]
    public async Task An_upload_cut_off_before_its_Content_Length_is_closed_unanswered_and_logged_as_a_warning()
    {
        var source = Unique();
        // 120 rows, of which the last is cut: two batches of 50 are stored, the 19 rows after them are read but never written.
        var csv = Encoding.UTF8.GetBytes(RowsCsv(source, 1, 120, _ => "cut off"));
        using var client = new TcpClient();
        var address = new Uri(api.BaseUrl);
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {Url}?source={source} HTTP/1.1\r\nHost: {address.Authority}\r\nX-API-Key: {api.Key}\r\n" +
            $"Content-Type: text/csv\r\nContent-Length: {csv.Length}\r\n\r\n"));
        await stream.WriteAsync(csv.AsMemory(0, csv.Length - 20));
        // The import is under way before the end of the input is seen, as over a network: otherwise the request is
        // aborted before it reaches the import (while its key is checked), and nothing is logged by the import.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await StoredAsync(source) < 100 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        client.Client.Shutdown(SocketShutdown.Send);
        string answer;
        try
        {
            answer = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (IOException)
        {
            answer = ""; // reset rather than closed: no answer either
        }

        Assert.Equal("", answer);
        clock.Restart();
        while (!api.ImporterLog.Any(l => l.Text.Contains(source)) && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20);
        var warning = Assert.Single(api.ImporterLog, l => l.Text.Contains(source));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"the upload ended after {csv.Length - 20} of the {csv.Length} bytes its Content-Length declared", warning.Text);
        Assert.Contains("100 rows of it were stored, 0 rejected, after 119 rows read", warning.Text);
        Assert.Equal(100, await StoredAsync(source));

        // The slot was given back.
        var small = await Client().PostAsync($"{Url}?source={source}", new StringContent(
            $"external_id,title,event_type,occurred_at,lon,lat\n{source}-small,Small,riots,2016-01-01,1,1\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
    }

    /// <summary>
    /// POSTs a CSV chunked: its first 10,000 bytes, then once <paramref name="sent"/> has returned, the rest 2,000 bytes
    /// at a time 20 ms apart, as curl --limit-rate would, until the server answers (HttpClient would fail with a
    /// broken pipe as the server closes the connection of an upload it stopped reading).
    /// </summary>
    private async Task<(int Status, string Body)> PostPacedAsync(string path, byte[] data, Func<Task> sent)
    {
        using var client = new TcpClient();
        var address = new Uri(api.BaseUrl);
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: {address.Authority}\r\nX-API-Key: {api.Key}\r\n" +
            "Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
        try
        {
            async Task ChunkAsync(ReadOnlyMemory<byte> piece)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"));
                await stream.WriteAsync(piece);
                await stream.WriteAsync("\r\n"u8.ToArray());
            }
            await ChunkAsync(data.AsMemory(0, 10_000));
            await sent();
            for (var offset = 10_000; offset < data.Length && client.Available == 0; offset += 2_000)
            {
                await ChunkAsync(data.AsMemory(offset, Math.Min(2_000, data.Length - offset)));
                await Task.Delay(20);
            }
        }
        catch (IOException)
        {
            // The server closed the connection after answering: the answer is read below.
        }
        var answer = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync();
        return (int.Parse(answer.Split(' ')[1]), DechunkedBody(answer));
    }

    /// <summary>Hands out its bytes, then nothing for longer than the minimum data rate's grace allows, then ends.</summary>
    private sealed class StallingStream(byte[] data) : ForwardOnlyStream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position == data.Length)
            {
                Thread.Sleep(TimeSpan.FromSeconds(8));
                return 0;
            }
            var n = Math.Min(count, data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
    }
}
