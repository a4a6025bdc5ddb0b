using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using IncidentMap.Api.Database;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Trust;

[Collection(ApiCollection.Name)]
public sealed class AdminKeyTests(ApiFixture api)
{
    private const string KeysUrl = "/admin/keys";
    private readonly HttpClient _admin = api.CreateClient();

    private async Task<(string Key, JsonNode Info)> CreateViaApiAsync(string name, params string[] scopes)
    {
        var response = await _admin.PostAsJsonAsync(KeysUrl, new { name, scopes });
        var body = await response.JsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
        return (body["key"]!.GetValue<string>(), body["info"]!);
    }

    [Theory]
    [InlineData("""{"name": "comma-scopes", "scopes": "read,write"}""", "scopes")]
    [InlineData("""{"name": "odd-scope", "scopes": ["read", "root"]}""", "scopes")]
    [InlineData("""{"name": 5}""", "name")]
    [InlineData("""{"scopes": ["read"]}""", "name")]
    [InlineData("""{"name": "expiring", "expires": "2030-01-01"}""", "expires")] // never a key that silently does not expire
    [InlineData("""["newsroom"]""", "body")]
    [InlineData("", "body")]
    public async Task A_new_key_body_that_is_not_right_is_a_400_naming_the_member(string body, string member)
    {
        var response = await _admin.PostAsync(KeysUrl, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, member);
        Assert.DoesNotContain((await (await _admin.GetAsync(KeysUrl)).JsonAsync()).AsArray(), k => k!["name"]!.GetValue<string>() is "comma-scopes" or "odd-scope" or "expiring");
    }

