using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using IncidentMap.Api.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// The service hosted in-process against the real PostGIS test database that test.sh creates
/// (INCIDENTMAP_TEST_CONNECTION). Tests share the database, so each creates the rows it asserts on
/// and never counts rows it did not create.
/// </summary>
/// <remarks>
/// Two logins, as in production: the service under test logs in as its own least-privilege role
/// (<see cref="AppConnectionString"/>) and migrates as the superuser, granting that role what the
/// service needs; so every test that goes through the service also proves those grants suffice.
/// The tests' own setup and assertions use the superuser (<see cref="ConnectionString"/>).
/// </remarks>
public sealed class ApiFixture : WebApplicationFactory<Program>, IAsyncLifetime
{
    /// <summary>The superuser, for the tests' own setup and assertions, and the service's migrations.</summary>
    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("INCIDENTMAP_TEST_CONNECTION") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "INCIDENTMAP_TEST_CONNECTION is not set: run the suite with ./test.sh, which starts PostGIS and sets it.");

    /// <summary>The service's own login to the test database (incidentmap_app: no superuser, only what migrations grant).</summary>
    public static string AppConnectionString { get; } =
        Environment.GetEnvironmentVariable("INCIDENTMAP_TEST_APP_CONNECTION") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "INCIDENTMAP_TEST_APP_CONNECTION is not set: run the suite with ./test.sh, which makes the service's login and sets it.");

    /// <summary>The service's role, as the Migrator grants to it.</summary>
    public static string AppRole => new NpgsqlConnectionStringBuilder(AppConnectionString).Username!;

    /// <summary>
    /// The service's two logins for <paramref name="database"/> of the test cluster (default: the test
    /// database): it serves as <see cref="AppRole"/> and migrates as the superuser.
    /// </summary>
    public static (string Service, string Migrations) Logins(string? database = null) =>
        database is null
            ? (AppConnectionString, ConnectionString)
            : (new NpgsqlConnectionStringBuilder(AppConnectionString) { Database = database }.ConnectionString,
               new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database }.ConnectionString);

    /// <summary>Points a host at <paramref name="database"/> of the test cluster, with both logins (see <see cref="Logins"/>).</summary>
    public static void UseDatabase(IWebHostBuilder builder, string? database = null)
    {
        var (service, migrations) = Logins(database);
        builder.UseSetting("ConnectionStrings:Incidents", service);
        builder.UseSetting("ConnectionStrings:Migrations", migrations);
    }

    public NpgsqlDataSource Database { get; } = new NpgsqlDataSourceBuilder(ConnectionString)
        .UseNetTopologySuite().Build();

    /// <summary>Errors the host logged, to quote when a request answers 5xx.</summary>
    public ServerErrors Errors { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Configure(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(Errors));
    }

    /// <summary>Settings every test host shares: the test database (as the service's own login), no sample data, limits out of the way.</summary>
    public static void Configure(IWebHostBuilder builder)
    {
        UseDatabase(builder);
        builder.UseSetting("Seed:Path", "");
        builder.UseSetting("RateLimits:AnonymousPerMinute", "1000000");
        builder.UseSetting("RateLimits:KeyPerMinute", "1000000");
        builder.UseSetting("RateLimits:ConcurrentStreams", "1000");
        builder.UseSetting("RateLimits:ConcurrentExports", "1000");
        builder.UseEnvironment("Testing");
    }

    /// <summary>A key with every scope; clients from <see cref="WebApplicationFactory{T}.CreateClient()"/> send it.</summary>
    public string Key { get; private set; } = "";

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        if (Key.Length > 0) client.DefaultRequestHeaders.Add("X-API-Key", Key);
    }

    /// <summary>A client that sends no API key.</summary>
    public HttpClient CreateAnonymousClient()
    {
        var client = CreateDefaultClient();
        client.DefaultRequestHeaders.Remove("X-API-Key");
        return client;
    }

    public async Task InitializeAsync()
    {
        // Starting the host runs the migrations, so the schema exists before any test.
        using (var client = CreateDefaultClient())
            (await client.GetAsync("/health/live")).EnsureSuccessStatusCode();
        (Key, _) = await Services.GetRequiredService<ApiKeys>().CreateAsync("tests-" + Guid.NewGuid().ToString("N")[..8], ["read", "write", "admin"]);
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

    /// <summary>Sends a change with If-Match set to the incident's current ETag (read first), as an editor would.</summary>
    public static async Task<HttpResponseMessage> SendCurrentAsync(this HttpClient client, HttpMethod method, string url, HttpContent? content = null)
    {
        var current = await client.GetAsync(url);
        var request = new HttpRequestMessage(method, url) { Content = content };
        if (current.Headers.ETag is { } etag) request.Headers.IfMatch.Add(etag);
        else request.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");
        return await client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> DeleteCurrentAsync(this HttpClient client, string url) => client.SendCurrentAsync(HttpMethod.Delete, url);

    public static Task<HttpResponseMessage> PutCurrentAsync(this HttpClient client, string url, HttpContent content) => client.SendCurrentAsync(HttpMethod.Put, url, content);

    public static Task<HttpResponseMessage> PatchCurrentAsync(this HttpClient client, string url, string mergePatch) =>
        client.SendCurrentAsync(HttpMethod.Patch, url, new StringContent(mergePatch, Encoding.UTF8, "application/merge-patch+json"));

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

    /// <summary>
    /// The ETag once the change listener has seen earlier writes too (it advances the data version a
    /// moment after a write did): two reads in a row with the same ETag. Tests of other collections write
    /// to the same database meanwhile, and each write moves the version: waited for up to 20 s (a CI run
    /// once saw it move for 5 s on end).
    /// </summary>
    public static async Task<EntityTagHeaderValue> SettledETagAsync(this HttpClient client, string url)
    {
        var etag = (await client.GetAsync(url)).Headers.ETag!;
        for (var n = 0; n < 200; n++)
        {
            await Task.Delay(100);
            var again = (await client.GetAsync(url)).Headers.ETag!;
            if (again.Equals(etag)) return etag;
            etag = again;
        }
        throw new TimeoutException("the ETag never settled");
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
