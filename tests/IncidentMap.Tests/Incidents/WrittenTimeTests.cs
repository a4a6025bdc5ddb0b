using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// RFC 3339 times that .NET's DateTimeOffset cannot hold as written: an offset beyond its ±14:00 (RFC 3339 allows
/// hours 00–23), or an instant before year 1 or after 9999 in UTC. Each was "not an RFC 3339 date-time".
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class WrittenTimeTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("2016-02-21T07:30:00+15:00", "2016-02-20T16:30:00+00:00")]
    [InlineData("2016-02-21T07:30:00-23:59", "2016-02-22T07:29:00+00:00")]
    [InlineData("2016-02-21T07:30:00.25+23:00", "2016-02-20T08:30:00.25+00:00")]
    public async Task An_offset_beyond_14_hours_is_stored_as_its_instant_in_UTC(string written, string stored)
    {
        var (response, body) = await _client.PostAsync(Features.Valid(occurredAt: written));

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal((stored, "exact"), (body!["properties"]!["occurred_at"]!.GetValue<string>(), body["properties"]!["time_precision"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_day_written_with_an_offset_beyond_14_hours_is_the_day_of_that_offset()
    {
        // 01:00 at +15:00 is still the 20th in UTC; the writer's calendar says the 21st (as for any offset).
        var feature = Features.Valid(occurredAt: "2016-02-21T01:00:00+15:00");
        feature["properties"]!["time_precision"] = "day";

        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("2016-02-21T00:00:00+00:00", body!["properties"]!["occurred_at"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("0001-01-01T00:30:00+01:00", null, "before the first instant of year 1")]
    [InlineData("0001-01-01T05:00:00+15:00", null, "before the first instant of year 1")]
    [InlineData("9999-12-31T23:30:00-01:00", null, "runs into the year 10000")]
    [InlineData("9999-12-31T12:00:00-23:00", null, "runs into the year 10000")]
    [InlineData("0001-01-01T00:30:00+01:00", "day", "as a day starts at the first instant of year 1")]
    [InlineData("9999-12-31T23:30:00-01:00", "day", "as a day runs into the year 10000")]
    public async Task A_time_outside_the_storable_years_in_UTC_is_refused_saying_so(string written, string? precision, string reason)
    {
        var feature = Features.Valid(occurredAt: written);
        if (precision is not null) feature["properties"]!["time_precision"] = precision;

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.occurred_at");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains(reason, detail);
        Assert.DoesNotContain("is not an RFC 3339", detail);
    }

    [Fact]
    public async Task A_source_published_at_with_an_offset_beyond_14_hours_is_kept_in_UTC()
    {
        var feature = Features.Valid();
        feature["properties"]!["sources"] = JsonNode.Parse("""[{"publisher":"x","published_at":"2016-02-21T07:30:00+15:00"}]""");

        var (response, body) = await _client.PostAsync(feature);

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal("2016-02-20T16:30:00Z", body!["properties"]!["sources"]![0]!["published_at"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("0001-01-01T00:30:00+01:00", "before the first instant of year 1")]
    [InlineData("9999-12-31T23:30:00-01:00", "runs into the year 10000")]
    public async Task A_source_published_outside_the_storable_years_in_UTC_is_refused_saying_so(string written, string reason)
    {
        var feature = Features.Valid();
        feature["properties"]!["sources"] = new JsonArray(new JsonObject { ["publisher"] = "x", ["published_at"] = written });

        var (response, _) = await _client.PostAsync(feature);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.sources[0].published_at");
        Assert.Contains(reason, problem["detail"]!.GetValue<string>());
    }

    /// <summary>What a write takes, a query takes: datetime= and a filter's TIMESTAMP were a 400 for these offsets.</summary>
    [Theory]
    [InlineData("2016-02-21T07:30:00+15:00")]
    [InlineData("2016-02-19T16:31:00-23:59")]
    public async Task A_query_takes_an_offset_beyond_14_hours(string written)
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-20T16:30:00Z"));
        var other = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-20T16:30:01Z"));

        // Both are 2016-02-20T16:30:00Z.
        await _client.AssertMatchesAsync($"tags={tag}&datetime={Esc(written)}", id);
        await _client.AssertMatchesAsync($"tags={tag}&filter={Esc($"occurred_at = TIMESTAMP('{written}')")}", id);
        await _client.AssertMatchesAsync($"tags={tag}&datetime={Esc(written)}/..", id, other);
        await _client.AssertMatchesAsync($"tags={tag}&filter={Esc($"occurred_at > TIMESTAMP('{written}')")}", other);
    }
}
