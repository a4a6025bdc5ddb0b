using System.Globalization;
using System.Reflection;
using IncidentMap.Api.Hosting;

// --help or -h after a command too (openapi --help): it said "'--help' needs a value", as of a setting.
if (args is ["--help" or "-h" or "help" or "-?", ..] || args.Any(a => a is "--help" or "-h"))
{
    // Before the host is built: asking how to use the binary must not connect, migrate or serve.
    Console.WriteLine(IncidentMapHost.Usage);
    return 0;
}

// ICU is on for Unicode normalisation (the csproj says why), not for the machine's language: numbers,
// dates and comparisons read and write the same whatever LANG is (de_DE would write 1,5 for 1.5).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;

var (command, _) = IncidentMapHost.Command(args);
WebApplication? app = null;
// Taken before the host runs: a host that failed to start is disposed, and its services with it.
var stopping = CancellationToken.None;
try
{
    // The configuration reads the host options alone (--urls URL, --Tiles:Cache false), never a command's
    // words and options, which ASP.NET Core would read as settings too (IncidentMapHost.ConfigurationArguments).
    var builder = WebApplication.CreateBuilder(IncidentMapHost.ConfigurationArguments(args));
    // A one-shot command prints its result on stdout (a report, a key, a document): logs go to stderr.
    if (command != "serve")
        builder.Logging.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
    // The host logs a failure to start (a port in use) with its stack trace, and a background service's
    // failure twice (error, then critical with the same exception): the critical line alone stays,
    // and a failure to start is the one line below.
    builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
    builder.AddIncidentMap();

    app = builder.Build();
    stopping = app.Lifetime.ApplicationStopping;
    app.UseIncidentMap();

    return await app.RunCommandAsync(args);
}
// A bad setting, an unreachable database, a file that is not what it should be: one line on stderr
// saying what failed and why, and exit code 1, not a stack trace and an abort. Hosted by the tests'
// WebApplicationFactory (another entry assembly), the exception goes on to the test that started it;
// HostAbortedException is how tools that only build the host stop it.
catch (Exception e) when (e is not HostAbortedException && Assembly.GetEntryAssembly() == typeof(Program).Assembly)
{
    // The console logger writes from a queue: what it holds comes first, the reason last.
    if (app is not null)
    {
        try
        {
            await app.DisposeAsync();
        }
        catch (Exception)
        {
            // Disposing is only for the logs' sake here.
        }
    }
    // Asked to stop (SIGTERM, Ctrl+C) while it started (migrating, loading the gazetteer …): a stop, as one while serving is.
    if (Failure.Stopped(command, e, stopping.IsCancellationRequested) is { } stopped)
    {
        await Console.Error.WriteLineAsync(stopped);
        return 0;
    }
    await Console.Error.WriteLineAsync(Failure.Describe(command, e));
    return 1;
}

/// <summary>Entry point; public so functional tests can host it with WebApplicationFactory.</summary>
public partial class Program;
