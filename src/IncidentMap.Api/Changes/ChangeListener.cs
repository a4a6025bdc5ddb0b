using Dapper;
using IncidentMap.Api.Collections;
using Npgsql;

namespace IncidentMap.Api.Changes;

/// <summary>
/// The one database listener of this process. NOTIFY is only a wake-up: on each one (and once a
/// second, for changes held back behind a long transaction) it looks at the tail of the feed and,
/// when it moved, advances the data version and wakes every stream. A NOTIFY the tail does not show
/// yet advances the data version alone (see the loop). A dropped connection or a PostgreSQL restart
/// costs nothing but a reconnect: streams catch up from their cursors.
/// </summary>
public sealed class ChangeListener(NpgsqlDataSource dataSource, DataVersion dataVersion, FeedHorizon horizon, ILogger<ChangeListener> logger) : BackgroundService
{
    private TaskCompletionSource _pulse = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _tail;

    /// <summary>
    /// 1 once a NOTIFY has come in since the loop last looked. Counted from Npgsql's Notification event, not from
    /// what WaitAsync returns: a NOTIFY that arrives while the tail's query runs is read with that query's answer
    /// and raises the event, but no wait reports it, and a change of places (which moves no tail) was then never
    /// seen: answers near a place and the places' ETags stayed those of before it until the next write.
    /// </summary>
    private int _notified;

    /// <summary>Completes at the next change of the feed's visible tail (or reconnect).</summary>
    public Task NextChangeAsync(CancellationToken ct) => Volatile.Read(ref _pulse).Task.WaitAsync(ct);

    /// <summary>Whether the listener is connected now (exposed for health and tests).</summary>
    public bool Listening { get; private set; }

    /// <summary>The PostgreSQL backend listening now, 0 while disconnected (tests end exactly this one).</summary>
    public int BackendProcessId { get; private set; }

    private void Pulse()
    {
        dataVersion.Advance();
        Interlocked.Exchange(ref _pulse, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                Volatile.Write(ref _notified, 0); // what the last connection heard, the pulse below covers
                connection.Notification += (_, _) => Volatile.Write(ref _notified, 1);
                await connection.ExecuteAsync("SET application_name = 'incidentmap-listener'; LISTEN incident_changes");
                // The tail as of now, listening: whatever happened while we were away is behind it, so
                // one pulse lets every stream re-read from its cursor. The loop then pulses only when
                // the tail moves, not again at its first look (which gave every ETag issued in the
                // first second after startup a new version for no change).
                _tail = await TailAsync(connection);
                BackendProcessId = connection.ProcessID;
                Listening = true;
                backoff = TimeSpan.FromMilliseconds(100);
                Pulse();
                while (!stoppingToken.IsCancellationRequested)
                {
                    // A NOTIFY read with the last look's answer needs no wait for another.
                    if (Volatile.Read(ref _notified) == 0) await connection.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
                    var notified = Interlocked.Exchange(ref _notified, 0) == 1;
                    var tail = await TailAsync(connection);
                    if (tail != _tail)
                    {
                        _tail = tail;
                        Pulse();
                    }
                    // A commit whose change the feed holds back (behind an older open transaction), or a
                    // change of places, which the feed does not list, is already visible to every
                    // read: lists, stats, tiles and places must not answer 304 with the ETag of before it.
                    // This matters for writers in other processes (the import command, another
                    // instance, SQL); this process's own writes advance the version themselves.
                    else if (notified) dataVersion.Advance();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or System.IO.IOException)
            {
                (Listening, BackendProcessId) = (false, 0);
                logger.LogWarning("Change listener lost its connection ({Message}); reconnecting in {Backoff} ms", e.Message, backoff.TotalMilliseconds);
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>
    /// The newest change visible to every reader (below the feed's horizon, as the feed's pages take it: never below
    /// one read before), or null. On the raw horizon, which can stand lower for a moment (<see cref="FeedHorizon"/>),
    /// a NOTIFY's change could look not yet visible, and streams waited a second for the next look.
    /// </summary>
    private async Task<string?> TailAsync(NpgsqlConnection connection)
    {
        var parameters = horizon.WithFloor(out var floor);
        var (xmin, tail) = await connection.QuerySingleAsync<(string, string?)>($"""
            WITH h AS (SELECT {FeedHorizon.Sql} AS xmin)
            SELECT h.xmin::text,
                   (SELECT c.xid::text || '-' || c.position FROM incident_changes c
                    WHERE c.xid < h.xmin ORDER BY c.xid DESC, c.position DESC LIMIT 1)
            FROM h
            """, parameters);
        horizon.Reached(xmin, floor);
        return tail;
    }
}
