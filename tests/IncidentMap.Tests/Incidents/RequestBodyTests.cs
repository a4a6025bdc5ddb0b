using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;
using IncidentMap.Tests.Trust;

namespace IncidentMap.Tests.Incidents;

/// <summary>Body limits as Kestrel enforces them (the test server enforces none).</summary>
public sealed class KestrelRequestBodyTests(KestrelApiFixture api) : IClassFixture<KestrelApiFixture>
{
    /// <summary>
    /// JSON-looking bytes, one block past the 8 MiB limit, whose length is not said up front: sent
    /// chunked, so only Kestrel's count while reading stops it. (Just past the limit, so what the server
    /// leaves unread fits the socket buffers and the client is not cut off mid-write.)
    /// </summary>
    private sealed class UnsizedContent : HttpContent
    {
        public UnsizedContent() => Headers.ContentType = new MediaTypeHeaderValue("application/geo+json");

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var block = Encoding.ASCII.GetBytes(new string(' ', 64 * 1024));
            await stream.WriteAsync(Encoding.ASCII.GetBytes("{\"type\":\"Feature\""));
            for (var sent = 0; sent <= 8 * 1024 * 1024; sent += block.Length) await stream.WriteAsync(block);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("}"));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task A_chunked_body_over_8_MiB_is_a_413_naming_body_as_one_with_a_Content_Length_is()
    {
        using var client = new HttpClient { BaseAddress = new Uri(api.BaseUrl), Timeout = TimeSpan.FromMinutes(1) };
        client.DefaultRequestHeaders.Add("X-API-Key", api.Key);

        var response = await client.PostAsync("/collections/incidents/items", new UnsizedContent());

        Assert.Null(response.RequestMessage!.Content!.Headers.ContentLength); // sent chunked
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body");
        Assert.Contains("8388608 bytes", problem["detail"]!.GetValue<string>());
    }
}
