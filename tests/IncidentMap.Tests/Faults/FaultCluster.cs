using System.Diagnostics;
using Npgsql;

namespace IncidentMap.Tests.Faults;

/// <summary>
/// Which PostgreSQL the fault test may stop, restart and whose backends it may kill.
/// Inside ./test.sh (CI, where the suite runs alone) that is the test cluster itself; to run the fault
/// test while others use that cluster, point it at a second one (tools/fault-test.sh does):
/// <list type="bullet">
/// <item>INCIDENTMAP_FAULT_CLUSTER_SCRIPT (default INCIDENTMAP_CLUSTER_SCRIPT): the db/cluster.sh to drive;</item>
/// <item>INCIDENTMAP_FAULT_CONNECTION (default INCIDENTMAP_TEST_CONNECTION): the database the service under test uses, as the superuser
/// (the fault driver's login, and the service's migrations');</item>
/// <item>INCIDENTMAP_FAULT_APP_CONNECTION (default INCIDENTMAP_TEST_APP_CONNECTION): the service's own login to it;</item>
/// <item>INCIDENTMAP_FAULT_PG_STATE: passed to the script as INCIDENTMAP_PG_STATE (its state dir), when set;</item>
/// <item>FAULT_ROUNDS: rounds of faults (default 3, the shortened suite run).</item>
/// </list>
/// </summary>
public sealed class FaultCluster
{
    public string Script { get; }
    public string ConnectionString { get; }
    public string AppConnectionString { get; }
    public string? StateDir { get; }

    private FaultCluster(string script, string connectionString, string appConnectionString, string? stateDir)
    {
        Script = script;
        ConnectionString = connectionString;
        AppConnectionString = appConnectionString;
        StateDir = stateDir;
    }

    public static FaultCluster FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
        var script = Env("INCIDENTMAP_FAULT_CLUSTER_SCRIPT") ?? Env("INCIDENTMAP_CLUSTER_SCRIPT")
            ?? throw new InvalidOperationException(
                "Neither INCIDENTMAP_FAULT_CLUSTER_SCRIPT nor INCIDENTMAP_CLUSTER_SCRIPT is set: run ./test.sh or tools/fault-test.sh");
        var connection = Env("INCIDENTMAP_FAULT_CONNECTION") ?? Env("INCIDENTMAP_TEST_CONNECTION")
            ?? throw new InvalidOperationException(
                "Neither INCIDENTMAP_FAULT_CONNECTION nor INCIDENTMAP_TEST_CONNECTION is set: run ./test.sh or tools/fault-test.sh");
        var app = Env("INCIDENTMAP_FAULT_APP_CONNECTION") ?? Env("INCIDENTMAP_TEST_APP_CONNECTION")
            ?? throw new InvalidOperationException(
                "Neither INCIDENTMAP_FAULT_APP_CONNECTION nor INCIDENTMAP_TEST_APP_CONNECTION is set: run ./test.sh or tools/fault-test.sh");
        return new FaultCluster(script, connection, app, Env("INCIDENTMAP_FAULT_PG_STATE"));
    }

    public static int Rounds() =>
        int.TryParse(Environment.GetEnvironmentVariable("FAULT_ROUNDS"), out var rounds) && rounds > 0 ? rounds : 3;

    /// <summary>Where the service and the cluster are, for the summary (no password).</summary>
    public string Describe()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database} via {Script}" + (StateDir is null ? "" : $" (state {StateDir})");
    }

    /// <summary>Runs <c>cluster.sh ARGS</c>; fails the test when it fails.</summary>
    public async Task RunScriptAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Script) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        if (StateDir is not null)
        {
            // The state dir remembers its cluster's port; a port meant for the main cluster must not leak in.
            start.Environment["INCIDENTMAP_PG_STATE"] = StateDir;
            start.Environment.Remove("INCIDENTMAP_PG_PORT");
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} did not finish within 2 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"cluster.sh {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
    }

    /// <summary>A fresh, unpooled connection: pooled ones would be the very sessions the faults kill.</summary>
    public async Task<NpgsqlConnection> OpenAsync(TimeSpan? patience = null)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(ConnectionString)
        {
            Pooling = false, ApplicationName = "incidentmap-fault-driver", Timeout = 5,
        }.ConnectionString;
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var connection = new NpgsqlConnection(connectionString);
            try
            {
                await connection.OpenAsync();
                return connection;
            }
            catch (Exception e) when ((e is NpgsqlException or TimeoutException) && DateTime.UtcNow < deadline)
            {
                await connection.DisposeAsync();
                await Task.Delay(200);
            }
        }
    }

    /// <summary>Kills every other session of the database (the service's pooled connections, its LISTEN connection).</summary>
    public async Task<int> TerminateBackendsAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """, connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
