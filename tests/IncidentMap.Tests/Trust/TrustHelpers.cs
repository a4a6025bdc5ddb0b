using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace IncidentMap.Tests.Trust;

/// <summary>Keys, clients and database look-ups the trust tests share.</summary>
public static class Trust
{
    public const string ItemsUrl = "/collections/incidents/items";

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>A fresh key named <paramref name="prefix"/>-guid with exactly these scopes.</summary>
    public static Task<(string Key, ApiKeyInfo Info)> NewKeyAsync(this IServiceProvider services, string prefix, params string[] scopes) =>
        services.GetRequiredService<ApiKeys>().CreateAsync(Unique(prefix), scopes);

    /// <summary>A fresh key with these scopes and a client of <paramref name="factory"/> that sends it.</summary>
    public static async Task<(HttpClient Client, string Key, ApiKeyInfo Info)> NewKeyClientAsync<T>(
        this WebApplicationFactory<T> factory, string prefix, params string[] scopes) where T : class
    {
        var (key, info) = await factory.Services.NewKeyAsync(prefix, scopes);
        return (factory.ClientWithKey(key), key, info);
    }

    /// <summary>A client of <paramref name="factory"/> that sends <paramref name="key"/> in X-API-Key (none when null).</summary>
    public static HttpClient ClientWithKey<T>(this WebApplicationFactory<T> factory, string? key) where T : class
    {
        var client = factory.CreateDefaultClient();
        client.DefaultRequestHeaders.Remove(ApiKeyAuthentication.Header);
        if (key is not null) client.DefaultRequestHeaders.Add(ApiKeyAuthentication.Header, key);
        return client;
    }

    /// <summary>A valid Feature carrying a tag no other test uses, so its rows can be counted.</summary>
    public static JsonObject TaggedFeature(string tag)
    {
        var feature = Features.Valid();
        feature["properties"]!["tags"] = new JsonArray(tag);
        return feature;
    }

    public static Task<long> CountTaggedAsync(this NpgsqlDataSource database, string tag) =>
        database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE tags @> ARRAY[@tag]", new { tag });

    /// <summary>The id of the key whose secret is <paramref name="key"/>.</summary>
    public static Task<long> KeyIdAsync(this NpgsqlDataSource database, string key) =>
        database.ScalarAsync<long>("SELECT id FROM api_keys WHERE hash = @hash", new { hash = ApiKeys.Hash(key) });

    public static async Task<TResult> ScalarAsync<TResult>(this NpgsqlDataSource database, string sql, object parameters)
    {
        await using var connection = await database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<TResult>(sql, parameters))!;
    }

    public static HttpRequestMessage Post(JsonNode feature, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, ItemsUrl) { Content = Features.Content(feature) };
        if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        return request;
    }

    /// <summary>A write that needs the write scope and changes nothing: a DELETE of an incident that cannot exist,
    /// without If-Match. 401 when the key is refused, 428 once it is accepted.</summary>
    public static Task<HttpResponseMessage> ProbeWriteAsync(this HttpClient client) =>
        client.DeleteAsync($"{ItemsUrl}/{long.MaxValue}");

    public static async Task<HttpStatusCode> ProbeWriteStatusAsync(this HttpClient client)
    {
        using var response = await client.ProbeWriteAsync();
        return response.StatusCode;
    }

    /// <summary>
    /// Repeats <paramref name="probe"/> until it answers <paramref name="expected"/> or <paramref name="within"/>
    /// passes. Returns when the last probe that got another answer was sent (zero if the first one got it):
    /// how long the old answer lasted, whatever the probes' own latency on a busy machine.
    /// </summary>
    public static async Task<TimeSpan> WaitForAsync(Func<Task<HttpStatusCode>> probe, HttpStatusCode expected, TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastOther = TimeSpan.Zero;
        while (true)
        {
            var sent = clock.Elapsed;
            var answer = await probe();
            if (answer == expected) return lastOther;
            lastOther = sent;
            Assert.True(clock.Elapsed < within, $"still {(int)answer} after {clock.Elapsed.TotalSeconds:F1} s, expected {(int)expected}");
            await Task.Delay(250);
        }
    }

    public static string Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values)
        : response.Content.Headers.TryGetValues(name, out var content) ? string.Join(", ", content)
        : "";

    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
}

/// <summary>
/// The service with the shared test settings plus some of its own (low rate limits, keys required
/// for reads …), and a key with every scope for it.
/// </summary>
public abstract class ConfiguredFactory(params (string Key, string Value)[] settings) : WebApplicationFactory<Program>, IAsyncLifetime
{
    public string Key { get; private set; } = "";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ApiFixture.Configure(builder);
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    public virtual async Task InitializeAsync()
    {
        // Starting the host applies the migrations; no request is spent on it (rate limits stay untouched).
        _ = Services;
        (Key, _) = await Services.NewKeyAsync("trust-factory", Scopes.All);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

/// <summary>The service with just the shared settings, for tests that would hold up the shared collection.</summary>
public sealed class TrustFactory() : ConfiguredFactory();
