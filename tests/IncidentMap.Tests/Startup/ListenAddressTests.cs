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
    [InlineData("ASPNETCORE_URLS", "http://127.0.0.1:{0}", "127.0.0.1")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "{0}", "localhost")] // every address of the machine: announced as localhost
    public async Task The_service_listens_where_aspnetcores_own_variables_say(string variable, string value, string announcedHost)
    {
        var port = ServiceProcess.FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string> { ["Gazetteer__Path"] = "", [variable] = string.Format(value, port) }, "serve");
        start.Environment.Remove("Urls");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var response = await http.GetAsync($"http://127.0.0.1:{port}/health/live");
        Assert.True(response.StatusCode == HttpStatusCode.OK, serving.Log);
        // And it says where it is (run.sh printed http://localhost:8080 whatever these said).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!serving.Log.Contains("IncidentMap is at") && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
        Assert.Contains($"IncidentMap is at http://{announcedHost}:{port}/collections/incidents/items; Swagger UI at http://{announcedHost}:{port}/swagger", serving.Log);
    }

    [Fact]
    public async Task As_the_docker_image_runs_it_the_service_listens_on_port_and_its_healthcheck_finds_it_there()
    {
        // The image's environment: PORT, and the base image's ASPNETCORE_HTTP_PORTS cleared. Its HEALTHCHECK runs
        // the same binary with the same environment (no entrypoint), so it must reach the service from PORT alone:
        // the entrypoint turned PORT into Urls for the service only, and the probe asked 8080.
        var port = ServiceProcess.FreePort();
        var image = new Dictionary<string, string> { ["Gazetteer__Path"] = "", ["PORT"] = $"{port}", ["ASPNETCORE_HTTP_PORTS"] = "" };
        var start = ServiceProcess.StartInfo(image, "serve");
        start.Environment.Remove("Urls");
        await using var serving = await ServiceProcess.ServeAsync(start);

        var probe = ServiceProcess.StartInfo(image, "healthcheck");
        probe.Environment.Remove("Urls");
        using var process = System.Diagnostics.Process.Start(probe)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(process.ExitCode == 0, await stderr + serving.Log);
        Assert.Matches($@"Now listening on: http://\S+:{port}\b", serving.Log);
    }

    [Theory]
    [InlineData("http://[::]:8080", "http://localhost:8080")]
    [InlineData("http://0.0.0.0:8081/", "http://localhost:8081")]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000")]
    [InlineData("https://localhost:8443", "https://localhost:8443")]
    public void A_wildcard_address_is_announced_as_localhost(string bound, string announced) =>
        Assert.Equal(announced, IncidentMap.Api.Hosting.IncidentMapHost.BrowsableUrl(bound));

    [Fact]
    public async Task A_port_that_is_no_port_stops_the_service_naming_it()
    {
        var (exit, _, stderr) = await ServiceProcess.RunAsync(new Dictionary<string, string> { ["ASPNETCORE_HTTP_PORTS"] = "80a" }, "migrate");

        Assert.Equal(1, exit);
        Assert.Contains("ASPNETCORE_HTTP_PORTS", stderr);
        Assert.Contains("'80a'", stderr);
    }
}
