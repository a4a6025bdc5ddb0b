using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

[Collection(ApiCollection.Name)]
public sealed class ApiKeyTests(ApiFixture api)
{
    internal static async Task<JsonObject> AssertRefusedAsync(HttpResponseMessage response, string header = ApiKeyAuthentication.Header)
    {
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, header);
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        return problem;
    }

    [Fact]
    public async Task A_write_without_a_key_with_an_unknown_key_and_with_a_revoked_key_gets_the_same_401()
    {
        var (revoked, info) = await api.Services.NewKeyAsync("revoked", Scopes.Write);
        Assert.True(await api.Services.GetRequiredService<ApiKeys>().RevokeAsync(info.Id.ToString()));

        var problems = new List<JsonObject>();
        foreach (var key in new[] { null, ApiKeys.Generate(), "not-even-a-key", revoked })
        {
            using var client = api.ClientWithKey(key);
            var (response, _) = await client.PostAsync(Features.Valid());
            problems.Add(await AssertRefusedAsync(response));
        }

        foreach (var problem in problems.Skip(1))
        {
            Assert.Equal(problems[0]["title"]!.GetValue<string>(), problem["title"]!.GetValue<string>());
            Assert.Equal(problems[0]["detail"]!.GetValue<string>(), problem["detail"]!.GetValue<string>());
            Assert.True(JsonNode.DeepEquals(problems[0]["errors"], problem["errors"]));
        }
    }

    [Fact]
    public async Task A_read_with_an_unknown_or_revoked_key_is_a_401_not_an_anonymous_read()
    {
        var (revoked, info) = await api.Services.NewKeyAsync("revoked-reader", Scopes.Read);
        Assert.True(await api.Services.GetRequiredService<ApiKeys>().RevokeAsync(info.Id.ToString()));
        var id = await api.CreateClient().CreateAsync(Features.Valid());

        foreach (var key in new[] { ApiKeys.Generate(), "im_typo", revoked })
        {
            using var client = api.ClientWithKey(key);
            await AssertRefusedAsync(await client.GetAsync($"{Trust.ItemsUrl}/{id}"));
            await AssertRefusedAsync(await client.GetAsync($"{Trust.ItemsUrl}?limit=1"));
            // The service's description and Swagger UI too, which are served before the read policy (they were a 200).
            await AssertRefusedAsync(await client.GetAsync("/openapi/v1.json"));
            await AssertRefusedAsync(await client.GetAsync("/swagger/index.html"));
        }
        // A bad key after "Bearer" and a tab, not a space, is a bad key, not an anonymous read.
        using (var tabbed = api.ClientWithKey(null))
        {
            tabbed.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer\tim_typo");
            await AssertRefusedAsync(await tabbed.GetAsync($"{Trust.ItemsUrl}/{id}"), "Authorization");
        }
        Assert.Equal(HttpStatusCode.OK, (await api.ClientWithKey(null).GetAsync("/openapi/v1.json")).StatusCode);
        // No key at all is an anonymous read, as before.
        Assert.Equal(HttpStatusCode.OK, (await api.ClientWithKey(null).GetAsync($"{Trust.ItemsUrl}/{id}")).StatusCode);
    }

    [Fact]
    public async Task A_key_with_only_the_read_scope_gets_a_403_naming_the_write_scope_on_post()
    {
        var (client, _, _) = await api.NewKeyClientAsync("reader", Scopes.Read);
        var tag = Trust.Unique("read-only");

        var (response, _) = await client.PostAsync(Trust.TaggedFeature(tag));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden);
        Assert.Contains("'write'", problem["detail"]!.GetValue<string>());
        Assert.Contains("'write'", problem["errors"]![0]!["detail"]!.GetValue<string>());
        Assert.Equal(0, await api.Database.CountTaggedAsync(tag));
    }

    [Fact]
    public async Task A_valid_key_in_the_query_string_is_never_accepted()
    {
        using var client = api.CreateAnonymousClient();
        foreach (var name in new[] { "api_key", "apikey", "key", "X-API-Key" })
        {
            var response = await client.PostAsync($"{Trust.ItemsUrl}?{name}={Uri.EscapeDataString(api.Key)}", Features.Content(Features.Valid()));
            await AssertRefusedAsync(response);
        }
    }

    [Fact]
    public async Task A_key_sent_as_a_bearer_token_is_accepted()
    {
        var (key, _) = await api.Services.NewKeyAsync("bearer", Scopes.Write);
        using var client = api.ClientWithKey(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var (response, body) = await client.PostAsync(Features.Valid());

        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
    }

    /// <summary>A bad credential never passes beside a good one: two different keys are a 401, the same key twice is fine.</summary>
    [Fact]
    public async Task Two_different_keys_in_X_API_Key_and_a_bearer_token_are_a_401()
    {
        var (key, _) = await api.Services.NewKeyAsync("two-keys", Scopes.Write);
        using var client = api.ClientWithKey(key);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "im_not-a-key");

        var (refused, _) = await client.PostAsync(Features.Valid());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync($"{Trust.ItemsUrl}?limit=1")).StatusCode);

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var (response, body) = await client.PostAsync(Features.Valid());
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
    }

    /// <summary>
    /// Two valid keys that differ were answered as one bad X-API-Key ("missing, unknown or revoked"), the reason only
    /// logged: the answer names both headers and says they differ (nothing of either key's validity).
    /// </summary>
    [Fact]
    public async Task Two_different_valid_keys_are_a_401_naming_both_headers_and_saying_they_differ()
    {
        var (admin, _) = await api.Services.NewKeyAsync("two-valid-admin", Scopes.Admin);
        var (other, _) = await api.Services.NewKeyAsync("two-valid-other", Scopes.Write);
        using var client = api.ClientWithKey(admin);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", other);

        var problem = await AssertRefusedAsync(await client.GetAsync("/admin/keys"));

        var errors = problem["errors"]!.AsArray().Select(e => (e!["field"]!.GetValue<string>(), e["detail"]!.GetValue<string>())).ToList();
        Assert.Equal(["X-API-Key", "Authorization"], errors.Select(e => e.Item1));
        Assert.All(errors, e => Assert.Contains("differs from the key in", e.Item2));
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("X-API-Key and Authorization: Bearer headers hold different keys", detail);
        // One of them bad is the same answer: it tells nothing of either key.
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKeys.Generate());
        Assert.Equal(detail, (await AssertRefusedAsync(await client.GetAsync("/admin/keys")))["detail"]!.GetValue<string>());
    }

    /// <summary>
    /// A key sent only as Authorization: Bearer is named so when refused: its 403 and 401 named X-API-Key, which had not
    /// been sent. Unknown and revoked Bearer keys still share one answer.
    /// </summary>
    [Fact]
    public async Task A_bearer_key_refused_is_named_as_the_Authorization_header()
    {
        var (reader, _) = await api.Services.NewKeyAsync("bearer-reader", Scopes.Read);
        var (revoked, info) = await api.Services.NewKeyAsync("bearer-revoked", Scopes.Admin);
        Assert.True(await api.Services.GetRequiredService<ApiKeys>().RevokeAsync(info.Id.ToString()));
        using var client = api.ClientWithKey(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", reader);

        var forbidden = await ProblemAssert.IsProblemAsync(await client.GetAsync("/admin/keys"), HttpStatusCode.Forbidden, "Authorization");
        Assert.Equal("The key in Authorization: Bearer lacks the 'admin' scope this request needs.", forbidden["detail"]!.GetValue<string>());
        Assert.DoesNotContain("X-API-Key", forbidden.ToJsonString());

        var problems = new List<JsonObject>();
        foreach (var key in new[] { "im_bogus", ApiKeys.Generate(), revoked })
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var problem = await AssertRefusedAsync(await client.GetAsync("/admin/keys"), "Authorization");
            Assert.Equal("missing, unknown or revoked", problem["errors"]![0]!["detail"]!.GetValue<string>());
            Assert.StartsWith("Send a valid API key as Authorization: Bearer", problem["detail"]!.GetValue<string>());
            problems.Add(problem);
        }
        Assert.All(problems, p => Assert.True(
            JsonNode.DeepEquals(problems[0]["errors"], p["errors"]) && problems[0]["detail"]!.GetValue<string>() == p["detail"]!.GetValue<string>()
            && problems[0]["title"]!.GetValue<string>() == p["title"]!.GetValue<string>(), $"{problems[0]} != {p}"));

        // The same key in X-API-Key is named so, as before.
        using var header = api.ClientWithKey(reader);
        await ProblemAssert.IsProblemAsync(await header.GetAsync("/admin/keys"), HttpStatusCode.Forbidden, "X-API-Key");
    }

    [Fact]
    public async Task Reads_are_public_by_default()
    {
        var id = await api.CreateClient().CreateAsync(Features.Valid());
        using var anonymous = api.CreateAnonymousClient();

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"{Trust.ItemsUrl}/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"{Trust.ItemsUrl}?limit=1")).StatusCode);
    }

    [Fact]
    public async Task A_key_starts_with_im_and_carries_at_least_128_random_bits()
    {
        var (created, _) = await api.Services.NewKeyAsync("format", Scopes.Read);
        var keys = Enumerable.Range(0, 50).Select(_ => ApiKeys.Generate()).Append(created).ToList();

        Assert.All(keys, key =>
        {
            Assert.StartsWith("im_", key);
            // Base64url-like text holds at most 6 bits a character: 128 bits need 22 characters after the prefix.
            Assert.True(key.Length - 3 >= 22, $"'{key}' is too short for 128 random bits");
            Assert.Matches("^im_[A-Za-z0-9_-]+$", key);
        });
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Fact]
    public async Task The_database_stores_a_hash_of_the_key_and_never_the_key()
    {
        var (key, info) = await api.Services.NewKeyAsync("hashed", Scopes.Read);

        await using var connection = await api.Database.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<string>("SELECT row_to_json(k)::text FROM api_keys k WHERE id = @Id", new { info.Id });
        var hash = await connection.QuerySingleAsync<byte[]>("SELECT hash FROM api_keys WHERE id = @Id", new { info.Id });

        Assert.DoesNotContain(key, row);
        Assert.DoesNotContain(key[3..], row);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)), hash);
    }
}

