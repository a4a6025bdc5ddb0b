using System.Net;
using System.Text;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// Writes, body searches and single places take no query parameters: one sent there would be
/// ignored (a filter on POST /search would quietly not filter), so it is a 400 naming it.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class WriteParameterTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task Query_parameters_on_writes_searches_by_body_and_single_places_are_400_problems_naming_them()
    {
        var id = await _client.CreateAsync(Features.Valid("Parameters"));
        var item = $"/collections/incidents/items/{id}";
        var json = () => new StringContent("{}", Encoding.UTF8, "application/json");

        var refused = new (HttpRequestMessage Request, string Parameter)[]
        {
            (new(HttpMethod.Post, "/collections/incidents/search?event_type=riots") { Content = json() }, "event_type"),
            (new(HttpMethod.Post, "/collections/incidents/items?foo=1") { Content = Features.Content(Features.Valid()) }, "foo"),
            (new HttpRequestMessage(HttpMethod.Patch, item + "?dry_run=true") { Content = new StringContent("{}", Encoding.UTF8, "application/merge-patch+json") }.WithIfMatch("\"v1\""), "dry_run"),
            (new HttpRequestMessage(HttpMethod.Put, item + "?foo=1") { Content = Features.Content(Features.Valid()) }.WithIfMatch("\"v1\""), "foo"),
            (new HttpRequestMessage(HttpMethod.Delete, item + "?force=true").WithIfMatch("\"v1\""), "force"),
            (new(HttpMethod.Get, "/collections/places/items/1?foo=1"), "foo"),
        };
        foreach (var (request, parameter) in refused)
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(request), HttpStatusCode.BadRequest, parameter);

        // Nothing was written by any of them.
        var current = await _client.GetAsync(item);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal("\"v1\"", current.Headers.ETag?.Tag);
        Assert.Equal(HttpStatusCode.OK, (await _client.PostAsync("/collections/incidents/search", json())).StatusCode);
    }
}
