using System.Net.Http.Headers;
using Dapper;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace IncidentMap.Tests.Hostile;

/// <summary>
/// The hostile suites run on a host of their own, in parallel with the other collections but serially
/// among themselves, because every case checks afterwards that nothing it aimed at has changed.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HostileCollection : ICollectionFixture<HostileFixture>
{
    public const string Name = "hostile";
}

/// <summary>
/// The service (an <see cref="ApiFixture"/> of its own) plus the targets of the mutating hostile
/// requests: a few incidents created here, whose version, updated_at and liveness must never move.
/// Every body a hostile request sends carries <see cref="Marker"/> in its title or name, so an
/// incident or key created by mistake is found however it got in.
/// </summary>
public sealed class HostileFixture : IAsyncLifetime
{
    /// <summary>In every hostile title and key name: an incident or key holding it must never exist.</summary>
    public static readonly string Marker = "hostile-" + Guid.NewGuid().ToString("N")[..12];

    public ApiFixture Api { get; } = new();

    /// <summary>Incidents created for the hostile writes to aim at (one that a failing case deleted is replaced).</summary>
    public IReadOnlyList<long> Targets => _targets;

    private readonly List<long> _targets = [];
    private readonly string _targetTag = "hostile-target-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>A key with the read scope only.</summary>
    public string ReadOnlyKey { get; private set; } = "";

    private HttpClient _admin = null!;
    private IReadOnlyList<TargetState> _baseline = [];
    private byte[][] _keyHashes = [];
    private Floors _floors = new(0, 0, 0);

    public async Task InitializeAsync()
    {
        await Api.InitializeAsync();
        await using (var connection = await Api.Database.OpenConnectionAsync())
            _floors = await connection.QuerySingleAsync<Floors>("""
                SELECT (SELECT coalesce(max(id), 0) FROM incidents) AS incidentfloor, (SELECT coalesce(max(id), 0) FROM api_keys) AS keyfloor,
                       (SELECT coalesce(max(id), 0) FROM places) AS placefloor
                """);
        _admin = Api.CreateClient();
        var keys = Api.Services.GetRequiredService<ApiKeys>();
        var readOnlyName = "hostile-read-" + Guid.NewGuid().ToString("N")[..8];
        (ReadOnlyKey, _) = await keys.CreateAsync(readOnlyName, [Scopes.Read]);

        for (var i = 0; i < 3; i++) _targets.Add(await CreateTargetAsync());
        _keyHashes = [ApiKeys.Hash(Api.Key), ApiKeys.Hash(ReadOnlyKey)];
        _baseline = await ReadTargetsAsync();
    }

    private Task<long> CreateTargetAsync()
    {
        var feature = Features.Valid("Hostile target");
        feature["properties"]!["tags"] = new System.Text.Json.Nodes.JsonArray(_targetTag);
        return _admin.CreateAsync(feature);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        _admin.Dispose();
        await ((IAsyncLifetime)Api).DisposeAsync();
    }

    /// <summary>A client for <paramref name="caller"/>: every scope, no key, or the read-only key.</summary>
    public HttpClient Client(Caller caller)
    {
        var client = caller == Caller.Admin ? Api.CreateClient() : Api.CreateAnonymousClient();
        if (caller == Caller.ReadOnly) client.DefaultRequestHeaders.Add(ApiKeyAuthentication.Header, ReadOnlyKey);
        return client;
    }

    /// <summary>The current version of an incident, read from the database.</summary>
    public async Task<int> CurrentVersionAsync(long id)
    {
        await using var connection = await Api.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT version FROM incidents WHERE id = @id", new { id });
    }

    /// <summary>
    /// Fills in {id}, {id2}, {id3} (the targets), and {etag} and {ver}: the current ETag and version of
    /// the target that <paramref name="path"/> names, as an editor who just read it would send them.
    /// </summary>
    public async Task<string> ResolveAsync(string text, string path)
    {
        var target = path.Contains("{id3}") ? Targets[2] : path.Contains("{id2}") ? Targets[1] : Targets[0];
        if (text.Contains("{etag}") || text.Contains("{ver}"))
        {
            var version = await CurrentVersionAsync(target);
            text = text.Replace("{etag}", $"\"v{version}\"").Replace("{ver}", version.ToString());
        }
        return text.Replace("{id}", Targets[0].ToString()).Replace("{id2}", Targets[1].ToString()).Replace("{id3}", Targets[2].ToString());
    }

    /// <summary>
    /// Sends a case. URLs longer than <see cref="Uri"/> takes (65,519 characters; the 100k-character
    /// values) go straight into the in-process server as an HttpContext.
    /// </summary>
    public async Task<(HostileResponse Response, string Url)> SendAsync(HostileCase c)
    {
        var url = await ResolveAsync(c.Path, c.Path);
        var headers = new List<(string, string)>();
        foreach (var (name, value) in c.Headers) headers.Add((name, await ResolveAsync(value, c.Path)));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var response = url.Length < 60_000
            ? await SendWithClientAsync(c, url, headers, timeout.Token)
            : await SendInProcessAsync(c, url, headers, timeout.Token);
        return (response, url);
    }

    private async Task<HostileResponse> SendWithClientAsync(HostileCase c, string url, List<(string, string)> headers, CancellationToken ct)
    {
        using var client = Client(c.Caller);
        using var request = new HttpRequestMessage(c.Method, url) { Content = c.Body?.Invoke() };
        foreach (var (name, value) in headers) SetHeader(request, name, value);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var type = response.Content.Headers.ContentType?.MediaType;
        // A stream that opened by mistake never ends: its body is not read.
        var body = type == "text/event-stream" ? "(event stream)" : await response.Content.ReadAsStringAsync(ct);
        return new HostileResponse((int)response.StatusCode, type, body);
    }

