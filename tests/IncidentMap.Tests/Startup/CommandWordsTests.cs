using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>Commands that take no arguments refuse words they would ignore, but still take host options.</summary>
public sealed class CommandWordsTests
{
    [Theory]
    [InlineData("migrate", "now")]
    [InlineData("healthcheck", "--urls", "http://127.0.0.1:1", "verbose")]
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
}
