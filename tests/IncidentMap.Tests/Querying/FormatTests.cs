using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Api.Querying;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Querying.QueryHelpers;

namespace IncidentMap.Tests.Querying;

/// <summary>CSV (RFC 4180), GeoJSON text sequences (RFC 8142), NDJSON, properties and precision.</summary>
[Collection(ApiCollection.Name)]
public sealed class FormatTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private const char RecordSeparator = '\u001e';

    private async Task<(string MediaType, string Body)> GetTextAsync(string url, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (accept is not null) request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse(accept));
        var response = await _client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {body}");
        return (response.Content.Headers.ContentType!.MediaType!, body);
    }

    /// <summary>CSV records as header name → value maps, keyed by id, after checking the header and field counts.</summary>
    private static (List<string> Header, Dictionary<long, Dictionary<string, string>> Rows) ReadCsv(string body)
    {
        var records = ParseCsv(body);
        var header = records[0];
        Assert.Equal(["id", "lon", "lat", "wkt"], header.Take(4));
        Assert.All(records, r => Assert.Equal(header.Count, r.Count));
        var rows = records.Skip(1).ToDictionary(
            r => long.Parse(r[0], CultureInfo.InvariantCulture),
            r => header.Zip(r).ToDictionary(p => p.First, p => p.Second));
        return (header, rows);
    }

    private static List<JsonObject> ReadSequence(string body)
    {
        Assert.StartsWith(RecordSeparator.ToString(), body);
        var records = body.Split(RecordSeparator)[1..];
        Assert.All(records, r => Assert.EndsWith("\n", r));
        return records.Select(r => JsonNode.Parse(r)!.AsObject()).ToList();
    }

    private static List<JsonObject> ReadLines(string body)
    {
        Assert.EndsWith("\n", body);
        Assert.DoesNotContain(RecordSeparator, body);
        return body[..^1].Split('\n').Select(line => JsonNode.Parse(line)!.AsObject()).ToList();
    }

    [Fact]
    public async Task Csv_is_rfc_4180_and_round_trips_commas_quotes_and_newlines()
    {
        var tag = NewTag();
        const string title = "Bombs, \"twin\" blasts in Homs";
        const string summary = "First line, with a comma\nSecond \"quoted\" line\r\nThird line";
        var point = await _client.CreateAsync(Incident(tag, Features.Point(36.7236, 34.7197), title: title)
            .With("summary", summary).With("country", "SY").With("fatalities_max", 60));
        var polygon = await _client.CreateAsync(Incident(tag, Features.Geometry(
            """{"type":"Polygon","coordinates":[[[100,10],[102,10],[100,12],[100,10]]]}"""), title: "Area, wide"));
        var line = await _client.CreateAsync(Incident(tag, Features.Geometry(
            """{"type":"LineString","coordinates":[[10,0],[12,0.5]]}"""), title: "Convoy"));

        var (mediaType, body) = await GetTextAsync($"{Items}?f=csv&tags={tag}");

        Assert.Equal("text/csv", mediaType);
        var (header, rows) = ReadCsv(body);
        var feature = await _client.GetJsonAsync($"{Items}/{point}");
        Assert.Equal(feature["properties"]!.AsObject().Select(p => p.Key).Order(), header.Skip(4).Order());
        Assert.Equal(new[] { point, polygon, line }.Order(), rows.Keys.Order());

        var p = rows[point];
        Assert.Equal(title, p["title"]);
        Assert.Equal(summary, p["summary"]);
        Assert.Equal(36.7236, double.Parse(p["lon"], CultureInfo.InvariantCulture));
        Assert.Equal(34.7197, double.Parse(p["lat"], CultureInfo.InvariantCulture));
        Assert.Equal("", p["wkt"]);
        Assert.Equal(("SY", "60", ""), (p["country"], p["fatalities_max"], p["fatalities_min"]));

        Assert.Equal(("", ""), (rows[polygon]["lon"], rows[polygon]["lat"]));
        Assert.StartsWith("POLYGON", rows[polygon]["wkt"]);
        Assert.Contains("102 10", rows[polygon]["wkt"]);
        Assert.Equal("Area, wide", rows[polygon]["title"]);
        Assert.Equal(("", ""), (rows[line]["lon"], rows[line]["lat"]));
        Assert.StartsWith("LINESTRING", rows[line]["wkt"]);
        Assert.Contains("12 0.5", rows[line]["wkt"]);
    }

    [Theory]
    [InlineData("2016-02-21T07:30:00.123456Z", "2016-02-21T07:30:00.123456Z")]
    [InlineData("2016-02-21T07:30:00.5+02:00", "2016-02-21T05:30:00.5Z")]
    [InlineData("2016-02-21T07:30:00Z", "2016-02-21T07:30:00Z")]
    public async Task Csv_times_keep_their_fractions_of_a_second(string occurredAt, string expected)
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag, occurredAt: occurredAt));

        var (_, rows) = ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}")).Body);

        Assert.Equal(expected, rows[id]["occurred_at"]);
    }

    [Fact]
    public async Task Csv_and_sequence_formats_return_every_match_unless_limit_is_given()
    {
        var tag = NewTag();
        var created = new List<long>();
        for (var n = 0; n < 12; n++) created.Add(await _client.CreateAsync(Incident(tag))); // more than the GeoJSON default page

        Assert.Equal(created.Order(), ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}")).Body).Rows.Keys.Order());
        Assert.Equal(created.Order(), ReadSequence((await GetTextAsync($"{Items}?f=geojsonseq&tags={tag}")).Body).Select(f => f["id"]!.GetValue<long>()).Order());
        Assert.Equal(created.Order(), ReadLines((await GetTextAsync($"{Items}?f=ndjson&tags={tag}")).Body).Select(f => f["id"]!.GetValue<long>()).Order());

        Assert.Equal(3, ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}&limit=3")).Body).Rows.Count);
        Assert.Equal(3, ReadSequence((await GetTextAsync($"{Items}?f=geojsonseq&tags={tag}&limit=3")).Body).Count);
        Assert.Equal(3, ReadLines((await GetTextAsync($"{Items}?f=ndjson&tags={tag}&limit=3")).Body).Count);
        // int.MaxValue and beyond, as clients write "no limit": one more row (to see a next page) overflowed to a negative LIMIT.
        foreach (var most in new[] { "2147483647", "9223372036854775807", "99999999999999999999" })
        {
            Assert.Equal(created.Order(), ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}&limit={most}")).Body).Rows.Keys.Order());
            Assert.Equal(12, ReadLines((await GetTextAsync($"{Items}?f=ndjson&tags={tag}&limit={most}")).Body).Count);
        }
    }

    [Theory]
    [InlineData("f=csv", 20_000)]          // an export gives the rows it is asked for, however many
    [InlineData("f=ndjson", 20_000)]
    [InlineData("f=geojsonseq", 20_000)]
    [InlineData("f=json", IncidentQuery.MaxLimit)] // a page is clamped (and says so with a next link)
    public void A_limit_above_the_page_maximum_is_clamped_for_pages_only(string format, int expected)
    {
        var (query, errors) = QueryParser.Parse(new Dictionary<string, string> { ["f"] = format[2..], ["limit"] = "20000" }, DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        Assert.Equal(expected, query!.Limit);
    }

    [Fact]
    public async Task Csv_with_no_properties_has_as_many_header_fields_as_row_fields()
    {
        var tag = NewTag();
        await _client.CreateAsync(Incident(tag));
        var lines = (await GetTextAsync($"{Items}?f=csv&tags={tag}&properties=")).Body.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("id,lon,lat,wkt", lines[0]);
        Assert.Equal(4, lines[1].Split(',').Length);
    }

    [Fact]
    public async Task Csv_with_no_match_is_the_header_line_alone()
    {
        var (_, body) = await GetTextAsync($"{Items}?f=csv&tags={NewTag()}");

        Assert.EndsWith("\r\n", body);
        Assert.Single(ParseCsv(body));
    }

    [Fact]
    public async Task Accept_text_csv_gives_csv_without_f()
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag));

        var (mediaType, body) = await GetTextAsync($"{Items}?tags={tag}", accept: "text/csv");

        Assert.Equal("text/csv", mediaType);
        Assert.Equal([id], ReadCsv(body).Rows.Keys);
    }

    /// <summary>
    /// RFC 9110 §12.5.1: a format takes the q of the most specific range naming it, so q=0 refuses it beside a wildcard.
    /// The q=0 ranges were dropped before the wildcards were read, and text/*, */* then chose the refused format (query hunter).
    /// </summary>
    [Theory]
    [InlineData("text/csv;q=0, text/*", "application/geo+json")]
    [InlineData("application/geo+json;q=0, */*", "application/geo+json-seq")]
    [InlineData("application/geo+json;q=0, */*;q=0.1", "application/geo+json-seq")]
    [InlineData("application/geo+json;q=0, application/x-ndjson;q=0, application/*", "application/geo+json-seq")]
    [InlineData("text/*;q=0.5, */*;q=0.9", "application/geo+json")]
    [InlineData("text/csv;q=0.9, application/geo+json;q=0.3", "text/csv")]
    [InlineData("application/geo+json;q=0.5, text/csv;q=0.5", "application/geo+json")]
    [InlineData("text/csv;q=0.5, application/geo+json;q=0.5", "text/csv")]
    [InlineData("application/ndjson", "application/x-ndjson")]
    [InlineData("*/*", "application/geo+json")]
    [InlineData("text/*", "text/csv")]
    [InlineData("text/csv;q=0", "application/geo+json")]  // every format refused: GeoJSON all the same, never a 406
    public async Task Accept_is_read_by_the_most_specific_range_and_a_q_of_0_refuses_a_format(string accept, string expected)
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{Items}?tags={tag}");
        request.Headers.TryAddWithoutValidation("Accept", accept);

        using var response = await _client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(id.ToString(CultureInfo.InvariantCulture), body);
    }

    [Theory]
    [InlineData("text/csv;q=0, */*", false)]
    [InlineData("text/csv;q=0.9, */*;q=0.5", true)]
    [InlineData("application/geo+json;q=0, */*", true)]
    public void Accept_on_an_endpoint_of_two_formats_chooses_among_its_own(string accept, bool csv)
    {
        Assert.Equal(csv ? OutputFormat.Csv : OutputFormat.GeoJson,
            QueryParser.FormatFromAccept(accept, OutputFormat.GeoJson, OutputFormat.Csv));
    }

    [Fact]
    public async Task Geojson_text_sequence_starts_each_record_with_the_record_separator_and_ends_it_with_a_newline()
    {
        var tag = NewTag();
        var ids = new[] { await _client.CreateAsync(Incident(tag)), await _client.CreateAsync(Incident(tag)) };

        var response = await _client.GetAsync($"{Items}?f=geojsonseq&tags={tag}");
        var bytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("application/geo+json-seq", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0x1E, bytes[0]);
        Assert.Equal((byte)'\n', bytes[^1]);
        Assert.Equal(2, bytes.Count(b => b == 0x1E));
        var features = ReadSequence(Encoding.UTF8.GetString(bytes));
        Assert.All(features, f => Assert.Equal("Feature", f["type"]!.GetValue<string>()));
        Assert.Equal(ids.Order(), features.Select(f => f["id"]!.GetValue<long>()).Order());
    }

    [Fact]
    public async Task Ndjson_gives_one_feature_per_line()
    {
        var tag = NewTag();
        var ids = new[] { await _client.CreateAsync(Incident(tag)), await _client.CreateAsync(Incident(tag)), await _client.CreateAsync(Incident(tag)) };

        var features = ReadLines((await GetTextAsync($"{Items}?f=ndjson&tags={tag}")).Body);

        Assert.All(features, f => Assert.Equal("Feature", f["type"]!.GetValue<string>()));
        Assert.Equal(ids.Order(), features.Select(f => f["id"]!.GetValue<long>()).Order());
    }

    [Fact]
    public async Task Properties_parameter_limits_the_properties_in_geojson_and_csv()
    {
        var tag = NewTag();
        var id = await _client.CreateAsync(Incident(tag, title: "Limited").With("country", "SY"));

        var page = await _client.GetJsonAsync($"{Items}?tags={tag}&properties=title,country");
        var properties = Assert.Single(page["features"]!.AsArray())!["properties"]!.AsObject();
        Assert.Equal(["country", "title"], properties.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(("Limited", "SY"), (properties["title"]!.GetValue<string>(), properties["country"]!.GetValue<string>()));

        var (header, rows) = ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}&properties=title,country")).Body);
        Assert.Equal(["id", "lon", "lat", "wkt", "title", "country"], header);
        Assert.Equal(("Limited", "SY"), (rows[id]["title"], rows[id]["country"]));
    }

    [Fact]
    public async Task Precision_rounds_output_coordinates()
    {
        var tag = NewTag();
        var point = await _client.CreateAsync(Incident(tag, Features.Point(36.723456, 34.719789)));
        var line = await _client.CreateAsync(Incident(tag, Features.Geometry("""{"type":"LineString","coordinates":[[10.123456,0.987654],[12.5,0.5]]}""")));

        var page = await _client.GetJsonAsync($"{Items}?tags={tag}&precision=2");
        var geometries = page["features"]!.AsArray().ToDictionary(f => f!["id"]!.GetValue<long>(), f => f!["geometry"]!["coordinates"]!);
        Assert.Equal([36.72, 34.72], geometries[point].AsArray().Select(c => c!.GetValue<double>()));
        Assert.Equal([10.12, 0.99], geometries[line]![0]!.AsArray().Select(c => c!.GetValue<double>()));

        var rows = ReadCsv((await GetTextAsync($"{Items}?f=csv&tags={tag}&precision=2")).Body).Rows;
        Assert.Equal((36.72, 34.72), (double.Parse(rows[point]["lon"], CultureInfo.InvariantCulture), double.Parse(rows[point]["lat"], CultureInfo.InvariantCulture)));
        Assert.StartsWith("LINESTRING(10.12 0.99", rows[line]["wkt"].Replace("LINESTRING (", "LINESTRING("));

        var whole = await _client.GetJsonAsync($"{Items}?tags={tag}&precision=0");
        Assert.Contains(whole["features"]!.AsArray(), f => f!["id"]!.GetValue<long>() == point
            && f["geometry"]!["coordinates"]!.AsArray().Select(c => c!.GetValue<double>()).SequenceEqual([37.0, 35.0]));
    }
}
