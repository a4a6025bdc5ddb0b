-- Cluster tiles below zoom 8 read every incident of their area: on the bench's million rows the
-- world tile (0/0/0) took 3.3 s, a z2 tile over the Middle East 5.4 s, a z3 tile 1.9 s, each
-- recomputed after any write (the tile cache is keyed by the data version). A world map is the
-- first thing a map client shows.
--
-- Clusters form on the cells of a Web Mercator grid of 2^(z+3) × 2^(z+3) cells (TileSql.Members),
-- and those grids nest: a cell of level L is the 2^(10-L) × 2^(10-L) cells of level 10 below it. So
-- every cluster below zoom 8 is a sum over level-10 cells, and a table of sums per level-10 cell,
-- event type and country answers them all, also for maps of some event types or countries: the
-- bench's million incidents lie in 91,264 such cells (106,394 with their event type).
--
-- The sums are kept by statement triggers, as deltas: writers only append to
-- incident_grid_changes, so concurrent writers never wait for one another on a popular cell, and
-- incident_grid_compact() folds the deltas into incident_grid (the service calls it every few
-- seconds; imports at their end). Readers sum both tables within their snapshot, so they always
-- see exactly the incidents their snapshot sees.
--
-- A cluster's centre is the mean of its members' points. The sums hold each point's Web Mercator
-- coordinates rounded to millimetres, as integers: a float sum kept by adding and subtracting
-- deltas would drift from the sum over the members, and the tiles computed from incidents (any
-- filter the grid has no column for) use the same rounded coordinates, so both give the same bytes.

CREATE TABLE incident_grid (
    cy smallint NOT NULL,
    cx smallint NOT NULL,
    event_type text NOT NULL,
    -- '' for an incident without one (a key has no NULL).
    country text NOT NULL,
    incidents bigint NOT NULL,
    fatalities_min_sum bigint NOT NULL,
    fatalities_max_sum bigint NOT NULL,
    -- Sums of round(x × 1000) and round(y × 1000) over the members' points, x and y in Web Mercator metres.
    x_mm_sum numeric NOT NULL,
    y_mm_sum numeric NOT NULL,
    PRIMARY KEY (cy, cx, event_type, country)
);

-- Rows to add to incident_grid (a removed incident adds -1 and minus its sums); several rows may
-- share a key.
CREATE TABLE incident_grid_changes (LIKE incident_grid);

-- The level-10 cell of a point in Web Mercator metres, as TileSql.Members computes it at level 10
-- (the same float8 arithmetic: cell = 2 × 20037508.342789244 / 1024), clamped to the grid.
CREATE FUNCTION incident_grid_cx(p geometry) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(greatest(floor((ST_X(p) + 20037508.342789244) / (20037508.342789244::float8 * 2 / 1024))::bigint, 0), 1023)::smallint;

CREATE FUNCTION incident_grid_cy(p geometry) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(greatest(floor((20037508.342789244 - ST_Y(p)) / (20037508.342789244::float8 * 2 / 1024))::bigint, 0), 1023)::smallint;

-- Inserts add their rows' shares, deletes subtract them: both triggers name their transition table
-- changed_rows.
CREATE FUNCTION incidents_grid_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    direction constant int := CASE TG_OP WHEN 'DELETE' THEN -1 ELSE 1 END;
BEGIN
    INSERT INTO incident_grid_changes
    SELECT incident_grid_cy(point_3857), incident_grid_cx(point_3857), event_type, coalesce(country, ''), direction * count(*),
           direction * coalesce(sum(fatalities_min), 0), direction * coalesce(sum(fatalities_max), 0),
           direction * sum(round(ST_X(point_3857) * 1000)::bigint), direction * sum(round(ST_Y(point_3857) * 1000)::bigint)
    FROM changed_rows
    WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
    GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

-- An update removes the old row's share and adds the new one's; an edit that changes none of the
-- summed columns (a title, a source) cancels out and writes nothing.
CREATE FUNCTION incidents_grid_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_grid_changes
    SELECT incident_grid_cy(p), incident_grid_cx(p), event_type, coalesce(country, ''), sum(sign),
           coalesce(sum(sign * fatalities_min), 0), coalesce(sum(sign * fatalities_max), 0),
           sum(sign * round(ST_X(p) * 1000)::bigint), sum(sign * round(ST_Y(p) * 1000)::bigint)
    FROM (
        SELECT 1 AS sign, point_3857 AS p, event_type, country, fatalities_min, fatalities_max, id
        FROM new_rows WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
        UNION ALL
        SELECT -1, point_3857, event_type, country, fatalities_min, fatalities_max, id
        FROM old_rows WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
    ) changed
    GROUP BY 1, 2, 3, 4
    HAVING sum(sign) <> 0 OR coalesce(sum(sign * fatalities_min), 0) <> 0 OR coalesce(sum(sign * fatalities_max), 0) <> 0
        OR sum(sign * round(ST_X(p) * 1000)::bigint) <> 0 OR sum(sign * round(ST_Y(p) * 1000)::bigint) <> 0;
    RETURN NULL;
