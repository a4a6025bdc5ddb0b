using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Imports;

public static partial class ImportHelpers
{
    public const string Url = "/collections/incidents/imports";

    /// <summary>A token that keeps one test's external ids and source apart from every other test's.</summary>
    public static string Unique() => "t" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>db/sample/acled-sample.csv with every event id prefixed, so each test imports incidents of its own.</summary>
    public static string AcledSample(string prefix) =>
        EventId().Replace(File.ReadAllText(Path.Combine(ApiFixture.RepositoryRoot(), "db", "sample", "acled-sample.csv")), $"{prefix}-$1,");

    [GeneratedRegex(@"^([A-Z]{3}\d+),", RegexOptions.Multiline)]
    private static partial Regex EventId();

    /// <summary>Live incidents, their versions, revisions and feed changes, of the external ids that start with the prefix.</summary>
    public static async Task<(long Incidents, long Versions, long Revisions, long Changes)> HistoryAsync(this NpgsqlDataSource database, string prefix)
    {
        await using var connection = await database.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(long, long, long, long)>("""
            SELECT count(*), coalesce(sum(version), 0),
                   (SELECT count(*) FROM incident_revisions r JOIN incidents i ON i.id = r.incident_id WHERE i.external_id LIKE @p),
                   (SELECT count(*) FROM incident_changes c JOIN incidents i ON i.id = c.incident_id WHERE i.external_id LIKE @p)
            FROM incidents WHERE external_id LIKE @p AND deleted_at IS NULL
            """, new { p = prefix + "-%" });
    }

    public static async Task<(HttpStatusCode Status, JsonObject Body)> PostImportAsync(this HttpClient client, HttpContent content, string query = "")
    {
        var response = await client.PostAsync(Url + query, content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    public static Task<(HttpStatusCode Status, JsonObject Body)> PostImportAsync(this HttpClient client, string body, string mediaType, string query = "") =>
        client.PostImportAsync(new StringContent(body, new UTF8Encoding(false), mediaType), query);

    /// <summary>Imports and asserts a 200 with these counts.</summary>
    public static async Task<JsonObject> ImportOkAsync(this HttpClient client, string body, string mediaType, string query,
        long inserted, long updated, long unchanged, long rejected)
    {
        var (status, report) = await client.PostImportAsync(body, mediaType, query);
        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, inserted, updated, unchanged, rejected);
        return report;
    }

    public static void AssertCounts(JsonNode report, long inserted, long updated, long unchanged, long rejected) =>
        Assert.True(
            report["inserted"]!.GetValue<long>() == inserted && report["updated"]!.GetValue<long>() == updated
            && report["unchanged"]!.GetValue<long>() == unchanged && report["rejected"]!.GetValue<long>() == rejected,
            $"expected {inserted}/{updated}/{unchanged}/{rejected} inserted/updated/unchanged/rejected: {report}");

    public static List<(long Line, string Field, string? Column, string Reason)> Problems(JsonNode report) =>
        report["rejected_rows"]!.AsArray().Select(p => (p!["line"]!.GetValue<long>(), p["field"]!.GetValue<string>(),
            p["column"]?.GetValue<string>(), p["reason"]!.GetValue<string>())).ToList();

    /// <summary>A CSV of rows <paramref name="from"/> to <paramref name="to"/> (external ids prefix-n, row n on line n + 1), titled by <paramref name="title"/>; no place fields.</summary>
    public static string RowsCsv(string prefix, int from, int to, Func<int, string> title)
    {
        var csv = new StringBuilder("external_id,title,event_type,occurred_at,lon,lat\n");
        for (var n = from; n <= to; n++) csv.Append($"{prefix}-{n},Row {n} {title(n)},riots,2016-01-01,{n % 90}.5,{n % 45}.25\n");
        return csv.ToString();
    }

    /// <summary>The body of a raw HTTP/1.1 response, joined from its chunks when it was chunked.</summary>
    public static string DechunkedBody(string response)
    {
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = response[..split];
        var body = response[(split + 4)..];
        if (!head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) return body;
        var joined = new StringBuilder();
        while (true)
        {
            var line = body.IndexOf("\r\n", StringComparison.Ordinal);
            var size = Convert.ToInt32(body[..line], 16);
            if (size == 0) return joined.ToString();
            joined.Append(body, line + 2, size);
            body = body[(line + 2 + size + 2)..];
        }
    }

    public static StreamContent Streamed(Stream stream, string mediaType)
    {
        var content = new StreamContent(stream);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }
}

/// <summary>Hands out at most a few bytes per read: every buffer boundary a parser can meet.</summary>
public sealed class TrickleStream(byte[] data, int seed) : ForwardOnlyStream
{
    private readonly Random _random = new(seed);
    private int _position;

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = Math.Min(Math.Min(count, 1 + _random.Next(7)), data.Length - _position);
        Array.Copy(data, _position, buffer, offset, n);
        _position += n;
        return n;
    }

}