/// <summary>Waits out the key cache, so it has a host of its own and runs beside the shared one.</summary>
public sealed class RevocationTests(TrustFactory factory) : IClassFixture<TrustFactory>
{
    /// <summary>The service that answered the DELETE 204 went on taking the key for up to 10 s, from its cache.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_key_revoked_through_the_service_is_refused_by_it_at_once(bool byName)
    {
        var (client, _, info) = await factory.NewKeyClientAsync($"revoked-at-once-{byName}", Scopes.Write);
        Assert.Equal(HttpStatusCode.PreconditionRequired, await client.ProbeWriteStatusAsync()); // now cached as valid

        var revoke = await factory.ClientWithKey(factory.Key).DeleteAsync($"/admin/keys/{(byName ? info.Name : info.Id)}");
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        await ApiKeyTests.AssertRefusedAsync(await client.ProbeWriteAsync());
        await ApiKeyTests.AssertRefusedAsync(await client.GetAsync($"{Trust.ItemsUrl}?limit=1"));
    }

    [Fact]
    public async Task A_key_revoked_by_another_process_is_refused_within_the_cache_lifetime()
    {
        var (client, _, info) = await factory.NewKeyClientAsync("short-lived", Scopes.Write);
        Assert.Equal(HttpStatusCode.PreconditionRequired, await client.ProbeWriteStatusAsync()); // now cached as valid

        // As `keys revoke` or another instance of the service does it: in the database, unknown to this process's cache.
        await using (var connection = new Npgsql.NpgsqlConnection(ApiFixture.ConnectionString))
            Assert.Equal(1, await connection.ExecuteAsync("UPDATE api_keys SET revoked_at = now() WHERE id = @Id", new { info.Id }));

        // The key was cached before the revocation, so no request sent after the cache lifetime may pass.
        var lastAccepted = await Trust.WaitForAsync(client.ProbeWriteStatusAsync, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15));
        Assert.True(lastAccepted < ApiKeyAuthentication.CacheFor, $"a request sent {lastAccepted.TotalSeconds:F1} s after the revocation was still accepted");
        await ApiKeyTests.AssertRefusedAsync(await client.ProbeWriteAsync());
    }
}