    private async Task<HostileResponse> SendInProcessAsync(HostileCase c, string url, List<(string Name, string Value)> headers, CancellationToken ct)
    {
        var content = c.Body?.Invoke();
        var body = content is null ? null : await content.ReadAsByteArrayAsync(ct);
        var query = url.IndexOf('?');
        var context = await Api.Server.SendAsync(http =>
        {
            http.Request.Method = c.Method.Method;
            http.Request.Path = Uri.UnescapeDataString(query < 0 ? url : url[..query]);
            if (query >= 0) http.Request.QueryString = new Microsoft.AspNetCore.Http.QueryString(url[query..]);
            if (c.Caller != Caller.Anonymous) http.Request.Headers[ApiKeyAuthentication.Header] = c.Caller == Caller.Admin ? Api.Key : ReadOnlyKey;
            foreach (var (name, value) in headers) http.Request.Headers[name] = value;
            if (content is null) return;
            http.Request.Headers.ContentType = string.Join(",", content.Headers.TryGetValues("Content-Type", out var types) ? types : []);
            http.Request.ContentLength = body!.Length;
            http.Request.Body = new MemoryStream(body);
        }, ct);
        var type = context.Response.ContentType is { } t ? MediaTypeHeaderValue.Parse(t).MediaType : null;
        using var reader = new StreamReader(context.Response.Body);
        return new HostileResponse(context.Response.StatusCode, type, type == "text/event-stream" ? "(event stream)" : await reader.ReadToEndAsync(ct));
    }

    /// <summary>
    /// Asserts that no target moved, that no marked incident or key exists and that the fixture's keys
    /// still work. On a failure the damage is noted and set aside (marked rows renamed, targets
    /// re-read), so the next case is judged on its own.
    /// </summary>
    public async Task AssertNothingChangedAsync(string after)
    {
        var failures = new List<string>();
        IReadOnlyList<TargetState> now;
        List<long> incidents, keys, places;
        await using (var connection = await Api.Database.OpenConnectionAsync())
        {
            // One round trip; rows older than the fixture are never looked at (the gazetteer alone is large).
            using var results = await connection.QueryMultipleAsync("""
                SELECT id, version, updated_at AS updatedat, deleted_at IS NOT NULL AS deleted FROM incidents WHERE id = ANY(@ids) ORDER BY id;
                UPDATE incidents SET title = 'hostile leftover' WHERE id > @IncidentFloor AND strpos(title, @Marker) > 0 RETURNING id;
                UPDATE api_keys SET name = 'hostile leftover ' || id, revoked_at = coalesce(revoked_at, now())
                    WHERE id > @KeyFloor AND strpos(name, @Marker) > 0 RETURNING id;
                UPDATE places SET name = 'hostile leftover' WHERE id > @PlaceFloor AND strpos(name, @Marker) > 0 RETURNING id;
                SELECT count(*) FROM api_keys WHERE hash = ANY(@hashes) AND revoked_at IS NULL;
                """, new { ids = _targets.ToArray(), Marker, _floors.IncidentFloor, _floors.KeyFloor, _floors.PlaceFloor, hashes = _keyHashes });
            now = (await results.ReadAsync<TargetState>()).ToList();
            incidents = (await results.ReadAsync<long>()).ToList();
            keys = (await results.ReadAsync<long>()).ToList();
            places = (await results.ReadAsync<long>()).ToList();
            if (await results.ReadSingleAsync<long>() != _keyHashes.Length) failures.Add("a fixture API key was revoked");
        }
        if (!_baseline.SequenceEqual(now))
            failures.Add($"a target incident changed: before [{string.Join("; ", _baseline)}], after [{string.Join("; ", now)}]");
        if (incidents.Count > 0) failures.Add($"created or changed incident(s) {string.Join(", ", incidents)} with a hostile title");
        if (keys.Count > 0) failures.Add($"created API key(s) {string.Join(", ", keys)}");
        if (places.Count > 0) failures.Add($"created place(s) {string.Join(", ", places)}");

        if (failures.Count > 0)
        {
            // Set the damage aside so the next case is judged on its own: a deleted target is replaced.
            foreach (var gone in now.Where(t => t.Deleted))
                _targets[_targets.IndexOf(gone.Id)] = await CreateTargetAsync();
            _baseline = await ReadTargetsAsync();
        }
        Assert.True(failures.Count == 0, $"{after}: {string.Join("; ", failures)}");
    }

    private async Task<IReadOnlyList<TargetState>> ReadTargetsAsync()
    {
        await using var connection = await Api.Database.OpenConnectionAsync();
        return (await connection.QueryAsync<TargetState>("""
            SELECT id, version, updated_at AS updatedat, deleted_at IS NOT NULL AS deleted
            FROM incidents WHERE id = ANY(@ids) ORDER BY id
            """, new { ids = _targets.ToArray() })).ToList();
    }

    private sealed record TargetState(long Id, int Version, DateTime UpdatedAt, bool Deleted);

    /// <summary>The largest ids before any hostile request: what a hostile request could create lies above them.</summary>
    private sealed record Floors(long IncidentFloor, long KeyFloor, long PlaceFloor);

    /// <summary>Sets a header on the request or its content, without the client's validation.</summary>
    public static void SetHeader(HttpRequestMessage request, string name, string value)
    {
        if (request.Content is not null && name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
        {
            request.Content.Headers.Remove(name);
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) && MediaTypeHeaderValue.TryParse(value, out var parsed))
                request.Content.Headers.ContentType = parsed;
            else request.Content.Headers.TryAddWithoutValidation(name, value);
        }
        else request.Headers.TryAddWithoutValidation(name, value);
    }
}
