using IncidentMap.Api.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddIncidentMap();

var app = builder.Build();
app.UseIncidentMap();

return await app.RunCommandAsync(args);

/// <summary>Entry point; public so functional tests can host it with WebApplicationFactory.</summary>
public partial class Program;
