-- The change feed's horizon: the oldest transaction that might still add changes. Plain
-- pg_snapshot_xmin would let any long transaction in ANY database of the cluster (a bulk load next
-- door) stall the feed; transactions of other databases can never write these tables, so they are
-- left out. Everything else still running, or finished since the snapshot, holds the horizon back.
CREATE FUNCTION incident_feed_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE xid(x) NOT IN (
        SELECT a.backend_xid FROM pg_stat_activity a
        WHERE a.backend_xid IS NOT NULL
          AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;
