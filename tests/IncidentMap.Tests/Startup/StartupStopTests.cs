using System.Net;
using System.Net.Sockets;
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
    public async Task SIGTERM_while_the_service_starts_is_a_clean_stop_naming_the_step()
    {
        // A "database" that takes connections and never answers: the start-up waits in its first step, migrating.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = new System.Collections.Concurrent.ConcurrentQueue<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true) accepted.Enqueue(await silent.AcceptTcpClientAsync());
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The listener stopped.
            }
        });
        var database = $"Host=127.0.0.1;Port={port};Username=u;Password=p;Database=d;Timeout=120;Command Timeout=120";
        try
        {
            await using var service = new SignalledProcess(ServiceProcess.StartInfo(new Dictionary<string, string>
            {
                ["ConnectionStrings__Incidents"] = database, ["ConnectionStrings__Migrations"] = database, ["Gazetteer__Path"] = "",
            }, "serve"));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (accepted.IsEmpty)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), $"the service never connected:\n{service.Output}");
                await Task.Delay(50);
            }
            await Task.Delay(500); // inside the step, its connection waiting for an answer

            service.Signal(SignalledProcess.SIGTERM);
            var exit = await service.ExitAsync(TimeSpan.FromSeconds(30));

            Assert.True(exit == 0, $"exit {exit}\n{service.Output}");
            Assert.Contains($"IncidentMap serve stopped as asked before it started serving, while migrating the database at 127.0.0.1:{port}", service.Stderr);
            Assert.DoesNotContain("serve failed", service.Output);
        }
        finally
        {
            silent.Stop();
            await accepting;
            foreach (var client in accepted) client.Dispose();
        }
    }
}
