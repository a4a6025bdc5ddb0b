using Npgsql;

namespace IncidentMap.Api.Imports;

/// <summary>
/// The database failures that end an import part-way with a report, as a stop does (<see cref="ImportStop"/>):
/// a batch that ran past <see cref="ImportSettings.BatchTimeout"/>, one that deadlocked on every try, a lost
/// connection. Earlier batches are committed by then, so a bare 503 ("the database could not be reached")
/// would leave the client not knowing what was stored; the report says how far the import got, and sending
/// the same file again completes it. Any other exception is a bug, and fails the import as before.
/// </summary>
internal static class ImportFailure
{
    /// <summary>How the report's reason goes on from "failed", or null for an error that is not one of these.</summary>
    public static string? Cause(Exception error, TimeSpan batchTimeout) => error switch
    {
        // statement_timeout, which the writer sets to the batch timeout.
        PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } =>
            $"because a batch ran past the {Describe(batchTimeout)} a batch may take in the database " +
            "(it waited for incidents that other writers held, or indexed large shapes)",
        PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure } =>
            $"because a batch deadlocked with other writers of the same incidents on each of its {ImportBatchWriter.Attempts} tries",
        NpgsqlException { InnerException: TimeoutException } or TimeoutException =>
            $"because the database did not answer a batch within {Describe(batchTimeout)}",
        NpgsqlException { IsTransient: true } => "because the database could not be reached",
        _ => null,
    };

    private static string Describe(TimeSpan time) =>
        time.TotalMinutes >= 1 && time.Seconds == 0 ? $"{time.TotalMinutes:0.#} min" : $"{time.TotalSeconds:0.#} s";
}
