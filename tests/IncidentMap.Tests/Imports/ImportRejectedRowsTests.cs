using System.Text;
using System.Text.Json.Nodes;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// The report lists at most 10,000 rejected rows. It kept the first 10,000 problems to arrive: rows the database
/// rejects arrive after later rows the reader rejected, so the list could leave out the earliest rejected rows,
/// and it counted the problems it left out, not the rows.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportRejectedRowsTests(ImportsFixture api)
{
    private const string Header = "external_id,title,event_type,occurred_at,lon,lat\n";

    private static List<long> Records(JsonNode report) =>
        report["rejected_rows"]!.AsArray().Select(p => p!["record"]!.GetValue<long>()).ToList();

    [Fact]
    public async Task The_listed_rejected_rows_are_the_first_in_file_order_whichever_stage_rejected_them()
    {
        var prefix = Unique();
        var csv = new StringBuilder(Header);
        // Rows 1-10,000 imported; 10,001-20,000 repeat their keys (rejected by the database, as it stages each batch);
        // 20,001-40,000 have no event type the reader knows (rejected as they are read, long before).
        for (var n = 1; n <= 10_000; n++) csv.Append($"{prefix}-{n},Row {n},riots,2016-01-01,36.5,34.5\n");
        for (var n = 1; n <= 10_000; n++) csv.Append($"{prefix}-{n},Row {n} again,riots,2016-01-01,36.5,34.5\n");
        for (var n = 1; n <= 20_000; n++) csv.Append($"{prefix}-x{n},Bad row {n},nope,2016-01-01,36.5,34.5\n");

        var report = await api.CreateClient().ImportOkAsync(csv.ToString(), "text/csv", "?source=" + prefix, inserted: 10_000, updated: 0, unchanged: 0, rejected: 30_000);

        var records = Records(report);
        Assert.Equal(Enumerable.Range(10_001, 10_000).Select(n => (long)n), records);
        Assert.All(Problems(report), p => Assert.Equal("properties.external_id", p.Field));
        Assert.Equal(20_000, report["rejected_rows_omitted"]!.GetValue<long>());
    }

    [Fact]
    public async Task Rows_with_several_problems_are_listed_whole_and_the_rows_left_out_are_counted_as_rows()
    {
        var prefix = Unique();
        var csv = new StringBuilder(Header);
        for (var n = 1; n <= 12_000; n++) csv.Append($"{prefix}-{n},Row {n},nope,never,36.5,34.5\n");

        var report = await api.CreateClient().ImportOkAsync(csv.ToString(), "text/csv", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 0, rejected: 12_000);

        var records = Records(report);
        Assert.Equal(20_000, records.Count);
        Assert.Equal(Enumerable.Range(1, 10_000).Select(n => (long)n), records.Distinct());
        Assert.All(records.GroupBy(r => r), row => Assert.Equal(2, row.Count()));
        Assert.Equal(2_000, report["rejected_rows_omitted"]!.GetValue<long>());
    }
}
