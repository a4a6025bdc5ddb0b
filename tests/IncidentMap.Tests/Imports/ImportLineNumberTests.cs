using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Line numbers after a quoted field that holds line breaks. Records may end with CR alone (old Mac files), but
/// only LF was counted inside quoted fields: every rejected row after such a field was named a line too early.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportLineNumberTests(ImportsFixture api)
{
    [Theory]
    [InlineData("\n", "\n", 4)]
    [InlineData("\r\n", "\r\n", 4)]
    [InlineData("\r", "\r", 4)]
    [InlineData("\r", "\r\n", 4)]
    [InlineData("\r\n", "\r", 4)]
    [InlineData("\r", "\r\r", 5)]
    [InlineData("\n", "\r\r\n", 5)]
    public async Task A_rejected_row_after_a_quoted_field_with_line_breaks_is_named_by_its_own_line(string end, string inField, long line)
    {
        var prefix = Unique();
        var csv = $"external_id,title,summary,event_type,occurred_at,lon,lat{end}" +
                  $"{prefix}-1,Two lines,\"two{inField}lines\",battles,2020-01-01,36.1,34.1{end}" +
                  $"{prefix}-2,Bad,,nope,2020-01-01,36.1,34.1{end}";

        var report = await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((line, "properties.event_type"), (problem.Line, problem.Field));
    }
}
