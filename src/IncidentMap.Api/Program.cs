using IncidentMap.Api.Hosting;

if (args is ["--help" or "-h" or "help" or "-?", ..])
{
    // Before the host is built: asking how to use the binary must not connect, migrate or serve.
    Console.WriteLine(IncidentMapHost.Usage);
    return 0;
}

var builder = WebApplication.CreateBuilder(args);
builder.AddIncidentMap();

var app = builder.Build();
app.UseIncidentMap();

return await app.RunCommandAsync(args);

/// <summary>Entry point; public so functional tests can host it with WebApplicationFactory.</summary>
public partial class Program;
