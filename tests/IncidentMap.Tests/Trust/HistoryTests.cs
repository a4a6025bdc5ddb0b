using System.Net;
using System.Text.Json.Nodes;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Trust;

[Collection(ApiCollection.Name)]
public sealed class HistoryTests(ApiFixture api)
{
    private static string[] Strings(JsonNode? array) => array!.AsArray().Select(s => s!.GetValue<string>()).ToArray();

    /// <summary>An incident an editor key created, patched twice and deleted: versions 1 to 4.</summary>
    private async Task<(long Id, string Editor, HttpClient Client)> EditedAndDeletedAsync()
    {
        var (client, _, info) = await api.NewKeyClientAsync("editor", Scopes.Read, Scopes.Write);
        var feature = Features.Valid("As first reported");
        feature["properties"]!["fatalities_max"] = 20;
        var id = await client.CreateAsync(feature);
        var url = $"{Trust.ItemsUrl}/{id}";
        Assert.Equal(HttpStatusCode.OK, (await client.PatchCurrentAsync(url, """{"properties":{"fatalities_max":60}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PatchCurrentAsync(url, """{"properties":{"fatalities_min":57,"claimed_by":"Islamic State"}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteCurrentAsync(url)).StatusCode);
        return (id, info.Name, client);
    }

    [Theory]
    [InlineData("/history?limit=1", "limit")]
    [InlineData("/history/1?f=csv", "f")]
    public async Task History_and_revisions_refuse_parameters_they_do_not_take(string path, string parameter)
    {
        var (client, _, _) = await api.NewKeyClientAsync("history-reader", Scopes.Read, Scopes.Write);
        var id = await client.CreateAsync(Features.Valid());

        await ProblemAssert.IsProblemAsync(await client.GetAsync($"{Trust.ItemsUrl}/{id}{path}"), HttpStatusCode.BadRequest, parameter);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Trust.ItemsUrl}/{id}{path.Split('?')[0]}")).StatusCode);
    }

    [Fact]
    public async Task History_lists_every_version_with_who_changed_which_properties()
    {
        var (id, editor, client) = await EditedAndDeletedAsync();

        var history = await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history");

        Assert.Equal(id, history["id"]!.GetValue<long>());
        var revisions = history["revisions"]!.AsArray();
        Assert.Equal([1, 2, 3, 4], revisions.Select(r => r!["version"]!.GetValue<int>()));
        Assert.Equal(["created", "updated", "updated", "deleted"], revisions.Select(r => r!["kind"]!.GetValue<string>()));
        Assert.All(revisions, r => Assert.Equal(editor, r!["changed_by"]!.GetValue<string>()));
        Assert.Equal(["fatalities_max"], Strings(revisions[1]!["changed_fields"]));
        Assert.Equal(["claimed_by", "fatalities_min"], Strings(revisions[2]!["changed_fields"]).Order());
        Assert.EndsWith($"/collections/incidents/items/{id}/history/2", revisions[1]!["href"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_revision_is_dated_as_the_incident_at_that_version()
    {
        // changed_at was the moment the history trigger ran, some milliseconds after the updated_at the
        // same write gave the incident (fresh-user audit): one change, two times.
        var (id, _, client) = await EditedAndDeletedAsync();

        var revisions = (await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history"))["revisions"]!.AsArray();

        Assert.Equal(4, revisions.Count);
        foreach (var revision in revisions)
        {
            var version = revision!["version"]!.GetValue<int>();
            var feature = await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history/{version}");
            Assert.Equal(DateTimeOffset.Parse(feature["properties"]!["updated_at"]!.GetValue<string>()),
                DateTimeOffset.Parse(revision["changed_at"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task A_revision_is_the_feature_as_it_was_at_that_version_even_after_delete()
    {
        var (id, _, client) = await EditedAndDeletedAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Trust.ItemsUrl}/{id}")).StatusCode);
        var second = await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history/2");
        var third = await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history/3");

        Assert.Equal(id, second["id"]!.GetValue<long>());
        Assert.Equal("Point", second["geometry"]!["type"]!.GetValue<string>());
        var properties = second["properties"]!;
        Assert.Equal(2, properties["version"]!.GetValue<int>());
        Assert.Equal("As first reported", properties["title"]!.GetValue<string>());
        Assert.Equal(60, properties["fatalities_max"]!.GetValue<int>());
        Assert.Null(properties["fatalities_min"]);
        Assert.Null(properties["claimed_by"]);
        Assert.Equal(57, third["properties"]!["fatalities_min"]!.GetValue<int>());
        Assert.Equal(20, (await client.GetJsonAsync($"{Trust.ItemsUrl}/{id}/history/1"))["properties"]!["fatalities_max"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_deleted_incidents_history_is_for_editors_only()
    {
        var (id, _, editor) = await EditedAndDeletedAsync();
        var liveId = await editor.CreateAsync(Features.Valid("Still here"));
        var (reader, _, _) = await api.NewKeyClientAsync("history-read-only", Scopes.Read);

        foreach (var client in new[] { api.CreateAnonymousClient(), reader })
        {
            await ProblemAssert.IsProblemAsync(await client.GetAsync($"{Trust.ItemsUrl}/{id}/history"), HttpStatusCode.NotFound);
            await ProblemAssert.IsProblemAsync(await client.GetAsync($"{Trust.ItemsUrl}/{id}/history/2"), HttpStatusCode.NotFound);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Trust.ItemsUrl}/{liveId}/history")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Trust.ItemsUrl}/{liveId}/history/1")).StatusCode);
        }
        var seen = await editor.GetAsync($"{Trust.ItemsUrl}/{id}/history");
        Assert.Equal(HttpStatusCode.OK, seen.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await editor.GetAsync($"{Trust.ItemsUrl}/{id}/history/2")).StatusCode);
        // What is shown depends on the key: no shared cache may hand the editor's copy to anyone else.
        Assert.True(seen.Headers.CacheControl is { Private: true, NoCache: true }, $"Cache-Control: {seen.Headers.CacheControl}");
        Assert.Contains("X-API-Key", seen.Headers.Vary);
        Assert.Contains("Authorization", seen.Headers.Vary);
    }

    [Theory]
    [InlineData("999999999999/history")]
    [InlineData("999999999999/history/1")]
    [InlineData("not-an-id/history")]
    public async Task History_of_an_unknown_incident_answers_404(string path)
    {
        await ProblemAssert.IsProblemAsync(await api.CreateAnonymousClient().GetAsync($"{Trust.ItemsUrl}/{path}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_version_an_incident_never_had_answers_404()
    {
        var id = await api.CreateClient().CreateAsync(Features.Valid());

        await ProblemAssert.IsProblemAsync(await api.CreateAnonymousClient().GetAsync($"{Trust.ItemsUrl}/{id}/history/2"), HttpStatusCode.NotFound);
    }
}