END $$;

-- Waits for a fold that is running: its rows, not yet committed, would survive the DELETEs below.
CREATE FUNCTION incidents_grid_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7215529004736301163);
    DELETE FROM incident_grid;
    DELETE FROM incident_grid_changes;
    RETURN NULL;
END $$;

CREATE TRIGGER incidents_grid_insert AFTER INSERT ON incidents
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION incidents_grid_rows();
CREATE TRIGGER incidents_grid_update AFTER UPDATE ON incidents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION incidents_grid_updates();
CREATE TRIGGER incidents_grid_delete AFTER DELETE ON incidents
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION incidents_grid_rows();
CREATE TRIGGER incidents_grid_truncate AFTER TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION incidents_grid_truncate();

-- Folds the deltas into incident_grid and drops the cells left empty. Returns how many delta rows it
-- folded. One at a time: a second caller while one runs returns 0 at once (there is nothing it
-- could fold that the first does not). The lock is also the truncate trigger's; a caller that must
-- fold (the bench's loader) takes it with pg_advisory_xact_lock first.
CREATE FUNCTION incident_grid_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    emptied_cy smallint[];
    emptied_cx smallint[];
    emptied_type text[];
    emptied_country text[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(7215529004736301163) THEN
        RETURN 0;
    END IF;
    WITH taken AS (
        DELETE FROM incident_grid_changes RETURNING *
    ), summed AS (
        SELECT cy, cx, event_type, country, sum(incidents) AS incidents,
               sum(fatalities_min_sum) AS fatalities_min_sum, sum(fatalities_max_sum) AS fatalities_max_sum,
               sum(x_mm_sum) AS x_mm_sum, sum(y_mm_sum) AS y_mm_sum, count(*) AS folded
        FROM taken
        GROUP BY cy, cx, event_type, country
    ), merged AS (
        INSERT INTO incident_grid AS g (cy, cx, event_type, country, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum)
        SELECT cy, cx, event_type, country, incidents, fatalities_min_sum, fatalities_max_sum, x_mm_sum, y_mm_sum
        FROM summed
        -- In key order, so two compactions can never wait on each other crosswise (the lock above
        -- already keeps them apart).
        ORDER BY cy, cx, event_type, country
        ON CONFLICT (cy, cx, event_type, country) DO UPDATE SET
            incidents = g.incidents + EXCLUDED.incidents,
            fatalities_min_sum = g.fatalities_min_sum + EXCLUDED.fatalities_min_sum,
            fatalities_max_sum = g.fatalities_max_sum + EXCLUDED.fatalities_max_sum,
            x_mm_sum = g.x_mm_sum + EXCLUDED.x_mm_sum,
            y_mm_sum = g.y_mm_sum + EXCLUDED.y_mm_sum
        RETURNING g.cy, g.cx, g.event_type, g.country, g.incidents
    )
    SELECT (SELECT coalesce(sum(s.folded), 0) FROM summed s),
           array_agg(m.cy) FILTER (WHERE m.incidents = 0),
           array_agg(m.cx) FILTER (WHERE m.incidents = 0),
           array_agg(m.event_type) FILTER (WHERE m.incidents = 0),
           array_agg(m.country) FILTER (WHERE m.incidents = 0)
    INTO folded, emptied_cy, emptied_cx, emptied_type, emptied_country
    FROM merged m;
    IF emptied_cy IS NOT NULL THEN
        DELETE FROM incident_grid g
        USING unnest(emptied_cy, emptied_cx, emptied_type, emptied_country) e(cy, cx, event_type, country)
        WHERE g.cy = e.cy AND g.cx = e.cx AND g.event_type = e.event_type AND g.country = e.country AND g.incidents = 0;
    END IF;
    RETURN folded;
END $$;

-- The incidents already stored.
INSERT INTO incident_grid
SELECT incident_grid_cy(point_3857), incident_grid_cx(point_3857), event_type, coalesce(country, ''), count(*),
       coalesce(sum(fatalities_min), 0), coalesce(sum(fatalities_max), 0),
       sum(round(ST_X(point_3857) * 1000)::bigint), sum(round(ST_Y(point_3857) * 1000)::bigint)
FROM incidents
WHERE deleted_at IS NULL AND NOT ST_IsEmpty(point_3857)
GROUP BY 1, 2, 3, 4;
