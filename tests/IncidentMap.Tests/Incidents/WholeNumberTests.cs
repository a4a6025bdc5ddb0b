using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// A count is a whole number as written: 1e-400, which a double rounds to 0, was stored as 0 (by a write and by
/// an import, CSV or GeoJSON), where 0.0000000000000000000001 was refused as not whole. 5.7e1 is 57.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class WholeNumberTests(ImportsFixture api)
{
    [Theory]
    [InlineData("57", true)]
    [InlineData("57.0", true)]
    [InlineData("5.7e1", true)]
    [InlineData("1E3", true)]
    [InlineData("100e-2", true)]
    [InlineData("-0.0e-7", true)]
    [InlineData(" 5. ", true)]
    [InlineData("1e99999999999", true)]
    [InlineData("2.5", false)]
    [InlineData("1e-400", false)]
    [InlineData("0.0000000000000000000001", false)]
    [InlineData("10e-2", false)]
    [InlineData(".5", false)]
    [InlineData("1e", false)]
    [InlineData("e5", false)]
    [InlineData("NaN", false)]
    public void A_number_is_whole_as_written(string text, bool whole) =>
        Assert.Equal(whole, IncidentMap.Api.Incidents.IncidentInput.IsWholeNumber(text));

    [Fact]
    public async Task A_count_too_small_to_be_whole_is_refused_by_every_import_format_and_one_whole_in_an_exponent_is_taken()
    {
        var prefix = Unique();
        var csv = $"""
            external_id,title,event_type,occurred_at,fatalities_min,injured_max,lon,lat
            {prefix}-1,Tiny toll,riots,2016-02-21,1e-400,,36.7,34.7
            {prefix}-2,Tiny injured,riots,2016-02-21,,0.0000000000000000000001,36.7,34.7
            {prefix}-3,Written as an exponent,riots,2016-02-21,5.7e1,1E3,36.7,34.7
            """;
        var report = await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);
        Assert.Equal([(2L, "properties.fatalities_min", "must be a whole number or null"), (3L, "properties.injured_max", "must be a whole number or null")],
            Problems(report).Select(p => (p.Line, p.Field, p.Reason)));
        var id = await api.Database.ScalarAsync<long>("SELECT id FROM incidents WHERE external_id = @e", new { e = $"{prefix}-3" });
        var taken = (await api.CreateClient().GetJsonAsync($"/collections/incidents/items/{id}"))["properties"]!;
        Assert.Equal((57, 1000), (taken["fatalities_min"]!.GetValue<int>(), taken["injured_max"]!.GetValue<int>()));

        var ndjson = $$$"""
            {"type":"Feature","geometry":{"type":"Point","coordinates":[36.7,34.7]},"properties":{"external_id":"{{{prefix}}}-4","title":"t","event_type":"riots","occurred_at":"2016-02-21","fatalities_max":1e-400}}
            """;
        var (status, json) = await api.CreateClient().PostImportAsync(ndjson, "application/x-ndjson", "?source=" + prefix);
        Assert.True(status == HttpStatusCode.OK, json.ToJsonString());
        Assert.Equal([(1L, "properties.fatalities_max", "must be a whole number or null")], Problems(json).Select(p => (p.Line, p.Field, p.Reason)));
    }
}
