using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>Input that once broke an import part-way or stored something other than what was sent.</summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportEdgeTests(ImportsFixture api)
{
    private const string Header = "external_id,title,event_type,occurred_at,lon,lat,wkt\n";

    [Theory]
    [InlineData("NaN,34.7,", "geometry.coordinates", "lon,lat")]
    [InlineData("36.7,Infinity,", "geometry.coordinates", "lon,lat")]
    [InlineData("36.7,1e999,", "geometry.coordinates", "lon,lat")]
    [InlineData("POINT (nan nan)", "geometry", "wkt")]
    [InlineData("\"LINESTRING (36 34, inf 35)\"", "geometry", "wkt")]
    public async Task A_coordinate_that_is_not_a_finite_number_rejects_its_row_and_the_rows_after_it_are_imported(string place, string field, string column)
    {
        var prefix = Unique();
        var wkt = column == "wkt";
        var csv = new StringBuilder(wkt ? "external_id,title,event_type,occurred_at,wkt\n" : Header);
        csv.Append($"{prefix}-bad,Bad,riots,2016-01-01,{place}\n");
        // More than one batch after it: an error that escaped the row used to end the whole import.
        for (var n = 1; n <= 12_000; n++) csv.Append($"{prefix}-{n},Row {n},riots,2016-01-01,{(wkt ? "POINT (36.5 34.5)" : "36.5,34.5,")}\n");

        var report = await api.CreateClient().ImportOkAsync(csv.ToString(), "text/csv", "?source=" + prefix, inserted: 12_000, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, field, column), (problem.Line, problem.Field, problem.Column));
        Assert.Contains("finite", problem.Reason);
    }

    /// <summary>A leap second (RFC 3339 allows second 60) was "not an RFC 3339 date-time"; PostgreSQL cannot store one, said as such.</summary>
    [Fact]
    public async Task A_row_dated_at_a_leap_second_is_rejected_saying_so_and_the_others_are_imported()
    {
        var prefix = Unique();
        var csv = Header + $"{prefix}-1,Leap,riots,2016-12-31T23:59:60Z,36.7,34.7,\n{prefix}-2,Before it,riots,2016-12-31T23:59:59Z,36.7,34.7,\n";

        var report = await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "properties.occurred_at", "occurred_at"), (problem.Line, problem.Field, problem.Column));
        Assert.Equal("'2016-12-31T23:59:60Z' is a leap second (second 60), which PostgreSQL cannot store; write 2016-12-31T23:59:59Z instead", problem.Reason);
    }

    [Fact]
    public async Task A_CSV_row_with_bytes_that_are_not_UTF8_is_rejected_naming_its_column_instead_of_stored_garbled()
    {
        var prefix = Unique();
        var body = new MemoryStream();
        body.Write(Encoding.UTF8.GetBytes($"{Header}{prefix}-1,Ma"));
        body.Write([0xE2, 0x72]); // "Maârrat" in Latin-1: 0xE2 starts a UTF-8 sequence that 'r' does not continue
        body.Write(Encoding.UTF8.GetBytes($"rat,riots,2016-01-01,36.6,35.6,\n{prefix}-2,Ḥimṣ ✓,riots,2016-01-01,36.7,34.7,\n"));
        var content = new ByteArrayContent(body.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } };

        var (status, report) = await api.CreateClient().PostImportAsync(content);

        Assert.Equal(HttpStatusCode.OK, status);
        AssertCounts(report, 1, 0, 0, 1);
        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "row"), (problem.Line, problem.Field));
        Assert.Equal("column 'title' holds bytes that are not UTF-8; save the file as UTF-8", problem.Reason);
        var stored = await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-2" });
        Assert.Equal("Ḥimṣ ✓", stored);
    }

    /// <summary>U+FFFF is a noncharacter but valid UTF-8 (EF BF BF): a single write takes it, so a CSV row must too
    /// (it stood for bytes that were not UTF-8, and such a row was refused as one).</summary>
    [Fact]
    public async Task A_CSV_row_with_a_noncharacter_written_in_valid_UTF8_is_imported_as_written()
    {
        var prefix = Unique();
        var title = "a \uFFFF b \uFFFE c";
        var csv = $"{Header}{prefix}-1,{title},riots,2016-01-01,36.7,34.7,\n";

        await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        Assert.Equal(title, await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" }));
    }

    /// <summary>format= names the format; the charset still says how the bytes are encoded (it was not looked at).</summary>
    [Fact]
    public async Task A_charset_other_than_UTF8_is_refused_when_format_names_the_format_too()
    {
        var prefix = Unique();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{Header}{prefix}-1,Café,riots,2016-01-01,36.6,35.6,\n"));
        content.Headers.TryAddWithoutValidation("Content-Type", "text/csv; charset=windows-1252");

        var response = await api.CreateClient().PostAsync($"{Url}?source={prefix}&format=csv", content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Theory]
    [InlineData("text/csv; charset=iso-8859-1", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("text/csv; charset=windows-1256", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("text/csv; charset=UTF-8", HttpStatusCode.OK)]
    [InlineData("text/csv; charset=\"utf-8\"", HttpStatusCode.OK)]
    public async Task A_charset_other_than_UTF8_is_refused_before_anything_is_stored(string contentType, HttpStatusCode expected)
    {
        var prefix = Unique();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{Header}{prefix}-1,One,riots,2016-01-01,36.6,35.6,\n"));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await api.CreateClient().PostAsync(Url + "?source=" + prefix, content);

        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }
        var problem = await ProblemAssert.IsProblemAsync(response, expected, "Content-Type");
        Assert.Contains("UTF-8", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    private static string Feature(string externalId) =>
        $$$"""{"type": "Feature", "geometry": {"type": "Point", "coordinates": [36.7, 34.7]}, "properties": {"title": "T", "event_type": "riots", "occurred_at": "2016-01-01", "external_id": "{{{externalId}}}"}}""";

    [Theory]
    [InlineData("\n{\"type\": \"FeatureCollection\", \"features\": []}\n")]
    [InlineData("\n trailing words\n")]
    [InlineData("\n]")]
    public async Task Anything_but_white_space_after_the_FeatureCollection_is_an_error_naming_its_line(string after)
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\",\n \"features\": [\n  {Feature($"{prefix}-1")}\n ]\n}}{after}";

        var (status, problem) = await api.CreateClient().PostImportAsync(body, "application/geo+json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(6L, problem["line"]!.GetValue<long>());
        Assert.Contains("after the FeatureCollection ends", problem["detail"]!.GetValue<string>());
        AssertCounts(problem["report"]!, 1, 0, 0, 0); // the feature before it was imported, as the report says
    }

    [Fact]
    public async Task A_header_error_names_the_header_line_and_the_report_names_the_source()
    {
        var prefix = Unique();
        var (status, problem) = await api.CreateClient().PostImportAsync("\n\ntitle,colour\nx,red\n", "text/csv", "?source=" + prefix);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(3L, problem["line"]!.GetValue<long>());
        Assert.Equal(prefix, problem["report"]!["source"]!.GetValue<string>());
    }

    [Fact]
    public async Task White_space_after_the_FeatureCollection_is_fine()
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")}]}}\r\n\n  \t\n";

        await api.CreateClient().ImportOkAsync(body, "application/geo+json", "", inserted: 1, updated: 0, unchanged: 0, rejected: 0);
    }

    [Fact]
    public async Task Invalid_JSON_in_a_FeatureCollection_is_reported_on_its_own_line()
    {
        var prefix = Unique();
        // Enough features before the error that the reader has restarted on later buffers.
        var features = Enumerable.Range(1, 3_000).Select(n => "  " + Feature($"{prefix}-{n}") + ",\n");
        var body = "{\"type\": \"FeatureCollection\",\n \"features\": [\n" + string.Concat(features) + "  {\"type\": \"Feature\", oops}\n ]}\n";

        var (status, problem) = await api.CreateClient().PostImportAsync(body, "application/geo+json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(3_003L, problem["line"]!.GetValue<long>());
        Assert.Contains("line 3003", problem["detail"]!.GetValue<string>());
    }
    [Theory]
    [InlineData("{\"type\": \"FeatureCollection\", \"\xFF\": 1, \"features\": [@]}", "application/geo+json", false)]
    [InlineData("{\"type\": \"FeatureCollection\", \"features\": [@], \"\xFF\": 1}", "application/geo+json", false)]
    [InlineData("{\"type\": \"FeatureCollection\", \"features\": [@, #]}", "application/geo+json", true)]
    [InlineData("@\n#\n", "application/x-ndjson", true)]
    public async Task Bytes_that_are_not_UTF8_in_a_JSON_import_are_a_client_error_never_a_500(string shape, string mediaType, bool rowLevel)
    {
        var prefix = Unique();
        // \xFF stands for a byte that can never occur in UTF-8; # is a feature whose title holds one.
        var bad = Feature($"{prefix}-2").Replace("\"title\": \"T\"", "\"title\": \"T\xFF\"");
        var text = shape.Replace("@", Feature($"{prefix}-1")).Replace("#", bad);
        var bytes = text.Select(c => c == '\xFF' ? (byte)0xFF : (byte)c).ToArray();
        Assert.Contains((byte)0xFF, bytes);
        var content = new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

        var (status, body) = await api.CreateClient().PostImportAsync(content);

        if (rowLevel)
        {
            Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {body}");
            AssertCounts(body, 1, 0, 0, 1);
        }
        else
        {
            Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {body}");
            Assert.Contains("not valid UTF-8", body["detail"]!.GetValue<string>());
            Assert.Equal("body", body["errors"]![0]!["field"]!.GetValue<string>());
        }
    }
    private static ByteArrayContent Compressed(string text, string coding)
    {
        var bytes = new MemoryStream();
        using (Stream compressor = coding == "br"
            ? new System.IO.Compression.BrotliStream(bytes, System.IO.Compression.CompressionLevel.Fastest)
            : new System.IO.Compression.GZipStream(bytes, System.IO.Compression.CompressionLevel.Fastest))
            compressor.Write(Encoding.UTF8.GetBytes(text));
        var content = new ByteArrayContent(bytes.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } };
        content.Headers.ContentEncoding.Add(coding);
        return content;
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("x-gzip")] // RFC 9110 §8.4.1.3: to be treated as gzip
    [InlineData("br")]
    public async Task A_compressed_upload_is_decompressed_as_it_streams(string coding)
    {
        var prefix = Unique();
        var csv = Header + string.Concat(Enumerable.Range(1, 50).Select(n => $"{prefix}-{n},Row {n},riots,2016-01-01,36.7,34.7,\n"));

        var (status, report) = await api.CreateClient().PostImportAsync(Compressed(csv, coding));

        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, 50, 0, 0, 0);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    public async Task A_compressed_upload_cut_short_is_a_400_saying_so_and_imports_nothing(string coding)
    {
        var prefix = Unique();
        var csv = Header + string.Concat(Enumerable.Range(1, 3000).Select(n => $"{prefix}-{n},Row {n} of a file cut in transfer,riots,2016-01-01,36.7,34.7,\n"));
        var whole = await Compressed(csv, coding).ReadAsByteArrayAsync();
        var cut = new ByteArrayContent(whole[..(whole.Length / 2)]) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } };
        cut.Headers.ContentEncoding.Add(coding);

        var (status, problem) = await api.CreateClient().PostImportAsync(cut);

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {problem}");
        Assert.Contains("body is cut off", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("were imported", problem["detail"]!.GetValue<string>());
        var report = problem["report"]!;
        Assert.Equal("body", report["error"]!["field"]!.GetValue<string>());
        // A compressed upload is checked to its end before any of it is imported (CheckedFirst).
        Assert.Equal(1, report["error"]!["line"]!.GetValue<long>());
        Assert.Equal(0, report["rows"]!.GetValue<long>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
        await api.CreateClient().ImportOkAsync(csv, "text/csv", "", 3000, 0, 0, 0);
    }

    /// <summary>
    /// gzip with stored (uncompressed) deflate blocks, so that a byte changed in transfer still decompresses,
    /// into other text: only the member's CRC-32, at its end, tells. The file's last row is its only valid one
    /// after the change, so nothing before the check may have been stored.
    /// </summary>
    internal static (byte[] Whole, byte[] Corrupt) GzipCorruptedInTransfer(string text, string changed, string into)
    {
        var member = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(member, System.IO.Compression.CompressionLevel.NoCompression, leaveOpen: true))
            gzip.Write(Encoding.UTF8.GetBytes(text));
        var whole = member.ToArray();
        var at = whole.AsSpan().IndexOf(Encoding.UTF8.GetBytes(changed));
        Assert.True(at > 0, "the changed text is stored as it is in the gzip data");
        var corrupt = whole.ToArray();
        Encoding.UTF8.GetBytes(into).CopyTo(corrupt, at);
        return (whole, corrupt);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?async=true")]
    public async Task A_gzip_upload_changed_in_transfer_that_still_decompresses_imports_nothing(string query)
    {
        var prefix = Unique();
        var csv = Header + string.Concat(Enumerable.Range(1, 3000).Select(n => $"{prefix}-{n},Row {n},riots,2016-01-01,{(n == 1500 ? "21.1967" : "36.7")},34.7,\n"));
        var (_, corrupt) = GzipCorruptedInTransfer(csv, "21.1967", "11.1967");

        var (status, problem) = await api.CreateClient().PostImportAsync(Gzipped(corrupt), query);

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {problem}");
        // A job's upload is stored, and so checked, before the job starts: no job, a 400 of its own wording.
        Assert.Contains(query.Length == 0 ? "does not decompress as its Content-Encoding says" : "could not be decompressed as its Content-Encoding says",
            problem["detail"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
        // The same file unchanged imports whole.
        var whole = GzipCorruptedInTransfer(csv, "21.1967", "11.1967").Whole;
        (status, var report) = await api.CreateClient().PostImportAsync(Gzipped(whole));
        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, 3000, 0, 0, 0);
    }

    /// <summary>The bytes as several gzip members (cat a.gz b.gz c.gz), split at even offsets: inside rows, as split -b and bgzip cut.</summary>
    public static byte[][] GzipMembers(byte[] data, int count) =>
        Enumerable.Range(0, count).Select(i =>
        {
            var member = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(member, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
                gzip.Write(data[(data.Length * i / count)..(data.Length * (i + 1) / count)]);
            return member.ToArray();
        }).ToArray();

    private static ByteArrayContent Gzipped(byte[] body)
    {
        var content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("text/csv") } };
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    [Fact]
    public async Task A_gzip_upload_of_several_members_imports_every_row()
    {
        var prefix = Unique();
        var csv = Header + string.Concat(Enumerable.Range(1, 3000).Select(n => $"{prefix}-{n},Row {n} of a file of three gzip members,riots,2016-01-01,36.7,34.7,\n"));

        var (status, report) = await api.CreateClient().PostImportAsync(Gzipped([.. GzipMembers(Encoding.UTF8.GetBytes(csv), 3).SelectMany(m => m)]));

        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {report}");
        AssertCounts(report, 3000, 0, 0, 0);
        // Counted through the API as well as by the report.
        var page = await api.CreateClient().GetJsonAsync($"/collections/incidents/items?count=true&limit=1&filter={Uri.EscapeDataString($"external_id LIKE '{prefix}-%'")}");
        Assert.Equal(3000, page["numberMatched"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("in the second member's data")]
    [InlineData("in the first member's trailer")]
    public async Task A_gzip_upload_of_several_members_cut_in_one_is_a_400_saying_so(string where)
    {
        var prefix = Unique();
        var csv = Header + string.Concat(Enumerable.Range(1, 3000).Select(n => $"{prefix}-{n},Row {n} of a file cut in transfer,riots,2016-01-01,36.7,34.7,\n"));
        var members = GzipMembers(Encoding.UTF8.GetBytes(csv), 3);
        var cut = where.Contains("second") ? members[0].Length + members[1].Length / 2 : members[0].Length - 3;

        var (status, problem) = await api.CreateClient().PostImportAsync(Gzipped([.. members.SelectMany(m => m).Take(cut)]));

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status}: {problem}");
        Assert.Contains("body is cut off: the compressed data ends before the end its format marks (a transfer broken off?)", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("members", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, problem["report"]!["inserted"]!.GetValue<long>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    /// <summary>In every format: NDJSON rejected each line of it as "not valid JSON" (a 200), GeoJSON the body.</summary>
    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/x-ndjson")]
    [InlineData("application/geo+json-seq")]
    [InlineData("application/geo+json")]
    public async Task A_gzip_file_sent_without_its_Content_Encoding_is_told_so(string mediaType)
    {
        var prefix = Unique();
        var body = mediaType == "text/csv" ? Header + $"{prefix}-1,Row,riots,2016-01-01,36.7,34.7,\n"
            : mediaType == "application/geo+json" ? $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")}]}}"
            : Feature($"{prefix}-1") + "\n";
        var bytes = await Compressed(body, "gzip").ReadAsByteArrayAsync();
        var content = new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

        var (status, problem) = await api.CreateClient().PostImportAsync(content);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("body looks gzip-compressed but came without Content-Encoding", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Fact]
    public async Task An_unknown_content_coding_is_415_and_a_body_that_does_not_decompress_is_400()
    {
        var prefix = Unique();
        var csv = Header + $"{prefix}-1,Row,riots,2016-01-01,36.7,34.7,\n";
        foreach (var coding in new[] { "compress", "deflate" })
        {
            var other = new StringContent(csv, Encoding.UTF8, "text/csv");
            other.Headers.ContentEncoding.Add(coding);
            await ProblemAssert.IsProblemAsync(await api.CreateClient().PostAsync(Url, other), HttpStatusCode.UnsupportedMediaType, "Content-Encoding");
        }

        var notGzip = new StringContent(csv, Encoding.UTF8, "text/csv");
        notGzip.Headers.ContentEncoding.Add("gzip");
        var problem = await ProblemAssert.IsProblemAsync(await api.CreateClient().PostAsync(Url, notGzip), HttpStatusCode.BadRequest);
        Assert.Contains("decompress", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }
    [Fact]
    public async Task An_ACLED_title_cut_to_500_characters_never_splits_an_emoji()
    {
        var prefix = Unique();
        var header = File.ReadLines(Path.Combine(ApiFixture.RepositoryRoot(), "db", "sample", "acled-sample.csv")).First();
        // "Suicide bomb in " is 16 characters: the location's emoji straddles the 500th.
        var location = new string('x', 483) + "\U0001F4A5" + "tail";
        var row = $"{prefix}-1,21 February 2016,2016,1,Political violence,Explosions/Remote violence,Suicide bomb,Actor,,2,,,7,27,,760,Middle East,Syria,Homs,Homs,Homs,{location},34.7197,36.7236,1,SANA,National,Notes,57,,1456185600";

        await api.CreateClient().ImportOkAsync(header + "\n" + row + "\n", "text/csv", "", 1, 0, 0, 0);

        var title = await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" });
        Assert.Equal("Suicide bomb in " + new string('x', 483), title);
    }

    /// <summary>
    /// Spreadsheets save empty cells right of the header as empty column names (",,"). Two of them were refused as
    /// "names a column twice: " (the repeated name invisible), and one as an unknown column in our own layout.
    /// </summary>
    [Theory]
    [InlineData("event_id_cnty,event_date,event_type,latitude,longitude,,", "{0}-1,2016-02-21,Battles,34.7,36.7,,")]
    [InlineData("event_id_cnty,event_date,event_type,latitude,longitude,, ,\t,", "{0}-1,2016-02-21,Battles,34.7,36.7,,,,")]
    [InlineData("external_id,,title,event_type,occurred_at,lon,lat,,", "{0}-1,ignored,Battle,battles,2016-02-21,36.7,34.7,anything,")]
    [InlineData("external_id,title,event_type,occurred_at,lon,lat,", "{0}-1,Battle,battles,2016-02-21,36.7,34.7,")]
    public async Task CSV_columns_without_a_name_are_ignored_with_their_cells(string header, string row)
    {
        var prefix = Unique();
        var csv = $"{header}\n{string.Format(row, prefix)}\n";

        await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        var stored = await api.Database.ScalarAsync<string>("SELECT event_type || ' ' || ST_AsText(geom) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" });
        Assert.Equal("battles POINT(36.7 34.7)", stored);
    }

    [Fact]
    public async Task A_CSV_header_naming_a_column_twice_is_a_400_quoting_the_name()
    {
        var prefix = Unique();
        var csv = $"external_id,title,event_type,occurred_at,lon,lat,,,TITLE\n{prefix}-1,A,riots,2016-01-01,1,1,,,B\n";

        var (status, problem) = await api.CreateClient().PostImportAsync(csv, "text/csv", "?source=" + prefix);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("line 1: header names a column twice: 'title'.", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE import_source = @prefix", new { prefix }));
    }

    /// <summary>
    /// RFC 4180 allows nothing between a closing quote and the separator. <c>"x"y</c> was stored as <c>xy</c>, the
    /// quotes silently gone; which text was meant cannot be known, so the row is rejected and the others imported.
    /// </summary>
    [Fact]
    public async Task A_CSV_field_with_text_after_its_closing_quote_rejects_its_row_naming_the_column()
    {
        var prefix = Unique();
        var csv = new StringBuilder(Header);
        // Enough rows that some of the bad ones are cut by the end of the reader's buffer.
        for (var n = 1; n <= 3_000; n++)
            csv.Append(n % 2 == 0
                ? $"{prefix}-{n},\"Cut \"short,riots,2016-01-01,36.5,34.5,\n"
                : $"{prefix}-{n},\"Quoted, \"\"fine\"\"\",riots,2016-01-01,36.5,34.5,\"\"\r\n");
        csv.Append($"{prefix}-last,\"Last\",riots,2016-01-01,36.5,34.5,\"POINT (1 2)\"x");

        var report = await api.CreateClient().ImportOkAsync(csv.ToString(), "text/csv", "?source=" + prefix, inserted: 1_500, updated: 0, unchanged: 0, rejected: 1_501);

        var problems = Problems(report);
        Assert.Equal(Enumerable.Range(1, 1_500).Select(k => (long)(2 * k + 1)).Append(3_002L), problems.Select(p => p.Line));
        Assert.All(problems, p => Assert.Equal("row", p.Field));
        Assert.Equal("column 'title' has text after the closing quote of a quoted value (RFC 4180); write a quote inside a quoted value twice: \"5\"\" gun\"", problems[0].Reason);
        Assert.StartsWith("column 'wkt' has text after the closing quote", problems[^1].Reason);
        Assert.Equal("Quoted, \"fine\"", await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" }));
    }

    /// <summary>
    /// Exporters that align their columns pad around quoted values (<c>1, "Homs, Syria" ,…</c>). The padding before a
    /// quote made the value unquoted, so its comma split it and moved every later column; the padding after one
    /// rejected the row.
    /// </summary>
    [Fact]
    public async Task A_CSV_padded_around_its_quoted_values_imports_every_row_with_its_columns_in_place()
    {
        var prefix = Unique();
        var csv = "\"external_id\" , \"title\" , event_type, occurred_at, lon, lat, wkt\n"
                  + $"{prefix}-1, \"Blasts in Homs, Syria\" , riots, 2016-02-21, 36.72, 34.73,\n"
                  + $"\"{prefix}-2\"\t,\t\"Sayeda Zeinab, south of Damascus\"\t,riots,2016-02-21,36.34,33.44, \"\"\r\n";

        await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 0);

        Assert.Equal("Blasts in Homs, Syria", await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" }));
        Assert.Equal("Sayeda Zeinab, south of Damascus", await api.Database.ScalarAsync<string>("SELECT title FROM incidents WHERE external_id = @k", new { k = $"{prefix}-2" }));
        Assert.Equal(36.34, await api.Database.ScalarAsync<double>("SELECT ST_X(geom) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-2" }), 6);
    }

    [Fact]
    public async Task A_CSV_header_with_text_after_a_closing_quote_is_a_400()
    {
        var (status, problem) = await api.CreateClient().PostImportAsync("external_id,\"title\"s,event_type,occurred_at,lon,lat\n", "text/csv");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("line 1: header column 2 has text after the closing quote", problem["detail"]!.GetValue<string>());
    }

    /// <summary>
    /// GeoJSON 2008's <c>crs</c> member, as GDAL writes it: one naming WGS 84 lon/lat imports; any other CRS refused
    /// the file row by row ("longitude 4087000 is outside -180..180"), or stored coordinates that fit in the wrong place.
    /// </summary>
    [Theory]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\"}}")]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:OGC::CRS84\"}}")]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"http://www.opengis.net/def/crs/OGC/1.3/CRS84\"}}")]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:EPSG::4326\"}}")]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"EPSG:4326\"}}")]
    [InlineData("null")]
    public async Task A_FeatureCollection_whose_crs_names_WGS84_lon_lat_imports(string crs)
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\", \"crs\": {crs}, \"features\": [{Feature($"{prefix}-1")}]}}";

        await api.CreateClient().ImportOkAsync(body, "application/geo+json", "", inserted: 1, updated: 0, unchanged: 0, rejected: 0);

        // Read as lon/lat whatever the name (GeoJSON orders positions x, y), EPSG:4326 too.
        Assert.Equal("POINT(36.7 34.7)", await api.Database.ScalarAsync<string>("SELECT ST_AsText(geom) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" }));
    }

    [Theory]
    [InlineData("{\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:EPSG::3857\"}}", "'urn:ogc:def:crs:EPSG::3857' is not a coordinate reference system this service takes")]
    [InlineData("{\"type\": \"link\", \"properties\": {\"href\": \"http://example.com/crs/42\", \"type\": \"proj4\"}}", "links to a coordinate reference system")]
    [InlineData("\"EPSG:4326\"", "must be null or name a coordinate reference system")]
    public async Task A_FeatureCollection_whose_crs_is_another_is_a_400_naming_crs_before_any_row_is_stored(string crs, string reason)
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\",\n \"crs\": {crs},\n \"features\": [{Feature($"{prefix}-1").Replace("[36.7, 34.7]", "[4087000, 4121000]")}]}}";

        var (status, problem) = await api.CreateClient().PostImportAsync(body, "application/geo+json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("crs", problem["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Contains(reason, problem["errors"]![0]!["detail"]!.GetValue<string>());
        Assert.Equal(2L, problem["line"]!.GetValue<long>());
        Assert.StartsWith($"line 2: crs {(reason.StartsWith('\'') ? reason : "")}", problem["detail"]!.GetValue<string>());
        AssertCounts(problem["report"]!, 0, 0, 0, 0);
        Assert.Empty(Problems(problem["report"]!));
    }

    [Fact]
    public async Task A_crs_after_the_features_ends_the_import_as_a_late_type_does_with_the_rows_before_it_stored()
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")}],\n \"crs\": {{\"type\": \"name\", \"properties\": {{\"name\": \"urn:ogc:def:crs:EPSG::2154\"}}}}}}";

        var (status, problem) = await api.CreateClient().PostImportAsync(body, "application/geo+json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("crs", problem["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Contains("The 1 row(s) before it were imported", problem["detail"]!.GetValue<string>());
        AssertCounts(problem["report"]!, 1, 0, 0, 0);
    }

    /// <summary>Readers disagree on a member given twice (Python keeps the last array, GDAL and this importer read
    /// both), so a second "features" array is refused where it starts, as a late crs is.</summary>
    [Fact]
    public async Task A_second_features_array_ends_the_import_naming_features_with_the_rows_before_it_stored()
    {
        var prefix = Unique();
        var body = $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")}],\n \"features\": [{Feature($"{prefix}-2")}]}}";

        var (status, problem) = await api.CreateClient().PostImportAsync(body, "application/geo+json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("features", problem["errors"]![0]!["field"]!.GetValue<string>());
        Assert.Contains("is given twice", problem["detail"]!.GetValue<string>());
        AssertCounts(problem["report"]!, 1, 0, 0, 0);
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-2" }));
    }

    /// <summary>A job has one URI, as an incident has: its id as written in Location, not with a sign or spaces.</summary>
    [Fact]
    public async Task A_job_is_found_by_its_id_only_as_written_not_signed_or_padded()
    {
        var prefix = Unique();
        var content = new StringContent($"{Header}{prefix}-1,T,riots,2016-01-01,36.7,34.7,\n", Encoding.UTF8, "text/csv");
        var accepted = await api.CreateClient().PostAsync($"{Url}?async=true&source={prefix}", content);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = accepted.Headers.Location!.ToString().Split('/')[^1];

        Assert.Equal(HttpStatusCode.OK, (await api.CreateClient().GetAsync($"{Url}/{id}")).StatusCode);
        foreach (var other in new[] { "+" + id, "%20" + id, id + "%20", "-" + id, id + ".0" })
            await ProblemAssert.IsProblemAsync(await api.CreateClient().GetAsync($"{Url}/{other}"), HttpStatusCode.NotFound);
    }

    /// <summary>Single writes refuse a Content-Crs other than CRS84; imports ignored it.</summary>
    [Theory]
    [InlineData("application/geo+json", "http://www.opengis.net/def/crs/EPSG/0/3857")]
    [InlineData("text/csv", "http://www.opengis.net/def/crs/EPSG/0/4326")]
    public async Task An_import_whose_Content_Crs_is_not_CRS84_is_a_400_naming_the_header(string mediaType, string crs)
    {
        var prefix = Unique();
        var body = mediaType == "text/csv"
            ? $"{Header}{prefix}-1,T,riots,2016-01-01,36.7,34.7,\n"
            : $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")}]}}";
        var client = api.CreateClient();

        var refused = await client.PostAsync(Url + "?source=" + prefix, new StringContent(body, Encoding.UTF8, mediaType) { Headers = { { "Content-Crs", crs } } });
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "Content-Crs");
        Assert.Contains($"'{crs}' is not a coordinate reference system this service takes", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, await api.Database.ScalarAsync<long>("SELECT count(*) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-1" }));

        var taken = await client.PostAsync(Url + "?source=" + prefix, new StringContent(body, Encoding.UTF8, mediaType) { Headers = { { "Content-Crs", "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>" } } });
        Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
    }

    /// <summary>
    /// NetTopologySuite's WKT reader stops after the first geometry, so a cell's second geometry or trailing text
    /// was dropped in silence, and an EWKT SRID was ignored (3857 metres stored as degrees).
    /// </summary>
    [Fact]
    public async Task A_WKT_cell_is_one_geometry_in_WGS_84_or_its_row_is_rejected_naming_wkt()
    {
        var prefix = Unique();
        var csv = "external_id,title,event_type,occurred_at,lon,lat,wkt,location_name,country\n"
            + $"{prefix}-two,T,riots,2016-01-01,,,\"POINT (36.5 34.5), POINT (1 1)\",Nowhere{prefix},SY\n"
            + $"{prefix}-extra,T,riots,2016-01-01,,,\"POLYGON ((36 34, 37 34, 37 35, 36 34)) extra\",Nowhere{prefix},SY\n"
            + $"{prefix}-3857,T,riots,2016-01-01,,,SRID=3857;POINT (36.5 34.5),,\n"
            + $"{prefix}-both,T,riots,2016-01-01,36.5,34.5,POINT (10 10),,\n"
            + $"{prefix}-4326,T,riots,2016-01-01,,,SRID=4326;POINT (36.25 34.5),,\n";

        var report = await api.CreateClient().ImportOkAsync(csv, "text/csv", "?source=" + prefix, inserted: 1, updated: 0, unchanged: 0, rejected: 4);

        // One problem a row: the bad geometry is not also a place name to geocode.
        var problems = Problems(report);
        Assert.Equal([2L, 3, 4, 5], problems.Select(p => p.Line));
        Assert.All(problems, p => Assert.Equal("geometry", p.Field));
        Assert.Equal("is not valid WKT at character 18: unexpected ',' after the geometry", problems[0].Reason);
        Assert.Equal("is not valid WKT at character 40: unexpected 'extra' after the geometry", problems[1].Reason);
        Assert.StartsWith("is in SRID 3857; write WGS 84", problems[2].Reason);
        Assert.StartsWith("is given twice, as lon/lat and as wkt", problems[3].Reason);
        var stored = await api.Database.ScalarAsync<string>("SELECT ST_AsText(geom) FROM incidents WHERE external_id = @k", new { k = $"{prefix}-4326" });
        Assert.Equal("POINT(36.25 34.5)", stored);
    }

    /// <summary>PostGIS's geography refuses an edge between antipodal points, such as the poles: one such row was a 500 that lost the whole import.</summary>
    [Fact]
    public async Task A_row_with_an_edge_between_antipodal_points_is_rejected_and_the_rest_imported()
    {
        var prefix = Unique();
        var antipodal = Feature($"{prefix}-2").Replace("""{"type": "Point", "coordinates": [36.7, 34.7]}""", """{"type": "LineString", "coordinates": [[5, -90], [7, 90]]}""");
        var body = $"{Feature($"{prefix}-1")}\n{antipodal}\n{Feature($"{prefix}-3")}\n";

        var report = await api.CreateClient().ImportOkAsync(body, "application/x-ndjson", "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 1);

        var problem = Assert.Single(Problems(report));
        Assert.Equal((2L, "geometry.coordinates"), (problem.Line, problem.Field));
        Assert.Contains("from one pole to the other", problem.Reason);
    }

    /// <summary>A reason quotes at most 100 characters of a value: a 1 MB cell quoted whole made a report of megabytes a row.</summary>
    [Fact]
    public async Task A_rejected_rows_reason_quotes_a_long_value_cut_short()
    {
        var prefix = Unique();
        var huge = new string('x', 1_000_000);
        var csv = new StringBuilder(Header);
        for (var n = 1; n <= 3; n++) csv.Append($"{prefix}-{n},T,riots,2016-01-01,{huge},34.7,\n");
        csv.Append($"{prefix}-4,T,riots,{huge[..900]},36.7,34.7,\n"); // a value past 1,000 characters is refused as too long

        var report = await api.CreateClient().ImportOkAsync(csv.ToString(), "text/csv", "?source=" + prefix, inserted: 0, updated: 0, unchanged: 0, rejected: 4);

        var problems = Problems(report);
        Assert.Equal(4, problems.Count);
        Assert.All(problems, p => Assert.True(p.Reason.Length < 400, p.Reason[..Math.Min(400, p.Reason.Length)]));
        Assert.All(problems[..3], p => Assert.Contains($"'{new string('x', 100)}…' (1000000 characters)", p.Reason));
        Assert.StartsWith($"'{new string('x', 100)}…' (900 characters) is not an RFC 3339 date-time", problems[3].Reason);
    }

    /// <summary>
    /// A feature in a FeatureCollection nests as deep as a single write may: one with 61 levels of arrays in its tags
    /// ended the whole import as "not valid JSON". Deeper than that, the import stops saying why.
    /// </summary>
    [Fact]
    public async Task A_deeply_nested_feature_in_a_collection_is_its_rows_problem_and_too_deep_is_said_so()
    {
        var prefix = Unique();
        string Deep(string id, int levels) => Feature(id).Replace("\"title\": \"T\"", $"\"title\": \"T\", \"tags\": {new string('[', levels)}\"x\"{new string(']', levels)}");
        var client = api.CreateClient();

        var body = $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-1")},\n{Deep($"{prefix}-2", 61)},\n{Feature($"{prefix}-3")}]}}";
        var report = await client.ImportOkAsync(body, "application/geo+json", "?source=" + prefix, inserted: 2, updated: 0, unchanged: 0, rejected: 1);
        Assert.Equal((2L, "properties.tags[0]"), Problems(report).Select(p => (p.Line, p.Field)).Single());

        var deeper = $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature($"{prefix}-4")},\n{Deep($"{prefix}-5", 70)}]}}";
        var (status, problem) = await client.PostImportAsync(deeper, "application/geo+json", "?source=" + prefix);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("has a feature nested more than 64 levels deep (line 2); flatten it", problem["detail"]!.GetValue<string>());
        AssertCounts(problem["report"]!, 1, 0, 0, 0);
    }
}
