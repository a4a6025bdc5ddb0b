using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.OpenApi;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Querying;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// What the OpenAPI document says a request may be, against what the service takes: the key was taken as
/// <c>Authorization: Bearer im_…</c> but declared only as X-API-Key, and the import took
/// <c>application/ndjson</c> but declared only application/x-ndjson.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DeclaredInputsTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();
    private readonly DeclaredContract _contract = new(OpenApiSetup.Render(api.Services));

    [Fact]
    public async Task The_key_in_either_header_is_a_security_scheme_each_operation_offers_as_an_alternative()
    {
        var schemes = _contract.Document["components"]!["securitySchemes"]!;
        Assert.True(schemes[OpenApiSetup.BearerScheme] is JsonObject, "securitySchemes declares no Bearer scheme: " + schemes.ToJsonString());
        var bearer = schemes[OpenApiSetup.BearerScheme]!;
        Assert.Equal(("http", "bearer"), (bearer["type"]!.GetValue<string>(), bearer["scheme"]!.GetValue<string>()));
        Assert.Equal("apiKey", schemes[OpenApiSetup.ApiKeyScheme]!["type"]!.GetValue<string>());

        var secured = 0;
        foreach (var (method, path, operation) in _contract.Operations())
        {
            if (operation["security"] is not JsonArray requirements) continue;
            secured++;
            // Alternatives (OR), each one scheme: either header will do; an empty one makes the key optional.
            var alternatives = requirements.Select(r => string.Join("+", r!.AsObject().Select(s => s.Key))).ToList();
            Assert.Contains(OpenApiSetup.ApiKeyScheme, alternatives);
            Assert.Contains(OpenApiSetup.BearerScheme, alternatives);
            Assert.All(alternatives, a => Assert.DoesNotContain("+", a));
            // A write or admin operation needs the key (its 403: a scope it lacks); a read takes one (it must be
            // valid: its 401) and needs none unless the service says so (Auth:RequireKeyForReads).
            var needsKey = operation["responses"]?["403"] is not null;
            Assert.True(needsKey != alternatives.Contains(""), $"{method} {path}: {requirements.ToJsonString()}");
        }
        Assert.True(secured > 10, $"only {secured} operations declare security");
        Assert.Null(_contract.Operation("post", QueryHelpers.Items)!["security"]!.AsArray().FirstOrDefault(r => r!.AsObject().Count == 0));
        Assert.NotNull(_contract.Operation("get", QueryHelpers.Items)!["security"]!.AsArray().FirstOrDefault(r => r!.AsObject().Count == 0));

        // As declared: the key alone in Authorization: Bearer makes a write; a wrong one is refused.
        using var anonymous = api.CreateAnonymousClient();
        var create = new HttpRequestMessage(HttpMethod.Post, QueryHelpers.Items) { Content = Features.Content(Features.Valid()) };
        create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.Key);
        Assert.Equal(HttpStatusCode.Created, (await anonymous.SendAsync(create)).StatusCode);
        var wrong = new HttpRequestMessage(HttpMethod.Post, QueryHelpers.Items) { Content = Features.Content(Features.Valid()) };
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "im_wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrong)).StatusCode);
    }

    /// <summary>Media types a client might send a body as: each is taken exactly where it is declared.</summary>
    private static readonly string[] Candidates =
    [
        "application/json", "application/geo+json", "application/vnd.geo+json", "application/merge-patch+json", "application/json-patch+json",
        "application/geo+json-seq", "application/json-seq", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
        "text/csv", "application/csv", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "application/xml",
    ];

    [Fact]
    public async Task A_body_is_taken_in_every_media_type_its_operation_declares_and_refused_in_any_other()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var place = await _client.PostAsync("/collections/places/items", Features.Content(new JsonObject
        {
            ["type"] = "Feature",
            ["geometry"] = Features.Point(RouteSamples.RemoteLon, RouteSamples.RemoteLat + 0.2),
            ["properties"] = new JsonObject { ["name"] = "Media " + Guid.NewGuid().ToString("N")[..8], ["kind"] = "site" },
        }));
        Assert.Equal(HttpStatusCode.Created, place.StatusCode);
        var values = new Dictionary<string, string>
        {
            ["featureId"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["placeId"] = place.Headers.Location!.ToString().Split('/')[^1],
        };

        var mismatches = new List<string>();
        var checkedBodies = 0;
        foreach (var (method, path, operation) in _contract.Operations())
        {
            if (operation["requestBody"]?["content"] is not JsonObject content) continue;
            checkedBodies++;
            var declared = content.Select(c => c.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
            Assert.Subset(Candidates.ToHashSet(StringComparer.OrdinalIgnoreCase), declared);
            var url = RouteSamples.Fill(path, values);
            foreach (var type in Candidates)
            {
                // A body no format reads: taken, it is a 400 (or a report of rejected rows); refused, a 415.
                var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url) { Content = new StringContent("x", Encoding.UTF8, type) };
                request.Headers.TryAddWithoutValidation("If-Match", "*");
                var status = (await _client.SendAsync(request)).StatusCode;
                if ((status != HttpStatusCode.UnsupportedMediaType) != declared.Contains(type))
                    mismatches.Add($"{method} {path} as {type}: {(int)status}, {(declared.Contains(type) ? "declared" : "not declared")}");
            }
        }
        Assert.True(checkedBodies >= 8, $"only {checkedBodies} operations with a body");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }
}
