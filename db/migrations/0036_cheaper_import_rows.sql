-- Two costs every inserted or updated incident paid without need (issue 7: a bulk import's rows).
--
-- 1. The feed position was computed for every row, not once per statement as 0035 meant. The planner
--    pulls a subquery in FROM such as `(SELECT incident_feed_xid() AS xid) f` up into the query, so
--    `f.xid` became a call per row, and incident_feed_xid() is an SQL function it cannot inline (it
--    reads incident_feed_shift): a small executor started and a table scanned for each row, 4.3 µs a
--    row (200,000 calls, 0.92 s against 0.06 s when computed once). The position is now a PL/pgSQL
--    variable, set once, after the early return for a statement that wrote no row (which must not be
--    given a transaction id it would not otherwise take).
--
-- 2. search_fold was STRICT, and PostgreSQL inlines an SQL function into the calling expression only
--    when the inlined expression would be strict too, which its CASE is not. So each of the four calls
--    in incident_search_document went through the SQL-function executor: the search document cost
--    12.0 µs a row instead of 9.6 (300,000 rows, three runs each). The function now is not STRICT. It
--    returns the same for every input, NULL included (NULL ~ pattern is NULL, so CASE returns t), and
--    every stored document stays as it is: nothing is recomputed.
CREATE OR REPLACE FUNCTION search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE CALLED ON NULL INPUT
RETURN CASE WHEN t ~ '[\u064B-\u065F\u0670\u0640أإآٱةىیک]'
            THEN translate(t, 'أإآٱةىیکًٌٍَُِّْٰٕٖٜٟٓٔٗ٘ٙٚٛٝٞـ', 'ااااهييك')
            ELSE t END;

-- As in 0035, with the position set once.
CREATE OR REPLACE FUNCTION incidents_record_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    feed_position xid8;
BEGIN
    IF NOT EXISTS (SELECT FROM new_rows) THEN
        RETURN NULL;
    END IF;
    feed_position := incident_feed_xid();
    INSERT INTO incident_changes (xid, incident_id, kind, version)
    SELECT feed_position, n.id, 'created', n.version FROM new_rows n ORDER BY n.id;
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
DECLARE
    feed_position xid8;
BEGIN
    IF NOT EXISTS (SELECT FROM new_rows) THEN
        RETURN NULL;
    END IF;
    feed_position := incident_feed_xid();
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
        SELECT feed_position, c.id, c.kind, c.version FROM changed c ORDER BY c.ord
    ), superseded AS (
        UPDATE incident_revisions r SET feature = c.old_feature
        FROM changed c
        WHERE r.incident_id = c.id AND r.version = c.old_version AND r.feature IS NULL
    )
    INSERT INTO incident_revisions (incident_id, version, kind, changed_by, changed_fields, feature)
    SELECT id, version, kind, nullif(current_setting('incidentmap.actor', true), ''), fields, NULL
    FROM changed ORDER BY ord
    ON CONFLICT (incident_id, version) DO NOTHING;
    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;