/// <summary>A budget of five lookups of unknown keys a minute per network.</summary>
public sealed class FewUnknownKeysFactory() : ConfiguredFactory(("Auth:UnknownKeysPerMinute", "5"));

public sealed class UnknownKeyTests(FewUnknownKeysFactory factory) : IClassFixture<FewUnknownKeysFactory>
{
    [Fact]
    public async Task Past_the_budget_of_unknown_keys_a_network_gets_no_more_lookups_but_known_keys_still_work()
    {
        // Authentication runs before the rate limiter: without a budget every made-up key costs a query.
        var (_, known, _) = await factory.NewKeyClientAsync("budget-known", Scopes.Read, Scopes.Write);
        Assert.Equal(HttpStatusCode.PreconditionRequired, await factory.ClientWithKey(known).ProbeWriteStatusAsync()); // cached now

        for (var n = 0; n < 5; n++)
            Assert.Equal(HttpStatusCode.Unauthorized, await factory.ClientWithKey(ApiKeys.Generate()).ProbeWriteStatusAsync());
        var (_, fresh, _) = await factory.NewKeyClientAsync("budget-fresh", Scopes.Read, Scopes.Write);

        // A key never seen here is not looked up any more, valid or not: a 429 to wait out, not a 401
        // calling a good key bad. One already known still works.
        using var throttled = await factory.ClientWithKey(fresh).ProbeWriteAsync();
        await ProblemAssert.IsProblemAsync(throttled, HttpStatusCode.TooManyRequests, "X-API-Key");
        Assert.Equal(TimeSpan.FromSeconds(60), throttled.Headers.RetryAfter!.Delta);
        Assert.Equal(HttpStatusCode.PreconditionRequired, await factory.ClientWithKey(known).ProbeWriteStatusAsync());
    }
}

