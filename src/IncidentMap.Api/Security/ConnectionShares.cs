using System.Collections.Concurrent;
using Npgsql;

namespace IncidentMap.Api.Security;

/// <summary>
/// Each client's share of one short-read pool: a client (<see cref="ClientKey"/>, as every other
/// per-client limit counts it) holds at most <see cref="PerClient"/> of its <see cref="PoolSize"/>
/// connections at once, so no single client can hold them all. Statements run up to
/// Database:StatementTimeoutSeconds, and three slow ones (a costly filter, a hexbin, stats) held every
/// connection of the pool for that long, again and again, while every other client's pages, tiles and
/// stats waited and then got a 503.
/// <para>
/// A client's further reads wait their turn, in the order they came (a map asks 6 to 12 tiles at
/// once: each is served, none refused), until the request is aborted or for as long as the pool itself
/// lets a read wait for a connection (Npgsql's Timeout); past that, the same 503 as a pool with every
/// connection busy (<see cref="ClientShareExhaustedException"/>). Reads outside a request (background
/// work, commands) are not counted.
/// </para>
/// <para>
/// The way through when the client holds less than its share is a dictionary look-up and an
/// uncontended lock on that client's own entry: no allocation and no lock shared between clients.
/// Entries of clients idle for a minute are dropped once a minute.
/// </para>
/// </summary>
public sealed class ConnectionShares
{
    private readonly ConcurrentDictionary<ClientKey, Share> _shares = new();
    private readonly IHttpContextAccessor? _http;
    private readonly string _pool;

    /// <summary>How often idle clients' entries are dropped, and how long idle they must be (ms).</summary>
    private const long SweepEveryMs = 60_000;

    private long _nextSweep = Environment.TickCount64 + SweepEveryMs;

    /// <param name="pool">The pool's name, for messages.</param>
    /// <param name="http">Where the current request is found; without one nothing is limited.</param>
    public ConnectionShares(string pool, int poolSize, int perClient, TimeSpan maxWait, IHttpContextAccessor? http)
    {
        _pool = pool;
        PoolSize = poolSize;
        PerClient = Math.Clamp(perClient, 1, poolSize);
        MaxWait = maxWait;
        _http = http;
    }

    /// <summary>
    /// The shares of <paramref name="pool"/>: its size and wait are read from its connection string;
    /// <paramref name="perClient"/> 0 is the pool's size less one (at least one).
    /// </summary>
    public static ConnectionShares For(NpgsqlDataSource pool, string name, int perClient, IHttpContextAccessor? http)
    {
        var settings = new NpgsqlConnectionStringBuilder(pool.ConnectionString);
        // Npgsql's Timeout is how long a read waits for a free connection; 0 is for ever.
        var wait = settings.Timeout == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(settings.Timeout);
        return new ConnectionShares(name, settings.MaxPoolSize, perClient > 0 ? perClient : DefaultPerClient(settings.MaxPoolSize), wait, http);
    }

    /// <summary>Connections of a pool of <paramref name="poolSize"/> one client may hold: all but one, at least one.</summary>
    public static int DefaultPerClient(int poolSize) => Math.Max(1, poolSize - 1);

    public int PoolSize { get; }

    public int PerClient { get; }

    /// <summary>How long a read may wait for its client's turn: as long as the pool lets it wait for a connection.</summary>
    public TimeSpan MaxWait { get; }

    /// <summary>Clients with an entry (holding, waiting, or not yet swept).</summary>
    internal int Clients => _shares.Count;

    /// <summary>
    /// Takes one of the current request's client's connections of this pool, waiting for its turn if it
    /// holds all of its share; give it back with <see cref="Share.Exit"/> once the connection is back in
    /// the pool. Null (nothing to give back) outside a request, or when a client may hold the whole pool.
    /// </summary>
    /// <exception cref="ClientShareExhaustedException">No turn came within <see cref="MaxWait"/>.</exception>
    public ValueTask<Share?> EnterAsync(CancellationToken ct)
    {
        if (PerClient >= PoolSize || _http?.HttpContext is not { } context) return default;
        var key = ClientKey.Of(context);
        while (true)
        {
            if (!_shares.TryGetValue(key, out var share)) share = _shares.GetOrAdd(key, static (_, owner) => new Share(owner), this);
            LinkedListNode<TaskCompletionSource> waiter;
            lock (share)
            {
                // Dropped as idle just now: look again, a fresh entry replaces it.
                if (share.Retired) continue;
                // Held below the share means no one of this client waits: a leaving read hands its place
                // to the first waiter rather than give it back.
                if (share.Held < PerClient)
                {
                    share.Held++;
                    return new ValueTask<Share?>(share);
                }
                waiter = (share.Waiting ??= new()).AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }
            return WaitAsync(share, waiter, ct);
        }
    }

    private async ValueTask<Share?> WaitAsync(Share share, LinkedListNode<TaskCompletionSource> waiter, CancellationToken ct)
    {
        try
        {
            await waiter.Value.Task.WaitAsync(MaxWait, ct);
            return share;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            bool handedOver;
            lock (share)
            {
                handedOver = waiter.List is null;
                if (!handedOver) share.Waiting!.Remove(waiter);
            }
            // A place that came as the wait ended goes on to the next waiter, or back.
            if (handedOver) share.Exit();
            if (e is TimeoutException)
                throw new ClientShareExhaustedException(
                    $"The connection pool has been exhausted for this client: its reads hold {PerClient} of the {PoolSize} connections of the " +
                    $"{_pool} pool, and this one got no turn within {MaxWait.TotalSeconds:0.###} s");
            throw;
        }
    }

    /// <summary>Drops the entries of clients that have held nothing for a minute; once a minute, off the request.</summary>
    private void SweepIfDue(long now)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + SweepEveryMs, due) != due) return;
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.owner.Sweep(state.now), (owner: this, now), preferLocal: false);
    }

    internal void Sweep(long now)
    {
        foreach (var (key, share) in _shares)
        {
            lock (share)
            {
                if (share.Held > 0 || now - share.LastUsed < SweepEveryMs) continue;
                // Under the entry's lock: a read that found this entry sees it retired and looks again.
                share.Retired = true;
                _shares.TryRemove(new KeyValuePair<ClientKey, Share>(key, share));
            }
        }
    }

    /// <summary>One client's connections of the pool; every field is read and written under a lock on it.</summary>
    public sealed class Share
    {
        private readonly ConnectionShares _owner;

        internal Share(ConnectionShares owner)
        {
            _owner = owner;
            LastUsed = Environment.TickCount64;
        }

        internal int Held;
        internal LinkedList<TaskCompletionSource>? Waiting;
        internal long LastUsed;
        internal bool Retired;

        /// <summary>Gives the connection back to the client: to its first waiting read, else to its share.</summary>
        public void Exit()
        {
            var now = Environment.TickCount64;
            TaskCompletionSource? next = null;
            lock (this)
            {
                if (Waiting?.First is { } first)
                {
                    Waiting.RemoveFirst();
                    next = first.Value;
                }
                else
                {
                    Held--;
                    LastUsed = now;
                }
            }
            next?.TrySetResult();
            _owner.SweepIfDue(now);
        }
    }
}

/// <summary>
/// A read waited past the pool's own connection timeout for its client's turn
/// (<see cref="ConnectionShares"/>): answered as a pool with every connection busy is, a 503 with
/// Retry-After (<see cref="Database.DatabaseResilience.PoolExhausted"/> knows it by its message), neither
/// retried nor counted by the circuit breaker.
/// </summary>
public sealed class ClientShareExhaustedException(string message) : NpgsqlException(message, new TimeoutException(message));
