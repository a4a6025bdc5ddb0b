using Dapper;
using IncidentMap.Tests.Infrastructure;
using Npgsql;

namespace IncidentMap.Tests.Startup;

/// <summary><c>keys …</c> refuses what it does not understand (exit 2, naming it) instead of making a key with read scope only.</summary>
public sealed class KeysCommandTests
{
    [Theory]
    [InlineData("'--scope'", "--scope", "write")]
    [InlineData("'-s'", "-s", "write")]
    [InlineData("--scopes needs a value", "--scopes")]
    [InlineData("'extra'", "--scopes", "read", "extra", "args")]
    [InlineData("--scopes is given twice", "--scopes", "read", "--scopes", "write")]
    [InlineData("'--scopes=write'", "--scopes=write")]
    public async Task An_option_it_does_not_understand_is_exit_2_naming_it_and_makes_no_key(string named, params string[] options)
    {
        var name = "k" + Guid.NewGuid().ToString("N")[..10];

        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, ["keys", "create", name, .. options]);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("", stdout);
        Assert.Contains(named, stderr);
        Assert.Contains("usage: keys create NAME", stderr);
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        await connection.OpenAsync();
        var tableExists = await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('api_keys') IS NOT NULL");
        if (tableExists) Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM api_keys WHERE name = @name", new { name }));
    }

    /// <summary>"--scopes write,bogus" said only "scopes must be among read, write, admin", not which was none.</summary>
    [Theory]
    [InlineData("write,bogus", "'bogus' is not a scope: scopes must be among read, write, admin")]
    [InlineData("bogus,Read,write", "'bogus', 'Read' are not scopes: scopes must be among read, write, admin")]
    public async Task A_scope_that_is_none_is_exit_2_naming_it(string scopes, string said)
    {
        var name = "k" + Guid.NewGuid().ToString("N")[..10];

        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "keys", "create", name, "--scopes", scopes);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("", stdout);
        Assert.Contains(said, stderr);
    }

    [Theory]
    [InlineData("keys")]
    [InlineData("keys", "create")]
    [InlineData("keys", "list", "extra")]
    [InlineData("keys", "revoke")]
    [InlineData("keys", "revoke", "a", "b")]
    [InlineData("keys", "rotate", "x")]
    public async Task A_malformed_keys_command_is_exit_2_with_the_usage(params string[] args)
    {
        var (exit, _, stderr) = await ServiceProcess.RunAsync(null, args);

        Assert.True(exit == 2, $"exit {exit}\n{stderr}");
        Assert.Contains("usage: keys create NAME", stderr);
    }

    [Fact]
    public async Task A_well_formed_create_makes_the_key_with_the_scopes_asked()
    {
        var name = "k" + Guid.NewGuid().ToString("N")[..10];

        var (exit, stdout, stderr) = await ServiceProcess.RunAsync(null, "keys", "create", name, "--scopes", "read,write", "--replace");

        Assert.True(exit == 0, $"exit {exit}\n{stderr}");
        Assert.StartsWith("im_", stdout.Trim());
        Assert.Contains("with scopes read,write", stderr);
    }

    [Fact]
    public async Task A_scope_named_twice_is_stored_once()
    {
        var name = "k" + Guid.NewGuid().ToString("N")[..10];

        var (exit, _, stderr) = await ServiceProcess.RunAsync(null, "keys", "create", name, "--scopes", "read,read,write,read");

        Assert.True(exit == 0, $"exit {exit}\n{stderr}");
        Assert.Contains("with scopes read,write;", stderr);
        await using var connection = new NpgsqlConnection(ApiFixture.ConnectionString);
        Assert.Equal(["read", "write"], (await connection.ExecuteScalarAsync<string[]>("SELECT scopes FROM api_keys WHERE name = @name", new { name }))!);
    }
}
