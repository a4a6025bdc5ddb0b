using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// The service hosted in-process against the real PostGIS test database that test.sh creates
/// (INCIDENTMAP_TEST_CONNECTION). Tests share the database, so each creates the rows it asserts on
/// and never counts rows it did not create.
/// </summary>
public sealed class ApiFixture : WebApplicationFactory<Program>, IAsyncLifetime
{
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("INCIDENTMAP_TEST_CONNECTION") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "INCIDENTMAP_TEST_CONNECTION is not set: run the suite with ./test.sh, which starts PostGIS and sets it.");

    public NpgsqlDataSource Database { get; } = new NpgsqlDataSourceBuilder(ConnectionString)
        .UseNetTopologySuite().Build();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:Incidents", ConnectionString);
        builder.UseSetting("Seed:Path", "");
        builder.UseEnvironment("Testing");
    }

    public async Task InitializeAsync()
    {
        // Starting the host runs the migrations, so the schema exists before any test.
        using var client = CreateClient();
        (await client.GetAsync("/health/live")).EnsureSuccessStatusCode();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await Database.DisposeAsync();
        await base.DisposeAsync();
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "IncidentMap.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("IncidentMap.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>Builds valid incident Features that tests then bend into the shape they need.</summary>
public static class Features
{
    public static JsonObject Valid(string? title = null, JsonNode? geometry = null, string occurredAt = "2016-02-21T07:30:00Z") => new()
    {
        ["type"] = "Feature",
        ["geometry"] = geometry ?? Point(36.7236, 34.7197),
        ["properties"] = new JsonObject
        {
            ["title"] = title ?? "Test incident " + Guid.NewGuid().ToString("N")[..8],
            ["event_type"] = "explosions_remote_violence",
            ["occurred_at"] = occurredAt,
        },
    };

    public static JsonObject Point(double lon, double lat) => new()
    {
        ["type"] = "Point",
        ["coordinates"] = new JsonArray(lon, lat),
    };

    public static JsonObject Geometry(string json) => JsonNode.Parse(json)!.AsObject();

    public static StringContent Content(JsonNode node, string mediaType = "application/geo+json") =>
        new(node.ToJsonString(), Encoding.UTF8, mediaType);

    public static async Task<(HttpResponseMessage Response, JsonObject? Body)> PostAsync(this HttpClient client, JsonNode feature)
    {
        var response = await client.PostAsync("/collections/incidents/items", Content(feature));
        var text = await response.Content.ReadAsStringAsync();
        return (response, text.Length > 0 ? JsonNode.Parse(text)!.AsObject() : null);
    }

    public static async Task<long> CreateAsync(this HttpClient client, JsonNode feature)
    {
        var (response, body) = await client.PostAsync(feature);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"create failed: {(int)response.StatusCode} {body}");
        return body!["id"]!.GetValue<long>();
    }

    public static async Task<JsonObject> GetJsonAsync(this HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static HttpRequestMessage WithIfMatch(this HttpRequestMessage request, string etag)
    {
        request.Headers.IfMatch.Add(EntityTagHeaderValue.Parse(etag));
        return request;
    }
}

/// <summary>
/// Tests whose assertions depend on no other test writing meanwhile (ETags follow the global data
/// version; fault tests restart PostgreSQL): they run alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "serial";
}
