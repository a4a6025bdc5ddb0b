using System.Diagnostics;
using System.Globalization;
using Dapper;
using IncidentMap.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace IncidentMap.Tests.Faults;

/// <summary>
/// PostgreSQL is stopped, restarted (fast and immediate) and has its backends killed while writers and
/// readers keep the service busy. Afterwards every acknowledged write is stored exactly once, nothing
/// is stored twice, no request got a 500, and the service recovered within seconds after each fault.
/// Serial: it takes the whole cluster down (see <see cref="FaultCluster"/> for which one).
/// Shortened here (FAULT_ROUNDS, default 3); tools/fault-test.sh runs the full length on a cluster of its own.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FaultTests(ApiFixture api, ITestOutputHelper output)
{
    private const int Writers = 6;
    private const int Readers = 3;
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    private sealed record Fault(int Number, string Kind, double OutageSeconds, double? RecoverySeconds, string Note);

    private void Say(string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line);
    }

    [Fact]
    public async Task Acknowledged_writes_survive_postgres_restarts_and_killed_backends_exactly_once()
    {
        var cluster = FaultCluster.FromEnvironment();
        var rounds = FaultCluster.Rounds();
        var runTag = "fault-" + Guid.NewGuid().ToString("N")[..12];
        var failures = new List<string>();
        var faults = new List<Fault>();
        var stats = new LoadStats();
        var clusterDown = false;
        var wall = Stopwatch.StartNew();

        await using var host = new FaultHost(cluster.AppConnectionString, cluster.ConnectionString);
        await host.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
        {
            BaseAddress = new Uri(host.BaseUrl),
            Timeout = TimeSpan.FromSeconds(15),
        };
        http.DefaultRequestHeaders.Add("X-API-Key", host.Key);
        var load = new FaultLoad(http, runTag, stats);
        Say($"fault test {runTag}: {rounds} round(s), {Writers} writers, {Readers} readers; database {cluster.Describe()}; service log {host.LogPath}");

        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(() => load.WriterAsync(w, stop.Token)))
            .Concat(Enumerable.Range(0, Readers).Select(r => Task.Run(() => load.ReaderAsync(r, stop.Token))))
            .ToArray();

        async Task Recover(string kind, double outage, string note)
        {
            var recovery = await load.MeasureRecoveryAsync($"probe{faults.Count + 1}", TimeSpan.FromSeconds(30));
            var fault = new Fault(faults.Count + 1, kind, outage, recovery?.TotalSeconds, note);
            faults.Add(fault);
            var recovered = recovery is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r.TotalSeconds:0.00} s later") : "NOT within 30 s";
            Say(string.Create(CultureInfo.InvariantCulture,
                $"  fault {fault.Number} at {wall.Elapsed.TotalSeconds:0.0} s: {kind}{note}: database back after {outage:0.0} s, service recovered {recovered}"));
            if (recovery is null || recovery > RecoveryLimit)
                failures.Add($"fault {fault.Number} ({kind}): the service did not recover within {RecoveryLimit.TotalSeconds} s");
        }

        try
        {
            await Task.Delay(Settle);
            string[] outages = ["restart -m fast", "restart -m immediate", "stop -m fast, 2 s, start"];
            for (var round = 0; round < rounds; round++)
            {
                var kind = outages[round % outages.Length];
                var clock = Stopwatch.StartNew();
                clusterDown = true;   // until the script says it is up again
                switch (round % outages.Length)
                {
                    case 0: await cluster.RunScriptAsync("restart", "fast"); break;
                    case 1: await cluster.RunScriptAsync("restart", "immediate"); break;
                    default:
                        await cluster.RunScriptAsync("stop");
                        await Task.Delay(TimeSpan.FromSeconds(2));
                        await cluster.RunScriptAsync("start");
                        break;
                }
                clusterDown = false;
                await Recover(kind, clock.Elapsed.TotalSeconds, "");
                await Task.Delay(Settle);

                clock.Restart();
                var killed = await cluster.TerminateBackendsAsync();
                await Recover("pg_terminate_backend", clock.Elapsed.TotalSeconds, $" ({killed} sessions)");
                await Task.Delay(Settle);
            }
        }
        finally
        {
            stop.Cancel();
            if (clusterDown) await cluster.RunScriptAsync("start");
            // Writers finish the write they started (retrying up to a minute).
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
            // The suite's shared host and the tests' own data source hold pooled sessions the faults
            // killed, and Npgsql hands a pooled session out unchecked: later tests should not trip over them.
            api.Services.GetRequiredService<NpgsqlDataSource>().Clear();
            api.Database.Clear();
        }

        if (await load.MeasureRecoveryAsync("final", TimeSpan.FromSeconds(30)) is null)
            failures.Add("the service did not recover after the load stopped");

        // What is stored, read directly from the database.
        await using var db = await cluster.OpenAsync();
        var rows = (await db.QueryAsync<(long Id, string ExternalId, string Title)>(
            "SELECT id, external_id, title FROM incidents WHERE @runTag = ANY(tags) AND deleted_at IS NULL",
            new { runTag })).ToList();
        var duplicateExternalIds = (await db.QueryAsync<(string ExternalId, long Count)>("""
            SELECT external_id, count(*) FROM incidents WHERE @runTag = ANY(tags)
            GROUP BY external_id HAVING count(*) > 1
            """, new { runTag })).ToList();
        var duplicateTitles = (await db.QueryAsync<(string Title, long Count)>("""
            SELECT title, count(*) FROM incidents WHERE @runTag = ANY(tags)
            GROUP BY title HAVING count(*) > 1
            """, new { runTag })).ToList();
        var keys = (await db.QueryAsync<(string Key, int Status, string? Location)>(
            "SELECT key, status, location FROM idempotency_keys WHERE key LIKE @prefix",
            new { prefix = runTag + "-%" })).ToDictionary(k => k.Key);

        var acks = stats.Acknowledged.ToList();
        var byId = rows.ToLookup(r => r.Id);
        var missing = acks.Where(a => !byId[a.Id].Any(r => r.ExternalId == a.ExternalId)).ToList();
        var ackedExternalIds = acks.Select(a => a.ExternalId).ToHashSet();
        var unacknowledged = rows.Where(r => !ackedExternalIds.Contains(r.ExternalId)).ToList();
        var badKeys = acks.Where(a => !keys.TryGetValue(a.Key, out var k) || k.Status != 201
                                      || k.Location != $"/collections/incidents/items/{a.Id}").ToList();
        var doubleAcks = acks.GroupBy(a => a.ExternalId).Where(g => g.Count() > 1).ToList();

        // Statuses: 503 is the one server error a fault may cause.
        var serverErrors = stats.Outcomes.Where(o => o.Key.Split(' ').Last() is var code
                                                     && code.Length == 3 && code[0] == '5' && code != "503").ToList();
        var status500 = serverErrors.Where(o => o.Key.EndsWith(" 500")).Sum(o => o.Value);
        var otherServerErrors = serverErrors.Sum(o => o.Value) - status500;
        var total503 = stats.Sum(k => k.EndsWith(" 503"));
        var recoveries = faults.Where(f => f.RecoverySeconds is not null).Select(f => f.RecoverySeconds!.Value).ToList();
        var maxRecovery = recoveries.Count > 0 ? recoveries.Max() : double.NaN;

        Say(string.Create(CultureInfo.InvariantCulture,
            $"FAULT SUMMARY {runTag}: rounds={rounds} faults={faults.Count} " +
            $"writes_acknowledged={acks.Count} (probes {acks.Count(a => a.Who.StartsWith("probe") || a.Who == "final")}) " +
            $"retries={stats.Retries} replays={acks.Count(a => a.Replayed)} 503s={total503} 409s={stats.Get("POST 409")} " +
            $"500s={status500} other_5xx={otherServerErrors} reads={stats.Reads} gave_up={stats.GaveUp.Count} " +
            $"rows={rows.Count} missing={missing.Count} duplicates={duplicateExternalIds.Count + duplicateTitles.Count} " +
            $"unacknowledged_rows={unacknowledged.Count} max_recovery_s={maxRecovery:0.00} duration_s={wall.Elapsed.TotalSeconds:0}"));
        Say("  outcomes: " + string.Join(", ", stats.Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));

        if (status500 > 0 || otherServerErrors > 0)
            failures.Add($"server errors other than 503: {string.Join(", ", serverErrors.Select(o => $"{o.Key}={o.Value}"))}");
        if (!stats.Unexpected.IsEmpty)
            failures.Add($"{stats.Unexpected.Count} unexpected answer(s), first: " + string.Join("\n    ", stats.Unexpected.Take(8)));
        if (!stats.GaveUp.IsEmpty)
            failures.Add($"{stats.GaveUp.Count} write(s) got no 201 within a minute of retries: " + string.Join("; ", stats.GaveUp.Take(5)));
        if (acks.Count < Writers)
            failures.Add($"only {acks.Count} writes acknowledged: the load did not run");
        if (missing.Count > 0)
            failures.Add($"{missing.Count} acknowledged write(s) are not stored: " + string.Join(", ", missing.Take(10).Select(a => $"{a.Id} {a.ExternalId}")));
        if (duplicateExternalIds.Count > 0 || duplicateTitles.Count > 0)
            failures.Add("duplicates: " + string.Join(", ", duplicateExternalIds.Select(d => $"{d.ExternalId}×{d.Count}")
                .Concat(duplicateTitles.Select(d => $"'{d.Title}'×{d.Count}")).Take(10)));
        if (doubleAcks.Count > 0)
            failures.Add($"{doubleAcks.Count} external_id(s) acknowledged twice");
        if (stats.GaveUp.IsEmpty && rows.Count != ackedExternalIds.Count)
            failures.Add($"{rows.Count} rows carry the run tag but {ackedExternalIds.Count} writes were acknowledged: " +
                         string.Join(", ", unacknowledged.Take(10).Select(r => $"{r.Id} {r.ExternalId}")));
        if (badKeys.Count > 0)
            failures.Add($"{badKeys.Count} acknowledged Idempotency-Key(s) not stored with their answer: " + string.Join(", ", badKeys.Take(5).Select(a => a.Key)));

        if (failures.Count > 0)
        {
            // The service's own account of the answers flagged above: its unhandled exceptions of the same
            // method within half a second, one example of each kind (all of them are in the log file).
            var flagged = stats.FlaggedAt.ToList();
            var kinds = host.Log.Problems
                .Where(e => e.Message.StartsWith("Unhandled exception", StringComparison.Ordinal) && e.Exception is not null)
                .Where(e => flagged.Any(f => Math.Abs((f.At - e.At).TotalSeconds) < 0.5 && e.Message.Contains($" {f.Method} ")))
                .GroupBy(e => (e.Message, Type: e.Exception!.GetType().Name, Frame: FirstOwnFrame(e.Exception)))
                .OrderBy(g => g.Count())     // the rare kinds are the telling ones
                .Take(4);
            foreach (var kind in kinds)
            {
                var entry = kind.First();
                Say($"  service log: {kind.Count()}× {entry.Message}, first at {entry.At:HH:mm:ss.fff}: {entry.Exception!.GetType().FullName}: {entry.Exception.Message}\n      " +
                    string.Join("\n      ", (entry.Exception.StackTrace ?? "").Split('\n').Select(l => l.Trim()).Where(l => l.Contains("IncidentMap.Api")).Take(6)));
            }
            Say($"  service log: {host.LogPath}");
        }
        Assert.True(failures.Count == 0, "fault test failed:\n  " + string.Join("\n  ", failures));
    }

    private static string FirstOwnFrame(Exception e) =>
        (e.StackTrace ?? "").Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("IncidentMap.Api")) ?? "";
}
