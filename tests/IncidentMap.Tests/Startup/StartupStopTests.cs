using Dapper;
using IncidentMap.Api.Places;
using IncidentMap.Tests.Imports;
using IncidentMap.Tests.Infrastructure;

namespace IncidentMap.Tests.Startup;

/// <summary>
/// A stop asked for while the service starts (SIGTERM from docker stop, Ctrl+C) is a stop: it printed "IncidentMap serve
/// failed: The operation was canceled" and exited 1, as a failure to start does (and compose's restart: on-failure
/// would start it again). Now exit 0, as a stop once serving is, naming the step it was in.
/// </summary>
public sealed class StartupStopTests
{
    [Fact]
    public async Task SIGTERM_while_the_service_loads_the_gazetteer_is_a_clean_stop_naming_the_step()
    {
        await using var database = await OwnDatabase.CreateAsync("startstop");
        // The lock that loading the gazetteer takes first, held here: the start-up waits in that step until told to stop.
        await using var holder = await database.DataSource.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync($"SELECT pg_advisory_xact_lock({Gazetteer.LoadLock})", transaction: held);

        await using var service = new SignalledProcess(ServiceProcess.StartInfo(ServiceProcess.Logins(database.Name), "serve"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var watcher = await database.DataSource.OpenConnectionAsync())
            while (await watcher.ExecuteScalarAsync<long>(
                       "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"the service never waited for the gazetteer's lock:\n{service.Output}");
                await Task.Delay(100);
            }

        service.Signal(SignalledProcess.SIGTERM);
        var exit = await service.ExitAsync(TimeSpan.FromSeconds(30));

        Assert.True(exit == 0, $"exit {exit}\n{service.Output}");
        Assert.Contains("IncidentMap serve stopped as asked before it started serving, while loading the gazetteer from ", service.Stderr);
        Assert.DoesNotContain("serve failed", service.Output);
    }
}
