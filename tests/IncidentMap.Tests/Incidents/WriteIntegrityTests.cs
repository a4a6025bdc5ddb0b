using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;

namespace IncidentMap.Tests.Incidents;

/// <summary>Writes that used to be taken while dropping or changing what the editor meant (found by an editor's audit).</summary>
[Collection(ApiCollection.Name)]
public sealed class WriteIntegrityTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private const string Places = "/collections/places/items";

    [Fact]
    public async Task A_patch_with_a_misspelt_member_is_a_422_naming_it_not_a_200_that_changes_nothing()
    {
        var url = $"/collections/incidents/items/{await _client.CreateAsync(Features.Valid())}";

        var problem = await ProblemAssert.IsProblemAsync(await _client.PatchCurrentAsync(url, """{"propertis":{"title":"typo"}}"""),
            HttpStatusCode.UnprocessableEntity, "propertis");
        Assert.Contains("did you mean 'properties'?", problem["detail"]!.GetValue<string>());
        Assert.Equal("1", (await _client.GetJsonAsync(url))["properties"]!["version"]!.ToJsonString());

        // What a GET answers (links included) can still be sent back whole.
        var read = await _client.GetJsonAsync(url);
        Assert.NotNull(read["links"]);
        var put = await _client.PutCurrentAsync(url, Features.Content(read));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    [Fact]
    public async Task A_place_with_a_misspelt_member_is_a_422_naming_it()
    {
        var id = await _client.AddPlaceAsync("Typoville " + Guid.NewGuid().ToString("N")[..6], 36.1, 33.1, "SY", null, "suburb");

        await ProblemAssert.IsProblemAsync(await _client.PatchCurrentAsync($"{Places}/{id}", """{"propertis":{"name":"x"}}"""),
            HttpStatusCode.UnprocessableEntity, "propertis");
    }

    [Theory]
    [InlineData("time_precision")]
    [InlineData("geo_precision")]
    [InlineData("status")]
    public async Task A_patch_may_not_clear_a_property_every_incident_has(string name)
    {
        var feature = PlaceHelpers.Unlocated("Homs", "SY");
        feature["properties"]!["occurred_at"] = "2016-02";
        feature["properties"]!["status"] = "verified";
        var url = $"/collections/incidents/items/{await _client.CreateAsync(feature)}";
        var before = (await _client.GetJsonAsync(url))["properties"]!;
        Assert.Equal(["month", "town", "verified"], new[] { "time_precision", "geo_precision", "status" }.Select(n => before[n]!.GetValue<string>()));

        await ProblemAssert.IsProblemAsync(await _client.PatchCurrentAsync(url, new JsonObject { ["properties"] = new JsonObject { [name] = null } }.ToJsonString()),
            HttpStatusCode.UnprocessableEntity, $"properties.{name}");

        var after = (await _client.GetJsonAsync(url))["properties"]!;
        Assert.True(JsonNode.DeepEquals(before, after), after.ToJsonString());
    }

    /// <summary>
    /// A patch of time_precision alone may coarsen the stored time, not refine it: "day" on a month made it the 1st,
    /// counted in that day's statistics, which a POST of the same refuses. With the finer occurred_at it is taken.
    /// </summary>
    [Fact]
    public async Task A_patch_may_not_make_the_stored_time_finer_without_the_time_that_says_it()
    {
        var url = $"/collections/incidents/items/{await _client.CreateAsync(Features.Valid(occurredAt: "2016-03"))}";

        foreach (var finer in new[] { "exact", "day", "week" })
        {
            var problem = await ProblemAssert.IsProblemAsync(await _client.PatchCurrentAsync(url, $$$"""{"properties":{"time_precision":"{{{finer}}}"}}"""),
                HttpStatusCode.UnprocessableEntity, "properties.time_precision");
            Assert.Contains($"'{finer}' is finer than the stored month", problem["detail"]!.GetValue<string>());
        }
        Assert.Equal(1, (await _client.GetJsonAsync(url))["properties"]!["version"]!.GetValue<int>());
        // Nor may a PUT of the incident as read (its occurred_at the stored one) with a finer precision.
        var read = await _client.GetJsonAsync(url);
        read["properties"]!["time_precision"] = "day";
        await ProblemAssert.IsProblemAsync(await _client.PutCurrentAsync(url, Features.Content(read)), HttpStatusCode.UnprocessableEntity, "properties.time_precision");
        Assert.Equal(1, (await _client.GetJsonAsync(url))["properties"]!["version"]!.GetValue<int>());

        var refined = await _client.PatchCurrentAsync(url, """{"properties":{"time_precision":"day","occurred_at":"2016-03-14"}}""");
        Assert.Equal(HttpStatusCode.OK, refined.StatusCode);
        var coarsened = await _client.PatchCurrentAsync(url, """{"properties":{"time_precision":"month"}}""");
        Assert.Equal(HttpStatusCode.OK, coarsened.StatusCode);
        var properties = (await _client.GetJsonAsync(url))["properties"]!;
        Assert.Equal(("2016-03-01T00:00:00+00:00", "month"), (properties["occurred_at"]!.GetValue<string>(), properties["time_precision"]!.GetValue<string>()));
    }

    /// <summary>
    /// A client that reads a month and sends it back without time_precision sends the stored occurred_at, a full
    /// date-time, which alone says an exact time: the month became midnight on the 1st (200, version 2), where the
    /// same PUT with "day" was a 422. Both are refused, as is a PATCH of the stored occurred_at (the same instant in
    /// any offset) without a precision or with a finer one, which was a 200 where the identical PUT was a 422.
    /// </summary>
    [Fact]
    public async Task A_write_of_the_stored_time_without_its_precision_is_a_422_not_an_exact_time()
    {
        var url = $"/collections/incidents/items/{await _client.CreateAsync(Features.Valid(occurredAt: "2016-02"))}";
        var read = await _client.GetJsonAsync(url);
        Assert.Equal(("2016-02-01T00:00:00+00:00", "month"),
            (read["properties"]!["occurred_at"]!.GetValue<string>(), read["properties"]!["time_precision"]!.GetValue<string>()));

        foreach (var echoed in new[] { "2016-02-01T00:00:00+00:00", "2016-02-01T00:00:00Z", "2016-02-01T02:00:00+02:00" })
        {
            var sent = read.DeepClone();
            sent["properties"]!.AsObject().Remove("time_precision");
            sent["properties"]!["occurred_at"] = echoed;
            var problem = await ProblemAssert.IsProblemAsync(await _client.PutCurrentAsync(url, Features.Content(sent)),
                HttpStatusCode.UnprocessableEntity, "properties.time_precision");
            Assert.Contains("finer than the stored month", problem["detail"]!.GetValue<string>());
        }
        foreach (var patch in new[]
                 {
                     """{"properties":{"occurred_at":"2016-02-01T00:00:00+00:00","time_precision":"day"}}""",
                     """{"properties":{"occurred_at":"2016-02-01T00:00:00+00:00"}}""",
                     """{"properties":{"occurred_at":"2016-02-01T00:00:00Z","time_precision":"exact"}}""",
                 })
        {
            var problem = await ProblemAssert.IsProblemAsync(await _client.PatchCurrentAsync(url, patch),
                HttpStatusCode.UnprocessableEntity, "properties.time_precision");
            Assert.Contains("finer than the stored month", problem["detail"]!.GetValue<string>());
        }
        Assert.Equal(1, (await _client.GetJsonAsync(url))["properties"]!["version"]!.GetValue<int>());

        // Sent back with its precision it is taken; and a date says its day.
        Assert.Equal(HttpStatusCode.OK, (await _client.PutCurrentAsync(url, Features.Content(read))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync(url, """{"properties":{"occurred_at":"2016-02-01"}}""")).StatusCode);
        var properties = (await _client.GetJsonAsync(url))["properties"]!;
        Assert.Equal(("2016-02-01T00:00:00+00:00", "day"), (properties["occurred_at"]!.GetValue<string>(), properties["time_precision"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_coarser_precision_than_the_written_date_is_taken()
    {
        var feature = Features.Valid(occurredAt: "2016-02-21");
        feature["properties"]!["time_precision"] = "week";

        var (response, body) = await _client.PostAsync(feature);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("2016-02-15T00:00:00+00:00", body!["properties"]!["occurred_at"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_place_without_a_country_beside_a_place_of_the_same_name_is_a_409()
    {
        var name = "Qaryatayn " + Guid.NewGuid().ToString("N")[..6];
        var first = await _client.AddPlaceAsync(name, 37.2, 34.2, "SY", null, "town");

        var copy = new JsonObject
        {
            ["type"] = "Feature", ["geometry"] = Features.Point(37.2005, 34.2004),
            ["properties"] = new JsonObject { ["name"] = name, ["kind"] = "town" },
        };
        var problem = await ProblemAssert.IsProblemAsync(await _client.PostAsync(Places, Features.Content(copy)), HttpStatusCode.Conflict, "properties.name");
        Assert.EndsWith($"{Places}/{first}", problem["existing"]!.GetValue<string>());

        // The name still geocodes without a country.
        var (response, body) = await _client.PostAsync(PlaceHelpers.Unlocated(name));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(first, body!["properties"]!["place_id"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("\u200fحمص")]          // a right-to-left mark, as Arabic text copied from a page carries
    [InlineData("حمص\u200e")]          // a left-to-right mark after it
    [InlineData("\u061cحمص")]          // the Arabic letter mark
    [InlineData("Ho\u00ADms")]          // a soft hyphen
    [InlineData("\ufeffHoms\u200b")]    // a byte order mark and a zero-width space
    public async Task Invisible_formatting_characters_do_not_stop_a_name_geocoding(string name)
    {
        var (response, body) = await _client.PostAsync(PlaceHelpers.Unlocated(name, "SY"));

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal("Homs", body!["properties"]!["admin1"]!.GetValue<string>());
        // The name is stored as sent.
        Assert.Equal(name, body["properties"]!["location_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_blank_country_is_none_and_the_name_geocodes()
    {
        var feature = PlaceHelpers.Unlocated("Homs");
        feature["properties"]!["country"] = " ";
        feature["properties"]!["admin1"] = "";

        var (response, body) = await _client.PostAsync(feature);

        Assert.True(response.StatusCode == HttpStatusCode.Created, body?.ToJsonString());
        Assert.Equal("SY", body!["properties"]!["country"]!.GetValue<string>());
    }
}
