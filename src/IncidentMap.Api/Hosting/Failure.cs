using Npgsql;

namespace IncidentMap.Api.Hosting;

/// <summary>
/// What the service or a command says when it cannot go on: one line with what failed and why (the
/// messages of the exception and its causes, such as PostgreSQL's <c>28P01: password authentication
/// failed for user …</c> and its hint), in place of a stack trace and an abort.
/// </summary>
public static class Failure
{
    public static string Describe(string command, Exception exception) => exception is SettingsException
        ? $"IncidentMap {command}: {exception.Message}"
        : $"IncidentMap {command} failed: {Reason(exception)}";

    /// <summary>
    /// What the service says when it was asked to stop (SIGTERM, Ctrl+C) before it had started, which cancelled its
    /// start-up (<paramref name="exception"/>): a requested stop, exit code 0 as a stop once serving is, not
    /// "IncidentMap serve failed: The operation was canceled" and exit 1. Null when the exception is no such cancellation.
    /// </summary>
    public static string? Stopped(string command, Exception exception, bool stopRequested)
    {
        if (!stopRequested) return null;
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is OperationCanceledException)
            {
                // The step, whichever exception named it (a cancelled connection may come as Npgsql's error around the cancellation).
                string? step = null;
                for (var named = exception; step is null && named is not null; named = named.InnerException)
                    step = named switch { StepStoppedException s => s.Step, StepFailedException f => f.Step, _ => null };
                return $"IncidentMap {command} stopped as asked before it started serving" + (step is null ? "" : $", while {step}");
            }
        return null;
    }

    /// <summary>The messages of the exception and its inner exceptions, each said once, on one line.</summary>
    public static string Reason(Exception exception)
    {
        var parts = new List<string>();
        var hints = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { Hint: { Length: > 0 } hint }) hints.Add(hint);
            // Wrappers that only repeat their cause add nothing.
            if (e is AggregateException or System.Reflection.TargetInvocationException && e.InnerException is not null) continue;
            var message = e.Message.Trim().TrimEnd('.');
            if (message.Length > 0 && !parts.Any(p => p.Contains(message, StringComparison.OrdinalIgnoreCase))) parts.Add(message);
        }
        var line = string.Join(": ", parts) + string.Concat(hints.Select(h => $" ({h})"));
        return string.Join(' ', line.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}

/// <summary>A step of the startup or of a command failed; the message names the step, the inner exception says why.</summary>
public sealed class StepFailedException(string step, Exception cause) : Exception($"{step}: {cause.Message}", cause)
{
    public string Step { get; } = step;

    /// <summary>Runs a step, naming it in any failure; a cancellation stays one (<see cref="StepStoppedException"/>), naming the step too.</summary>
    public static async Task<T> RunAsync<T>(string step, Func<Task<T>> run)
    {
        try
        {
            return await run();
        }
        catch (OperationCanceledException e) when (e is not StepStoppedException)
        {
            throw new StepStoppedException(step, e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not StepFailedException)
        {
            throw new StepFailedException(step, e);
        }
    }

    public static Task RunAsync(string step, Func<Task> run) => RunAsync(step, async () =>
    {
        await run();
        return true;
    });
}

/// <summary>
/// A step of the startup or of a command was cancelled, the service asked to stop while it ran (SIGTERM, Ctrl+C):
/// still an <see cref="OperationCanceledException"/> (of the same token), which names the step (<see cref="Failure.Stopped"/>).
/// </summary>
public sealed class StepStoppedException(string step, OperationCanceledException cause)
    : OperationCanceledException($"{step}: {cause.Message}", cause, cause.CancellationToken)
{
    public string Step { get; } = step;
}
