using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>Commands that take no arguments refuse words they would ignore, but still take host options.</summary>
public sealed class CommandWordsTests
{
    [Theory]
    [InlineData("migrate", "now")]
    [InlineData("migrate", "-x")]
    [InlineData("healthcheck", "--urls", "http://127.0.0.1:1", "verbose")]
    [InlineData("serve", "--urls", "http://127.0.0.1:1", "extra")]
    public async Task A_word_a_command_would_ignore_is_exit_2_naming_it(string command, params string[] rest)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, [command, .. rest]);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains($"{command} takes no arguments ('{rest[^1]}' given)", stderr);
    }

    [Fact]
    public async Task Host_options_and_their_values_are_not_words()
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["migrate", "--Logging:LogLevel:Default", "Warning", "--Tiles:Cache=true"]);

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("schema at", stdout);
    }

    [Theory]
    [InlineData("openapi", "a.json", "b.json")]
    [InlineData("seed", "a.geojson", "--urls", "http://127.0.0.1:1", "b.geojson")]
    [InlineData("places", "import", "a.txt", "b.txt")]
    public async Task A_second_file_is_exit_2_naming_it_not_ignored(string command, params string[] rest)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, [command, .. rest]);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains($"('{rest[^1]}' given too)", stderr);
    }

    [Fact]
    public async Task Openapi_writes_its_file_whatever_host_options_follow_it()
    {
        var file = Path.Combine(Path.GetTempPath(), $"incidentmap-openapi-{Guid.NewGuid():N}.json");
        try
        {
            var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["openapi", "--urls", "http://127.0.0.1:1", file, "--Tiles:Cache", "false"]);

            Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Equal("", stdout);
            Assert.StartsWith("{", File.ReadAllText(file).TrimStart());
            Assert.Contains("\"/collections/incidents/items\"", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Commands_with_options_of_their_own_take_host_options_and_still_refuse_unknown_ones()
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["keys", "list", "--urls", "http://127.0.0.1:1", "--Tiles:Cache", "false", "--Logging:LogLevel:Default=Warning"]);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");

        (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["keys", "create", "host-options", "--scope", "write"]);
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("'--scope' is not understood", stderr);

        var csv = Path.Combine(Path.GetTempPath(), $"incidentmap-empty-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, "");
        try
        {
            // Refused for its own reason (an empty file), not for the host options.
            (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["import", csv, "--source", "hostopts", "--Tiles:Cache", "false", "--urls=http://127.0.0.1:1"]);
            Assert.DoesNotContain("not understood", stderr);
            Assert.DoesNotContain("usage:", stderr);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    /// <summary>
    /// A setting after an absolute file path (or after a flag of a command's own, --replace) is read, not
    /// lost: ASP.NET Core's command-line provider takes "/tmp/x" for a switch and took the setting's name
    /// as that switch's value, so "import /data/a.csv --Database:StatementTimeoutSeconds 0" ran with 30 s.
    /// A bad value shows that it was read: the start stops, naming it.
    /// </summary>
    [Theory]
    [InlineData("seed", "{file}")]
    [InlineData("openapi", "{file}")]
    [InlineData("import", "{file}")]
    [InlineData("places", "import", "{file}")]
    [InlineData("keys", "create", "host-options-after-flag", "--replace")]
    public async Task A_setting_after_a_file_path_or_a_flag_is_read(string command, params string[] before)
    {
        // Never created: the bad setting stops the command before it looks for the file.
        var file = Path.Combine(Path.GetTempPath(), $"incidentmap-no-such-{Guid.NewGuid():N}", "a.txt");
        Assert.StartsWith("/", file);
        string[] args = [command, .. before.Select(a => a.Replace("{file}", file, StringComparison.Ordinal)), "--Tiles:Cache", "maybe"];

        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, args);

        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("setting Tiles:Cache (environment Tiles__Cache) is 'maybe'", stderr);
    }

    /// <summary>An option missing its value, last on the line, is a usage error, not a setting quietly dropped.</summary>
    [Theory]
    [InlineData("migrate", "--Tiles:Cache")]
    [InlineData("serve", "--urls")]
    [InlineData("keys", "list", "--Tiles:Cache")]
    [InlineData("import", "a.csv", "--urls")]
    public async Task An_option_missing_its_value_is_exit_2_naming_it(string command, params string[] rest)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, [command, .. rest]);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains($"'{rest[^1]}' needs a value", stderr);
    }

    /// <summary>A usage error says what is wrong in its first line, then the usage: the usage alone left "Import f" to be guessed at.</summary>
    [Theory]
    [InlineData("'imports' is not a command", "imports", "f")]
    [InlineData("'Import' is not a command (commands are lower case: import)", "Import", "f")]
    [InlineData("'export' is not a places subcommand; places import FILE", "places", "export", "f")]
    [InlineData("places needs a subcommand", "places")]
    [InlineData("places import needs a FILE", "places", "import")]
    [InlineData("seed needs a FILE", "seed")]
    [InlineData("is a directory, not a file", "places", "import", "{dir}")]
    [InlineData("is a directory, not a file", "seed", "{dir}")]
    [InlineData("is a directory, not a file", "openapi", "{dir}")] // was exit 1, "Access to the path … is denied"
    public async Task A_usage_error_says_what_is_wrong_before_the_usage(string said, params string[] args)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, [.. args.Select(a => a.Replace("{dir}", Path.GetTempPath(), StringComparison.Ordinal))]);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains(said, stderr.Split('\n')[0]);
    }

    /// <summary>--help or -h after a command is help, not "'--help' needs a value" (exit 2) as of a setting.</summary>
    [Theory]
    [InlineData("openapi", "--help")]
    [InlineData("places", "--help")]
    [InlineData("import", "-h")]
    [InlineData("keys", "create", "--help")]
    public async Task Help_after_a_command_is_the_usage(params string[] args)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, args);

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.StartsWith("usage: IncidentMap.Api", stdout);
    }
}
