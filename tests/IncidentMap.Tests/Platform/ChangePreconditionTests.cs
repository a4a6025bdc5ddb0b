using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// Every unsafe request evaluates If-Match and If-None-Match before doing anything (RFC 9110 §13.1.1–2: an origin server
/// must not perform the method when one fails). Incidents and editors' places against their ETag; everything else (a
/// collection a POST adds to or searches, an API key) as a target that exists and has no ETag: If-Match: * holds, a list
/// of tags never does; If-None-Match: * never holds, a list of tags always does. These requests used to go ahead: a key
/// was revoked, an incident created, a file imported despite If-Match: "zz".
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ChangePreconditionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static HttpRequestMessage Request(HttpMethod method, string url, string? header = null, string? value = null, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        if (header is not null) request.Headers.TryAddWithoutValidation(header, value);
        return request;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static readonly (string Header, string Value)[] Failing = [("If-Match", "\"zz\""), ("If-None-Match", "*"), ("If-Match", "W/\"zz\"")];

    [Fact]
    public async Task Revoking_a_key_with_a_failed_precondition_is_a_412_and_the_key_goes_on_working()
    {
        var (client, _, info) = await api.NewKeyClientAsync("cond-revoke", Scopes.Read);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/collections")).StatusCode);

        foreach (var (header, value) in Failing)
            foreach (var target in new[] { info.Name, info.Id.ToString() })
            {
                var refused = await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{target}", header, value));
                await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, header);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/collections")).StatusCode);
                Assert.Null((await (await _client.GetAsync($"/admin/keys/{info.Id}")).JsonAsync())["revoked_at"]);
            }

        // A malformed one is a 400 naming it, and changes nothing either.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{info.Id}", "If-None-Match", "zz")),
            HttpStatusCode.BadRequest, "If-None-Match");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/collections")).StatusCode);

        // If-None-Match naming tags holds (no tag names a key), and so does If-Match: *: the key is revoked.
        Assert.Equal(HttpStatusCode.NoContent,
            (await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{info.Name}", "If-None-Match", "\"zz\""))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/collections")).StatusCode);
        var (other, _, otherInfo) = await api.NewKeyClientAsync("cond-revoke-star", Scopes.Read);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{otherInfo.Id}", "If-Match", "*"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await other.GetAsync("/collections")).StatusCode);

        // A key that is not live is a 404 whatever the conditions say (RFC 9110 §13.2.1), by id (revoked) or by name.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{info.Id}", "If-Match", "\"zz\"")), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Delete, $"/admin/keys/{info.Name}", "If-None-Match", "*")), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Creating_a_key_with_a_failed_precondition_is_a_412_and_creates_none()
    {
        foreach (var (header, value) in Failing)
        {
            var name = Trust.Trust.Unique("cond-new");
            var refused = await _client.SendAsync(Request(HttpMethod.Post, "/admin/keys", header, value, Json($$"""{"name": "{{name}}"}""")));

            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, header);
            Assert.DoesNotContain("im_", problem.ToJsonString()); // no secret
            Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/admin/keys/{name}")).StatusCode);
        }
        // A parameter the endpoint does not take is its 400 whatever the precondition (RFC 9110 §13.2.1).
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Post, "/admin/keys?foo=1", "If-Match", "\"zz\"", Json("""{"name": "x"}"""))),
            HttpStatusCode.BadRequest, "foo");
        foreach (var (header, value) in new[] { ("If-Match", "*"), ("If-None-Match", "\"zz\"") })
        {
            var name = Trust.Trust.Unique("cond-new");
            Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(Request(HttpMethod.Post, "/admin/keys", header, value, Json($$"""{"name": "{{name}}"}""")))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync($"/admin/keys/{name}")).StatusCode);
        }
    }

    [Fact]
    public async Task Creating_an_incident_with_a_failed_precondition_is_a_412_and_creates_none()
    {
        foreach (var (header, value) in Failing)
        {
            var feature = Features.Valid();
            var title = feature["properties"]!["title"]!.GetValue<string>();
            var refused = await _client.SendAsync(Request(HttpMethod.Post, "/collections/incidents/items", header, value, Features.Content(feature)));

            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, header);
            Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE title = @title", new { title }));
        }
        // An Idempotency-Key held by a refused request is not claimed: the same key then creates the incident.
        var retried = Features.Valid();
        var first = Request(HttpMethod.Post, "/collections/incidents/items", "If-Match", "\"zz\"", Features.Content(retried));
        first.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(first), HttpStatusCode.PreconditionFailed, "If-Match");
        var second = Request(HttpMethod.Post, "/collections/incidents/items", "If-Match", "*", Features.Content(retried));
        second.Headers.Add("Idempotency-Key", first.Headers.GetValues("Idempotency-Key").Single());
        var created = await _client.SendAsync(second);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.False(created.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.Created,
            (await _client.SendAsync(Request(HttpMethod.Post, "/collections/incidents/items", "If-None-Match", "\"v1\"", Features.Content(Features.Valid())))).StatusCode);
    }

    [Fact]
    public async Task Importing_with_a_failed_precondition_is_a_412_and_imports_nothing_nor_starts_a_job()
    {
        var (client, _, info) = await api.NewKeyClientAsync("cond-import", Scopes.Read, Scopes.Write);
        foreach (var (header, value) in Failing)
            foreach (var query in new[] { "", "?async=true" })
            {
                var prefix = ImportHelpers.Unique();
                var refused = await client.SendAsync(Request(HttpMethod.Post, ImportHelpers.Url + query, header, value,
                    new StringContent(ImportHelpers.RowsCsv(prefix, 1, 3, n => "cond"), Encoding.UTF8, "text/csv")));

                await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, header);
                Assert.Equal((0L, 0L, 0L, 0L), await api.Database.HistoryAsync(prefix));
            }
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM import_jobs WHERE created_by = @name", new { name = info.Name }));

        var imported = ImportHelpers.Unique();
        var ok = await client.SendAsync(Request(HttpMethod.Post, ImportHelpers.Url, "If-Match", "*",
            new StringContent(ImportHelpers.RowsCsv(imported, 1, 2, n => "cond"), Encoding.UTF8, "text/csv")));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(2, (await api.Database.HistoryAsync(imported)).Incidents);
    }

    /// <summary>A search reads, but by POST: a failed precondition is a 412 (never a 304), as on any other POST.</summary>
    [Fact]
    public async Task Searching_with_a_failed_precondition_is_a_412()
    {
        foreach (var (header, value) in Failing)
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Post, "/collections/incidents/search", header, value, Json("""{"limit": 1}"""))),
                HttpStatusCode.PreconditionFailed, header);
        foreach (var (header, value) in new[] { ("If-Match", "*"), ("If-None-Match", "\"zz\"") })
            Assert.Equal(HttpStatusCode.OK, (await _client.SendAsync(Request(HttpMethod.Post, "/collections/incidents/search", header, value, Json("""{"limit": 1}""")))).StatusCode);
    }

    private static JsonObject Place(string name) => new()
    {
        ["type"] = "Feature",
        ["geometry"] = Features.Point(36.31, 33.51),
        ["properties"] = new JsonObject { ["name"] = name, ["country"] = "SY", ["kind"] = "suburb" },
    };

    /// <summary>An editor's place answers If-None-Match on a change as an incident does: * (it exists) or its current tag is a 412.</summary>
    [Fact]
    public async Task A_place_change_with_if_none_match_naming_it_or_star_is_a_412_and_changes_nothing()
    {
        var name = "Cond place " + Guid.NewGuid().ToString("N")[..6];
        var created = await _client.PostAsync("/collections/places/items", Features.Content(Place(name)));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.JsonAsync())["id"]!.GetValue<long>();
        var item = $"/collections/places/items/{id}";
        var tag = created.Headers.ETag!.ToString();

        foreach (var value in new[] { "*", tag, "W/" + tag, "\"zz\", " + tag })
        {
            var patch = Request(HttpMethod.Patch, item, "If-None-Match", value,
                new StringContent("""{"properties": {"population": 77}}""", Encoding.UTF8, "application/merge-patch+json"));
            var refused = await _client.SendAsync(patch);
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, "If-None-Match");
            Assert.Equal(tag, refused.Headers.ETag?.ToString());
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Delete, item, "If-None-Match", value)),
                HttpStatusCode.PreconditionFailed, "If-None-Match");
            var stored = await _client.GetJsonAsync(item);
            Assert.Null(stored["properties"]!["population"]);
        }
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Delete, item, "If-None-Match", "zz")), HttpStatusCode.BadRequest, "If-None-Match");
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(item)).StatusCode);

        // A tag that is not the current one holds.
        var patched = await _client.SendAsync(Request(HttpMethod.Patch, item, "If-None-Match", "\"p0\"",
            new StringContent("""{"properties": {"population": 77}}""", Encoding.UTF8, "application/merge-patch+json")));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(77, (await _client.GetJsonAsync(item))["properties"]!["population"]!.GetValue<long>());

        // Adding a place: the collection exists and has no ETag.
        foreach (var (header, value) in Failing)
        {
            var other = "Cond other " + Guid.NewGuid().ToString("N")[..6];
            await ProblemAssert.IsProblemAsync(await _client.SendAsync(Request(HttpMethod.Post, "/collections/places/items", header, value, Features.Content(Place(other)))),
                HttpStatusCode.PreconditionFailed, header);
            Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name = @other", new { other }));
        }
    }

    /// <summary>Unchanged: an incident's PUT, PATCH and DELETE evaluate both headers against its version.</summary>
    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task An_incident_change_with_a_failed_precondition_is_still_a_412_and_changes_nothing(string method)
    {
        foreach (var (ifMatch, ifNoneMatch, header) in new[] { ("\"zz\"", (string?)null, "If-Match"), ("\"v2\"", null, "If-Match"), ("\"v1\"", "*", "If-None-Match"), ("*", "\"v1\"", "If-None-Match") })
        {
            var id = await _client.CreateAsync(Features.Valid());
            var url = $"/collections/incidents/items/{id}";
            HttpContent? content = method switch
            {
                "PUT" => Features.Content(Features.Valid("replaced")),
                "PATCH" => new StringContent("""{"properties":{"title":"patched"}}""", Encoding.UTF8, "application/merge-patch+json"),
                _ => null,
            };
            var request = Request(new HttpMethod(method), url, "If-Match", ifMatch, content);
            if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);

            var refused = await _client.SendAsync(request);

            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.PreconditionFailed, header);
            Assert.Equal("\"v1\"", refused.Headers.ETag?.Tag);
            Assert.Equal(1, await api.Database.ScalarAsync<int>("SELECT version FROM incidents WHERE id = @id AND deleted_at IS NULL", new { id }));
        }
    }

    /// <summary>
    /// Every unsafe endpoint declares its 412, and every one whose target is a collection (a route without parameters)
    /// refuses If-Match: "zz" before it reads its body: a route added later cannot forget to.
    /// </summary>
    [Fact]
    public async Task Every_unsafe_endpoint_declares_a_412_and_every_post_to_a_collection_answers_one()
    {
        string[] unsafeMethods = [HttpMethods.Post, HttpMethods.Put, HttpMethods.Patch, HttpMethods.Delete];
        var endpoints = api.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (Endpoint: e, Methods: e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Intersect(unsafeMethods).ToList() ?? []))
            .Where(e => e.Methods.Count > 0)
            .ToList();
        Assert.True(endpoints.Count >= 11, $"only {endpoints.Count} unsafe endpoints found");

        var undeclared = endpoints.Where(e => !e.Endpoint.Metadata.OfType<IProducesResponseTypeMetadata>().Any(m => m.StatusCode == 412))
            .Select(e => $"{string.Join(",", e.Methods)} {e.Endpoint.RoutePattern.RawText}").ToList();
        Assert.True(undeclared.Count == 0, "no 412 declared: " + string.Join("; ", undeclared));

        var wrong = new List<string>();
        foreach (var (endpoint, methods) in endpoints.Where(e => e.Endpoint.RoutePattern.Parameters.Count == 0))
            foreach (var method in methods)
            {
                var url = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
                var response = await _client.SendAsync(Request(new HttpMethod(method), url, "If-Match", "\"zz\"", Json("{}")));
                if (response.StatusCode != HttpStatusCode.PreconditionFailed
                    || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                    wrong.Add($"{method} {url}: {(int)response.StatusCode}");
            }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }
}