/// <summary>Auth:RequireKeyForReads=true: a private deployment.</summary>
public sealed class ReadsNeedKeyFactory() : ConfiguredFactory(("Auth:RequireKeyForReads", "true"));

public sealed class ReadsNeedKeyTests(ReadsNeedKeyFactory factory) : IClassFixture<ReadsNeedKeyFactory>
{
    [Fact]
    public async Task Reads_without_a_key_get_401_and_reads_with_a_read_key_get_200()
    {
        var id = await factory.ClientWithKey(factory.Key).CreateAsync(Features.Valid());
        var (reader, _, _) = await factory.NewKeyClientAsync("private-reader", Scopes.Read);
        using var anonymous = factory.ClientWithKey(null);
        var reads = new[]
        {
            $"{Trust.ItemsUrl}/{id}", $"{Trust.ItemsUrl}?limit=1", $"{Trust.ItemsUrl}/{id}/history", $"{Trust.ItemsUrl}/{id}/history/1",
            "/collections/incidents", "/collections/incidents/changes", "/collections/incidents/stats/summary",
        };

        foreach (var url in reads)
        {
            await ApiKeyTests.AssertRefusedAsync(await anonymous.GetAsync(url));
            var read = await reader.GetAsync(url);
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)read.StatusCode}");
        }
        await ApiKeyTests.AssertRefusedAsync(await anonymous.PostAsync("/collections/incidents/search", Features.Content(new JsonObject(), "application/json")));
        // Probes carry no key.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task A_key_without_the_read_scope_cannot_read_a_private_deployment()
    {
        var (writer, _, _) = await factory.NewKeyClientAsync("private-writer-only", Scopes.Write);

        Assert.Equal(HttpStatusCode.Forbidden, (await writer.GetAsync($"{Trust.ItemsUrl}?limit=1")).StatusCode);
    }
}
