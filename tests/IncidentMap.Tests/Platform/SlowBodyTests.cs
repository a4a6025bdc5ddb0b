using System.Net.Sockets;
using System.Text;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>A body that trickles in is cut off with a problem that says what to do, over a real socket.</summary>
public sealed class SlowBodyTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    [Fact]
    public async Task A_body_slower_than_kestrels_minimum_rate_is_a_408_saying_so()
    {
        var uri = new Uri(api.BaseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        var head = $"POST /collections/incidents/items HTTP/1.1\r\nHost: {uri.Authority}\r\nX-API-Key: {api.Key}\r\n" +
                   "Content-Type: application/geo+json\r\nContent-Length: 100000\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

        // One byte a second, under Kestrel's 240 bytes a second, until the server answers.
        var answer = new StringBuilder();
        var buffer = new byte[8192];
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = stream.ReadAsync(buffer, reading.Token).AsTask();
        while (!read.IsCompleted)
        {
            try { await stream.WriteAsync("{"u8.ToArray()); } catch (IOException) { break; }
            await Task.WhenAny(read, Task.Delay(1000));
        }
        // The rest of the answer, until the server closes the connection.
        for (var count = await read; count > 0; count = await stream.ReadAsync(buffer, reading.Token))
            answer.Append(Encoding.UTF8.GetString(buffer, 0, count));

        var text = answer.ToString();
        Assert.StartsWith("HTTP/1.1 408", text);
        Assert.Contains("application/problem+json", text);
        // Kestrel's own words name its setting (MinRequestBodyDataRate) under the title "Bad request".
        Assert.Contains("\"title\":\"Request timeout\"", text);
        Assert.Contains("send it faster", text);
        Assert.DoesNotContain("MinRequestBodyDataRate", text);
    }
}
