using IncidentMap.Api.Incidents;

namespace IncidentMap.Tests.Trust;

/// <summary>The in-process queue of patches that take any version of one incident.</summary>
public sealed class PatchTurnsTests
{
    // Ids no incident of the shared test database will reach, one per test.
    private static long NewId() => long.MaxValue - Random.Shared.Next(1, int.MaxValue);

    [Fact]
    public async Task A_second_patch_of_the_same_incident_waits_for_the_first_and_another_incident_does_not()
    {
        var id = NewId();
        var first = await PatchTurns.EnterAsync(id, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(first);

        var second = PatchTurns.EnterAsync(id, TimeSpan.FromSeconds(5), CancellationToken.None);
        var other = await PatchTurns.EnterAsync(id - 1, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(other);
        await Task.Delay(100);
        Assert.False(second.IsCompleted);

        await first!.DisposeAsync();
        var turn = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(turn);
        await turn!.DisposeAsync();
        await other!.DisposeAsync();
        Assert.False(PatchTurns.IsBusy(id));
        Assert.False(PatchTurns.IsBusy(id - 1));
    }

    [Fact]
    public async Task A_wait_that_runs_out_or_is_cancelled_gives_up_its_place_and_leaves_nothing_behind()
    {
        var id = NewId();
        var holder = await PatchTurns.EnterAsync(id, TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Null(await PatchTurns.EnterAsync(id, TimeSpan.FromMilliseconds(50), CancellationToken.None));
        using var cancel = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PatchTurns.EnterAsync(id, TimeSpan.FromSeconds(5), cancel.Token));
        Assert.True(PatchTurns.IsBusy(id));

        await holder!.DisposeAsync();
        await holder.DisposeAsync();   // twice is once
        Assert.False(PatchTurns.IsBusy(id));
        var again = await PatchTurns.EnterAsync(id, TimeSpan.FromMilliseconds(50), CancellationToken.None);
        Assert.NotNull(again);
        await again!.DisposeAsync();
    }

    [Fact]
    public async Task Many_at_once_each_get_the_turn_alone()
    {
        var id = NewId();
        var inside = 0;
        var most = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            await using var turn = await PatchTurns.EnterAsync(id, TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.NotNull(turn);
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);
            await Task.Yield();
            Interlocked.Decrement(ref inside);
        }));
        Assert.Equal(1, most);
        Assert.False(PatchTurns.IsBusy(id));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }
}
