using System.Diagnostics;
using System.Text;
using IncidentMap.Api.Changes;
using IncidentMap.Api.Hosting;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// The service and its commands, run as processes, fail with one line on stderr saying what failed
/// and why, and exit code 1: no stack trace, no abort (exit 134).
/// </summary>
public sealed class StartupFailureTests
{
    private static Dictionary<string, string> Env(params (string Key, string Value)[] values) => values.ToDictionary(v => v.Key, v => v.Value);

    /// <summary>Exit code 1, and stderr's last line is the reason, with no stack trace anywhere.</summary>
    private static string AssertFailedOnce((int Exit, string Out, string Err) run)
    {
        var all = run.Out + run.Err;
        Assert.True(run.Exit == 1, $"exit {run.Exit}\n{all}");
        Assert.DoesNotContain("   at ", all);
        Assert.DoesNotContain("Unhandled exception", all);
        var lines = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.NotEmpty(lines);
        return lines[^1];
    }

    [Theory]
    [InlineData("Database__ReadConnections", "abc")]
    [InlineData("Feed__RetentionDays", "-1")]
    [InlineData("Cors__AllowedOrigins__0", "https://example.org/")]
    [InlineData("Urls", "garbage")]
    [InlineData("Seed__Path", "/nonexistent")]
    public async Task A_bad_setting_stops_the_service_before_it_serves_with_one_line(string variable, string value)
    {
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env((variable, value))));

        Assert.StartsWith("IncidentMap serve: setting ", line);
        // Urls is also ASP.NET Core's ASPNETCORE_URLS: both are named.
        Assert.Contains(variable == "Urls" ? $"(environment Urls or ASPNETCORE_URLS) is '{value}'" : $"(environment {variable}) is '{value}'", line);
    }

    [Fact]
    public async Task A_bad_setting_stops_a_command_too()
    {
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env(("Tiles__Cache", "maybe")), "migrate"));

        Assert.Contains("Tiles:Cache", line);
    }

    /// <summary>ASP.NET Core refused it as the host was built: "Configuration value 'verbose' is not supported", naming no setting.</summary>
    [Fact]
    public async Task A_log_level_that_is_none_is_one_line_naming_the_setting()
    {
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env(("Logging__LogLevel__Default", "verbose")), "serve"));

        Assert.StartsWith("IncidentMap serve: setting Logging:LogLevel:Default (environment Logging__LogLevel__Default) is 'verbose': it must be a log level: Trace, Debug, Information", line);
    }

    [Fact]
    public async Task An_unreachable_database_is_one_line_naming_the_step_and_the_reason()
    {
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env(
            ("ConnectionStrings__Incidents", "Host=127.0.0.1;Port=1;Username=u;Password=secret-pw;Database=d;Timeout=5"))));

        Assert.StartsWith("IncidentMap serve failed: migrating the database at 127.0.0.1:1: Failed to connect to 127.0.0.1:1", line);
        Assert.DoesNotContain("secret-pw", line);
    }

    /// <summary>
    /// A command's migration is a named step as the startup's is, naming the server: keys, import, seed and places import
    /// called the migrator directly and said only "IncidentMap keys failed: Name or service not known" (or "The operation
    /// has timed out"), naming neither the step nor the server.
    /// </summary>
    [Theory]
    [InlineData("keys", "list")]
    [InlineData("import", "{csv}")]
    [InlineData("places", "import", "{csv}")]
    [InlineData("seed", "{csv}")]
    [InlineData("migrate")]
    public async Task A_commands_unreachable_database_names_the_step_and_the_server_not_the_password(string command, params string[] rest)
    {
        var csv = Path.Combine(Path.GetTempPath(), $"incidentmap-unreachable-{Guid.NewGuid():N}.csv");
        await File.WriteAllTextAsync(csv, "external_id,title,event_type,occurred_at,lon,lat\n");
        try
        {
            var line = AssertFailedOnce(await ServiceProcess.RunAsync(
                Env(("ConnectionStrings__Incidents", "Host=nosuch.invalid;Port=5439;Username=u;Password=secret-pw;Database=d;Timeout=5")),
                [command, .. rest.Select(r => r.Replace("{csv}", csv, StringComparison.Ordinal))]));

            Assert.StartsWith($"IncidentMap {command} failed: migrating the database at nosuch.invalid:5439: ", line);
            Assert.DoesNotContain("secret-pw", line);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    [Fact]
    public async Task A_connection_string_that_does_not_parse_is_one_line_repeating_nothing_of_it()
    {
        // A ';' in an unquoted password makes its tail a keyword, which Npgsql's message quoted.
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env(
            ("ConnectionStrings__Incidents", "Host=127.0.0.1;Port=1;Username=u;Password=Sup3r;Secr3tPart;Database=d")), "migrate"));

        Assert.Contains("is not an Npgsql connection string", line);
        Assert.DoesNotContain("secr3t", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Sup3r", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_says_what_PostgreSQL_said()
    {
        var connection = new NpgsqlConnectionStringBuilder(ApiFixture.ConnectionString) { Password = "not-the-password" };

        var line = AssertFailedOnce(await ServiceProcess.RunAsync(Env(("ConnectionStrings__Incidents", connection.ConnectionString)), "migrate"));

        Assert.Contains("28P01: password authentication failed for user", line);
    }

    [Fact]
    public async Task Seeding_a_file_that_is_not_JSON_is_one_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-json-{Guid.NewGuid():N}.geojson");
        await File.WriteAllTextAsync(path, "not json at all");
        try
        {
            var line = AssertFailedOnce(await ServiceProcess.RunAsync(null, "seed", path));

            Assert.Contains($"{path} is not a GeoJSON FeatureCollection", line);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Writing_the_OpenAPI_document_where_there_is_no_folder_is_one_line()
    {
        var line = AssertFailedOnce(await ServiceProcess.RunAsync(null, "openapi", "/nonexistent/x.json"));

        Assert.Contains("IncidentMap openapi failed", line);
        Assert.Contains("/nonexistent/x.json", line);
    }

    [Fact]
    public async Task Importing_a_gz_file_that_is_not_gzip_says_so()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-gzip-{Guid.NewGuid():N}.csv.gz");
        await File.WriteAllTextAsync(path, "external_id,title\n");
        try
        {
            var line = AssertFailedOnce(await ServiceProcess.RunAsync(null, "import", path));

            Assert.Contains("not gzip-compressed", line);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task On_a_fresh_database_nothing_reads_the_schema_before_the_migrations_made_it()
    {
        await using var database = await OwnDatabase.CreateAsync("startup");
        string name;
        await using (var connection = await database.DataSource.OpenConnectionAsync()) name = connection.Database;
        var (service, migrations) = ApiFixture.Logins(name);
        var start = ServiceProcess.StartInfo(Env(
            ("ConnectionStrings__Incidents", service), ("ConnectionStrings__Migrations", migrations),
            ("Gazetteer__Path", "")));
        string text;
        await using (var serving = await ServiceProcess.ServeAsync(start))
        {
            // The change listener and the feed's retention start with the host: give them a moment.
            await Task.Delay(TimeSpan.FromSeconds(2));
            text = serving.Log;
        }

        Assert.DoesNotContain("does not exist", text);
        Assert.DoesNotContain("warn:", text);
        // Also no "Change retention skipped this hour": its first pass (with the Idempotency-Key purge) ran.
        Assert.DoesNotContain("fail:", text);
        Assert.Contains("Application started", text);
    }

    [Fact]
    public async Task Feed_retention_stopped_with_its_service_ends_as_stopped_not_as_failed()
    {
        await using var dataSource = NpgsqlDataSource.Create(ApiFixture.ConnectionString);
        var retention = new FeedRetention(dataSource, Settings.From(new ConfigurationBuilder().Build()), NullLogger<FeedRetention>.Instance);

        await retention.StartAsync(CancellationToken.None);
        await Task.Delay(500);
        await retention.StopAsync(CancellationToken.None);

        // A canceled task is what the host logs as "BackgroundService failed".
        Assert.True(retention.ExecuteTask!.IsCompletedSuccessfully, $"ended {retention.ExecuteTask.Status}");
    }
}
