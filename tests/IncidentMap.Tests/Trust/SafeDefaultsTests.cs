using System.Net;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Trust;

[Collection(ApiCollection.Name)]
public sealed class SafeDefaultsTests(ApiFixture api)
{
    private const string Origin = "https://newsroom.example";

    private static string[] List(string header) =>
        header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static void AssertBrowserHardening(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", response.Header("X-Content-Type-Options"));
        Assert.Equal("DENY", response.Header("X-Frame-Options"));
        Assert.NotEqual("", response.Header("Referrer-Policy"));
    }

    [Theory]
    [InlineData("/collections/incidents/items?limit=1")]
    [InlineData("/collections/incidents/items/999999999999")]
    [InlineData("/")]
    public async Task Responses_carry_the_security_headers_and_a_content_security_policy(string url)
    {
        var response = await api.CreateAnonymousClient().GetAsync(url);

        AssertBrowserHardening(response);
        Assert.Contains("default-src", response.Header("Content-Security-Policy"));
    }

    [Fact]
    public async Task Without_a_configured_proxy_X_Forwarded_Proto_does_not_change_the_links()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-Proto", "javascript");

        var landing = System.Text.Json.Nodes.JsonNode.Parse(await (await api.CreateAnonymousClient().SendAsync(request)).Content.ReadAsStringAsync())!;

        Assert.NotEmpty(landing["links"]!.AsArray());
        Assert.All(landing["links"]!.AsArray(), l => Assert.StartsWith("http://localhost/", l!["href"]!.GetValue<string>()));
        Assert.DoesNotContain(landing["links"]!.AsArray(), l => l!["href"]!.GetValue<string>().StartsWith("javascript", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stats_window_from_the_first_day_of_year_one_is_answered_at_once()
    {
        // 0001-01-01 reaches PostgreSQL as -infinity: the series of day buckets used to start there and never end.
        using var client = api.CreateAnonymousClient();
        client.Timeout = TimeSpan.FromSeconds(10);

        var response = await client.GetAsync("/collections/incidents/stats?interval=day&datetime=0001-01-01/0001-01-05");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Swagger_UI_keeps_the_headers_but_has_no_content_security_policy()
    {
        var response = await api.CreateAnonymousClient().GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertBrowserHardening(response);
        Assert.Equal("", response.Header("Content-Security-Policy"));
    }

    [Fact]
    public async Task A_cors_preflight_for_a_conditional_idempotent_keyed_write_is_allowed()
    {
        var id = await api.CreateClient().CreateAsync(Features.Valid());
        var preflight = new HttpRequestMessage(HttpMethod.Options, $"{Trust.ItemsUrl}/{id}");
        preflight.Headers.Add("Origin", Origin);
        preflight.Headers.Add("Access-Control-Request-Method", "PUT");
        preflight.Headers.Add("Access-Control-Request-Headers", "if-match,idempotency-key,x-api-key");

        var response = await api.CreateAnonymousClient().SendAsync(preflight);

        Assert.True(response.IsSuccessStatusCode, $"preflight answered {(int)response.StatusCode}");
        Assert.Contains(response.Header("Access-Control-Allow-Origin"), new[] { "*", Origin });
        Assert.Contains("PUT", List(response.Header("Access-Control-Allow-Methods")), StringComparer.OrdinalIgnoreCase);
        var allowedHeaders = List(response.Header("Access-Control-Allow-Headers"));
        foreach (var header in new[] { "If-Match", "Idempotency-Key", "X-API-Key" })
            Assert.Contains(header, allowedHeaders, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Cross_origin_responses_expose_ETag_Location_and_Retry_After()
    {
        using var client = api.CreateClient();
        client.DefaultRequestHeaders.Add("Origin", Origin);

        var (response, _) = await client.PostAsync(Features.Valid());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains(response.Header("Access-Control-Allow-Origin"), new[] { "*", Origin });
        var exposed = List(response.Header("Access-Control-Expose-Headers"));
        foreach (var header in new[] { "ETag", "Location", "Retry-After" })
            Assert.Contains(header, exposed, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Problem_details_carry_a_trace_id()
    {
        var responses = new[]
        {
            (await api.CreateAnonymousClient().GetAsync($"{Trust.ItemsUrl}/999999999999"), HttpStatusCode.NotFound), // the service's own problem
            (await api.CreateAnonymousClient().PostAsync(Trust.ItemsUrl, Features.Content(Features.Valid())), HttpStatusCode.Unauthorized), // authentication's
            (await api.CreateAnonymousClient().GetAsync("/no/such/path"), HttpStatusCode.NotFound), // routing's
        };

        foreach (var (response, status) in responses)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, status);
            // ASP.NET Core's problem details writer names it traceId.
            Assert.Null(problem["trace_id"]);
            Assert.False(string.IsNullOrWhiteSpace(problem["traceId"]?.GetValue<string>()), $"no traceId: {problem.ToJsonString()}");
        }
    }
}
