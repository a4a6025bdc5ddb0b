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
    /// <summary>
    /// RFC 3339 allows second 60 (§5.6, §5.7: a leap second, 2016-12-31T23:59:60Z); PostgreSQL's timestamps have none.
    /// It was "not an RFC 3339 date-time", which is false: it is one, which cannot be stored or compared.
    /// </summary>
    [Theory]
    [InlineData("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z")]
    [InlineData("2016-12-31T18:59:60.5-05:00", "2016-12-31T18:59:59.5-05:00")]
    [InlineData("2016-12-31 23:59:60Z", "2016-12-31 23:59:59Z")]
    public async Task A_leap_second_is_refused_as_one_naming_the_field(string written, string instead)
    {
        var (response, _) = await _client.PostAsync(Features.Valid(occurredAt: written));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.occurred_at");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains($"'{written}' is a leap second (second 60), which PostgreSQL cannot store; write {instead}", detail);
        Assert.DoesNotContain("is not an RFC 3339", detail);

        var feature = Features.Valid();
        feature["properties"]!["sources"] = new JsonArray(new JsonObject { ["publisher"] = "x", ["published_at"] = written });
        (response, _) = await _client.PostAsync(feature);
        problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.sources[0].published_at");
        Assert.Contains("is a leap second (second 60)", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("2016-12-31T23:59:60Z")]
    [InlineData("2016-12-31T23:59:60Z/..")]
    [InlineData("2016-01-01/2016-12-31T23:59:60Z")]
    public async Task A_leap_second_in_datetime_is_a_400_saying_so(string datetime)
    {
        var response = await _client.GetAsync($"/collections/incidents/items?datetime={Esc(datetime)}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "datetime");
        Assert.Contains("'2016-12-31T23:59:60Z' is a leap second (second 60), which PostgreSQL cannot store; write 2016-12-31T23:59:59Z", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_leap_second_in_a_filter_TIMESTAMP_is_a_400_saying_so()
    {
        var response = await _client.GetAsync($"/collections/incidents/items?filter={Esc("occurred_at > TIMESTAMP('2016-12-31T23:59:60Z')")}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "filter");
        Assert.Contains("'2016-12-31T23:59:60Z' is a leap second (second 60)", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("is not an RFC 3339", problem["detail"]!.GetValue<string>());
    }

    /// <summary>Second 61 is no time at all (RFC 3339 stops at 60), nor is 60 in a time that is otherwise wrong.</summary>
    [Theory]
    [InlineData("2016-12-31T23:59:61Z")]
    [InlineData("2016-12-32T23:59:60Z")]
    public async Task A_second_past_60_is_still_not_a_date_time(string written)
    {
        var (response, _) = await _client.PostAsync(Features.Valid(occurredAt: written));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "properties.occurred_at");
        Assert.Contains("is not an RFC 3339 date-time", problem["detail"]!.GetValue<string>());
    }
}
