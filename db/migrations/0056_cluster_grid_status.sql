-- The grid of cluster sums (0040) is keyed by level-10 cell, event type and country. A map of verified
-- incidents only (status=verified), a common toggle, fell back to reading every incident of the tile from the
-- table: a z3 tile over Homs 1.7-2.3 s on the bench's million, /clusters?zoom=3&status=verified 6.6 s, against
-- 0.02 and 0.16 s for the same maps of every status.
--
-- So the grid is keyed by status too. status has four values, so the grid grows little: 124,091 rows for the
-- bench's million incidents instead of 106,909. An import pays nothing more per row: the statement triggers
-- already group their transition table by cell, type and country, and now by status as well. An edit of the
-- status (verifying an incident) now writes a delta: minus the incident under its old status, plus under the new.
--
-- The alternative, status in the covering index incidents_occurred_points_idx (0051), would have cost nothing per
-- imported row either (the entry is written anyway, a few bytes wider), but a tile would then be an index-only scan
-- of every live incident (1.4-3.4 s at a million on a busy machine) instead of a sum over the tile's grid rows (milliseconds).

-- Writers wait until the grid is rebuilt: a delta written meanwhile would be counted twice or lost.
LOCK TABLE incidents IN SHARE MODE;
LOCK TABLE incident_grid, incident_grid_changes IN ACCESS EXCLUSIVE MODE;

TRUNCATE incident_grid, incident_grid_changes;
ALTER TABLE incident_grid ADD COLUMN status text NOT NULL;
ALTER TABLE incident_grid_changes ADD COLUMN status text NOT NULL;
ALTER TABLE incident_grid DROP CONSTRAINT incident_grid_pkey;
ALTER TABLE incident_grid ADD PRIMARY KEY (cy, cx, event_type, country, status);

-- Inserts add their rows' shares, deletes subtract them: both triggers name their transition table
-- changed_rows.
CREATE OR REPLACE FUNCTION incidents_grid_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    direction constant int := CASE TG_OP WHEN 'DELETE' THEN -1 ELSE 1 END;
BEGIN
    INSERT INTO incident_grid_changes (cy, cx, event_type, country, status, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum)
    SELECT incident_grid_cy(point_3857), incident_grid_cx(point_3857), event_type, coalesce(country, ''), status, direction * count(*),
           direction * coalesce(sum(fatalities_min), 0), direction * coalesce(sum(fatalities_max), 0),
           direction * sum(round(ST_X(point_3857) * 1000)::bigint), direction * sum(round(ST_Y(point_3857) * 1000)::bigint)
    FROM changed_rows
    WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
    GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$;

-- An update removes the old row's share and adds the new one's; an edit that changes none of the
-- summed or keyed columns (a title, a source) cancels out and writes nothing.
CREATE OR REPLACE FUNCTION incidents_grid_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_grid_changes (cy, cx, event_type, country, status, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum)
    SELECT incident_grid_cy(p), incident_grid_cx(p), event_type, coalesce(country, ''), status, sum(sign),
           coalesce(sum(sign * fatalities_min), 0), coalesce(sum(sign * fatalities_max), 0),
           sum(sign * round(ST_X(p) * 1000)::bigint), sum(sign * round(ST_Y(p) * 1000)::bigint)
    FROM (
        SELECT 1 AS sign, point_3857 AS p, event_type, country, status, fatalities_min, fatalities_max, id
        FROM new_rows WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
        UNION ALL
        SELECT -1, point_3857, event_type, country, status, fatalities_min, fatalities_max, id
        FROM old_rows WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
    ) changed
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(sign) <> 0 OR coalesce(sum(sign * fatalities_min), 0) <> 0 OR coalesce(sum(sign * fatalities_max), 0) <> 0
        OR sum(sign * round(ST_X(p) * 1000)::bigint) <> 0 OR sum(sign * round(ST_Y(p) * 1000)::bigint) <> 0;
    RETURN NULL;
END $$;

-- Folds the deltas into incident_grid and drops the cells left empty, as 0040's, with the status in the key.
CREATE OR REPLACE FUNCTION incident_grid_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    emptied_cy smallint[];
    emptied_cx smallint[];
    emptied_type text[];
    emptied_country text[];
    emptied_status text[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(7215529004736301163) THEN
        RETURN 0;
    END IF;
    WITH taken AS (
        DELETE FROM incident_grid_changes RETURNING *
    ), summed AS (
        SELECT cy, cx, event_type, country, status, sum(incidents) AS incidents,
               sum(fatalities_min_sum) AS fatalities_min_sum, sum(fatalities_max_sum) AS fatalities_max_sum,
               sum(x_mm_sum) AS x_mm_sum, sum(y_mm_sum) AS y_mm_sum, count(*) AS folded
        FROM taken
        GROUP BY cy, cx, event_type, country, status
    ), merged AS (
        INSERT INTO incident_grid AS g (cy, cx, event_type, country, status, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum)
        SELECT cy, cx, event_type, country, status, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum
        FROM summed
        -- In key order, so two compactions can never wait on each other crosswise (the lock above
        -- already keeps them apart).
        ORDER BY cy, cx, event_type, country, status
        ON CONFLICT (cy, cx, event_type, country, status) DO UPDATE SET
            incidents = g.incidents + EXCLUDED.incidents,
            fatalities_min_sum = g.fatalities_min_sum + EXCLUDED.fatalities_min_sum,
            fatalities_max_sum = g.fatalities_max_sum + EXCLUDED.fatalities_max_sum,
            x_mm_sum = g.x_mm_sum + EXCLUDED.x_mm_sum,
            y_mm_sum = g.y_mm_sum + EXCLUDED.y_mm_sum
        RETURNING g.cy, g.cx, g.event_type, g.country, g.status, g.incidents
    )
    SELECT (SELECT coalesce(sum(s.folded), 0) FROM summed s),
           array_agg(m.cy) FILTER (WHERE m.incidents = 0),
           array_agg(m.cx) FILTER (WHERE m.incidents = 0),
           array_agg(m.event_type) FILTER (WHERE m.incidents = 0),
           array_agg(m.country) FILTER (WHERE m.incidents = 0),
           array_agg(m.status) FILTER (WHERE m.incidents = 0)
    INTO folded, emptied_cy, emptied_cx, emptied_type, emptied_country, emptied_status
    FROM merged m;
    IF emptied_cy IS NOT NULL THEN
        DELETE FROM incident_grid g
        USING unnest(emptied_cy, emptied_cx, emptied_type, emptied_country, emptied_status) e(cy, cx, event_type, country, status)
        WHERE g.cy = e.cy AND g.cx = e.cx AND g.event_type = e.event_type AND g.country = e.country AND g.status = e.status
          AND g.incidents = 0;
    END IF;
    RETURN folded;
END $$;

-- The incidents stored, summed again by status.
INSERT INTO incident_grid (cy, cx, event_type, country, status, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum)
SELECT incident_grid_cy(point_3857), incident_grid_cx(point_3857), event_type, coalesce(country, ''), status, count(*),
       coalesce(sum(fatalities_min), 0), coalesce(sum(fatalities_max), 0),
       sum(round(ST_X(point_3857) * 1000)::bigint), sum(round(ST_Y(point_3857) * 1000)::bigint)
FROM incidents
WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
GROUP BY 1, 2, 3, 4, 5;

ANALYZE incident_grid;
