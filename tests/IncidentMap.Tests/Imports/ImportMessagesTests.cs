using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Imports;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// What an import says about files and rows it cannot take: each message says what is true of that file, not
/// what is true of most files (a repeated key whose first row was rejected too, a FeatureCollection cut short, an
/// empty body, a file of semicolons, a FeatureCollection on an NDJSON line), and rows that hold nothing are not rows.
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportMessagesTests(ImportsFixture api)
{
    private const string Header = "external_id,title,event_type,occurred_at,lon,lat\n";

    [Fact]
    public async Task A_repeated_key_whose_first_row_was_rejected_says_so_in_its_batch_and_in_later_ones()
    {
        var prefix = Unique();
        // The key belongs to another source: the first row of it in the file is rejected by the database.
        await api.CreateClient().ImportOkAsync($"{Header}{prefix}-taken,Theirs,riots,2016-01-01,1,1\n", "text/csv", $"?source={prefix}-other",
            inserted: 1, updated: 0, unchanged: 0, rejected: 0);
        // Batches of two rows: lines 2-3, 4-5, 6-7.
        await using var importer = new TestImporter(api.Services, new ImportSettings { Writers = 1, BatchRows = 2 });
        var csv = $"{Header}{prefix}-taken,Ours,riots,2016-01-01,1,1\n{prefix}-taken,Ours again,riots,2016-01-01,1,1\n" +
                  $"{prefix}-1,One,riots,2016-01-01,1,1\n{prefix}-2,Two,riots,2016-01-01,1,1\n" +
                  $"{prefix}-taken,Ours a third time,riots,2016-01-01,1,1\n{prefix}-1,One again,riots,2016-01-01,1,1\n";

        var report = await importer.RunAsync(csv, prefix);

        Assert.Equal((2L, 4L), (report.Inserted, report.Rejected));
        var reasons = report.RejectedRows.ToDictionary(p => p.Line, p => p.Reason);
        Assert.Equal([2L, 3L, 6L, 7L], reasons.Keys.Order());
        Assert.Contains($"no import from source '{prefix}' created", reasons[2]);
        foreach (var line in new[] { 3L, 6L })
        {
            Assert.StartsWith($"'{prefix}-taken' is on line 2 of this file already", reasons[line]);
            Assert.Contains("was rejected", reasons[line]);
            Assert.DoesNotContain("is imported", reasons[line]);
        }
        Assert.StartsWith($"'{prefix}-1' is on line 4 of this file already", reasons[7]);
        Assert.Contains("(the first is imported)", reasons[7]);
    }

    /// <summary>
    /// A geometry that cannot be read rejects its row in the words a single write is refused with, naming geometry:
    /// the readers' own messages were passed on ("could not be converted to NetTopologySuite.Geometries.Geometry",
    /// "Expected number but found CharToken: )", "Error in the application.").
    /// </summary>
    [Fact]
    public async Task A_geometry_that_cannot_be_read_rejects_its_row_in_plain_words_as_a_single_write_is_refused()
    {
        var prefix = Unique();
        var client = api.CreateClient();
        string Row(string key, string geometry) =>
            $$$"""{"type":"Feature","geometry":{{{geometry}}},"properties":{"external_id":"{{{prefix}}}-{{{key}}}","title":"T","event_type":"riots","occurred_at":"2016-01-01"}}""";
        var ndjson = string.Join("\n",
            Row("point", """{"type":"Point","coordinates":[1]}"""),
            Row("line", """{"type":"LineString","coordinates":[[36,34],[true,35]]}"""),
            Row("ok", """{"type":"Point","coordinates":[36.7,34.7]}"""));
        const string point = "is not a valid GeoJSON Point: coordinates has 1 number; a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored";

        var report = await client.ImportOkAsync(ndjson, "application/x-ndjson", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal(
            [(1L, "geometry", point),
             (2L, "geometry", "is not a valid GeoJSON LineString: coordinates[1][0] is true, not a number (a position is 2 or more numbers: longitude, latitude, then any others (a height, a measure), which are not stored)")],
            Problems(report).Select(p => (p.Line, p.Field, p.Reason)));
        var single = Features.Valid(geometry: JsonNode.Parse("""{"type":"Point","coordinates":[1]}"""));
        var problem = await ProblemAssert.IsProblemAsync((await client.PostAsync(single)).Response, HttpStatusCode.UnprocessableEntity, "geometry");
        Assert.Equal(point, problem["errors"]![0]!["detail"]!.GetValue<string>());

        var csv = $"external_id,title,event_type,occurred_at,wkt\n{prefix}-w1,W,riots,2016-01-01,\"MULTIPOINT Z ((1 2 3), (1 2))\"\n" +
                  $"{prefix}-w2,W,riots,2016-01-01,\"POINT (1 2, 3 4)\"\n{prefix}-w3,W,riots,2016-01-01,POINT (36.7 34.7)\n";

        report = await client.ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 2);

        Assert.Equal(
            [(2L, "geometry", "wkt", "is not valid WKT at character 25: a position of a geometry with Z is 3 numbers; found 2 numbers"),
             (3L, "geometry", "wkt", "is not valid WKT at character 11: expected ')', found ','")],
            Problems(report).Select(p => (p.Line, p.Field, p.Column, p.Reason)));
        await using var connection = await api.Database.OpenConnectionAsync();
        Assert.Equal([$"{prefix}-ok", $"{prefix}-w3"],
            await connection.QueryAsync<string>("SELECT external_id FROM incidents WHERE external_id LIKE @p ORDER BY 1", new { p = prefix + "-%" }));
    }

    [Theory]
    [InlineData("""{"type": "FeatureCollection", "features": [""")]
    [InlineData("""{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"title": "cut""")]
    [InlineData("{\n\"type\": \"FeatureCollection\",\n\"features\": [\n{\"type\": \"Feature\"}")]
    [InlineData("""{"type": "FeatureCollection" """)]
    public async Task A_FeatureCollection_cut_short_is_said_to_end_before_it_does(string body)
    {
        var response = await api.CreateClient().PostAsync(Url, new StringContent(body, new UTF8Encoding(false), "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Contains("ends before the FeatureCollection does", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Broken_JSON_inside_a_FeatureCollection_is_still_named_not_valid_JSON()
    {
        var response = await api.CreateClient().PostAsync(Url, new StringContent("""{"type": "FeatureCollection", "features": [{"type": ]}""",
            new UTF8Encoding(false), "application/geo+json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
        Assert.Contains("is not valid JSON", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("application/geo+json", "")]
    [InlineData("application/geo+json", " \n\t\n")]
    [InlineData("application/geo+json", "\uFEFF")]
    [InlineData("text/csv", "")]
    public async Task An_empty_body_is_said_to_be_empty_and_nothing_is_said_to_be_imported(string mediaType, string body)
    {
        var response = await api.CreateClient().PostAsync(Url, new StringContent(body, new UTF8Encoding(false), mediaType));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "body");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("body is empty", detail);
        Assert.DoesNotContain("row(s) before it", detail);
    }

    /// <summary>
    /// An empty NDJSON body is a sequence of no features (RFC 8142), which is what an NDJSON export that
    /// matched nothing is: it imports nothing, and is no error, where an empty CSV lacks its header and an
    /// empty GeoJSON body is no FeatureCollection.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("\n \n")]
    public async Task An_empty_ndjson_body_is_a_file_of_no_features(string body)
    {
        var response = await api.CreateClient().PostAsync(Url, new StringContent(body, new UTF8Encoding(false), "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertCounts(System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!, 0, 0, 0, 0);
    }

    [Fact]
    public async Task A_header_error_does_not_speak_of_rows_imported_before_it()
    {
        var response = await api.CreateClient().PostAsync(Url, new StringContent("title,colour\nx,red\n", new UTF8Encoding(false), "text/csv"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "header");
        Assert.DoesNotContain("0 row(s)", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("text/csv; charset=us-ascii")]
    [InlineData("text/csv; charset=US-ASCII")]
    [InlineData("text/csv; charset=ascii")]
    [InlineData("text/csv; charset=ISO646-US")]
    [InlineData("text/csv; charset=\"us-ascii\"")]
    public async Task An_ASCII_charset_is_read_as_the_UTF8_it_is(string contentType)
    {
        var prefix = Unique();
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes($"{Header}{prefix}-1,Plain ASCII,riots,2016-01-01,36.6,35.6\n"));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var (status, report) = await api.CreateClient().PostImportAsync(content, "?source=" + prefix);

        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, 1, 0, 0, 0);
    }

    [Theory]
    [InlineData(";", "';'", "")]
    [InlineData("\t", "tabs", "")]
    // Quoted values: the first one ends where the separator follows its closing quote (padded before it, too).
    [InlineData(";", "';'", "\"")]
    [InlineData("\t", "tabs", "\"")]
    [InlineData("\t", "tabs", "\"", "\t")]
    public async Task A_CSV_separated_by_semicolons_or_tabs_is_refused_naming_its_separator(string separator, string named, string quote, string lead = "")
    {
        var csv = lead + string.Join(separator, new[] { "external_id", "title", "event_type", "occurred_at", "lon", "lat" }.Select(h => quote + h + quote)) + "\n" +
                  string.Join(separator, "x-1", "One", "riots", "2016-01-01", "36.6", "35.6") + "\n";

        var response = await api.CreateClient().PostAsync(Url, new StringContent(csv, new UTF8Encoding(false), "text/csv"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "header");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains($"fields are separated by {named}; IncidentMap reads comma-separated files", detail);
        Assert.DoesNotContain("neither incident properties", detail);
    }

    [Fact]
    public async Task An_NDJSON_line_holding_a_FeatureCollection_is_told_to_hold_one_Feature()
    {
        var prefix = Unique();
        var feature = $$$"""{"type": "Feature", "geometry": {"type": "Point", "coordinates": [36.7, 34.7]}, "properties": {"title": "One", "event_type": "riots", "occurred_at": "2016-01-01", "external_id": "{{{prefix}}}-1"}}""";
        var body = feature + "\n" + """{"type": "FeatureCollection", "features": [""" + feature.Replace($"{prefix}-1", $"{prefix}-2") + "]}\n";

        var report = await api.CreateClient().ImportOkAsync(body, "application/x-ndjson", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "feature"), (problem.Line, problem.Field));
        Assert.Contains("one Feature per line; this line is a FeatureCollection", problem.Reason);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public async Task Rows_of_white_space_or_of_empty_fields_are_skipped_as_blank_lines_are(string end)
    {
        var prefix = Unique();
        var csv = $"external_id,title,event_type,occurred_at,lon,lat{end},,,,,{end}{prefix}-1,One,riots,2016-01-01,36.6,35.6{end}   {end}" +
                  $"\t{end},,{end} , ,\t,,,{end}{prefix}-2,Bad,nope,2016-01-01,36.6,35.6{end},,,,,,{end}";

        var report = await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        Assert.Equal(2, report["rows"]!.GetValue<long>());
        var problem = Assert.Single(Problems(report));
        Assert.Equal((8L, "properties.event_type"), (problem.Line, problem.Field));
    }
}
