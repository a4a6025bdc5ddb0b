using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// br and gzip answers (Hosting/BufferedBrotli.cs). Browsers ask for br first; fed the response's 4 KiB writes
/// one at a time, brotli's fast quality made answers about twice as large as gzip's.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ResponseCompressionTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>A page (or CSV) of 300 incidents imported for the test, each with its own title and summary.</summary>
    private async Task<string> IncidentsAsync(string format)
    {
        var prefix = "rc" + Guid.NewGuid().ToString("N")[..10];
        var csv = new StringBuilder("external_id,title,summary,event_type,occurred_at,lon,lat\n");
        var random = new Random(7);
        for (var n = 1; n <= 300; n++)
            csv.Append($"{prefix}-{n},Shelling near checkpoint {random.Next(1000)},Reports from {random.Next(50)} sources of damage in district {random.Next(30)},")
               .Append($"explosions_remote_violence,2016-02-{1 + n % 28:00}T0{n % 10}:30:00Z,{36 + random.NextDouble():0.00000},{34 + random.NextDouble():0.00000}\n");
        var import = await _client.PostAsync($"/collections/incidents/imports?source={prefix}", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        Assert.True(import.IsSuccessStatusCode, await import.Content.ReadAsStringAsync());
        var filter = Uri.EscapeDataString($"external_id LIKE '{prefix}-%'");
        return $"/collections/incidents/items?limit=300&filter={filter}&f={format}";
    }

    private async Task<byte[]> GetAsync(string url, string? coding)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (coding is not null) request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(coding));
        var response = await _client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(coding is null ? [] : [coding], response.Content.Headers.ContentEncoding);
        return await response.Content.ReadAsByteArrayAsync();
    }

    private static byte[] Decode(byte[] body, string coding)
    {
        using var decoded = new MemoryStream();
        using (Stream decoder = coding == "br" ? new BrotliStream(new MemoryStream(body), CompressionMode.Decompress) : new GZipStream(new MemoryStream(body), CompressionMode.Decompress))
            decoder.CopyTo(decoded);
        return decoded.ToArray();
    }

    [Theory]
    [InlineData("geojson page")]
    [InlineData("csv")]
    [InlineData("openapi")]
    public async Task A_brotli_answer_is_smaller_than_gzips_and_decodes_to_the_same_content(string what)
    {
        var url = what switch
        {
            "openapi" => "/openapi/v1.json",
            "csv" => await IncidentsAsync("csv"),
            _ => await IncidentsAsync("json"),
        };

        var plain = await GetAsync(url, null);
        var gzip = await GetAsync(url, "gzip");
        var br = await GetAsync(url, "br");

        Assert.True(br.Length < gzip.Length, $"{what}: br {br.Length} bytes, gzip {gzip.Length}, uncompressed {plain.Length}");
        if (what == "geojson page")
        {
            // The page's timeStamp is the second it was written: the features are compared.
            string Features(byte[] json) => JsonNode.Parse(json)!["features"]!.ToJsonString();
            Assert.Equal(300, JsonNode.Parse(plain)!["features"]!.AsArray().Count);
            Assert.Equal(Features(plain), Features(Decode(br, "br")));
            Assert.Equal(Features(plain), Features(Decode(gzip, "gzip")));
        }
        else
        {
            Assert.Equal(plain, Decode(br, "br"));
            Assert.Equal(plain, Decode(gzip, "gzip"));
        }
    }
}
