-- 0050 indexed ACCENTI(location_name) and ACCENTI(title) with hash indexes, which hold a folding of any length.
-- But a hash index keeps every entry of one value in one bucket, a chain of overflow pages, and an insert walks the
-- chain to its end: a place named in 100,000 incidents (Aleppo in an ACLED export) is a chain of some 250 pages
-- that each new incident there reads. A clean 1M-row import (bench/import-bench.sh) fell from 12,364 to 6,047
-- rows/s, PostgreSQL's CPU from 131 to 278 µs a row.
--
-- These B-trees hold the head of the folding instead, its first 200 characters (at most 800 bytes, where a B-tree
-- entry may hold 2,704, which the folding of a 500-character title can pass). A B-tree stores a value's entries
-- side by side, deduplicated. SqlCompiler compares the head, which the index serves, and then the whole folding.
DROP INDEX IF EXISTS incidents_location_name_fold_idx;
DROP INDEX IF EXISTS incidents_title_fold_idx;
CREATE INDEX incidents_location_name_fold_idx ON incidents (left(accent_fold_key(location_name), 200)) WHERE deleted_at IS NULL;
CREATE INDEX incidents_title_fold_idx ON incidents (left(accent_fold_key(title), 200)) WHERE deleted_at IS NULL;
