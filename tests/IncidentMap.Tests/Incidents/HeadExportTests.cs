using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Incidents;

/// <summary>
/// A HEAD of an export or a large page runs the GET's query to its first row and then cancels the statement rather
/// than read the rest (RowStream.AbandonAsync). The connections it gives back serve the reads after it.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class HeadExportTests(ApiFixture api)
{
    [Fact]
    public async Task Heads_of_exports_with_rows_answer_200_and_leave_the_connections_usable()
    {
        using var client = api.CreateClient();
        var tag = "headexport" + Guid.NewGuid().ToString("N")[..8];
        for (var n = 0; n < 3; n++)
        {
            var feature = Features.Valid();
            feature["properties"]!["tags"] = new JsonArray(tag);
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(feature)).Response.StatusCode);
        }

        // More than the pools hold: a connection left broken by a cancel would fail a later read.
        for (var n = 0; n < 25; n++)
            foreach (var url in new[] { $"/collections/incidents/items?tags={tag}&f=ndjson", $"/collections/incidents/items?tags={tag}&limit=5000" })
            {
                using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
                Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            }

        using var get = await client.GetAsync($"/collections/incidents/items?tags={tag}&f=ndjson");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(3, (await get.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        using var page = await client.GetAsync($"/collections/incidents/items?tags={tag}&limit=2");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }
}
