using Microsoft.Extensions.Configuration;
using System.Net;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Startup;

/// <summary>What an operator relies on around the service: host filtering with the healthcheck command, trace ids in logs, an unmigrated database said as such.</summary>
public sealed class OperationsTests
{
    [Theory]
    [InlineData("maps.example.org")]
    [InlineData("*.example.org;localhost")]
    public async Task The_healthcheck_command_passes_host_filtering(string allowedHosts)
    {
        // The command asks 127.0.0.1, which AllowedHosts refused: the container stayed unhealthy.
        var port = ServiceProcess.FreePort();
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

    [Fact]
    public async Task The_healthcheck_command_asks_where_the_service_listens_as_urls_say()
    {
        // It asked PORT (default 8080) alone: a service started with --urls elsewhere was reported down,
        // and one on 8080 was reported for it.
        var port = ServiceProcess.FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string> { ["Gazetteer__Path"] = "", ["Urls"] = $"http://127.0.0.1:{port}" }, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);
        var nothing = ServiceProcess.FreePort();

        var (listening, _, listeningErr) = await ServiceProcess.RunAsync(null, "healthcheck", "--urls", $"http://+:{port}");
        var (fromEnvironment, _, environmentErr) = await ServiceProcess.RunAsync(
            new Dictionary<string, string> { ["Urls"] = $"http://0.0.0.0:{port}", ["PORT"] = $"{nothing}" }, "healthcheck");
        var (elsewhere, _, elsewhereErr) = await ServiceProcess.RunAsync(
            new Dictionary<string, string> { ["PORT"] = $"{port}" }, "healthcheck", "--urls", $"http://localhost:{nothing}");

        Assert.True(listening == 0, listeningErr + serving.Log);
        Assert.True(fromEnvironment == 0, environmentErr + serving.Log);
        Assert.Equal(1, elsewhere);
        Assert.Contains($"http://127.0.0.1:{nothing}/health/ready", elsewhereErr);
    }

