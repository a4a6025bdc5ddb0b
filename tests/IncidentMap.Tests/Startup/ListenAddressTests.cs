using System.Net;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// Where the service listens: ASP.NET Core's own ASPNETCORE_URLS and ASPNETCORE_HTTP_PORTS are
/// obeyed (a default in appsettings.json used to win over them, and the service came up on 8080).
/// </summary>
public sealed class ListenAddressTests
{
    [Theory]
    [InlineData("ASPNETCORE_URLS", "http://127.0.0.1:{0}")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "{0}")]
    public async Task The_service_listens_where_aspnetcores_own_variables_say(string variable, string value)
    {
        var port = ServiceProcess.FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string> { ["Gazetteer__Path"] = "", [variable] = string.Format(value, port) }, "serve");
        start.Environment.Remove("Urls");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var response = await http.GetAsync($"http://127.0.0.1:{port}/health/live");
        Assert.True(response.StatusCode == HttpStatusCode.OK, serving.Log);
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
