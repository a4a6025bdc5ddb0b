-- The feed's horizon (0005, shifted in 0035) can stand lower for a moment than it stood before. It leaves
-- out the running transactions of other databases by their backend's entry in pg_stat_activity, which is
-- read after the statement's snapshot was taken. A transaction of another database that is running when
-- the snapshot is taken and commits before pg_stat_activity is read is in neither list's favour: it is
-- still running in the snapshot, and no longer has a backend entry that says it is another database's.
-- So the horizon stops at it, below the horizon a poll a moment earlier gave out. That side is safe for
-- reading (nothing is skipped; the next poll goes on), but the cursor check compared the cursor a
-- dashboard held (the earlier horizon-0, or a change below it) with this lower horizon and refused it
-- with a 400, as if the feed had never given it out (seen in CI: a page came back empty, then full).
--
-- The check now compares with the highest horizon the feed can have given out so far: the horizon with
-- the transactions that have finished since the snapshot left out as well. Why no earlier horizon h can
-- stand above it: a transaction Y below h that this counts as running was running when h was taken
-- (it is running now, and every id assigned after h was taken is at or above h), so h left it out as
-- another database's; it has run ever since, so its backend still says so, and it is left out here too.
-- pg_stat_activity is read first (PL/pgSQL, in order), then each transaction's status.
-- Only the check uses this. Reading with it could skip a transaction of this database that committed
-- after the snapshot, whose changes the snapshot does not show.
CREATE FUNCTION incident_feed_horizon_reached() RETURNS xid8
LANGUAGE plpgsql STABLE AS $$
DECLARE
    elsewhere xid[];
    reached xid8;
BEGIN
    SELECT coalesce(array_agg(a.backend_xid), '{}') INTO elsewhere
    FROM pg_stat_activity a
    WHERE a.backend_xid IS NOT NULL
      AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database());
    SELECT (coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))::text::numeric
            + (SELECT shift FROM incident_feed_shift))::text::xid8 INTO reached
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT (xid(x) = ANY (elsewhere))
      AND pg_xact_status(x) = 'in progress';
    RETURN reached;
END $$;
