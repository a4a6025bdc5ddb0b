using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Errors are problem+json whatever Accept asks for: a browser (text/html), an EventSource
/// (text/event-stream), a map library asking for tiles. ASP.NET Core's own problem writer declines such
/// clients; a 401 then threw inside the authentication handler and became an empty 500, and the
/// framework's 404 and 405 were plain text.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ProblemAcceptTests(ApiFixture api)
{
    [Theory]
    [InlineData("GET", "/admin/keys", "text/html", HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/collections/incidents/tiles/WebMercatorQuad/8/101/154", "application/vnd.mapbox-vector-tile", HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/collections/incidents/imports/1", "text/csv", HttpStatusCode.Unauthorized)]
    [InlineData("PUT", "/collections", "application/xml", HttpStatusCode.MethodNotAllowed)]
    [InlineData("GET", "/no/such/thing", "text/html", HttpStatusCode.NotFound)]
    public async Task A_problem_is_problem_json_for_a_client_that_does_not_accept_json(string method, string path, string accept, HttpStatusCode status)
    {
        using var client = api.CreateAnonymousClient();
        // An unknown key on the tile: the 401 every missing, unknown or revoked key gets.
        HttpRequestMessage Request(string accepting)
        {
            var request = new HttpRequestMessage(new HttpMethod(method), path);
            request.Headers.TryAddWithoutValidation("Accept", accepting);
            if (path.Contains("/tiles/", StringComparison.Ordinal)) request.Headers.Add("X-API-Key", "im_unknown_" + Guid.NewGuid().ToString("N"));
            return request;
        }

        var answer = await client.SendAsync(Request(accept));
        var body = await answer.Content.ReadAsStringAsync();

        Assert.True(answer.StatusCode == status, $"{(int)answer.StatusCode} {answer.Content.Headers.ContentType}\n{body}");
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(problem["title"]?.GetValue<string>()));
        Assert.StartsWith("https://", problem["type"]!.GetValue<string>());
        if (status == HttpStatusCode.Unauthorized) Assert.True(answer.Headers.WwwAuthenticate.Count > 0);

        // The very body a JSON client gets, trace id aside.
        var asJson = await client.SendAsync(Request("application/json"));
        var jsonProblem = JsonNode.Parse(await asJson.Content.ReadAsStringAsync())!.AsObject();
        problem.Remove("traceId");
        jsonProblem.Remove("traceId");
        Assert.Equal(jsonProblem.ToJsonString(), problem.ToJsonString());
    }
}
