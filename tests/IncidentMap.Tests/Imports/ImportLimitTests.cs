using System.Net;
using System.Text;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// A service on a real loopback port (Kestrel enforces the body limit and streams uploads, the test
/// server does neither) that runs one import at a time and takes uploads of at most 2,000 bytes.
/// </summary>
public sealed class ImportLimitsFactory() : ConfiguredFactory(("Imports:MaxConcurrent", "1"), ("Imports:MaxBytes", "2000"))
{
    public string BaseUrl { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1").TrimEnd('/');
        await base.InitializeAsync();
    }
}

/// <summary>The limits on imports: how many run at once, and how large an upload may be.</summary>
public sealed class ImportLimitTests(ImportLimitsFactory api) : IClassFixture<ImportLimitsFactory>
{
    private const string Csv = "text/csv";
    private const string Header = "external_id,title,event_type,occurred_at,lon,lat\n";

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
    public async Task An_import_past_the_running_limit_is_answered_429_with_Retry_After_and_the_first_is_unharmed()
    {
        var source = Unique();
        var client = Client();
        // The first import's upload is sent by hand, in two chunks, so it is certainly running (and
        // holding the only slot) while the second import asks.
        using var first = new System.Net.Sockets.TcpClient();
        var address = new Uri(api.BaseUrl);
        await first.ConnectAsync(address.Host, address.Port);
        var stream = first.GetStream();
        async Task SendAsync(string text) { await stream.WriteAsync(Encoding.ASCII.GetBytes(text)); await stream.FlushAsync(); }
        static string Chunk(string data) => $"{Encoding.UTF8.GetByteCount(data):x}\r\n{data}\r\n";
        await SendAsync($"POST {Url}?source={source} HTTP/1.1\r\nHost: {address.Authority}\r\nX-API-Key: {api.Key}\r\n" +
            "Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
            Chunk(Header + $"{source}-1,First row,riots,2016-01-01,1,1\n"));

        HttpResponseMessage second;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            await Task.Delay(50);
            second = await client.PostAsync($"{Url}?source={source}-other", new StringContent(Header, Encoding.UTF8, Csv));
        } while (second.StatusCode == HttpStatusCode.OK && waited.Elapsed < TimeSpan.FromSeconds(4));

        var problem = await ProblemAssert.IsProblemAsync(second, HttpStatusCode.TooManyRequests);
        Assert.Contains("1 imports are already running", problem["detail"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(30), second.Headers.RetryAfter?.Delta);

        await SendAsync(Chunk($"{source}-2,Second row,riots,2016-01-02,2,2\n") + "0\r\n\r\n");
        var answer = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 200", answer);
        AssertCounts(System.Text.Json.Nodes.JsonNode.Parse(DechunkedBody(answer))!, 2, 0, 0, 0);
        Assert.Equal(2, await StoredAsync(source));

        // The slot is free again.
        var third = await client.PostAsync($"{Url}?source={source}-third", new StringContent(Header + $"{source}-3,Third,riots,2016-01-03,3,3\n", Encoding.UTF8, Csv));
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
    }

    [Fact]
    public async Task An_upload_over_the_size_limit_is_a_413_problem_and_imports_nothing()
    {
        var source = Unique();
        var csv = new StringBuilder(Header);
        for (var n = 0; csv.Length <= 4000; n++) csv.Append($"{source}-{n},Row {n} of a file too large,riots,2016-01-01,1,1\n");

        var response = await Client().PostAsync($"{Url}?source={source}", new StringContent(csv.ToString(), Encoding.UTF8, Csv));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("2000 bytes", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await StoredAsync(source));

        // The refused upload gave its slot back: a small file still imports.
        var small = await Client().PostAsync($"{Url}?source={source}", new StringContent(Header + $"{source}-small,Small,riots,2016-01-01,1,1\n", Encoding.UTF8, Csv));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(1, await StoredAsync(source));
    }
    [Fact]
    public async Task A_compressed_upload_counts_against_the_limit_once_decompressed()
    {
        var source = Unique();
        var csv = Header + string.Concat(Enumerable.Range(0, 200).Select(n => $"{source}-{n},Same row again,riots,2016-01-01,1,1\n"));
        var bytes = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(bytes, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(Encoding.UTF8.GetBytes(csv));
        Assert.True(bytes.Length < 2000 && csv.Length > 2000, $"{bytes.Length} compressed, {csv.Length} plain");
        var content = new ByteArrayContent(bytes.ToArray()) { Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Csv) } };
        content.Headers.ContentEncoding.Add("gzip");

        var response = await Client().PostAsync($"{Url}?source={source}", content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, await StoredAsync(source));
    }
}
