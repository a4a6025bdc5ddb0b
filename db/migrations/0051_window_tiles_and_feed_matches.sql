-- Two read paths that read incidents from the table one by one, in no useful order (the table is 1.1 GB at a
-- million incidents, and a matching incident costs a heap page of its own):
--
-- Cluster tiles below zoom 8 with a time window (a map with a time slider): the grid of sums (0040) has no time,
-- so they read every incident of the tile in the window, and the GiST index on geom cannot narrow by time. A
-- z0 tile of four years read 400,000 incidents from the table (1.3-5.5 s). This index holds what such a tile
-- reads (the window's columns, what clusters sum, and the point they are placed by), so that the tile is an
-- index-only scan of the window (TileSql.Tile, docs/query-performance.md).
CREATE INDEX incidents_occurred_points_idx ON incidents (occurred_at)
    INCLUDE (occurred_until, event_type, country, fatalities_min, fatalities_max, point_3857)
    WHERE deleted_at IS NULL;

-- The change feed from an old cursor with a filter few incidents match takes those incidents first
-- (ChangeFeed.ReadAsync): the live ones through the filter's indexes, the deleted ones, which every reader who
-- is not an editor is shown whatever the filter, through this one. Every other index of incidents leaves them out.
CREATE INDEX incidents_deleted_idx ON incidents (id) WHERE deleted_at IS NOT NULL;

-- ... and then lists those incidents' changes after the cursor, by the incident, instead of passing every change
-- of the feed after it (a million from the bench's oldest cursor).
CREATE INDEX incident_changes_incident_idx ON incident_changes (incident_id, xid, position);
