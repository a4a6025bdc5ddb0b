using System.Net;
using IncidentMap.Api.Incidents;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// RFC 9110 §9.3.2: HEAD wherever GET works, answered with GET's status and headers and no body; and
/// OPTIONS answering for a resource as GET does. Over a real HTTP server (Kestrel), which is what
/// leaves a HEAD's body out; every route is taken from the endpoint table, none listed by hand.
/// Serial: list, tile and stats ETags name the data version, which the writes of tests running beside
/// these would move between a GET and its HEAD.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class HeadAndOptionsTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    /// <summary>Headers of the message rather than of the resource: a HEAD may leave out Content-Length (RFC 9110 §8.6).</summary>
    private static readonly HashSet<string> Framing = new(StringComparer.OrdinalIgnoreCase) { "Date", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive" };

    private async Task<HttpClient> ClientAsync()
    {
        var (key, _) = await api.Services.NewKeyAsync("head", Scopes.All);
        var client = new HttpClient { BaseAddress = new Uri(api.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Add(ApiKeyAuthentication.Header, key);
        return client;
    }

    /// <summary>Every route and the methods it takes (none named: any).</summary>
    private List<(RouteEndpoint Endpoint, string Template, IReadOnlyList<string> Methods)> Routes() =>
        api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (e, "/" + e.RoutePattern.RawText!.TrimStart('/'),
                e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods ?? (IReadOnlyList<string>)[HttpMethods.Get, HttpMethods.Head]))
            .ToList();

    /// <summary>The route filled with rows that exist, then with values that name nothing.</summary>
    private static IEnumerable<string> Urls(RouteEndpoint endpoint, string template, RouteSamples samples)
    {
        var query = samples.Query(endpoint.Metadata.GetOrderedMetadata<QueryParameterDoc>().Where(d => d.Required).Select(d => d.Name),
            endpoint.Metadata.GetMetadata<QueryParametersMetadata>() is not null);
        yield return RouteSamples.Fill(template, samples.Existing, query);
        // Each format it offers besides JSON (a CSV's HEAD had no Content-Disposition).
        var formats = endpoint.Metadata.GetMetadata<QueryParametersMetadata>() is not null
            ? ["csv", "geojsonseq", "ndjson"]
            : endpoint.Metadata.GetOrderedMetadata<QueryParameterDoc>().FirstOrDefault(d => d.Name == "f")?.Enum ?? [];
        foreach (var format in formats.Where(f => f != "json"))
            yield return RouteSamples.Fill(template, samples.Existing, string.IsNullOrEmpty(query) ? $"f={format}" : $"{query}&f={format}");
        foreach (var (name, values) in RouteSamples.Missing.Where(m => template.Contains("{" + m.Key + "}", StringComparison.Ordinal)))
            foreach (var value in values)
                yield return RouteSamples.Fill(template, samples.With(name, value), query);
    }

    private static async Task<(HttpStatusCode Status, Dictionary<string, string> Headers, int BodyBytes)> AskAsync(HttpClient client, HttpMethod method, string url)
    {
        // The stream never ends: its answer is its status and headers.
        using var response = await client.SendAsync(new HttpRequestMessage(method, url), HttpCompletionOption.ResponseHeadersRead);
        var headers = response.Headers.Concat(response.Content.Headers).Where(h => !Framing.Contains(h.Key))
            .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        var streaming = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
        var body = method == HttpMethod.Head || !streaming ? (await response.Content.ReadAsByteArrayAsync()).Length : -1;
        return (response.StatusCode, headers, body);
    }

    private static string Differences(Dictionary<string, string> get, Dictionary<string, string> head) =>
        string.Join("; ", get.Keys.Union(head.Keys, StringComparer.OrdinalIgnoreCase)
            .Where(name => get.GetValueOrDefault(name) != head.GetValueOrDefault(name))
            .Select(name => $"{name}: GET '{get.GetValueOrDefault(name)}', HEAD '{head.GetValueOrDefault(name)}'"));

    [Fact]
    public async Task Every_route_a_get_reads_answers_head_with_the_gets_status_and_headers_and_no_body()
    {
        using var client = await ClientAsync();
        var samples = await RouteSamples.CreateAsync(client);

        var wrong = new List<string>();
        var asked = 0;
        foreach (var (endpoint, template, methods) in Routes().Where(r => r.Methods.Contains(HttpMethods.Get)))
        {
            if (!methods.Contains(HttpMethods.Head))
            {
                wrong.Add($"{template}: GET without HEAD");
                continue;
            }
            foreach (var url in Urls(endpoint, template, samples))
            {
                // The data version (in list and tile ETags) moves with the writes of tests running beside
                // this one: a difference must last to count.
                string? difference = null;
                for (var attempt = 0; attempt < 5; attempt++)
                {
                    var get = await AskAsync(client, HttpMethod.Get, url);
                    var head = await AskAsync(client, HttpMethod.Head, url);
                    asked++;
                    difference = get.Status != head.Status ? $"GET {(int)get.Status}, HEAD {(int)head.Status}"
                        : head.BodyBytes != 0 ? $"HEAD sent {head.BodyBytes} bytes of body"
                        : Differences(get.Headers, head.Headers) is { Length: > 0 } headers ? headers
                        : null;
                    if (difference is null) break;
                }
                if (difference is not null) wrong.Add($"{url}: {difference}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.True(asked > 40, $"only {asked} routes asked");
    }

    /// <summary>
    /// The reads whose HEAD now runs the GET's query (it answered from the data version alone, 200 while the database
    /// was down: <see cref="Faults.HeadWithoutDatabaseTests"/>), as a normal request: the same status and headers, no body.
    /// </summary>
    [Theory]
    [InlineData("/collections/incidents/items?limit=1")]
    [InlineData("/collections/incidents/items?limit=1&f=csv")]
    [InlineData("/collections/incidents/items?limit=1500&datetime=2016-01-01T00:00:00Z/2016-01-02T00:00:00Z")]
    [InlineData("/collections/incidents/items?datetime=2016-01-01T00:00:00Z/2016-01-02T00:00:00Z&f=ndjson")]
    [InlineData("/collections/incidents/items?count=true&limit=2")]
    [InlineData("/collections/places/items?q=Homs")]
    [InlineData("/collections/places/items?limit=3")]
    [InlineData("/collections/incidents/stats?interval=month&datetime=2016-01-01T00:00:00Z/2016-12-31T23:59:59Z")]
    [InlineData("/collections/incidents/stats/summary")]
    [InlineData("/collections/incidents/changes?limit=2")]
    public async Task A_head_that_runs_the_gets_query_answers_its_status_and_headers_and_no_body(string url)
    {
        using var client = await ClientAsync();

        string? difference = null;
        // The data version (in the ETags) moves with the writes of tests running beside this one: a difference must last to count.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var get = await AskAsync(client, HttpMethod.Get, url);
            var head = await AskAsync(client, HttpMethod.Head, url);
            Assert.Equal(HttpStatusCode.OK, get.Status);
            difference = get.Status != head.Status ? $"GET {(int)get.Status}, HEAD {(int)head.Status}"
                : head.BodyBytes != 0 ? $"HEAD sent {head.BodyBytes} bytes of body"
                : Differences(get.Headers, head.Headers) is { Length: > 0 } headers ? headers
                : null;
            if (difference is null) break;
        }
        Assert.True(difference is null, $"{url}: {difference}");
    }

    [Theory]
    [InlineData("/swagger")]
    [InlineData("/swagger/index.html")]
    [InlineData("/swagger/swagger-ui.css")]
    [InlineData("/openapi/v1.json")]
    public async Task Swagger_ui_and_the_openapi_document_answer_head_as_get(string url)
    {
        // Swagger UI answers GET alone: the page and its redirect were 404 to HEAD (fresh-user audit).
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(api.BaseUrl) };

        var get = await AskAsync(client, HttpMethod.Get, url);
        var head = await AskAsync(client, HttpMethod.Head, url);

        Assert.True(get.Status is HttpStatusCode.OK or HttpStatusCode.MovedPermanently, $"GET {url}: {(int)get.Status}");
        Assert.Equal(get.Status, head.Status);
        Assert.Equal(0, head.BodyBytes);
        Assert.True(get.BodyBytes > 0 || get.Status == HttpStatusCode.MovedPermanently, $"GET {url} sent no body");
        Assert.Equal("", Differences(get.Headers, head.Headers));
    }

    [Fact]
    public async Task Options_answers_for_a_resource_as_get_does_and_lists_get_and_head_where_it_exists()
    {
        using var client = await ClientAsync();
        var samples = await RouteSamples.CreateAsync(client);

        var wrong = new List<string>();
        var routes = Routes();
        foreach (var (endpoint, template, _) in routes.Where(r => r.Methods.SequenceEqual([HttpMethods.Options])))
        {
            Assert.Contains(routes, r => r.Template == template && r.Methods.Contains(HttpMethods.Get));
            var urls = Urls(endpoint, template, samples).ToList();
            var options = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, urls[0]));
            if (options.StatusCode != HttpStatusCode.NoContent || !new[] { "GET", "HEAD", "OPTIONS" }.All(options.Content.Headers.Allow.Contains))
                wrong.Add($"OPTIONS {urls[0]}: {(int)options.StatusCode}, Allow: {string.Join(", ", options.Content.Headers.Allow)}");
            foreach (var url in urls.Skip(1))
            {
                var get = await client.GetAsync(url);
                var asked = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, url));
                if (asked.StatusCode != get.StatusCode) wrong.Add($"{url}: GET {(int)get.StatusCode}, OPTIONS {(int)asked.StatusCode}");
                else if (asked.Content.Headers.Allow.Count > 0) wrong.Add($"OPTIONS {url}: {(int)asked.StatusCode} with Allow");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}

/// <summary>One stream at a time per client.</summary>
public sealed class OneStreamFactory() : ConfiguredFactory(("RateLimits:ConcurrentStreams", "1"));

public sealed class StreamHeadTests(OneStreamFactory factory) : IClassFixture<OneStreamFactory>
{
    [Fact]
    public async Task A_head_of_the_stream_answers_the_streams_headers_and_ends_without_keeping_its_slot()
    {
        var client = factory.ClientWithKey(factory.Key);
        for (var n = 0; n < 3; n++)
        {
            using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/collections/incidents/stream"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal("text/event-stream", head.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-cache", head.Headers.CacheControl?.ToString());
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        // A bad cursor is the GET's 400. (HttpClient returns a HEAD's answer at its headers: the end of
        // its body is the end of the request, and of its hold on the slot.)
        using (var bad = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/collections/incidents/stream?cursor=nonsense")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            await bad.Content.ReadAsByteArrayAsync();
        }

        // Its slot was given back each time: the one stream allowed opens.
        using var stream = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/collections/incidents/stream"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        // While it is open, HEAD answers what a GET would: the client's streams are all taken.
        using var busy = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/collections/incidents/stream"));
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
    }
}
