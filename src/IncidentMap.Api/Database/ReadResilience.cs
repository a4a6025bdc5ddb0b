using Npgsql;
using Polly;
using Polly.Retry;

namespace IncidentMap.Api.Database;

/// <summary>
/// Retries transient database faults for reads only. Writes are never retried blindly: a retried
/// INSERT whose first attempt actually committed would record the incident twice.
/// </summary>
public sealed class ReadResilience
{
    public ResiliencePipeline Pipeline { get; }

    public ReadResilience(ILogger<ReadResilience> logger)
    {
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
                    logger.LogWarning(args.Outcome.Exception, "Transient database fault on a read; retry {Attempt}",
                        args.AttemptNumber + 1);
                    return default;
                },
            })
            .Build();
    }

    private static bool IsTransient(NpgsqlException e) =>
        e.IsTransient || e is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CannotConnectNow };

    public ValueTask<T> ExecuteAsync<T>(Func<CancellationToken, ValueTask<T>> read, CancellationToken ct) =>
        Pipeline.ExecuteAsync(read, ct);
}
