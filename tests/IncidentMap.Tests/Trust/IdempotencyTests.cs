using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Trust;

/// <summary>Idempotency-Key on creates, as in the IETF httpapi draft "The Idempotency-Key HTTP Header Field".</summary>
[Collection(ApiCollection.Name)]
public sealed class IdempotencyTests(ApiFixture api)
{
    private readonly HttpClient _client = api.CreateClient();

    [Fact]
    public async Task A_retry_with_the_same_key_and_body_replays_the_first_answer_and_creates_nothing()
    {
        var (tag, key) = (Trust.Unique("idem"), Trust.Unique("retry"));
        var feature = Trust.TaggedFeature(tag);

        var first = await _client.SendAsync(Trust.Post(feature, key));
        var second = await _client.SendAsync(Trust.Post(feature, key));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal(first.Headers.ETag, second.Headers.ETag);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal(first.Content.Headers.ContentType?.MediaType, second.Content.Headers.ContentType?.MediaType);
        Assert.Equal("", first.Header("Idempotent-Replayed"));
        Assert.Equal("true", second.Header("Idempotent-Replayed"));
        Assert.Equal(1, await api.Database.CountTaggedAsync(tag));
    }

    [Fact]
    public async Task The_same_key_with_another_body_answers_422_naming_Idempotency_Key()
    {
        var key = Trust.Unique("reused");
        var (firstTag, secondTag) = (Trust.Unique("idem-a"), Trust.Unique("idem-b"));
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(Trust.Post(Trust.TaggedFeature(firstTag), key))).StatusCode);

        var reused = await _client.SendAsync(Trust.Post(Trust.TaggedFeature(secondTag), key));

        await ProblemAssert.IsProblemAsync(reused, HttpStatusCode.UnprocessableEntity, "Idempotency-Key");
        Assert.Equal(0, await api.Database.CountTaggedAsync(secondTag));
    }

    [Fact]
    public async Task A_retry_while_the_first_request_is_still_running_answers_409()
    {
        var (tag, key) = (Trust.Unique("idem-inflight"), Trust.Unique("inflight"));
        var apiKeyId = await api.Database.KeyIdAsync(api.Key);

        // The first request, stuck before its commit: its claim on the key is written and not yet committed.
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var first = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body) VALUES (@apiKeyId, @key, '\x00', 0, '')
            """, new { apiKeyId, key }, first);

        var retry = await _client.SendAsync(Trust.Post(Trust.TaggedFeature(tag), key));

        await ProblemAssert.IsProblemAsync(retry, HttpStatusCode.Conflict, "Idempotency-Key");
        await first.RollbackAsync();
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
        // Once the first gave up, the key is free again.
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(Trust.Post(Trust.TaggedFeature(tag), key))).StatusCode);
    }

    [Fact]
    public async Task A_keyed_create_waiting_on_another_transactions_row_waits_for_its_outcome_and_the_breaker_stays_closed()
    {
        // Concurrency audit: the claim's 0.3 s lock_timeout stayed in force for the INSERT, so a create
        // whose external_id another transaction (an import batch) held failed as "Database unavailable",
        // and four such failures opened the circuit breaker for every other request.
        var externalId = Trust.Unique("held");
        var stored = Features.Valid();
        stored["properties"]!["external_id"] = externalId;
        var created = await _client.SendAsync(Trust.Post(stored));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await using var connection = await api.Database.OpenConnectionAsync();
        await using var holder = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("UPDATE incidents SET title = title WHERE external_id = @externalId", new { externalId }, holder);
        var tag = Trust.Unique("idem-wait");
        var duplicate = Trust.TaggedFeature(tag);
        duplicate["properties"]!["external_id"] = externalId;
        var creates = Enumerable.Range(0, 4).Select(_ => _client.SendAsync(Trust.Post(duplicate, Trust.Unique("wait")))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await holder.CommitAsync();
        var answers = await Task.WhenAll(creates);

        // Each waited for the holder to commit and then met the stored external_id.
        foreach (var answer in answers) await ProblemAssert.IsProblemAsync(answer, HttpStatusCode.Conflict, "properties.external_id");
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(created.Headers.Location)).StatusCode);
    }

    [Fact]
    public async Task Simultaneous_retries_with_one_key_create_one_incident()
    {
        var (tag, key) = (Trust.Unique("idem-race"), Trust.Unique("race"));
        var feature = Trust.TaggedFeature(tag);

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _client.SendAsync(Trust.Post(feature, key))));

        // Each is the first answer (201, perhaps replayed) or "still in progress" (409); never a second incident.
        Assert.All(answers, a => Assert.Contains(a.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        Assert.Single(answers.Where(a => a.StatusCode == HttpStatusCode.Created).Select(a => a.Headers.Location).Distinct());
        Assert.Equal(1, await api.Database.CountTaggedAsync(tag));
    }

    [Fact]
    public async Task Idempotency_keys_belong_to_the_api_key_that_sent_them()
    {
        var (tag, key) = (Trust.Unique("idem-scoped"), Trust.Unique("shared"));
        var feature = Trust.TaggedFeature(tag);
        var (other, _, _) = await api.NewKeyClientAsync("other-writer", Scopes.Write);

        var mine = await _client.SendAsync(Trust.Post(feature, key));
        var theirs = await other.SendAsync(Trust.Post(feature, key));

        Assert.Equal(HttpStatusCode.Created, mine.StatusCode);
        Assert.Equal(HttpStatusCode.Created, theirs.StatusCode);
        Assert.NotEqual(mine.Headers.Location, theirs.Headers.Location);
        Assert.Equal("", theirs.Header("Idempotent-Replayed"));
        Assert.Equal(2, await api.Database.CountTaggedAsync(tag));
    }

    [Theory]
    [InlineData("clé-1")]
    [InlineData("tab\there")]
    [InlineData(null)] // 256 characters
    public async Task An_invalid_Idempotency_Key_answers_400(string? key)
    {
        var tag = Trust.Unique("idem-invalid");

        var response = await _client.SendAsync(Trust.Post(Trust.TaggedFeature(tag), key ?? new string('k', 256)));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "Idempotency-Key");
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
    }

    /// <summary>
    /// Sent twice, it came joined as a third key nobody sent: a 400. (An empty one is a 400 too, but the in-memory
    /// test client drops an empty header before it reaches the service.)
    /// </summary>
    [Theory]
    [InlineData("k1", "k2")]
    [InlineData("k1", "k1")]
    public async Task A_repeated_Idempotency_Key_answers_400(params string[] keys)
    {
        var tag = Trust.Unique("idem-header");
        var request = Trust.Post(Trust.TaggedFeature(tag));
        request.Headers.TryAddWithoutValidation("Idempotency-Key", keys);

        var response = await _client.SendAsync(request);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "Idempotency-Key");
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
    }

    [Fact]
    public async Task An_Idempotency_Key_of_255_printable_characters_is_accepted()
    {
        var key = (Guid.NewGuid().ToString("N") + new string('~', 255))[..255];

        var response = await _client.SendAsync(Trust.Post(Features.Valid(), key));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task The_key_is_stored_with_the_answer_in_the_transaction_that_created_the_incident()
    {
        var key = Trust.Unique("stored");
        var apiKeyId = await api.Database.KeyIdAsync(api.Key);

        var response = await _client.SendAsync(Trust.Post(Features.Valid(), key));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await using var connection = await api.Database.OpenConnectionAsync();
        var (status, location) = await connection.QuerySingleAsync<(int, string)>(
            "SELECT status, location FROM idempotency_keys WHERE api_key_id = @apiKeyId AND key = @key", new { apiKeyId, key });
        Assert.Equal(201, status);
        Assert.Equal(response.Headers.Location!.OriginalString, location);
    }

    [Fact]
    public async Task A_create_that_fails_leaves_its_key_free_for_a_corrected_retry()
    {
        var (key, externalId) = (Trust.Unique("failed"), Trust.Unique("ext"));
        var taken = Features.Valid();
        taken["properties"]!["external_id"] = externalId;
        await _client.CreateAsync(taken);
        var duplicate = Features.Valid();
        duplicate["properties"]!["external_id"] = externalId;

        var refused = await _client.SendAsync(Trust.Post(duplicate, key));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var apiKeyId = await api.Database.KeyIdAsync(api.Key);
        Assert.Equal(0, await api.Database.ScalarAsync<long>(
            "SELECT count(*) FROM idempotency_keys WHERE api_key_id = @apiKeyId AND key = @key", new { apiKeyId, key }));
        duplicate["properties"]!["external_id"] = externalId + "-fixed";
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(Trust.Post(duplicate, key))).StatusCode);
    }

    // The places' POST (issue 7's editors' places): without a key, a retry whose answer was lost met its own
    // place and got 409 "Place exists".

    private const string PlacesUrl = "/collections/places/items";

    private static JsonObject Place(string name) => new()
    {
        ["type"] = "Feature",
        ["geometry"] = Features.Point(36.3405, 33.4437),
        ["properties"] = new JsonObject { ["name"] = name, ["country"] = "SY", ["admin1"] = "Rif Dimashq", ["kind"] = "suburb" },
    };

    private static HttpRequestMessage PostPlace(JsonNode place, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, PlacesUrl) { Content = Features.Content(place) };
        if (key is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return request;
    }

    private Task<long> CountPlacesAsync(string name) =>
        api.Database.ScalarAsync<long>("SELECT count(*) FROM places WHERE name = @name", new { name });

    [Fact]
    public async Task A_place_created_again_with_its_key_gets_the_first_answer_not_a_409()
    {
        var (name, key) = (Trust.Unique("Idem Place"), Trust.Unique("place"));

        var first = await _client.SendAsync(PostPlace(Place(name), key));
        var second = await _client.SendAsync(PostPlace(Place(name), key));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        var body = await first.Content.ReadAsStringAsync();
        Assert.Equal(body, await second.Content.ReadAsStringAsync());
        Assert.Equal(name, JsonNode.Parse(body)!["properties"]!["name"]!.GetValue<string>());
        Assert.Equal(first.Content.Headers.ContentType?.MediaType, second.Content.Headers.ContentType?.MediaType);
        Assert.Equal("", first.Header("Idempotent-Replayed"));
        Assert.Equal("true", second.Header("Idempotent-Replayed"));
        Assert.Equal(1, await CountPlacesAsync(name));
        // Without the key the same body is what it always was: the place exists.
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(PostPlace(Place(name), null)), HttpStatusCode.Conflict, "properties.name");
    }

    [Fact]
    public async Task A_place_key_with_another_body_answers_422_and_adds_nothing()
    {
        var (name, other, key) = (Trust.Unique("Idem First"), Trust.Unique("Idem Second"), Trust.Unique("place-reused"));
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(PostPlace(Place(name), key))).StatusCode);

        var reused = await _client.SendAsync(PostPlace(Place(other), key));

        await ProblemAssert.IsProblemAsync(reused, HttpStatusCode.UnprocessableEntity, "Idempotency-Key");
        Assert.Equal(0, await CountPlacesAsync(other));
    }

    [Fact]
    public async Task A_key_an_incident_create_used_is_refused_for_a_place_not_answered_with_the_incident()
    {
        // One key names one request: a key an incident's create used is refused for a place, never answered with the incident.
        var (name, key) = (Trust.Unique("Idem Shared"), Trust.Unique("shared-across"));
        var place = Place(name);
        var incident = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Post, Trust.ItemsUrl)
        {
            Content = Features.Content(Trust.TaggedFeature(Trust.Unique("idem-across"))),
            Headers = { { "Idempotency-Key", key } },
        });
        Assert.Equal(HttpStatusCode.Created, incident.StatusCode);

        var refused = await _client.SendAsync(PostPlace(place, key));

        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.UnprocessableEntity, "Idempotency-Key");
        Assert.Equal(0, await CountPlacesAsync(name));
        // And the other way: a place's key, then an incident with the same key.
        var placeKey = Trust.Unique("place-first");
        Assert.Equal(HttpStatusCode.Created, (await _client.SendAsync(PostPlace(Place(Trust.Unique("Idem Own")), placeKey))).StatusCode);
        var tag = Trust.Unique("idem-after-place");
        await ProblemAssert.IsProblemAsync(await _client.SendAsync(Trust.Post(Trust.TaggedFeature(tag), placeKey)),
            HttpStatusCode.UnprocessableEntity, "Idempotency-Key");
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
    }

    [Fact]
    public async Task A_place_key_still_held_answers_409_naming_Idempotency_Key()
    {
        var (name, key) = (Trust.Unique("Idem Held"), Trust.Unique("place-inflight"));
        var apiKeyId = await api.Database.KeyIdAsync(api.Key);
        await using var connection = await api.Database.OpenConnectionAsync();
        await using var first = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, body) VALUES (@apiKeyId, @key, '\x00', 0, '')
            """, new { apiKeyId, key }, first);

        var retry = await _client.SendAsync(PostPlace(Place(name), key));

        await ProblemAssert.IsProblemAsync(retry, HttpStatusCode.Conflict, "Idempotency-Key");
        await first.RollbackAsync();
        Assert.Equal(0, await CountPlacesAsync(name));
    }

    [Theory]
    [InlineData("clé-1")]
    [InlineData(null)] // 256 characters
    public async Task An_invalid_Idempotency_Key_on_a_place_answers_400_and_adds_nothing(string? key)
    {
        var name = Trust.Unique("Idem Invalid");

        var response = await _client.SendAsync(PostPlace(Place(name), key ?? new string('k', 256)));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "Idempotency-Key");
        Assert.Equal(0, await CountPlacesAsync(name));
    }
}
