-- The change feed orders changes by their transaction's id (xid8) and reads only below the horizon,
-- the oldest transaction still running (0005; docs/change-feed.md). Those ids are the cluster's own.
-- A logical dump (pg_dump) restored into another cluster, as on a move to a new server or a managed
-- PostgreSQL, keeps the ids its changes were written under, while the new cluster counts its own from
-- where it stands, often far below them (a fresh cluster starts near 750). Until the new cluster's
-- count passed the restored ids, the feed hid every restored change (they were above its horizon),
-- listed new changes under smaller ids than old ones, refused the cursors dashboards held (400), and
-- took a dashboard's old horizon cursor again later, skipping every change written in between.
--
-- So a feed position is the writing transaction's id plus a shift, kept here: 0 in a database that never
-- moved. When the ids stored in the feed reach the cluster's next transaction id, the service raises the
-- shift above them as it migrates (Migrator.AlignFeedAsync), before it serves: new changes then sort after
-- every restored one, and every cursor a dashboard held stays good. pg_upgrade and physical backups keep
-- the cluster's count, and need nothing.
CREATE TABLE incident_feed_shift (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    shift     numeric(20, 0) NOT NULL CHECK (shift >= 0)
);
INSERT INTO incident_feed_shift (singleton, shift) VALUES (true, 0);

-- The feed position of the running transaction's changes (assigns it an id, as pg_current_xact_id does).
CREATE FUNCTION incident_feed_xid() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT (pg_current_xact_id()::text::numeric + s.shift)::text::xid8 FROM incident_feed_shift s
$$;

ALTER TABLE incident_changes ALTER COLUMN xid SET DEFAULT incident_feed_xid();

-- As in 0005, shifted likewise.
CREATE OR REPLACE FUNCTION incident_feed_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT (coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))::text::numeric
            + (SELECT shift FROM incident_feed_shift))::text::xid8
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE xid(x) NOT IN (
        SELECT a.backend_xid FROM pg_stat_activity a
        WHERE a.backend_xid IS NOT NULL
          AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- As in 0012, with the position computed once per statement rather than per row (a bulk import's
-- batch writes thousands of changes in one statement).
CREATE OR REPLACE FUNCTION incidents_record_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_changes (xid, incident_id, kind, version)
    SELECT f.xid, n.id, 'created', n.version FROM new_rows n, (SELECT incident_feed_xid() AS xid) f ORDER BY n.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- The writer names itself with set_config('incidentmap.actor', <key name>, true).
    INSERT INTO incident_revisions (incident_id, version, kind, changed_by, changed_fields, feature)
    SELECT r.id, r.version, 'created', nullif(current_setting('incidentmap.actor', true), ''), '{}', NULL
    FROM new_rows r ORDER BY r.id
    ON CONFLICT (incident_id, version) DO NOTHING;
    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION incidents_record_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH updated AS (
        SELECT row_number() OVER () AS ord, ROW(n.*)::incidents AS r FROM new_rows n
    ), changed AS MATERIALIZED (
        SELECT u.ord, (u.r).id, (u.r).version, o.version AS old_version, f.old_feature,
               CASE WHEN (u.r).deleted_at IS NOT NULL AND o.deleted_at IS NULL THEN 'deleted' ELSE 'updated' END AS kind,
               coalesce((SELECT array_agg(p.key ORDER BY p.key)
                         FROM jsonb_each(f.feature -> 'properties') AS p(key, value)
                         WHERE p.key NOT IN ('updated_at', 'version')
                           AND p.value IS DISTINCT FROM f.old_feature -> 'properties' -> p.key), '{}')
               || CASE WHEN NOT ST_Equals((u.r).geom, o.geom) OR ST_AsBinary((u.r).geom) <> ST_AsBinary(o.geom)
                       THEN ARRAY['geometry'] ELSE '{}' END
               || CASE WHEN (u.r).deleted_at IS DISTINCT FROM o.deleted_at THEN ARRAY['deleted_at'] ELSE '{}' END AS fields
        FROM updated u
        JOIN old_rows o ON o.id = (u.r).id
        CROSS JOIN LATERAL (SELECT incident_feature_jsonb(u.r) AS feature, incident_feature_jsonb(ROW(o.*)::incidents) AS old_feature) f
    ), feed AS (
        INSERT INTO incident_changes (xid, incident_id, kind, version)
        SELECT x.xid, c.id, c.kind, c.version FROM changed c, (SELECT incident_feed_xid() AS xid) x ORDER BY c.ord
    ), superseded AS (
        UPDATE incident_revisions r SET feature = c.old_feature
        FROM changed c
        WHERE r.incident_id = c.id AND r.version = c.old_version AND r.feature IS NULL
    )
    INSERT INTO incident_revisions (incident_id, version, kind, changed_by, changed_fields, feature)
    SELECT id, version, kind, nullif(current_setting('incidentmap.actor', true), ''), fields, NULL
    FROM changed ORDER BY ord
    ON CONFLICT (incident_id, version) DO NOTHING;
    IF EXISTS (SELECT FROM new_rows) THEN
        PERFORM pg_notify('incident_changes', '');
    END IF;
    RETURN NULL;
END $$;
