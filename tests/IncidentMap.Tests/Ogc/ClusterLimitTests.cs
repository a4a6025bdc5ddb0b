using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace IncidentMap.Tests.Ogc;

/// <summary>
/// The service over a database of its own holding <see cref="Incidents"/> incidents on a grid 0.01° apart
/// (each in a cell of its own from zoom 13 on), more than a /clusters answer may hold; it records the
/// SQL each statement ran.
/// </summary>
public sealed class ManyIncidentsFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const int Incidents = 60_000;

    private OwnDatabase _database = null!;

    public ConcurrentQueue<string> Statements { get; } = new();

    public async Task InitializeAsync()
    {
        _database = await OwnDatabase.CreateAsync("clusters", commandTimeoutSeconds: 300);
        _ = Services; // starting the host migrates the database
        await using var connection = await _database.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO incidents (title, event_type, occurred_at, geom)
            SELECT 'Clash ' || g, 'battles', '2016-01-01', ST_SetSRID(ST_MakePoint(30 + (g % 300) * 0.01, 30 + (g / 300) * 0.01), 4326)
            FROM generate_series(0, @last) AS g
            """, new { last = Incidents - 1 });
        await connection.ExecuteAsync("ANALYZE incidents");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ApiFixture.Configure(builder);
        ApiFixture.UseDatabase(builder, _database.Name);
        builder.UseSetting("Gazetteer:Path", "");
        builder.ConfigureLogging(logging =>
        {
            logging.AddProvider(new StatementLog(Statements));
            logging.AddFilter<StatementLog>("Npgsql.Command", LogLevel.Trace);
        });
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }

    /// <summary>Npgsql's own account of each command it ran ("Executing command: …").</summary>
    private sealed class StatementLog(ConcurrentQueue<string> statements) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => categoryName.StartsWith("Npgsql.Command", StringComparison.Ordinal) ? this : NullLogger;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            statements.Enqueue(formatter(state, exception));

        public void Dispose() { }

        private static readonly ILogger NullLogger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }
}

/// <summary>
/// A /clusters answer over 50,000 clusters is refused rather than cut short; where that is sure
/// before the clusters are computed, they are not (a deep zoom over the world took 2.5 s of a
/// database core on a million incidents, only to answer 400).
/// </summary>
public sealed class ClusterLimitTests(ManyIncidentsFactory api) : IClassFixture<ManyIncidentsFactory>
{
    private readonly HttpClient _client = api.CreateClient();

    /// <summary>The statements a request ran that aggregate clusters (TileSql.Clusters groups by cell).</summary>
    private async Task<List<string>> AggregationsDuringAsync(Func<Task> request)
    {
        api.Statements.Clear();
        await request();
        return [.. api.Statements.Where(s => s.Contains("GROUP BY cx, cy", StringComparison.Ordinal))];
    }

    [Theory]
    [InlineData("zoom=24")]
    [InlineData("zoom=16")]
    [InlineData("zoom=24&bbox=20,20,40,40")]
    public async Task Too_many_clusters_are_refused_without_computing_them(string query)
    {
        HttpResponseMessage response = null!;
        var aggregations = await AggregationsDuringAsync(async () => response = await _client.GetAsync($"/collections/incidents/clusters?{query}"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "zoom");
        Assert.Empty(aggregations);
    }

    [Theory]
    [InlineData("zoom=24&bbox=30,30,30.5,30.5", 51 * 51)]        // deep, over a small area
    [InlineData("zoom=2", ManyIncidentsFactory.Incidents)]        // few cells: no count first
    [InlineData("zoom=24&filter=title%20LIKE%20%27Clash%2012_%27", 10)]
    public async Task Deep_zooms_over_few_incidents_still_answer_and_add_up(string query, int incidents)
    {
        JsonObject clusters = null!;
        var aggregations = await AggregationsDuringAsync(async () => clusters = await _client.GetJsonAsync($"/collections/incidents/clusters?{query}"));

        Assert.Equal(incidents, clusters["features"]!.AsArray().Sum(f => f!["properties"]!["count"]!.GetValue<int>()));
        Assert.NotEmpty(aggregations); // the log sees the statement the refusals above do without
    }

    [Fact]
    public async Task A_map_viewport_at_zoom_24_spans_too_few_cells_to_need_a_count_first()
    {
        // 1920 × 1080 pixels at zoom 24 over the grid's corner: 7.5 × 4.2 tiles of 8 × 8 cells, about 2,000.
        var (east, north) = (30 + 1920 * 360.0 / (256.0 * (1 << 24)), 30 + 0.000065);
        var bbox = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"29.99999,29.99999,{east},{north}");

        api.Statements.Clear();
        var clusters = await _client.GetJsonAsync($"/collections/incidents/clusters?zoom=24&bbox={bbox}");

        Assert.Equal(1, Assert.Single(clusters["features"]!.AsArray())!["properties"]!["count"]!.GetValue<int>());
        Assert.DoesNotContain(api.Statements, s => s.Contains("count(DISTINCT", StringComparison.Ordinal));
    }
}
