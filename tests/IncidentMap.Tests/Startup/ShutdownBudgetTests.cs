using System.Text.RegularExpressions;
using IncidentMap.Api.Hosting;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// <c>docker compose stop</c> sends SIGTERM, then SIGKILL after the service's <c>stop_grace_period</c>
/// (10 s unless set). The host stops within its own shutdown timeout; a grace period shorter than that
/// killed it while imports were still reporting and requests draining.
/// </summary>
public sealed class ShutdownBudgetTests
{
    [Fact]
    public async Task Compose_waits_for_the_service_longer_than_its_host_takes_to_stop()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Testing",
            ApplicationName = typeof(Program).Assembly.GetName().Name,
        });
        ApiFixture.Configure(builder.WebHost);
        builder.AddIncidentMap();
        await using var app = builder.Build();
        var shutdownTimeout = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;

        var compose = await File.ReadAllTextAsync(Path.Combine(ApiFixture.RepositoryRoot(), "compose.yaml"));
        var api = Regex.Match(compose, @"^  api:\n(?:(?:    .*)?\n)*", RegexOptions.Multiline);
        Assert.True(api.Success, "compose.yaml has no api service");
        var grace = Regex.Match(api.Value, @"^    stop_grace_period: (\d+)s\s*$", RegexOptions.Multiline);
        Assert.True(grace.Success, $"the api service of compose.yaml sets no stop_grace_period in seconds:\n{api.Value}");

        // A few seconds beyond the host's timeout, for the process to log and exit after it.
        Assert.True(TimeSpan.FromSeconds(int.Parse(grace.Groups[1].Value)) >= shutdownTimeout + TimeSpan.FromSeconds(5),
            $"stop_grace_period {grace.Groups[1].Value}s leaves the host's {shutdownTimeout.TotalSeconds} s shutdown timeout no margin");
    }
}
