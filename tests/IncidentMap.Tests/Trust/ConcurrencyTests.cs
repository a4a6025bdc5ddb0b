using System.Net;
using System.Text;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Trust;

/// <summary>Optimistic concurrency: every change names the version it read (RFC 9110 If-Match, RFC 6585 428).</summary>
[Collection(ApiCollection.Name)]
public sealed class ConcurrencyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private static HttpRequestMessage Change(string method, long id, string? ifMatch, int fatalitiesMax = 3)
    {
        var url = $"{Trust.ItemsUrl}/{id}";
        var request = method switch
        {
            "PUT" => new HttpRequestMessage(HttpMethod.Put, url) { Content = Features.Content(Features.Valid($"Replaced {fatalitiesMax}")) },
            "PATCH" => new HttpRequestMessage(HttpMethod.Patch, url)
            {
                Content = new StringContent($$$"""{"properties":{"fatalities_max":{{{fatalitiesMax}}}}}""", Encoding.UTF8, "application/merge-patch+json"),
            },
            _ => new HttpRequestMessage(HttpMethod.Delete, url),
        };
        if (ifMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return request;
    }

    private async Task<int> VersionAsync(long id) =>
        (await _client.GetJsonAsync($"{Trust.ItemsUrl}/{id}"))["properties"]!["version"]!.GetValue<int>();

    public static readonly TheoryData<string> Methods = ["PUT", "PATCH", "DELETE"];

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task A_change_without_If_Match_answers_428_naming_If_Match(string method)
    {
        var id = await _client.CreateAsync(Features.Valid());

        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Change(method, id, null)), HttpStatusCode.PreconditionRequired, "If-Match");

        Assert.Equal(1, await VersionAsync(id));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task A_change_with_a_stale_If_Match_answers_412_naming_the_current_version(string method)
    {
        var id = await _client.CreateAsync(Features.Valid());
        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync($"{Trust.ItemsUrl}/{id}", """{"properties":{"fatalities_max":1}}""")).StatusCode);

        var problem = await ProblemAssert.IsProblemAsync(await _client.SendAsync(Change(method, id, "\"v1\"")), HttpStatusCode.PreconditionFailed, "If-Match");

        Assert.Contains("version 2", problem["detail"]!.GetValue<string>());
        Assert.Contains("\"v2\"", problem["detail"]!.GetValue<string>());
        Assert.Equal(2, await VersionAsync(id));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task An_If_Match_naming_no_version_of_ours_answers_412_naming_the_current_version(string method)
    {
        var id = await _client.CreateAsync(Features.Valid());

        var response = await _client.SendAsync(Change(method, id, "\"V1\", \"d1f\""));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Contains("\"v1\"", problem["detail"]!.GetValue<string>());
        Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
        Assert.Equal(1, await VersionAsync(id));
    }

    /// <summary>
    /// If-None-Match on a change (RFC 9110 §13.1.2): the change is made only when the current version is none of
    /// those named (weakly compared); * names any, and the incident exists. Either way If-Match still applies.
    /// </summary>
    [Theory]
    [InlineData("PUT", "*", false)]
    [InlineData("PATCH", "*", false)]
    [InlineData("DELETE", "*", false)]
    [InlineData("PUT", "\"v1\"", false)]
    [InlineData("PATCH", "W/\"v1\"", false)]
    [InlineData("DELETE", "\"v9\", \"v1-gzip\"", false)]
    [InlineData("PATCH", "\"v2\"", true)]
    [InlineData("PUT", "\"d1f\"", true)]
    public async Task If_None_Match_on_a_change_refuses_the_versions_it_names(string method, string ifNoneMatch, bool made)
    {
        foreach (var ifMatch in new[] { "\"v1\"", "*" })
        {
            var id = await _client.CreateAsync(Features.Valid());
            var request = Change(method, id, ifMatch);
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);

            var response = await _client.SendAsync(request);

            if (made)
            {
                Assert.True(response.IsSuccessStatusCode, $"{method} If-Match {ifMatch}: {response.StatusCode}");
                continue;
            }
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.PreconditionFailed, "If-None-Match");
            Assert.Contains("\"v1\"", problem["detail"]!.GetValue<string>());
            Assert.Equal(1, await VersionAsync(id));
        }
    }

    [Fact]
    public async Task A_malformed_If_None_Match_on_a_change_is_a_400()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var request = Change("PATCH", id, "\"v1\"");
        request.Headers.TryAddWithoutValidation("If-None-Match", "v1");

        await ProblemAssert.IsProblemAsync(await _client.SendAsync(request), HttpStatusCode.BadRequest, "If-None-Match");
        Assert.Equal(1, await VersionAsync(id));
    }

    public static readonly TheoryData<string, string, string> MalformedIfMatch = new()
    {
        { "PUT", "v1", "quoted" }, { "PATCH", "v1", "quoted" }, { "DELETE", "v1", "quoted" },
        { "PATCH", "\"v1", "quoted" }, { "PATCH", "\"v1\", *", "quoted" },
        { "PUT", "W/\"v1\"", "weak" }, { "PATCH", "W/\"v1\"", "weak" }, { "DELETE", "W/\"v1\"", "weak" },
        { "PATCH", "\"v7\", W/\"v1\"", "weak" },
    };

    [Theory]
    [MemberData(nameof(MalformedIfMatch))]
    public async Task An_If_Match_that_is_not_a_list_of_quoted_strong_tags_is_a_400_saying_what_to_send(string method, string ifMatch, string says)
    {
        // The version is current: a 412 "has changed" would send the client to read again, to no avail.
        var id = await _client.CreateAsync(Features.Valid());

        var problem = await ProblemAssert.IsProblemAsync(await _client.SendAsync(Change(method, id, ifMatch)), HttpStatusCode.BadRequest, "If-Match");

        Assert.Contains(says, problem["detail"]!.GetValue<string>());
        Assert.Contains("ETag", problem["detail"]!.GetValue<string>());
        Assert.Equal(1, await VersionAsync(id));
    }

    [Fact]
    public async Task A_well_formed_If_Match_that_names_no_version_of_ours_is_still_a_412()
    {
        var id = await _client.CreateAsync(Features.Valid());

        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Change("PATCH", id, "\"v01\"")), HttpStatusCode.PreconditionFailed, "If-Match");

        Assert.Equal(1, await VersionAsync(id));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task If_Match_star_is_accepted(string method)
    {
        var id = await _client.CreateAsync(Features.Valid());
        var expected = method == "DELETE" ? HttpStatusCode.NoContent : HttpStatusCode.OK;

        var response = await _client.SendAsync(Change(method, id, "*"));

        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task If_Match_with_a_list_of_etags_is_accepted_when_one_is_current()
    {
        var id = await _client.CreateAsync(Features.Valid());

        var response = await _client.SendAsync(Change("PATCH", id, "\"v7\", \"v1\""));

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(2, await VersionAsync(id));
    }

    [Fact]
    public async Task Concurrent_patches_whose_if_match_lists_every_version_they_can_meet_all_succeed()
    {
        // RFC 9110 §13.1.1: the condition holds when any listed tag is current. Patches that lost a race to one
        // another were 412s naming a version that their own list held.
        var id = await _client.CreateAsync(Features.Valid());
        var list = string.Join(", ", Enumerable.Range(1, 20).Select(v => $"\"v{v}\""));

        var answers = await Task.WhenAll(Enumerable.Range(1, 8).Select(n => _client.SendAsync(Change("PATCH", id, list, fatalitiesMax: n))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(9, await VersionAsync(id));
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    public async Task Of_two_concurrent_changes_with_the_same_etag_exactly_one_wins(string method)
    {
        var id = await _client.CreateAsync(Features.Valid());

        for (var round = 0; round < 10; round++)
        {
            var before = await VersionAsync(id);
            var etag = $"\"v{before}\"";

            var answers = await Task.WhenAll(
                _client.SendAsync(Change(method, id, etag, round * 10 + 1)),
                _client.SendAsync(Change(method, id, etag, round * 10 + 2)));

            var statuses = answers.Select(a => a.StatusCode).Order().ToArray();
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.PreconditionFailed], statuses);
            Assert.Equal(before + 1, await VersionAsync(id));
        }
    }

    [Fact]
    public async Task Concurrent_patches_with_If_Match_star_all_apply_since_any_current_version_matches()
    {
        // RFC 9110 §13.1.1: "*" is true whenever there is a current representation, so none of these is a 412.
        var id = await _client.CreateAsync(Features.Valid());

        // 32 at once: a bounded number of merge attempts ran out under such a race (concurrency audit).
        var answers = await Task.WhenAll(Enumerable.Range(1, 32).Select(n => _client.SendAsync(Change("PATCH", id, "*", n))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(33, await VersionAsync(id));
    }
}

/// <summary>The service with If-Match optional, as QGIS's editing needs.</summary>
public sealed class OptionalIfMatchFactory() : ConfiguredFactory(("Writes:RequireIfMatch", "false"));

public sealed class OptionalIfMatchTests(OptionalIfMatchFactory api) : IClassFixture<OptionalIfMatchFactory>
{
    [Fact]
    public async Task With_If_Match_optional_writes_without_it_go_through_and_a_stale_one_is_still_412()
    {
        var client = api.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", api.Key);
        var id = await client.CreateAsync(Features.Valid());
        var url = $"{Trust.ItemsUrl}/{id}";

        var put = await client.PutAsync(url, Features.Content(Features.Valid("Replaced without If-Match")));
        Assert.True(put.StatusCode == HttpStatusCode.OK, $"{(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        var patch = await client.PatchAsync(url, new StringContent("""{"properties":{"fatalities_max":9}}""", Encoding.UTF8, "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var stored = await client.GetJsonAsync(url);
        Assert.Equal((3, "Replaced without If-Match", 9), (stored["properties"]!["version"]!.GetValue<int>(),
            stored["properties"]!["title"]!.GetValue<string>(), stored["properties"]!["fatalities_max"]!.GetValue<int>()));

        var stale = new HttpRequestMessage(HttpMethod.Delete, url);
        stale.Headers.TryAddWithoutValidation("If-Match", "\"v1\"");
        await ProblemAssert.IsProblemAsync(await client.SendAsync(stale), HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(url)).StatusCode);
    }
}
