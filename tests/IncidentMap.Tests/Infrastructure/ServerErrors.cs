using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>
/// What a test host logged at Error level, with the exception, keyed by the request's trace id (the
/// <c>traceId</c> of a problem document). A test that sees a 5xx quotes the server's own account of
/// it, so a failure in CI explains itself without the full log.
/// </summary>
public sealed class ServerErrors : ILoggerProvider
{
    private readonly ConcurrentQueue<(string? TraceId, string Text)> _errors = new();

    /// <summary>What was logged for the request that answered <paramref name="problemBody"/>, or a note that nothing was.</summary>
    public string For(string problemBody)
    {
        string? traceId = null;
        try { traceId = JsonNode.Parse(problemBody)?["traceId"]?.GetValue<string>(); } catch (System.Text.Json.JsonException) { }
        var logged = _errors.Where(e => traceId is not null && e.TraceId == traceId).Select(e => e.Text).ToList();
        return logged.Count > 0
            ? "server logged: " + string.Join("\n", logged)
            : $"the server logged no error for trace {traceId ?? "(none in the body)"}";
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(ServerErrors owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner._errors.Enqueue((Activity.Current?.Id, $"{category}: {formatter(state, exception)}\n{exception}"));
        }
    }
}
