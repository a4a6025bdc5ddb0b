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
    /// <summary>Runs a step, naming it in any failure but cancellation.</summary>
    public static async Task<T> RunAsync<T>(string step, Func<Task<T>> run)
    {
        try
        {
            return await run();
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