    [Fact]
    public async Task The_key_endpoints_refuse_parameters_they_do_not_take()
    {
        await ProblemAssert.IsProblemAsync(await _admin.GetAsync(KeysUrl + "?name=x"), HttpStatusCode.BadRequest, "name");
        await ProblemAssert.IsProblemAsync(await _admin.DeleteAsync(KeysUrl + "/nobody?force=true"), HttpStatusCode.BadRequest, "force");
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync(KeysUrl)).StatusCode);
    }

    [Fact]
    public async Task Creating_a_key_answers_201_with_its_secret_once_and_the_listing_never_shows_secrets()
    {
        var name = Trust.Unique("admin-made");

        var (key, info) = await CreateViaApiAsync(name, Scopes.Read, Scopes.Write);

        Assert.StartsWith(ApiKeys.Prefix, key);
        Assert.Equal(name, info["name"]!.GetValue<string>());
        Assert.Equal([Scopes.Read, Scopes.Write], info["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
        Assert.Null(info["revoked_at"]);
        var (response, _) = await api.ClientWithKey(key).PostAsync(Features.Valid());
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var listing = await _admin.GetAsync(KeysUrl);
        Assert.Equal(HttpStatusCode.OK, listing.StatusCode);
        var text = await listing.Content.ReadAsStringAsync();
        Assert.DoesNotContain(key, text);
        Assert.DoesNotContain(api.Key, text);
        var listed = JsonNode.Parse(text)!.AsArray().Single(k => k!["name"]!.GetValue<string>() == name)!;
        Assert.Equal(info["id"]!.GetValue<long>(), listed["id"]!.GetValue<long>());
        Assert.StartsWith(listed["prefix"]!.GetValue<string>(), key, StringComparison.Ordinal);
        Assert.Null(listed["key"]);
    }

    [Fact]
    public async Task A_new_keys_secret_is_not_stored_by_caches_and_its_Location_shows_the_key_without_it()
    {
        var name = Trust.Unique("located");

        var response = await _admin.PostAsJsonAsync(KeysUrl, new { name, scopes = new[] { Scopes.Read } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore, $"Cache-Control: {response.Headers.CacheControl}");
        var created = await response.JsonAsync();
        var secret = created["key"]!.GetValue<string>();
        var located = await _admin.GetAsync(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, located.StatusCode);
        // The key is sent in X-API-Key, which shared caches do not take for authentication: the
        // listing and a key's record must say they are this client's alone (security audit).
        var listing = await _admin.GetAsync(KeysUrl);
        foreach (var answer in new[] { located, listing })
            Assert.True(answer.Headers.CacheControl is { Private: true, NoStore: true }, $"Cache-Control: {answer.Headers.CacheControl}");
        var text = await located.Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, text);
        var listed = (await _admin.GetFromJsonAsync<JsonArray>(KeysUrl))!.Single(k => k!["name"]!.GetValue<string>() == name)!;
        Assert.True(JsonNode.DeepEquals(listed, JsonNode.Parse(text)), $"listed {listed.ToJsonString()}, located {text}");
        Assert.True(JsonNode.DeepEquals(created["info"], JsonNode.Parse(text)));
        // By name too, as DELETE takes it.
        Assert.True(JsonNode.DeepEquals(listed, await (await _admin.GetAsync($"{KeysUrl}/{name}")).JsonAsync()));
    }

    [Fact]
    public async Task A_revoked_key_is_found_by_its_id_but_no_longer_by_its_name()
    {
        var name = Trust.Unique("revoked-lookup");
        var (_, info) = await CreateViaApiAsync(name, Scopes.Read);
        var id = info["id"]!.GetValue<long>();
        Assert.Equal(HttpStatusCode.NoContent, (await _admin.DeleteAsync($"{KeysUrl}/{id}")).StatusCode);

        var byId = await (await _admin.GetAsync($"{KeysUrl}/{id}")).JsonAsync();

        Assert.NotNull(byId["revoked_at"]);
        await ProblemAssert.IsProblemAsync(await _admin.GetAsync($"{KeysUrl}/{name}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _admin.GetAsync($"{KeysUrl}/{long.MaxValue}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await _admin.GetAsync($"{KeysUrl}/{id}?verbose=true"), HttpStatusCode.BadRequest, "verbose");
    }

    [Fact]
    public async Task Deleting_a_key_revokes_it()
    {
        var (key, info) = await CreateViaApiAsync(Trust.Unique("to-revoke"), Scopes.Write);
        var id = info["id"]!.GetValue<long>();

        Assert.Equal(HttpStatusCode.NoContent, (await _admin.DeleteAsync($"{KeysUrl}/{id}")).StatusCode);

        // Never used before the revocation, so nothing cached it as valid: refused at once.
        Assert.Equal(HttpStatusCode.Unauthorized, await api.ClientWithKey(key).ProbeWriteStatusAsync());
        var listed = (await _admin.GetFromJsonAsync<JsonArray>(KeysUrl))!.Single(k => k!["id"]!.GetValue<long>() == id)!;
        Assert.NotNull(listed["revoked_at"]);
        await ProblemAssert.IsProblemAsync(await _admin.DeleteAsync($"{KeysUrl}/{id}"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("11")] // a number names a key's id in DELETE /admin/keys/{idOrName}
    [InlineData("name\r\nfail: forged log line")]
    [InlineData("trailing-line-break\n")] // a regex $ also matches before a final \n
    [InlineData("esc\u001b[31mred")]
    [InlineData(" spaced")]
    [InlineData("")]
    public async Task A_key_name_that_could_pass_for_an_id_or_forge_a_log_line_is_refused(string name)
    {
        var body = new StringContent(System.Text.Json.JsonSerializer.Serialize(new { name, scopes = new[] { Scopes.Read } }), System.Text.Encoding.UTF8, "application/json");

        await ProblemAssert.IsProblemAsync(await _admin.PostAsync(KeysUrl, body), HttpStatusCode.BadRequest, "name");

        Assert.DoesNotContain(await api.Services.GetRequiredService<ApiKeys>().ListAsync(), k => k.Name == name);
    }

    [Fact]
    public async Task A_key_without_the_admin_scope_gets_403_on_the_key_endpoints()
    {
        var (client, _, _) = await api.NewKeyClientAsync("writer", Scopes.Read, Scopes.Write);

        var responses = new[]
        {
            await client.GetAsync(KeysUrl),
            await client.GetAsync($"{KeysUrl}/1"),
            await client.PostAsJsonAsync(KeysUrl, new { name = Trust.Unique("escalated"), scopes = Scopes.All }),
            await client.DeleteAsync($"{KeysUrl}/{Trust.Unique("whatever")}"),
        };

        foreach (var response in responses)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden);
            Assert.Contains("'admin'", problem["detail"]!.GetValue<string>());
        }
        await ProblemAssert.IsProblemAsync(await api.CreateAnonymousClient().GetAsync(KeysUrl), HttpStatusCode.Unauthorized, ApiKeyAuthentication.Header);
    }

    [Fact]
    public async Task Null_scopes_are_the_default_read_as_the_document_says()
    {
        var name = Trust.Unique("null-scopes");
        var body = new StringContent($$"""{"name":"{{name}}","scopes":null}""", System.Text.Encoding.UTF8, "application/json");

        var response = await _admin.PostAsync(KeysUrl, body);

        var created = await response.JsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, created.ToJsonString());
        Assert.Equal([Scopes.Read], created["info"]!["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Theory]
    [InlineData("""{"name":"12345"}""", "is all digits")]
    [InlineData("""{"name":"-abc"}""", "starts with '-'")]
    [InlineData("""{"name":"a b"}""", "holds U+0020")]
    [InlineData("""{"name":"news\nroom"}""", "holds U+000A")]
    [InlineData("""{"name":""}""", "is empty")]
    [InlineData("""{"name":5}""", "must be a string")]
    public async Task A_name_given_but_not_valid_is_told_what_is_wrong_with_it_not_that_it_is_required(string body, string fault)
    {
        var response = await _admin.PostAsync(KeysUrl, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "name");
        var detail = problem["errors"]!.AsArray().Single()!["detail"]!.GetValue<string>();
        Assert.StartsWith(fault, detail);
        Assert.DoesNotContain("required", detail);
        Assert.Contains(ApiKeys.NameRule, detail);
    }

    [Theory]
    [InlineData("""{"scopes":["read"]}""")]
    [InlineData("""{"name":null}""")]
    public async Task A_missing_name_is_required(string body)
    {
        var response = await _admin.PostAsync(KeysUrl, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "name");
        Assert.Equal($"is required: {ApiKeys.NameRule}", problem["errors"]!.AsArray().Single()!["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("text/plain")] // refused by routing, before the endpoint is chosen
    [InlineData("application/geo+json")] // let through by routing as a kind of JSON, refused by the endpoint
    public async Task A_new_key_in_a_type_not_taken_is_a_415_naming_only_json(string type)
    {
        var response = await _admin.PostAsync(KeysUrl, new StringContent($$"""{"name":"{{Trust.Unique("typed")}}"}""", System.Text.Encoding.UTF8, type));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "Content-Type");
        Assert.EndsWith("send application/json.", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain("geo+json or", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("[\"superuser\"]")]
    [InlineData("[]")]
    [InlineData("[\"read\",\"Write\"]")]
    public async Task Unknown_or_missing_scopes_answer_400_naming_scopes(string scopes)
    {
        var name = Trust.Unique("bad-scopes");
        var body = new StringContent($$"""{"name":"{{name}}","scopes":{{scopes}}}""", System.Text.Encoding.UTF8, "application/json");

        await ProblemAssert.IsProblemAsync(await _admin.PostAsync(KeysUrl, body), HttpStatusCode.BadRequest, "scopes");

        Assert.DoesNotContain(await api.Services.GetRequiredService<ApiKeys>().ListAsync(), k => k.Name == name);
    }
}

/// <summary>The `keys` command of the service binary. It prints to the process-wide Console, so these run one at a time.</summary>
public sealed class KeysCommandTests(TrustFactory api) : IClassFixture<TrustFactory>
{
    private static readonly SemaphoreSlim ConsoleLock = new(1, 1);

    private async Task<(int Exit, string Out)> RunAsync(params string[] args)
    {
        await ConsoleLock.WaitAsync();
        var (stdout, stderr) = (Console.Out, Console.Error);
        try
        {
            using var captured = new StringWriter();
            Console.SetOut(captured);
            Console.SetError(TextWriter.Null);
            var exit = await KeysCommand.RunAsync(api.Services.GetRequiredService<ApiKeys>(), api.Services.GetRequiredService<Migrator>(), args);
            return (exit, captured.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            ConsoleLock.Release();
        }
    }

    [Fact]
    public async Task A_key_created_on_the_command_line_writes_is_listed_and_is_refused_once_revoked()
    {
        var name = Trust.Unique("cli");

        var (created, output) = await RunAsync("create", name, "--scopes", "read,write");
        Assert.Equal(0, created);
        var key = output.Split('\n', StringSplitOptions.TrimEntries).Single(line => line.StartsWith(ApiKeys.Prefix));
        using var client = api.ClientWithKey(key);
        var (response, body) = await client.PostAsync(Features.Valid());
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");

        var (listed, listing) = await RunAsync("list");
        Assert.Equal(0, listed);
        var line = listing.Split('\n').Single(l => l.Split('\t').ElementAtOrDefault(1) == name);
        Assert.Contains("read,write", line);
        Assert.Contains("live", line);
        Assert.DoesNotContain(key, listing);

        var (revoked, _) = await RunAsync("revoke", name);
        Assert.Equal(0, revoked);
        await Trust.WaitForAsync(client.ProbeWriteStatusAsync, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15));
        Assert.Contains("revoked", (await RunAsync("list")).Out.Split('\n').Single(l => l.Split('\t').ElementAtOrDefault(1) == name));
    }

    [Fact]
    public async Task Unknown_scopes_on_the_command_line_create_nothing()
    {
        var name = Trust.Unique("cli-bad");

        var (exit, output) = await RunAsync("create", name, "--scopes", "read,root");

        Assert.NotEqual(0, exit);
        Assert.DoesNotContain(ApiKeys.Prefix, output);
        Assert.DoesNotContain(await api.Services.GetRequiredService<ApiKeys>().ListAsync(), k => k.Name == name);
    }

    [Fact]
    public async Task Creating_a_key_under_a_live_name_on_the_command_line_fails_cleanly()
    {
        var (_, existing) = await api.Services.NewKeyAsync("cli-taken", Scopes.Read);

        var (exit, output) = await RunAsync("create", existing.Name);

        Assert.NotEqual(0, exit);
        Assert.DoesNotContain(ApiKeys.Prefix, output);
    }
}