/// <summary>A CSV of <c>rows</c> valid incidents (our columns) produced while it is read; never held whole.</summary>
public sealed class GeneratedCsvStream(string prefix, int rows) : ForwardOnlyStream
{
    private byte[] _pending = Encoding.UTF8.GetBytes("external_id,title,summary,event_type,occurred_at,country,fatalities_max,actors,lon,lat\n");
    private int _offset;
    private int _next = 1;

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_offset == _pending.Length)
        {
            if (_next > rows) return 0;
            var text = new StringBuilder();
            for (var end = Math.Min(rows, _next + 499); _next <= end; _next++)
                text.Append($"{prefix}-{_next},\"Generated incident {_next}\",\"A summary, with a comma, for row {_next}.\",battles,2016-02-{1 + _next % 28:00}T10:00:00Z,SY,{_next % 50},Army;Rebels,{36 + _next % 1000 / 1000.0:0.000},{34 + _next % 997 / 1000.0:0.000}\n");
            _pending = Encoding.UTF8.GetBytes(text.ToString());
            _offset = 0;
        }
        var n = Math.Min(count, _pending.Length - _offset);
        Array.Copy(_pending, _offset, buffer, offset, n);
        _offset += n;
        return n;
    }

}

/// <summary>A stream that can only be read front to back, as a request body is.</summary>
public abstract class ForwardOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>
/// An <see cref="Importer"/> of the fixture's service with settings of its own (one writer, small
/// batches), on connections named <see cref="Application"/>, so that a test can tell when its batches wait.
/// </summary>
public sealed class TestImporter : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly Importer _importer;

    /// <param name="connection">The connection string, when not the service's own login to the test database (a command timeout, server options).</param>
    public TestImporter(IServiceProvider services, ImportSettings settings, NpgsqlConnectionStringBuilder? connection = null)
    {
        Application = "test-importer-" + Guid.NewGuid().ToString("N")[..8];
        connection ??= new NpgsqlConnectionStringBuilder(ApiFixture.AppConnectionString);
        connection.ApplicationName = Application;
        _dataSource = new NpgsqlDataSourceBuilder(connection.ConnectionString).UseNetTopologySuite().Build();
        _importer = new Importer(_dataSource, services.GetRequiredService<IncidentMap.Api.Collections.DataVersion>(), settings,
            services.GetRequiredService<IncidentMap.Api.Places.Gazetteer>(), NullLogger<Importer>.Instance);
    }

    public string Application { get; }

    public Task<ImportReport> RunAsync(string csv, string source) =>
        _importer.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(csv)), new ImportOptions(ImportFormat.Csv, source, "tests"),
            new ImportTally(), default);

    /// <summary>Waits until one of this importer's connections waits for a lock (or the import has ended).</summary>
    public async Task WaitForLockAsync(NpgsqlDataSource database, Task import)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await database.ScalarAsync<bool>(
                   "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = @Application AND wait_event_type = 'Lock')", new { Application }))
        {
            if (import.IsCompleted) await import;
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "the import never waited for the row the test holds");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();
}
