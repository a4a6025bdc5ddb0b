using IncidentMap.Api.Hosting;

if (args is ["--help" or "-h" or "help" or "-?", ..])
{
    // Before the host is built: asking how to use the binary must not connect, migrate or serve.
    Console.WriteLine(IncidentMapHost.Usage);
    return 0;
}

var builder = WebApplication.CreateBuilder(args);
// A one-shot command prints its result on stdout (a report, a key, a document): logs go to stderr.
if (args is [var command, ..] && !command.StartsWith('-') && command != "serve")
    builder.Logging.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
builder.AddIncidentMap();

var app = builder.Build();
app.UseIncidentMap();

return await app.RunCommandAsync(args);

/// <summary>Entry point; public so functional tests can host it with WebApplicationFactory.</summary>
public partial class Program;
