using Npgsql;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace IncidentMap.Api.Database;

/// <summary>
/// Database fault handling. Reads retry transient faults; writes are never retried blindly (a
/// retried INSERT whose first attempt did commit would record the incident twice: clients retry with
/// an Idempotency-Key instead). Both share one circuit breaker, so a database that is down answers
/// fast 503s instead of piling up requests that wait for timeouts.
/// </summary>
public sealed class DatabaseResilience
{
    /// <summary>How long the circuit stays open before one request may try the database again.</summary>
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(3);

    public ResiliencePipeline Pipeline { get; }
    private readonly ResiliencePipeline _writes;

    private readonly NpgsqlDataSource[] _pools;
    private long _clearedAt;

    public DatabaseResilience(
        ILogger<DatabaseResilience> logger,
        NpgsqlDataSource main,
        [FromKeyedServices(DatabaseServiceCollectionExtensions.ReadsKey)] NpgsqlDataSource reads,
        [FromKeyedServices(DatabaseServiceCollectionExtensions.AdHocReadsKey)] NpgsqlDataSource adHocReads)
    {
        _pools = [main, reads, adHocReads];
        var breaker = new CircuitBreakerStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(IsTransient).Handle<TimeoutException>(),
            FailureRatio = 0.5,
            MinimumThroughput = 4,
            SamplingDuration = TimeSpan.FromSeconds(10),
            BreakDuration = BreakDuration,
            OnOpened = args =>
            {
                logger.LogError("Database circuit opened for {Duration}: {Message}", args.BreakDuration, args.Outcome.Exception?.Message);
                return default;
            },
            OnClosed = _ =>
            {
                logger.LogInformation("Database circuit closed: the database answers again");
                return default;
            },
        };
        // One breaker instance shared by both pipelines: they see the same database.
        var shared = new ResiliencePipelineBuilder().AddCircuitBreaker(breaker).Build();
        _writes = shared;
        Pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(IsTransient),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromMilliseconds(100),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is NpgsqlException fault && ServerWentAway(fault)) ClearPools();
                    logger.LogWarning(args.Outcome.Exception, "Transient database fault on a read; retry {Attempt}",
                        args.AttemptNumber + 1);
                    return default;
                },
            })
            .AddPipeline(shared)
            .Build();
    }

    /// <summary>A fault of the database or the way to it: what reads retry and the breaker counts.</summary>
    internal static bool IsTransient(NpgsqlException e) =>
        !PoolExhausted(e) && !Contention(e)
        && (e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow });

    /// <summary>
    /// Transactions in each other's way: a deadlock, a serialization failure, a lock not granted in
    /// time. Npgsql calls them transient, and they are, but they are the traffic's doing, not the
    /// database's: counted by the breaker, four writes waiting on one import's rows opened it and
    /// every other request got a 503.
    /// </summary>
    internal static bool Contention(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure
            or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.ObjectInUse };

    /// <summary>
    /// Every connection of a pool is busy (slow requests hold them) and none came free within the
    /// connection timeout. The database is fine: counted as its fault, a few slow reads opened the
    /// breaker and every other request got a 503; retried, each try waited the whole timeout again.
    /// Npgsql says so only in its message (with a TimeoutException inside, as a connect timeout has).
    /// </summary>
    internal static bool PoolExhausted(Exception e) =>
        e is NpgsqlException { InnerException: TimeoutException } and not PostgresException
        && e.Message.StartsWith("The connection pool has been exhausted", StringComparison.Ordinal);

    /// <summary>The server ended the session (a restart, a killed backend) or the socket broke.</summary>
    private static bool ServerWentAway(NpgsqlException e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown } || e.InnerException is IOException or System.Net.Sockets.SocketException;

    /// <summary>
    /// After a restart every idle pooled connection is dead, and each would fail its next read in
    /// turn: more of them than a read has retries. Dropping the idle ones at the first such fault
    /// (at most once a second) makes the retry open a fresh connection.
    /// </summary>
    private void ClearPools()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _clearedAt);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _clearedAt, now, last) != last) return;
        foreach (var pool in _pools) pool.Clear();
    }

    public ValueTask<T> ExecuteAsync<T>(Func<CancellationToken, ValueTask<T>> read, CancellationToken ct) =>
        Pipeline.ExecuteAsync(read, ct);

    /// <summary>A write: through the circuit breaker, never retried.</summary>
    public async Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> write, CancellationToken ct) =>
        await _writes.ExecuteAsync(async token => await write(token), ct);
}
