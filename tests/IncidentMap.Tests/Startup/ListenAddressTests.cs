using System.Net;
using System.Net.Sockets;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// Where the service listens: ASP.NET Core's own ASPNETCORE_URLS and ASPNETCORE_HTTP_PORTS are
/// obeyed (a default in appsettings.json used to win over them, and the service came up on 8080).
/// </summary>
public sealed class ListenAddressTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("ASPNETCORE_URLS", "http://127.0.0.1:{0}")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "{0}")]
    public async Task The_service_listens_where_aspnetcores_own_variables_say(string variable, string value)
    {
        var port = FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string> { ["Gazetteer__Path"] = "", [variable] = string.Format(value, port) }, "serve");
        start.Environment.Remove("Urls");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var response = await http.GetAsync($"http://127.0.0.1:{port}/health/live");
        Assert.True(response.StatusCode == HttpStatusCode.OK, serving.Log);
    }

    [Theory]
    [InlineData("maps.example.org")]
    [InlineData("*.example.org;localhost")]
    public async Task The_healthcheck_command_passes_host_filtering(string allowedHosts)
    {
        // The command asks 127.0.0.1, which AllowedHosts refused: the container stayed unhealthy.
        var port = FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string>
        {
            ["Gazetteer__Path"] = "", ["Urls"] = $"http://127.0.0.1:{port}", ["AllowedHosts"] = allowedHosts,
        }, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync($"http://127.0.0.1:{port}/health/live")).StatusCode);

        var (exit, _, stderr) = await ServiceProcess.RunAsync(
            new Dictionary<string, string> { ["AllowedHosts"] = allowedHosts, ["PORT"] = $"{port}" }, "healthcheck");

        Assert.True(exit == 0, stderr + serving.Log);
    }

    [Theory]
    [InlineData("127.0.0.1:8080")]
    [InlineData("https://maps.example.org")]
    [InlineData("maps.example.org;maps.example.org/path")]
    public async Task An_allowed_host_that_can_never_match_stops_the_service_naming_it(string allowedHosts)
    {
        var (exit, _, stderr) = await ServiceProcess.RunAsync(new Dictionary<string, string> { ["AllowedHosts"] = allowedHosts }, "migrate");

        Assert.Equal(1, exit);
        Assert.Contains("setting AllowedHosts", stderr);
        Assert.Contains("without scheme, port or path", stderr);
    }

    [Fact]
    public async Task A_port_that_is_no_port_stops_the_service_naming_it()
    {
        var (exit, _, stderr) = await ServiceProcess.RunAsync(new Dictionary<string, string> { ["ASPNETCORE_HTTP_PORTS"] = "80a" }, "migrate");

        Assert.Equal(1, exit);
        Assert.Contains("ASPNETCORE_HTTP_PORTS", stderr);
        Assert.Contains("'80a'", stderr);
    }
}
