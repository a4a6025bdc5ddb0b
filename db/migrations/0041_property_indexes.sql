-- Rare property values, and the deadliest incidents, found through an index (issue 7: journalists filter by
-- place and by who claimed an attack; issue 4: every filter works on every read path, at a million rows).
--
-- A filter on a free-text property (sub_event_type, admin1, admin2, location_name, claimed_by) had no
-- index. For a common value (location_name=Homs) PostgreSQL walks the time index newest first and fills a
-- page within a few hundred rows. For a value in a handful of incidents, or in none, that walk read the
-- whole table: a page of location_name=Sayeda Zeinab over the bench's million rows took 1.0 s, its count
-- another 0.6 s, and so did claimed_by=ISIS. Real data (ACLED) has tens of thousands of places, so most
-- place filters are rare ones. With a B-tree per column PostgreSQL's statistics for the column (its most
-- common values and the number of distinct ones) tell a rare value from a common one, and a rare value's
-- incidents are read from the index and sorted.
--
-- sortby=fatalities (the deadliest first) sorted every incident: 3.1 s a page. The index on its sort key
-- serves any page of it, and a filtered one when the filter keeps many incidents.
--
-- The six cost a clean import about 10 µs of CPU a row, 7-8 % of its rate on the bench's million rows
-- (docs/query-performance.md, "Rare property values and sorts no index serves").
CREATE INDEX incidents_sub_event_type_idx ON incidents (sub_event_type) WHERE deleted_at IS NULL;
CREATE INDEX incidents_admin1_idx ON incidents (admin1) WHERE deleted_at IS NULL;
CREATE INDEX incidents_admin2_idx ON incidents (admin2) WHERE deleted_at IS NULL;
CREATE INDEX incidents_location_name_idx ON incidents (location_name) WHERE deleted_at IS NULL;
CREATE INDEX incidents_claimed_by_idx ON incidents (claimed_by) WHERE deleted_at IS NULL;
-- The expression is SortFields' "fatalities" key, character for character: an index serves an ORDER BY
-- only when its expression is the same.
CREATE INDEX incidents_fatalities_idx ON incidents ((coalesce(fatalities_max, fatalities_min, -1)), id) WHERE deleted_at IS NULL;
