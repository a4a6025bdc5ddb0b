using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using static IncidentMap.Tests.Imports.ImportHelpers;

namespace IncidentMap.Tests.Imports;

/// <summary>
/// Import files are read as UTF-8, as single writes are: a file in UTF-16 or UTF-32 is refused naming <c>body</c>, a 415
/// as a single write's, whatever the format, compressed or not. A CSV of UTF-16 with its byte order mark was decoded as
/// UTF-16 and imported; without one its header was "column(s) t\0i\0t\0l\0e\0 … are neither incident properties";
/// NDJSON's lines were each rejected as "not valid JSON" (a 200), a FeatureCollection "not valid JSON (line 1, byte 1)".
/// </summary>
[Collection(ImportsCollection.Name)]
public sealed class ImportEncodingTests(ImportsFixture api)
{
    private static string Body(string prefix, string mediaType) => mediaType switch
    {
        "text/csv" => $"external_id,title,event_type,occurred_at,lon,lat\n{prefix}-1,Row in another encoding,riots,2016-01-01,36.7,34.7\n",
        "application/geo+json" => $"{{\"type\": \"FeatureCollection\", \"features\": [{Feature(prefix)}]}}",
        "application/geo+json-seq" => $"\u001e{Feature(prefix)}\n",
        _ => Feature(prefix) + "\n",
    };

    private static string Feature(string prefix) =>
        $"{{\"type\":\"Feature\",\"geometry\":{{\"type\":\"Point\",\"coordinates\":[36.7,34.7]}},\"properties\":{{\"external_id\":\"{prefix}-1\",\"title\":\"Row in another encoding\",\"event_type\":\"riots\",\"occurred_at\":\"2016-01-01\"}}}}";

    /// <summary>The text in an encoding as iconv writes it: <c>UTF-16</c> and <c>UTF-32</c> with their byte order mark, the others without.</summary>
    public static byte[] Encoded(string text, string encoding) => encoding switch
    {
        "UTF-16" => [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(text)],
        "UTF-16LE" => Encoding.Unicode.GetBytes(text),
        "UTF-16BE" => Encoding.BigEndianUnicode.GetBytes(text),
        "UTF-16BE with BOM" => [.. Encoding.BigEndianUnicode.GetPreamble(), .. Encoding.BigEndianUnicode.GetBytes(text)],
        "UTF-32" => [.. Encoding.UTF32.GetPreamble(), .. Encoding.UTF32.GetBytes(text)],
        "UTF-32BE" => new UTF32Encoding(bigEndian: true, byteOrderMark: false).GetBytes(text),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
    };

    public static TheoryData<string, string> FormatsAndEncodings()
    {
        var data = new TheoryData<string, string>();
        foreach (var format in new[] { "text/csv", "application/x-ndjson", "application/geo+json-seq", "application/geo+json" })
        foreach (var encoding in new[] { "UTF-16", "UTF-16LE", "UTF-16BE", "UTF-16BE with BOM", "UTF-32", "UTF-32BE" })
            data.Add(format, encoding);
        return data;
    }

    [Theory]
    [MemberData(nameof(FormatsAndEncodings))]
    public async Task A_file_in_UTF16_or_UTF32_is_a_415_naming_body_and_imports_nothing(string mediaType, string encoding)
    {
        var prefix = Unique();
        var content = new ByteArrayContent(Encoded(Body(prefix, mediaType), encoding)) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

        var response = await api.CreateClient().PostAsync($"{Url}?source={prefix}", content);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "body");
        Assert.Contains("body is UTF-16 or UTF-32", problem["detail"]!.GetValue<string>());
        Assert.Contains("save it as UTF-8", problem["detail"]!.GetValue<string>());
        Assert.Equal(1, problem["line"]!.GetValue<long>());
        Assert.Equal(0, problem["report"]!["rows"]!.GetValue<long>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/x-ndjson")]
    [InlineData("application/geo+json")]
    public async Task A_gzipped_file_in_UTF16_is_the_same_415(string mediaType)
    {
        var prefix = Unique();
        var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Encoded(Body(prefix, mediaType), "UTF-16"));
        var content = new ByteArrayContent(compressed.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };
        content.Headers.ContentEncoding.Add("gzip");

        var response = await api.CreateClient().PostAsync($"{Url}?source={prefix}", content);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "body");
        Assert.Contains("body is UTF-16 or UTF-32", problem["detail"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/x-ndjson")]
    public async Task A_job_of_a_file_in_UTF16_fails_naming_body_and_imports_nothing(string mediaType)
    {
        var prefix = Unique();
        var content = new ByteArrayContent(Encoded(Body(prefix, mediaType), "UTF-16")) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };
        var response = await api.CreateClient().PostAsync($"{Url}?async=true&source={prefix}", content);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();

        JsonNode job = new JsonObject();
        for (var waited = 0; waited < 600; waited++)
        {
            job = await api.CreateClient().GetJsonAsync(location);
            if (job["status"]!.GetValue<string>() != "running") break;
            await Task.Delay(100);
        }

        Assert.True(job["status"]!.GetValue<string>() == "failed", job.ToJsonString());
        var error = job["report"]!["error"]!;
        Assert.Equal("body", error["field"]!.GetValue<string>());
        Assert.Contains("is UTF-16 or UTF-32", error["reason"]!.GetValue<string>());
        Assert.Equal(0, (await api.Database.HistoryAsync(prefix)).Incidents);
    }

    [Fact]
    public async Task A_UTF8_file_with_its_byte_order_mark_still_imports()
    {
        foreach (var mediaType in new[] { "text/csv", "application/x-ndjson", "application/geo+json" })
        {
            var prefix = Unique();
            var content = new ByteArrayContent([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(Body(prefix, mediaType))])
                { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

            var (status, report) = await api.CreateClient().PostImportAsync(content, $"?source={prefix}");

            Assert.True(status == HttpStatusCode.OK, $"{mediaType}: {(int)status} {report}");
            AssertCounts(report, 1, 0, 0, 0);
        }
    }
}
