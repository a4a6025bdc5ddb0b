using System.Net;
using IncidentMap.Api.Filtering;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Filtering;

/// <summary>
/// PostgreSQL keeps times to the microsecond. A time given finer than that is refused rather than cut
/// (07:30:00.0000001 matched an incident at 07:30:00 exactly); zeros past the sixth digit, as .NET's
/// round-trip format writes seven, mean nothing and are read.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class TimePrecisionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Theory]
    [InlineData("occurred_at = TIMESTAMP('2016-02-21T07:30:00.0000001Z')", 24)]
    [InlineData("occurred_at < TIMESTAMP('2016-02-21T07:30:00.123456789Z')", 24)]
    [InlineData("occurred_at BETWEEN TIMESTAMP('2016-02-21T07:30:00Z') AND TIMESTAMP('2016-02-21T07:30:00.0000005+02:00')", 68)]
    [InlineData("T_INTERSECTS(occurred_at, INTERVAL('2016-02-21T07:30:00.0000001Z', '..'))", 35)]
    public void A_timestamp_finer_than_a_microsecond_is_refused_at_its_position(string filter, int position)
    {
        Cql2Assert.Fails(filter, position, "finer than a microsecond; PostgreSQL keeps microseconds");
    }

    [Fact]
    public void A_cql2_json_timestamp_finer_than_a_microsecond_is_refused()
    {
        var error = Cql2Assert.Fails("""{"op":"=","args":[{"property":"occurred_at"},{"timestamp":"2016-02-21T07:30:00.0000001Z"}]}""", -1,
            "finer than a microsecond", Cql2.JsonLanguage);
        Assert.StartsWith("$.args[1]: ", error.Message);
    }

    [Theory]
    [InlineData("2016-02-21T07:30:00.0000000Z", 0)]
    [InlineData("2016-02-21T07:30:00.000000000Z", 0)]
    [InlineData("2016-02-21T07:30:00.1234560Z", 1_234_560)]
    [InlineData("2016-02-21T09:30:00.123456000+02:00", 1_234_560)]
    public void Zeros_past_the_sixth_digit_are_read(string timestamp, long ticks)
    {
        var compiled = Cql2Assert.Compiles($"occurred_at = TIMESTAMP('{timestamp}')");

        Assert.Equal(new DateTimeOffset(2016, 2, 21, 7, 30, 0, TimeSpan.Zero).AddTicks(ticks), compiled.Parameters[0].Value);
    }

    [Theory]
    [InlineData("2016-02-21T07:30:00.0000001Z")]
    [InlineData("2016-02-21T07:30:00.123456789Z")]
    [InlineData("2016-02-21T07:00:00Z/2016-02-21T07:30:00.0000001Z")]
    [InlineData("2016-02-21T07:30:00.0000001Z/..")]
    public async Task A_datetime_finer_than_a_microsecond_is_a_400(string datetime)
    {
        var response = await _client.GetAsync($"{Items}?datetime={Esc(datetime)}");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "datetime");
        Assert.Contains("finer than a microsecond; PostgreSQL keeps microseconds", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_time_written_with_seven_zero_digits_finds_the_incident_at_that_second()
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag, occurredAt: "2016-02-21T07:30:00Z"));

        await _client.AssertMatchesAsync($"tags={tag}&datetime={Esc("2016-02-21T07:30:00.0000000Z")}", id);
        await _client.AssertMatchesAsync($"tags={tag}&filter={Esc("occurred_at = TIMESTAMP('2016-02-21T07:30:00.0000000Z')")}", id);
        await _client.AssertMatchesAsync($"tags={tag}&filter={Esc("occurred_at > TIMESTAMP('2016-02-21T07:29:59.9999990Z')")}", id);
    }
}
