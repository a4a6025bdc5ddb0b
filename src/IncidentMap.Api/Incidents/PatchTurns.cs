using System.Collections.Concurrent;

namespace IncidentMap.Api.Incidents;

/// <summary>
/// Patches that take any current version (<c>If-Match: *</c>, or none where If-Match is optional) of
/// one incident take turns within this process. Each merges into the version it reads and retries when
/// another writer got there first; 32 of them at once on a busy machine lost that race over and over,
/// each round won by one, until some ran out of time (503s in CI). In turn, each patch reads, merges
/// and writes once; the retry is left for writers in other processes.
/// </summary>
internal static class PatchTurns
{
    private sealed class Gate
    {
        public readonly SemaphoreSlim Turn = new(1, 1);
        public int Users;   // guarded by the dictionary entry's lock below
    }

    private static readonly ConcurrentDictionary<long, Gate> Gates = new();

    /// <summary>Incidents with a patch holding or awaiting their turn (a gate is dropped with its last user).</summary>
    internal static bool IsBusy(long id) => Gates.ContainsKey(id);

    /// <summary>Waits for incident <paramref name="id"/>'s turn; null when <paramref name="wait"/> passed first.</summary>
    public static async Task<IAsyncDisposable?> EnterAsync(long id, TimeSpan wait, CancellationToken ct)
    {
        Gate gate;
        while (true)
        {
            gate = Gates.GetOrAdd(id, _ => new Gate());
            lock (gate)
            {
                // A gate whose last user just left is removed from the dictionary: take a fresh one.
                if (gate.Users >= 0) { gate.Users++; break; }
            }
        }
        try
        {
            if (await gate.Turn.WaitAsync(wait, ct)) return new Held(id, gate);
        }
        catch
        {
            Leave(id, gate);
            throw;
        }
        Leave(id, gate);
        return null;
    }

    private static void Leave(long id, Gate gate)
    {
        lock (gate)
        {
            if (--gate.Users > 0) return;
            gate.Users = -1;   // retired: an EnterAsync that still finds it takes a new one
            Gates.TryRemove(new KeyValuePair<long, Gate>(id, gate));
        }
    }

    private sealed class Held(long id, Gate gate) : IAsyncDisposable
    {
        private int _released;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Turn.Release();
                Leave(id, gate);
            }
            return ValueTask.CompletedTask;
        }
    }
}