    /// <summary>
    /// Where the service listens and where its healthcheck asks, picked from one configuration, in this order: Urls
    /// (ASPNETCORE_URLS), then ASPNETCORE_HTTP(S)_PORTS, then PORT, then 8080. The Docker image clears the base image's
    /// ASPNETCORE_HTTP_PORTS=8080 (an empty value is none) and sets PORT: `docker run -e PORT=9000` listened on 9000
    /// through its entrypoint while the HEALTHCHECK asked 8080, so the container was reported unhealthy.
    /// </summary>
    [Theory]
    [InlineData("9000", "", null, "http://+:9000", "http://127.0.0.1:9000")] // the image, run with -e PORT=9000
    [InlineData("9000", "8099", null, null, "http://127.0.0.1:8099")]
    [InlineData("9000", "", "http://127.0.0.1:7000", null, "http://127.0.0.1:7000")] // -e ASPNETCORE_URLS=… wins
    [InlineData(null, null, null, "http://localhost:8080", "http://127.0.0.1:8080")]
    [InlineData(" ", "", null, "http://localhost:8080", "http://127.0.0.1:8080")]
    public void The_service_and_its_healthcheck_take_port_from_one_setting(string? port, string? httpPorts, string? urls,
        string? serviceListens, string healthcheckAsks)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PORT"] = port, ["HTTP_PORTS"] = httpPorts, ["Urls"] = urls,
        }).Build();

        var settings = IncidentMap.Api.Hosting.Settings.From(configuration);

        // The host uses FallbackUrls only when neither Urls nor the ports are set.
        if (serviceListens is not null) Assert.Equal(serviceListens, settings.FallbackUrls);
        Assert.Equal(healthcheckAsks, settings.HealthcheckUrl);
    }

    [Theory]
    [InlineData("http://+:8081", null, null, "http://127.0.0.1:8081")]
    [InlineData("https://maps.example.org:8443;http://[::]:8082", null, null, "http://[::1]:8082")]
    [InlineData("https://*:8443", null, null, "https://127.0.0.1:8443")]
    [InlineData("http://10.1.2.3", null, null, "http://10.1.2.3:80")]
    [InlineData(null, "8083;8084", "8443", "http://127.0.0.1:8083")]
    [InlineData(null, null, "8443", "https://127.0.0.1:8443")]
    [InlineData("http://127.0.0.1:0", null, null, null)]
    [InlineData(null, null, null, null)]
    public void The_healthcheck_reaches_a_listener_over_loopback(string? urls, string? httpPorts, string? httpsPorts, string? expected)
    {
        Assert.Equal(expected, IncidentMap.Api.Hosting.Settings.ListenUrl(urls, httpPorts, httpsPorts));
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
    public async Task A_log_line_of_a_request_carries_the_trace_id_its_problem_names()
    {
        var port = ServiceProcess.FreePort();
        var start = ServiceProcess.StartInfo(new Dictionary<string, string>
        {
            ["Gazetteer__Path"] = "", ["Urls"] = $"http://127.0.0.1:{port}",
            ["Logging__Console__FormatterName"] = "json", ["Logging__LogLevel__Microsoft.AspNetCore"] = "Information",
        }, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/collections/incidents/items?limit=1");
        request.Headers.Add("X-API-Key", "im_not_a_key_" + Guid.NewGuid().ToString("N"));

        var response = await http.SendAsync(request);
        var problem = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var traceId = problem["traceId"]!.GetValue<string>().Split('-')[1];

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        for (var wait = 0; wait < 50 && !serving.Log.Contains(traceId, StringComparison.Ordinal); wait++) await Task.Delay(100);
        Assert.Contains(traceId, serving.Log);
    }

    [Fact]
    public async Task A_service_left_on_an_unmigrated_database_answers_503_not_500()
    {
        await using var database = await OwnDatabase.CreateAsync("unmigrated");
        string name;
        await using (var connection = await database.DataSource.OpenConnectionAsync()) name = connection.Database;
        var port = ServiceProcess.FreePort();
        var environment = ServiceProcess.Logins(name);
        environment["Database__MigrateOnStartup"] = "false";
        environment["Gazetteer__Path"] = "";
        environment["Urls"] = $"http://127.0.0.1:{port}";
        var start = ServiceProcess.StartInfo(environment, "serve");
        await using var serving = await ServiceProcess.ServeAsync(start);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        var response = await http.GetAsync($"http://127.0.0.1:{port}/collections/incidents/items?limit=1");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Database not ready", problem["title"]!.GetValue<string>());
        Assert.NotNull(response.Headers.RetryAfter);
        // One warning line per such request, not an error with a stack trace each time.
        for (var wait = 0; wait < 50 && !serving.Log.Contains("Database not ready for GET", StringComparison.Ordinal); wait++) await Task.Delay(100);
        Assert.Contains("Database not ready for GET /collections/incidents/items", serving.Log);
        Assert.DoesNotContain("Unhandled exception", serving.Log);
    }

    [Fact]
    public async Task Migrate_says_when_the_database_is_newer_than_the_service()
    {
        // A newer release migrated the database; this one reported the schema at its own latest version.
        await using var database = await OwnDatabase.CreateAsync("newer");
        string name;
        await using (var connection = await database.DataSource.OpenConnectionAsync()) name = connection.Database;
        var environment = ServiceProcess.Logins(name);
        environment["Gazetteer__Path"] = "";
        var first = await ServiceProcess.RunAsync(environment, "migrate");
        Assert.True(first.Exit == 0, first.Err);
        await using (var insert = database.DataSource.CreateCommand("INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', 'from_the_future', 'x')"))
            await insert.ExecuteNonQueryAsync();

        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(environment, "migrate");

        Assert.True(exit == 0, stderr);
        Assert.Contains("0 migration(s) applied; schema at 9999, newer than this service, which knows migrations up to", stdout);
    }
}
