using System.Diagnostics;
using System.Net;
using Dapper;
using IncidentMap.Api.Database;
using IncidentMap.Api.Security;
using IncidentMap.Tests.Infrastructure;
using IncidentMap.Tests.Trust;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Platform;

/// <summary>
/// The service over a database of its own, whose incidents table a test may lock without stalling
/// anyone else's queries, with three connections in each short-read pool whatever the machine's CPUs.
/// <see cref="ShortWait"/> is the same service whose pools let a read wait only 2 s for a connection.
/// </summary>
public sealed class ShareHost : IAsyncLifetime
{
    public OwnDatabase Database { get; private set; } = null!;

    public ConfiguredFactory Service { get; private set; } = null!;

    public ConfiguredFactory ShortWait { get; private set; } = null!;

    public const int PoolSize = 3;

    private sealed class Factory(string connectionString) : ConfiguredFactory(
        ("ConnectionStrings:Incidents", connectionString), ("Database:ReadConnections", PoolSize.ToString()),
        // Every tile from the database; migrated below; no gazetteer: these tests look up no place.
        ("Tiles:Cache", "false"), ("Database:MigrateOnStartup", "false"), ("Gazetteer:Path", ""),
        ("RateLimits:ConcurrentRequests", "100"));

    public async Task InitializeAsync()
    {
        Database = await OwnDatabase.CreateAsync("shares");
        await new Migrator(Database.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        var own = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Database = new NpgsqlConnectionStringBuilder(Database.DataSource.ConnectionString).Database };
        Service = new Factory(own.ConnectionString);
        await Service.InitializeAsync();
        ShortWait = new Factory(new NpgsqlConnectionStringBuilder(own.ConnectionString) { Timeout = 2 }.ConnectionString);
        await ShortWait.InitializeAsync();
        await using var connection = await Database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom)
            SELECT 'Share row ' || g, 'battles', timestamptz '2016-02-21 07:30:00+00', ST_SetSRID(ST_MakePoint(36.72, 34.73), 4326)
            FROM generate_series(1, 3) AS g
            """);
    }

    public async Task DisposeAsync()
    {
        await ShortWait.DisposeAsync();
        await Service.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// No single client can hold every connection of a short-read pool (resource audit): three slow reads
/// of one anonymous client held all of <c>adhoc-reads</c> for up to the statement timeout, again and
/// again, and every other client's pages, clusters and stats waited and then got a 503. A client holds
/// at most the pool's size less one; its further reads wait their turn and are then served. The slow
/// reads here wait for a lock the test holds on the incidents table.
/// </summary>
public sealed class ConnectionShareTests(ShareHost host) : IClassFixture<ShareHost>
{
    /// <summary>What one client may hold of a pool of three.</summary>
    private const int Share = ShareHost.PoolSize - 1;

    /// <summary>A pool, a slow read on it (it reads the locked incidents) and a quick one (it does not).</summary>
    public static TheoryData<string, string, string> Pools => new()
    {
        // Pages of a bbox too large to merge from cells are planned for their values; a places page reads places, not incidents.
        { "incidentmap-adhoc-reads", "/collections/incidents/items?bbox=35,32,42,37&limit=5&datetime=2016-01-0{0}T00:00:00Z/..", "/collections/places/items?limit=1" },
        // z14 tiles are prepared; a q of stop words is found to have no words (a 400) before any incident is read.
        { "incidentmap-reads", "/collections/incidents/tiles/WebMercatorQuad/14/650{0}/9863?f=mvt", "/collections/incidents/items?q=the%20of" },
    };

    [Theory]
    [MemberData(nameof(Pools))]
    public async Task A_client_holding_slow_reads_leaves_a_connection_to_others_and_its_further_reads_wait_their_turn(
        string pool, string slowUrl, string quickUrl)
    {
        var (greedy, _, _) = await host.Service.NewKeyClientAsync("greedy", Scopes.Read);
        var (other, _, _) = await host.Service.NewKeyClientAsync("other", Scopes.Read);
        await using var locker = await host.Database.DataSource.OpenConnectionAsync();
        var slow = new List<Task<HttpResponseMessage>>();
        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            // Four at once, as a map asks for its tiles: two hold their connections, two wait their turn.
            for (var n = 0; n < 4; n++) slow.Add(greedy.GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, slowUrl, n + 1)));
            await WaitForLockWaitersAsync(pool, Share);
            await Task.Delay(500);
            Assert.Equal(Share, await LockWaitersAsync(pool));

            // Another client's read on the same pool is answered while the first one's reads are held.
            var clock = Stopwatch.StartNew();
            var quick = other.GetAsync(quickUrl);
            var answered = await Task.WhenAny(quick, Task.Delay(TimeSpan.FromSeconds(5))) == quick;
            var waited = clock.Elapsed;
            Assert.True(answered, $"another client's read on {pool} was not answered within {waited.TotalSeconds:0.0} s while one client held slow reads");
            Assert.True((int)(await quick).StatusCode < 500, $"{(int)(await quick).StatusCode}: {await (await quick).Content.ReadAsStringAsync()}");
            Assert.Equal(Share, await LockWaitersAsync(pool));
            Assert.DoesNotContain(slow, t => t.IsCompleted);
            await lockHeld.RollbackAsync();
        }

        // Once its earlier reads finish, the waiting ones are served: none refused (an empty tile is a 204).
        foreach (var response in await Task.WhenAll(slow))
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_read_aborted_while_it_waits_its_turn_gives_its_place_back()
    {
        const string pool = "incidentmap-adhoc-reads";
        var (client, _, _) = await host.Service.NewKeyClientAsync("aborting", Scopes.Read);
        string Page(int day) => $"/collections/incidents/items?bbox=35,32,42,37&limit=5&datetime=2016-01-{day:00}T00:00:00Z/..";
        await using var locker = await host.Database.DataSource.OpenConnectionAsync();

        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            var held = new[] { client.GetAsync(Page(1)), client.GetAsync(Page(2)) };
            await WaitForLockWaitersAsync(pool, Share);
            using var giveUp = new CancellationTokenSource();
            var aborted = client.GetAsync(Page(3), giveUp.Token);
            var behind = client.GetAsync(Page(4));
            await Task.Delay(500);
            Assert.Equal(Share, await LockWaitersAsync(pool));
            giveUp.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => aborted);
            await Task.Delay(500);
            Assert.Equal(Share, await LockWaitersAsync(pool));
            await lockHeld.RollbackAsync();
            foreach (var response in await Task.WhenAll([.. held, behind]))
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        // Every place came back: the client again holds its whole share at once, and no more.
        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            var again = Enumerable.Range(5, Share + 1).Select(day => client.GetAsync(Page(day))).ToArray();
            await WaitForLockWaitersAsync(pool, Share);
            await Task.Delay(500);
            Assert.Equal(Share, await LockWaitersAsync(pool));
            await lockHeld.RollbackAsync();
            foreach (var response in await Task.WhenAll(again))
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task A_read_that_gets_no_turn_within_the_pools_own_wait_is_a_503_with_Retry_After_and_the_client_is_served_after()
    {
        const string pool = "incidentmap-adhoc-reads";
        var (client, _, _) = await host.ShortWait.NewKeyClientAsync("waiting", Scopes.Read);
        string Page(int day) => $"/collections/incidents/items?bbox=35,32,42,37&limit=5&datetime=2016-01-{day:00}T00:00:00Z/..";
        await using var locker = await host.Database.DataSource.OpenConnectionAsync();
        await using (var lockHeld = await locker.BeginTransactionAsync())
        {
            await locker.ExecuteAsync("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
            var held = new[] { client.GetAsync(Page(1)), client.GetAsync(Page(2)) };
            await WaitForLockWaitersAsync(pool, Share);
            var clock = Stopwatch.StartNew();
            var late = await client.GetAsync(Page(3)).WaitAsync(TimeSpan.FromSeconds(10));
            var waited = clock.Elapsed;

            var problem = await ProblemAssert.IsProblemAsync(late, HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Service busy", problem["title"]!.GetValue<string>());
            Assert.NotNull(late.Headers.RetryAfter);
            Assert.True(waited >= TimeSpan.FromSeconds(1.9), $"answered after {waited.TotalSeconds:0.00} s, before the pool's 2 s wait");
            Assert.Equal(Share, await LockWaitersAsync(pool));
            await lockHeld.RollbackAsync();
            foreach (var response in await Task.WhenAll(held))
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Page(4))).StatusCode);
    }

    [Theory]
    [InlineData("192.0.2.7")]
    [InlineData("::ffff:192.0.2.7")]
    [InlineData("2001:db8:1:2:3:4:5:6")]
    [InlineData("2001:db8:1:2::9")]
    [InlineData("2001:db8:1:3::9")]
    [InlineData("fe80::1%2")]
    [InlineData("::1")]
    [InlineData("127.0.0.1")]
    public void A_clients_key_is_its_rate_limit_partition(string address)
    {
        var ip = IPAddress.Parse(address);
        Assert.Equal("ip:" + Network(ip), ClientKey.Of(ip).ToString());
        foreach (var otherAddress in new[] { "192.0.2.7", "192.0.2.8", "2001:db8:1:2::1", "2001:db8:1:3::1", "::1" })
        {
            var other = IPAddress.Parse(otherAddress);
            Assert.Equal(Network(ip) == Network(other), ClientKey.Of(ip) == ClientKey.Of(other));
        }
    }

    private static (ConnectionShares Shares, HttpContextAccessor Http) SharesOfThree()
    {
        var http = new HttpContextAccessor();
        return (new ConnectionShares("test", ShareHost.PoolSize, ConnectionShares.DefaultPerClient(ShareHost.PoolSize),
            TimeSpan.FromSeconds(30), http), http);
    }

    private static DefaultHttpContext Client(string address) => new() { Connection = { RemoteIpAddress = IPAddress.Parse(address) } };

    [Fact]
    public async Task Waiting_reads_of_a_client_are_served_in_the_order_they_came_and_reads_outside_a_request_are_not_counted()
    {
        var (shares, http) = SharesOfThree();
        http.HttpContext = Client("192.0.2.7");
        var held = new[] { (await shares.EnterAsync(default))!, (await shares.EnterAsync(default))! };
        var waiting = Enumerable.Range(0, 3).Select(_ => shares.EnterAsync(default).AsTask()).ToArray();
        // Another address, another client: its own share.
        http.HttpContext = Client("192.0.2.8");
        Assert.True(shares.EnterAsync(default).IsCompletedSuccessfully);
        // Background work and commands: no request, no limit.
        http.HttpContext = null;
        for (var n = 0; n < 10; n++) Assert.Null(await shares.EnterAsync(default));

        await Task.Delay(100);
        Assert.DoesNotContain(waiting, w => w.IsCompleted);
        held[0].Exit();
        Assert.Same(held[0], await waiting[0].WaitAsync(TimeSpan.FromSeconds(5)));
        await Task.Delay(100);
        Assert.False(waiting[1].IsCompleted || waiting[2].IsCompleted, "one place came back: one waiting read may go");
        held[1].Exit();
        await waiting[1].WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(waiting[2].IsCompleted, "the reads went in order");
    }

    [Fact]
    public async Task A_client_idle_for_a_minute_is_forgotten_and_counted_afresh_when_it_comes_back()
    {
        var (shares, http) = SharesOfThree();
        http.HttpContext = Client("2001:db8:1:2::7");
        var busy = (await shares.EnterAsync(default))!;
        http.HttpContext = Client("2001:db8:1:3::7");
        (await shares.EnterAsync(default))!.Exit();
        Assert.Equal(2, shares.Clients);

        shares.Sweep(Environment.TickCount64 + 61_000);

        // The one holding a connection stays; the idle one is dropped.
        Assert.Equal(1, shares.Clients);
        http.HttpContext = Client("2001:db8:1:2::8");
        var second = (await shares.EnterAsync(default))!;
        Assert.Same(busy, second);
        Assert.False(shares.EnterAsync(default).IsCompleted, "the client held its share of two");
        http.HttpContext = Client("2001:db8:1:3::8");
        var back = await shares.EnterAsync(default);
        Assert.NotNull(back);
        Assert.Equal(2, shares.Clients);
    }

    /// <summary>The partition of an address as the rate limits named it before <see cref="ClientKey"/>.</summary>
    private static string Network(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4().ToString();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>Sessions of <paramref name="pool"/> waiting for the test's lock.</summary>
    private async Task<long> LockWaitersAsync(string pool)
    {
        await using var connection = await host.Database.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = @pool AND wait_event_type = 'Lock'
            """, new { pool });
    }

    private async Task WaitForLockWaitersAsync(string pool, int count)
    {
        var clock = Stopwatch.StartNew();
        long seen;
        while ((seen = await LockWaitersAsync(pool)) < count)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"{seen} of {pool}'s sessions wait for the lock after 15 s, expected {count}");
            await Task.Delay(50);
        }
    }
}
