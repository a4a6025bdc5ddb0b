using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Changes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Dashboards;

/// <summary>Reads Server-Sent Events from a streaming response.</summary>
public sealed class SseReader(Stream stream) : IAsyncDisposable
{
    private readonly StreamReader _reader = new(stream);

    public sealed record Event(string Id, string Name, JsonNode Data);

    public async Task<Event> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        string? id = null, name = null, data = null;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("stream closed");
            if (line.StartsWith("id: ")) id = line[4..];
            else if (line.StartsWith("event: ")) name = line[7..];
            else if (line.StartsWith("data: ")) data = line[6..];
            else if (line.Length == 0 && data is not null) return new Event(id!, name!, JsonNode.Parse(data)!);
        }
    }

    /// <summary>The id of the next block that has no data (the stream's cursor as it stands).</summary>
    public async Task<string> NextIdOnlyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        string? id = null;
        var data = false;
        while (true)
        {
            var line = await _reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("stream closed");
            if (line.StartsWith("id: ")) id = line[4..];
            else if (line.StartsWith("data: ")) data = true;
            else if (line.Length == 0)
            {
                if (!data && id is not null) return id;
                (id, data) = (null, false);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        return ValueTask.CompletedTask;
    }
}

public static class StreamClient
{
    public static async Task<SseReader> OpenAsync(HttpClient client, string tag, string? lastEventId = null, string? cursor = null, string? more = null)
    {
        var url = $"/collections/incidents/stream?tags={tag}" + (cursor is null ? "" : $"&cursor={cursor}") + (more is null ? "" : "&" + more);
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new SseReader(await response.Content.ReadAsStreamAsync());
    }
}

[Collection(ApiCollection.Name)]
public sealed class StreamTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    /// <summary>
    /// How long an event may take to arrive. The feed holds a change back while an older write transaction is
    /// open (so no reader skips it), and tests running in parallel hold row locks for seconds (the import
    /// timeout tests hold one past a 2 s command timeout, then wait for the import): 10 s failed a CI run.
    /// A stream that never delivers still fails, a minute later.
    /// </summary>
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Reconnecting_with_last_event_id_resumes_exactly_after_that_event()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        string firstId;
        await using (var stream = await StreamClient.OpenAsync(_client, tag, cursor: cursor))
        {
            await _client.CreateAsync(FeedHelpers.Tagged(tag));
            firstId = (await stream.NextAsync(Soon)).Id;
        }
        var second = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var third = await _client.CreateAsync(FeedHelpers.Tagged(tag));

        await using var resumed = await StreamClient.OpenAsync(_client, tag, lastEventId: firstId);
        var a = await resumed.NextAsync(Soon);
        var b = await resumed.NextAsync(Soon);

        Assert.Equal([second, third], new[] { a.Data["id"]!.GetValue<long>(), b.Data["id"]!.GetValue<long>() });
    }

    [Fact]
    public async Task A_stream_opened_with_a_key_ends_once_the_key_is_revoked()
    {
        var (key, info) = await api.Services.NewKeyAsync("stream-revoked-" + Guid.NewGuid().ToString("N")[..8], IncidentMap.Api.Security.Scopes.All);
        using var client = api.ClientWithKey(key);
        var tag = FeedHelpers.NewTag();
        await using var stream = await StreamClient.OpenAsync(client, tag);
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        Assert.Equal("created", (await stream.NextAsync(Soon)).Name);

        Assert.True(await api.Services.GetRequiredService<IncidentMap.Api.Security.ApiKeys>().RevokeAsync(info.Id.ToString()));

        // Within ChangesApi.KeyCheck (5 s), and nothing after it: it went on with the editor's view.
        var said = await stream.NextAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("unauthorized", said.Name);
        await Assert.ThrowsAsync<EndOfStreamException>(() => stream.NextAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task A_stream_names_its_cursor_before_any_event_so_a_reconnect_misses_nothing_written_in_between()
    {
        var tag = FeedHelpers.NewTag();
        string startedAt;
        await using (var stream = await StreamClient.OpenAsync(_client, tag))
            startedAt = await stream.NextIdOnlyAsync(Soon);
        // Written while the client is away, before it ever saw an event.
        var missed = await _client.CreateAsync(FeedHelpers.Tagged(tag));

        await using var resumed = await StreamClient.OpenAsync(_client, tag, lastEventId: startedAt);

        Assert.Equal(missed, (await resumed.NextAsync(Soon)).Data["id"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_window_relative_to_now_moves_with_the_stream()
    {
        var tag = FeedHelpers.NewTag();
        await using var stream = await StreamClient.OpenAsync(_client, tag, more: "datetime=PT1H");
        await Task.Delay(TimeSpan.FromMilliseconds(1100)); // past the second the stream connected in

        var feature = FeedHelpers.Tagged(tag);
        feature["properties"]!["occurred_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var recent = await _client.CreateAsync(feature);

        Assert.Equal(recent, (await stream.NextAsync(Soon)).Data["id"]!.GetValue<long>());
    }

    [Fact]
    public async Task The_stream_survives_termination_of_its_database_listener()
    {
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        await using var stream = await StreamClient.OpenAsync(_client, tag, cursor: cursor);
        var before = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        Assert.Equal(before, (await stream.NextAsync(Soon)).Data["id"]!.GetValue<long>());

        await using (var connection = await api.Database.OpenConnectionAsync())
        {
            // This host's listener only: the other hosts of the suite listen on the same database.
            var listener = api.Services.GetRequiredService<ChangeListener>();
            Assert.True(await connection.ExecuteScalarAsync<bool>(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = @pid AND application_name = 'incidentmap-listener'",
                new { pid = listener.BackendProcessId }));
        }
        var after = await _client.CreateAsync(FeedHelpers.Tagged(tag));

        Assert.Equal(after, (await stream.NextAsync(Soon)).Data["id"]!.GetValue<long>());
    }
}

/// <summary>
/// How soon a change reaches a connected client. Serial: the feed holds every change back behind any
/// older transaction of this database still running (docs/change-feed.md), so a test writing meanwhile
/// (an import batch of the parallel collections, say) would delay the event by as long as that
/// transaction takes, and the measurement would time the other test instead of the stream.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class StreamLatencyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_change_reaches_a_connected_client_within_a_second()
    {
        // A connected client of a connected service: a serial test before this one may have restarted
        // PostgreSQL, and the listener's reconnect backoff is not what this test times.
        var listener = api.Services.GetRequiredService<ChangeListener>();
        for (var waited = 0; !listener.Listening && waited < 100; waited++) await Task.Delay(100);
        Assert.True(listener.Listening, "the change listener did not reconnect within 10 s");
        var tag = FeedHelpers.NewTag();
        var cursor = await _client.HeadAsync(tag);
        await using var stream = await StreamClient.OpenAsync(_client, tag, cursor: cursor);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var received = await stream.NextAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("created", received.Name);
        Assert.Equal(id, received.Data["id"]!.GetValue<long>());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(1.5), $"took {started.Elapsed}");
    }
}
