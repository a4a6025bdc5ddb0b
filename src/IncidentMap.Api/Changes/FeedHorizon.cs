using System.Globalization;
using Dapper;

namespace IncidentMap.Api.Changes;

/// <summary>
/// The feed's horizon as this instance reads it: the oldest transaction of this database still running
/// (<c>incident_feed_horizon</c>, db/migrations/0005), never below one read before. One for the process: the feed's
/// pages and the change listener's look at the tail both take it, so neither sees the tail step back.
/// </summary>
public sealed class FeedHorizon
{
    /// <summary>
    /// The highest horizon this instance has read. The horizon can stand lower for a moment than it stood
    /// a moment before (db/migrations/0039: a transaction of another database that commits between a
    /// statement's snapshot and its look at pg_stat_activity counts as running). That is the safe side,
    /// but a page read again from the same cursor came back short, a change a dashboard had just
    /// been shown went missing from the next read, and the listener took a NOTIFY's change for one not yet
    /// visible, so streams waited for its next look a second later. A horizon read by a statement that
    /// finished is safe for every statement that starts later: each of this database's transactions below it
    /// had ended by that statement's snapshot, so a later snapshot sees all they wrote. Reads never go below
    /// it, as long as the database is the one it was read from (<see cref="Sql"/>).
    /// </summary>
    private ulong _floor;

    /// <summary>
    /// The horizon a statement takes: the current one, raised to the floor (parameter <c>@floor</c>, see
    /// <see cref="WithFloor"/>). A floor above the database's next transaction id cannot have been read from this
    /// database: it was swapped under the running service (a restore in place, a failover to a standby that
    /// lagged). Then the floor is left out, and <see cref="Reached"/> starts it again from the horizon read.
    /// </summary>
    public const string Sql = """
        CASE WHEN @floor::xid8 <= (pg_snapshot_xmax(pg_current_snapshot())::text::numeric + (SELECT shift FROM incident_feed_shift))::text::xid8
             THEN greatest(incident_feed_horizon(), @floor::xid8) ELSE incident_feed_horizon() END
        """;

    /// <summary>Parameters holding the floor as it stands now (<paramref name="floor"/>, for <see cref="Reached"/>).</summary>
    public DynamicParameters WithFloor(out ulong floor)
    {
        floor = Interlocked.Read(ref _floor);
        var parameters = new DynamicParameters();
        parameters.Add("floor", floor.ToString(CultureInfo.InvariantCulture));
        return parameters;
    }

    /// <summary>Raises the floor to the horizon a statement took; lowers it to that horizon when the statement left the floor out.</summary>
    public FeedCursor Reached(string horizon, ulong floorSent)
    {
        var xid = ulong.Parse(horizon, CultureInfo.InvariantCulture);
        if (xid < floorSent) Interlocked.Exchange(ref _floor, xid);
        else
            for (var seen = Interlocked.Read(ref _floor); xid > seen; seen = Interlocked.Read(ref _floor))
                if (Interlocked.CompareExchange(ref _floor, xid, seen) == seen) break;
        return new FeedCursor(xid, 0);
    }
}
