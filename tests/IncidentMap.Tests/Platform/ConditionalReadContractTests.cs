using System.Net;
using IncidentMap.Api.OpenApi;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// That the document declares conditional reads where the service answers them. Serial: list, tile
/// and stats ETags name the data version, which the writes of tests running beside this one would
/// move between a read and its revalidation.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ConditionalReadContractTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_304_and_If_None_Match_are_declared_exactly_where_a_read_answers_If_None_Match_with_304()
    {
        var contract = new DeclaredContract(OpenApiSetup.Render(api.Services));
        var samples = await RouteSamples.CreateAsync(_client);

        var wrong = new List<string>();
        foreach (var (method, path, operation) in contract.Operations().Where(o => o.Method is "get" or "head").ToList())
        {
            if (path.EndsWith("/stream", StringComparison.Ordinal)) continue; // never ends; it resumes by Last-Event-ID instead
            var url = RouteSamples.Fill(path, samples.Existing, samples.Query(contract.RequiredQuery(operation), contract.TakesFilters(operation)));
            // The data version may still move (a job of an earlier test finishing): an ETag is asked
            // again until it is answered with 304, or stays the same and is not.
            var honoured = false;
            for (var attempt = 0; attempt < 5 && !honoured; attempt++)
            {
                var first = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url));
                if (!first.IsSuccessStatusCode) wrong.Add($"{method} {url}: {(int)first.StatusCode}");
                if (first.Headers.ETag is not { } etag) break;
                var again = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url);
                again.Headers.IfNoneMatch.Add(etag);
                var second = await _client.SendAsync(again);
                honoured = second.StatusCode == HttpStatusCode.NotModified;
                if (!honoured && Equals(second.Headers.ETag, etag)) break;
            }
            var declares = contract.Response(operation, 304) is not null;
            if (honoured != declares)
                wrong.Add($"{method} {path}: {(honoured ? "answers 304 but does not declare it" : "declares 304 but never answered If-None-Match with it")}");
            if (!honoured) continue;
            if (contract.Header(operation, "If-None-Match") is null) wrong.Add($"{method} {path}: does not declare If-None-Match");
            foreach (var status in new[] { 200, 304 })
                if (contract.Response(operation, status) is { } response && DeclaredContract.ResponseHeader(response, "ETag") is null)
                    wrong.Add($"{method} {path}: its {status} does not declare ETag");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}
