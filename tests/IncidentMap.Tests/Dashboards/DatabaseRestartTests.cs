using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Dashboards;

/// <summary>PostgreSQL restarts under a connected stream. Serial: the restart drops every session.</summary>
[Collection(SerialCollection.Name)]
public sealed class DatabaseRestartTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task RestartPostgresAsync(string mode)
    {
        var script = Environment.GetEnvironmentVariable("INCIDENTMAP_CLUSTER_SCRIPT")
            ?? throw new InvalidOperationException("INCIDENTMAP_CLUSTER_SCRIPT is not set: run the suite with ./test.sh");
        var start = new ProcessStartInfo(script) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("restart");
        start.ArgumentList.Add(mode);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, $"restart failed: {await stderr}");
        // The restart killed the pooled sessions of the tests' own data source too, and Npgsql does
        // not check a pooled connection before handing it out: a later serial test would get a dead
        // one (57P01).
        api.Database.Clear();
    }

    /// <summary>Creates an incident like a careful client: retries on failure, with an external_id so a retry never duplicates.</summary>
    private async Task<long> CreateWithRetriesAsync(string tag)
    {
        var feature = FeedHelpers.Tagged(tag);
        var externalId = $"restart:{Guid.NewGuid():N}";
        feature["properties"]!["external_id"] = externalId;
        for (var attempt = 0; attempt < 60; attempt++)
        {
            try
            {
                var (response, body) = await _client.PostAsync(feature);
                if (response.StatusCode == HttpStatusCode.Created) return body!["id"]!.GetValue<long>();
                if (response.StatusCode == HttpStatusCode.Conflict) break;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(500);
        }
        var found = await _client.GetJsonAsync($"/collections/incidents/items?tags={tag}&limit=100");
        return found["features"]!.AsArray().Single(f => f!["properties"]!["external_id"]!.GetValue<string>() == externalId)!["id"]!.GetValue<long>();
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task The_stream_loses_no_event_across_a_postgres_restart(string mode)
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        await using var stream = await StreamClient.OpenAsync(_client, tag, cursor: cursor);
        var before = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        Assert.Equal(before, (await stream.NextAsync(TimeSpan.FromSeconds(10))).Data["id"]!.GetValue<long>());

        await RestartPostgresAsync(mode);
        var after = await CreateWithRetriesAsync(tag);
        var again = await CreateWithRetriesAsync(tag);

        var received = new[]
        {
            (await stream.NextAsync(TimeSpan.FromSeconds(30))).Data["id"]!.GetValue<long>(),
            (await stream.NextAsync(TimeSpan.FromSeconds(30))).Data["id"]!.GetValue<long>(),
        };
        Assert.Equal([after, again], received);

        var ready = await _client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
