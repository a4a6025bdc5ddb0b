using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Places;

namespace IncidentMap.Tests.Dashboards;

[Collection(SerialCollection.Name)]
public sealed class ConditionalGetTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    private async Task<HttpResponseMessage> GetIfNoneMatchAsync(string url, EntityTagHeaderValue etag)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.IfNoneMatch.Add(etag);
        return await _client.SendAsync(request);
    }

    /// <summary>A places search page follows the data version, which a place written through the service moves.</summary>
    [Fact]
    public async Task A_places_search_page_is_304_until_a_place_is_written()
    {
        var name = $"Revalidated {Guid.NewGuid():N}";
        var url = $"/collections/places/items?q={Uri.EscapeDataString(name)}";
        var id = await _client.AddPlaceAsync(name, 36.3405, 33.4437, "SY", "Rif Dimashq", "suburb");

        var etag = await _client.SettledETagAsync(url);
        Assert.True(etag.IsWeak); // the page's timeStamp moves
        var unchanged = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Empty(await unchanged.Content.ReadAsByteArrayAsync());

        var patched = await _client.PatchAsync($"/collections/places/items/{id}",
            new StringContent("""{"properties": {"population": 4321}}""", System.Text.Encoding.UTF8, "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var changed = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var found = Assert.Single(JsonNode.Parse(await changed.Content.ReadAsStringAsync())!["features"]!.AsArray())!;
        Assert.Equal(4321, found["properties"]!["population"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("/collections/incidents/items?limit=5&tags={tag}")]
    [InlineData("/collections/incidents/items?f=csv&tags={tag}")]
    [InlineData("/collections/incidents/stats?tags={tag}&datetime=2016-02-01/2016-02-29")]
    [InlineData("/collections/incidents/stats/summary?tags={tag}")]
    [InlineData("/collections/incidents/stats/summary?f=csv&tags={tag}")]
    [InlineData("/collections/incidents/clusters?zoom=3&tags={tag}")]
    [InlineData("/collections/incidents/hexbins?bbox=-180,-80,180,80&size=2000km&tags={tag}")]
    public async Task A_poll_with_the_current_etag_is_304_until_an_update_or_a_delete(string template)
    {
        var tag = FeedHelpers.NewTag();
        var url = template.Replace("{tag}", tag);
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));

        var first = await _client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("no-cache", first.Headers.CacheControl?.ToString());
        var etag = await _client.SettledETagAsync(url);

        var unchanged = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Empty(await unchanged.Content.ReadAsByteArrayAsync());

        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", """{"properties":{"fatalities_max":3}}""")).StatusCode);
        var afterUpdate = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.OK, afterUpdate.StatusCode);

        // Settled: the listener's own advance after the update must not pass for the delete's.
        var etag2 = await _client.SettledETagAsync(url);
        Assert.Equal(HttpStatusCode.NotModified, (await GetIfNoneMatchAsync(url, etag2)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _client.DeleteCurrentAsync($"/collections/incidents/items/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetIfNoneMatchAsync(url, etag2)).StatusCode);
    }

    [Fact]
    public async Task The_summary_csv_has_an_etag_of_its_own_which_a_csv_poll_revalidates()
    {
        var tag = FeedHelpers.NewTag();
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var url = $"/collections/incidents/stats/summary?tags={tag}";
        var csvETag = await _client.SettledETagAsync(url + "&f=csv");
        var jsonETag = (await _client.GetAsync(url)).Headers.ETag!;

        Assert.EndsWith("-csv\"", csvETag.Tag);
        Assert.NotEqual(jsonETag, csvETag);
        var unchanged = await GetIfNoneMatchAsync(url + "&f=csv", csvETag);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Contains("Accept", unchanged.Headers.Vary);
        // Chosen by Accept it is the same answer, with the same tag.
        var negotiated = new HttpRequestMessage(HttpMethod.Get, url);
        negotiated.Headers.Accept.ParseAdd("text/csv");
        negotiated.Headers.IfNoneMatch.Add(csvETag);
        Assert.Equal(HttpStatusCode.NotModified, (await _client.SendAsync(negotiated)).StatusCode);
        // Each format's tag names only its own bytes.
        Assert.Equal(HttpStatusCode.OK, (await GetIfNoneMatchAsync(url, csvETag)).StatusCode);
        var csvWithJsonTag = await GetIfNoneMatchAsync(url + "&f=csv", jsonETag);
        Assert.Equal(HttpStatusCode.OK, csvWithJsonTag.StatusCode);
        Assert.StartsWith("part,", await csvWithJsonTag.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/collections/incidents/items?tags={tag}&datetime=PT1H", "/collections/incidents/items?tags={tag}&datetime=2016-02-01/2016-02-29")]
    [InlineData("/collections/incidents/stats/summary?tags={tag}&datetime=P1D/now", "/collections/incidents/stats/summary?tags={tag}&datetime=2016-02")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/0/0/0?tags={tag}&datetime=PT1H/now", "/collections/incidents/tiles/WebMercatorQuad/0/0/0?tags={tag}&datetime=2016-01-01/2016-12-31")]
    // A duration from or to a fixed time is a fixed window: it was stamped with the second as if relative.
    [InlineData("/collections/incidents/items?tags={tag}&datetime=PT1H/now", "/collections/incidents/items?tags={tag}&datetime=P1M/2016-02-29")]
    [InlineData("/collections/incidents/stats?tags={tag}&datetime=PT1H&interval=day", "/collections/incidents/stats?tags={tag}&datetime=2016-02-01/P1M&interval=day")]
    public async Task A_time_window_relative_to_now_is_another_answer_a_second_later_even_with_no_change(string relativeTemplate, string fixedTemplate)
    {
        // "The last hour" moves with the clock: an incident dated a few seconds ahead enters it with no
        // write in between, so an ETag naming only the data version would keep answering 304.
        var tag = FeedHelpers.NewTag();
        var (relative, fixedWindow) = (relativeTemplate.Replace("{tag}", tag), fixedTemplate.Replace("{tag}", tag));
        var soon = DateTimeOffset.UtcNow.AddSeconds(5);
        var feature = Features.Valid(occurredAt: soon.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        feature["properties"]!["tags"] = new JsonArray(tag);
        await _client.CreateAsync(feature);
        var before = await _client.SettledETagAsync(relative);
        var beforeBody = await (await _client.GetAsync(relative)).Content.ReadAsByteArrayAsync();
        var fixedETag = await _client.SettledETagAsync(fixedWindow);
        Assert.True(DateTimeOffset.UtcNow < soon, "reading the first answers took longer than the margin the test allows");

        var wait = soon.AddSeconds(1.2) - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);

        var later = await GetIfNoneMatchAsync(relative, before);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        Assert.NotEqual(before, later.Headers.ETag);
        Assert.NotEqual(beforeBody, await later.Content.ReadAsByteArrayAsync()); // the incident is in the window now
        Assert.Equal(HttpStatusCode.NotModified, (await GetIfNoneMatchAsync(fixedWindow, fixedETag)).StatusCode);
    }

    [Fact]
    public async Task A_write_from_another_process_is_a_new_etag_while_an_older_transaction_holds_the_feed_back()
    {
        var tag = FeedHelpers.NewTag();
        var url = $"/collections/incidents/stats/summary?tags={tag}";
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var etag = await _client.SettledETagAsync(url);

        // An open write transaction: the feed shows nothing committed after it began until it ends.
        await using var holder = await api.Database.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("SELECT pg_current_xact_id()", transaction: held);
        // Meanwhile another writer (the import command, another instance, SQL) changes the incident.
        await using (var other = await api.Database.OpenConnectionAsync())
            await other.ExecuteAsync("UPDATE incidents SET fatalities_max = 500, version = version + 1 WHERE id = @id", new { id });

        Assert.Equal(HttpStatusCode.OK, (await PollUntilChangedAsync(url, etag)).StatusCode);
        await held.RollbackAsync();
    }

    [Fact]
    public async Task Moving_a_place_is_a_new_etag_for_answers_near_it()
    {
        var name = "Etagville " + Guid.NewGuid().ToString("N")[..8];
        var place = $"/collections/places/items/{await _client.AddPlaceAsync(name, 36.29, 33.51, "SY", null, "suburb")}";
        var tag = FeedHelpers.NewTag();
        var incident = FeedHelpers.Tagged(tag);
        incident["geometry"] = Features.Point(36.29, 33.51);
        await _client.CreateAsync(incident);
        var url = $"/collections/incidents/stats/summary?tags={tag}&near={Uri.EscapeDataString(name)}&radius=5km";
        var etag = await _client.SettledETagAsync(url);

        var moved = await _client.PatchCurrentAsync(place, """{"geometry": {"type": "Point", "coordinates": [10, 10]}}""");
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);

        // At once, not only when the listener hears of it: the next read may be this editor's own.
        var changed = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(0, JsonNode.Parse(await changed.Content.ReadAsStringAsync())!["count"]!.GetValue<int>());
    }

    /// <summary>Polls with If-None-Match for up to 5 s (the listener advances the version a moment after a commit).</summary>
    private async Task<HttpResponseMessage> PollUntilChangedAsync(string url, EntityTagHeaderValue etag)
    {
        for (var n = 0; ; n++)
        {
            var response = await GetIfNoneMatchAsync(url, etag);
            if (response.StatusCode != HttpStatusCode.NotModified || n == 50) return response;
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_single_incident_is_304_until_it_changes()
    {
        var id = await _client.CreateAsync(Features.Valid());
        var url = $"/collections/incidents/items/{id}";
        var etag = await _client.SettledETagAsync(url);

        Assert.Equal(HttpStatusCode.NotModified, (await GetIfNoneMatchAsync(url, etag)).StatusCode);
        await _client.PutCurrentAsync(url, Features.Content(Features.Valid("changed")));
        var changed = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("\"v2\"", changed.Headers.ETag!.Tag);
    }

    private async Task<HttpResponseMessage> GetIfMatchAsync(string url, string ifMatch, EntityTagHeaderValue? ifNoneMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        if (ifNoneMatch is not null) request.Headers.IfNoneMatch.Add(ifNoneMatch);
        return await _client.SendAsync(request);
    }

    /// <summary>
    /// If-Match on a read (RFC 9110 §13.1.1, §13.2.2): the answer while the tag is current, a 412 naming
    /// If-Match once it is not, whatever If-None-Match says; strongly compared, so a weak tag never matches.
    /// </summary>
    [Theory]
    [InlineData("/collections/incidents/items/{id}")]
    [InlineData("/collections/incidents/items?f=csv&tags={tag}")]
    [InlineData("/collections/incidents/stats/summary?tags={tag}")]
    [InlineData("/collections/incidents/tiles/WebMercatorQuad/0/0/0?tags={tag}")]
    public async Task If_match_on_a_read_answers_while_the_tag_is_current_and_412_once_it_changed(string template)
    {
        var tag = FeedHelpers.NewTag();
        var id = await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var url = template.Replace("{tag}", tag).Replace("{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var etag = await _client.SettledETagAsync(url);
        Assert.False(etag.IsWeak);

        var current = await GetIfMatchAsync(url, etag.Tag);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.NotEmpty(await current.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, (await GetIfMatchAsync(url, $"\"nope\", {etag.Tag}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetIfMatchAsync(url, "*")).StatusCode);
        await ProblemAssert.IsProblemAsync(await GetIfMatchAsync(url, "W/" + etag.Tag), HttpStatusCode.PreconditionFailed, "If-Match");
        await ProblemAssert.IsProblemAsync(await GetIfMatchAsync(url, "v1"), HttpStatusCode.BadRequest, "If-Match");

        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", """{"properties":{"fatalities_max":3}}""")).StatusCode);
        var newer = await _client.SettledETagAsync(url);
        var stale = await GetIfMatchAsync(url, etag.Tag, ifNoneMatch: etag);
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Equal(newer, stale.Headers.ETag);
        Assert.Equal(HttpStatusCode.OK, (await GetIfMatchAsync(url, newer.Tag)).StatusCode);
    }

    [Fact]
    public async Task If_match_never_matches_a_geojson_page_whose_etag_is_weak()
    {
        var tag = FeedHelpers.NewTag();
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var url = $"/collections/incidents/items?tags={tag}";
        var etag = await _client.SettledETagAsync(url);
        Assert.True(etag.IsWeak);

        await ProblemAssert.IsProblemAsync(await GetIfMatchAsync(url, etag.Tag), HttpStatusCode.PreconditionFailed, "If-Match");
        await ProblemAssert.IsProblemAsync(await GetIfMatchAsync(url, etag.ToString()), HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.Equal(HttpStatusCode.OK, (await GetIfMatchAsync(url, "*")).StatusCode);
    }

    /// <summary>History is a read on incidents too (issue 5: every GET carries an ETag): a poll is 304 until a revision is added.</summary>
    [Theory]
    [InlineData("/collections/incidents/items/{id}/history")]
    [InlineData("/collections/incidents/items/{id}/history/1")]
    public async Task History_is_304_until_the_incident_changes_and_a_missing_one_carries_no_etag(string template)
    {
        var id = await _client.CreateAsync(Features.Valid());
        var url = template.Replace("{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var etag = await _client.SettledETagAsync(url);

        var unchanged = await GetIfNoneMatchAsync(url, etag);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        Assert.Empty(await unchanged.Content.ReadAsByteArrayAsync());
        Assert.Equal("no-cache, private", string.Join(", ", unchanged.Headers.CacheControl!.ToString().Split(", ").Order()));

        Assert.Equal(HttpStatusCode.OK, (await _client.PatchCurrentAsync($"/collections/incidents/items/{id}", """{"properties":{"fatalities_max":3}}""")).StatusCode);
        var changed = await PollUntilChangedAsync(url, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotNull(changed.Headers.ETag);

        var missing = await _client.GetAsync(template.Replace("{id}", "999999999"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Null(missing.Headers.ETag);
    }

    /// <summary>
    /// A 412 or a malformed If-Match is not the read's answer: no shared cache may keep it under the read's URL (a
    /// tile's is public, max-age=15), and only the 412 names the current ETag.
    /// </summary>
    [Fact]
    public async Task A_tiles_412_and_400_for_if_match_are_not_stored_by_caches()
    {
        var tag = FeedHelpers.NewTag();
        await _client.CreateAsync(FeedHelpers.Tagged(tag));
        var url = $"/collections/incidents/tiles/WebMercatorQuad/0/0/0?tags={tag}";
        var etag = await _client.SettledETagAsync(url);

        var stale = await GetIfMatchAsync(url, "\"d0\"");
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.PreconditionFailed, "If-Match");
        Assert.True(stale.Headers.CacheControl?.NoStore);
        Assert.Equal(etag, stale.Headers.ETag);

        var malformed = await GetIfMatchAsync(url, "d0");
        await ProblemAssert.IsProblemAsync(malformed, HttpStatusCode.BadRequest, "If-Match");
        Assert.True(malformed.Headers.CacheControl?.NoStore);
        Assert.Null(malformed.Headers.ETag);
    }

    /// <summary>
    /// A history that does not exist is a 404 whatever the preconditions say (RFC 9110 §13.2.1), and one incident's
    /// history tag does not revalidate another's.
    /// </summary>
    [Fact]
    public async Task History_preconditions_never_turn_a_missing_history_into_a_304_or_412()
    {
        var first = await _client.CreateAsync(Features.Valid());
        var second = await _client.CreateAsync(Features.Valid());
        var firstTag = await _client.SettledETagAsync($"/collections/incidents/items/{first}/history");
        var secondTag = await _client.SettledETagAsync($"/collections/incidents/items/{second}/history");
        Assert.NotEqual(firstTag, secondTag);
        Assert.Equal(HttpStatusCode.OK, (await GetIfNoneMatchAsync($"/collections/incidents/items/{second}/history", firstTag)).StatusCode);

        const string Missing = "/collections/incidents/items/999999999/history";
        Assert.Equal(HttpStatusCode.NotFound, (await GetIfMatchAsync(Missing, "\"zzz\"")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetIfNoneMatchAsync(Missing, EntityTagHeaderValue.Any)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetIfNoneMatchAsync(Missing, firstTag)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await GetIfNoneMatchAsync($"/collections/incidents/items/{first}/history/7", firstTag)).StatusCode);
    }
}
