using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// The hostile table (<see cref="HostileTable"/>): every case is answered 4xx with a problem document
/// (or, for the documented exceptions, at least never 5xx), and afterwards nothing has changed.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class HostileRequestTests(HostileFixture hostile, Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new(HostileTable.All.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Hostile_request_is_a_4xx_problem_and_changes_nothing(string name)
    {
        var hostileCase = HostileTable.All[name];
        var (response, url) = await hostile.SendAsync(hostileCase);
        // Both verdicts are reported: a wrong answer and the change it made.
        var answered = Record.Exception(() => HostileAssert.Answered(hostileCase, response, url));
        var changed = await Record.ExceptionAsync(() => hostile.AssertNothingChangedAsync(name));
        var failures = new[] { answered, changed }.OfType<Exception>().Select(e => e.Message).ToList();
        if (response.Status >= 500) failures.Add(hostile.Api.Errors.For(response.Body));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void The_table_has_at_least_200_cases_that_must_be_4xx()
    {
        var strict = HostileTable.All.Values.Count(c => c.Expect == Expect.Problem);
        output.WriteLine($"{HostileTable.All.Count} hostile cases, {strict} of them must be 4xx problems");
        Assert.True(strict >= 200, $"only {strict} strict cases");
    }

    /// <summary>
    /// GeoJSON allows a third (altitude) coordinate. Not hostile, so not in the table: the server may
    /// drop it (201) or refuse it (422), but never fail. A created incident is deleted again.
    /// </summary>
    [Fact]
    public async Task An_altitude_is_dropped_or_refused_never_a_500()
    {
        using var client = hostile.Client(Caller.Admin);
        var feature = HostileJson.Feature("altitude", HostileJson.Geometry("Point", "[36.7236,34.7197,100]")).Replace(HostileFixture.Marker, "altitude");
        using var response = await client.PostAsync(HostileTable.Items, HostileJson.Text(feature)());
        var body = await response.Content.ReadAsStringAsync();
        if (response.Headers.Location is { } created) await client.DeleteCurrentAsync(created.ToString());
        Assert.True((int)response.StatusCode is 201 or 422, $"POST of a 3D point answered {(int)response.StatusCode}: {body}");
    }

    /// <summary>
    /// Documented exception: If-None-Match with an ETag we never issued is simply not a match
    /// (RFC 9110 §13.1.2), so a valid read answers 200 — never 304, never 5xx.
    /// </summary>
    [Theory]
    [InlineData("garbage")]
    [InlineData("W/\"v999999999999\"")]
    [InlineData("\"v999999999999\"")]
    [InlineData("\"d-1\"")]
    [InlineData("\"' OR 1=1 --\"")]
    public async Task Unknown_If_None_Match_is_not_a_match(string etag)
    {
        using var client = hostile.Client(Caller.Admin);
        foreach (var url in new[] { HostileTable.Items + "?limit=1", $"{HostileTable.Items}/{hostile.Targets[0]}", "/collections/incidents/stats/summary" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            using var response = await client.SendAsync(request);
            Assert.True((int)response.StatusCode == 200, $"{url} with If-None-Match {etag}: {(int)response.StatusCode}");
        }
        await hostile.AssertNothingChangedAsync($"If-None-Match {etag}");
    }
}
