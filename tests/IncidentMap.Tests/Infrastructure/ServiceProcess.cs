using System.Diagnostics;

namespace IncidentMap.Tests.Infrastructure;

/// <summary>The service binary run as a separate process, the way an operator runs it (the test database, no sample data, unless overridden).</summary>
public static class ServiceProcess
{
    /// <summary>A TCP port on the loopback that nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <remarks>
    /// It logs in as the service's own login and migrates as the superuser (<see cref="ApiFixture.Logins"/>).
    /// An <paramref name="environment"/> that sets ConnectionStrings__Incidents and not ConnectionStrings__Migrations
    /// runs with that one login alone: never migrations on one database and service on another.
    /// </remarks>
    public static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var folder = AppContext.BaseDirectory;
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(folder, "IncidentMap.Api.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        (start.Environment["ConnectionStrings__Incidents"], start.Environment["ConnectionStrings__Migrations"]) = ApiFixture.Logins();
        start.Environment["Seed__Path"] = "";
        // Never the port of a service someone runs on this machine.
        start.Environment["Urls"] = "http://127.0.0.1:0";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        if (environment is not null && environment.ContainsKey("ConnectionStrings__Incidents") && !environment.ContainsKey("ConnectionStrings__Migrations"))
            start.Environment.Remove("ConnectionStrings__Migrations");
        return start;
    }

    /// <summary>The environment of the service's two logins for <paramref name="database"/> of the test cluster (see <see cref="ApiFixture.Logins"/>).</summary>
    public static Dictionary<string, string> Logins(string database)
    {
        var (service, migrations) = ApiFixture.Logins(database);
        return new() { ["ConnectionStrings__Incidents"] = service, ["ConnectionStrings__Migrations"] = migrations };
    }

    /// <summary>Runs to the end (at most two minutes): exit code, standard output, standard error.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var process = Process.Start(StartInfo(environment, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', args)} still running after 2 minutes:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the service serving (until disposed) and waits until the host says it started.</summary>
    public static async Task<Serving> ServeAsync(ProcessStartInfo start)
    {
        var serving = new Serving(start);
        try
        {
            await serving.Started.WaitAsync(TimeSpan.FromMinutes(1));
        }
        catch
        {
            await serving.DisposeAsync();
            throw;
        }
        return serving;
    }

    /// <summary>A serving process and everything it wrote; disposing it kills it.</summary>
    public sealed class Serving : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _log = new();
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Serving(ProcessStartInfo start)
        {
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => Line(e.Data);
            _process.ErrorDataReceived += (_, e) => Line(e.Data);
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        internal Task Started => _started.Task;

        /// <summary>Standard output and error so far.</summary>
        public string Log
        {
            get { lock (_log) return _log.ToString(); }
        }

        private void Line(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
            if (line.Contains("Application started", StringComparison.Ordinal)) _started.TrySetResult();
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
