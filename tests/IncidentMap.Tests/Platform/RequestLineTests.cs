using System.Net.Sockets;
using System.Text;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>What Kestrel refuses in the request line before the service sees the request, as the README's errors section says.</summary>
public sealed class RequestLineTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    private async Task<string> SendAsync(string target)
    {
        var uri = new Uri(api.BaseUrl);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n"));
        var answer = new StringBuilder();
        var buffer = new byte[8192];
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        for (int n; (n = await stream.ReadAsync(buffer, reading.Token)) > 0;) answer.Append(Encoding.UTF8.GetString(buffer, 0, n));
        return answer.ToString();
    }

    [Theory]
    [InlineData("/collections/incidents/items/%00")]
    [InlineData("/collections/incidents/items/1%00")]
    [InlineData("/%00")]
    public async Task A_nul_in_the_path_is_kestrels_empty_400(string target)
    {
        // Kestrel decodes the path while parsing the request line and refuses %00 there: no middleware
        // runs, so no problem document can be written. If this starts failing, the path reaches the app.
        var answer = await SendAsync(target);

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Contains("Content-Length: 0", answer);
        Assert.DoesNotContain("problem+json", answer);
    }

    [Fact]
    public async Task A_nul_in_the_query_or_an_escaped_one_in_the_path_reaches_the_service_and_is_a_problem()
    {
        var query = await SendAsync("/collections/incidents/items?q=%00");
        Assert.StartsWith("HTTP/1.1 400", query);
        Assert.Contains("application/problem+json", query);
        Assert.Contains("\"field\":\"q\"", query);

        var escaped = await SendAsync("/collections/incidents/items/%2500");
        Assert.StartsWith("HTTP/1.1 404", escaped);
        Assert.Contains("application/problem+json", escaped);
    }
}
