-- CQL2's ACCENTI(location_name) = ACCENTI('…') (and on title) had no index: accent_fold (0047) is STABLE, as
-- unaccent() is (its rules are a file), so no index may hold it, and every page of a rare place, or of none, read
-- the whole table folding each row: 1.4-1.8 s a page on the bench's million rows, 1.5-4.0 s on title.
--
-- accent_fold_key is accent_fold declared IMMUTABLE, the usual way to index unaccent(): the rules file is the
-- dictionary's, fixed by this database's installation. Were it edited, these indexes would hold the old folding
-- until rebuilt (REINDEX INDEX incidents_location_name_fold_idx, incidents_title_fold_idx). Being IMMUTABLE over a
-- STABLE body, PostgreSQL never inlines it: the index and the filter (SqlCompiler, for = and IN of ACCENTI(property)
-- against ACCENTI('…') literals) name the same call, and its result is accent_fold's.
CREATE FUNCTION accent_fold_key(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE CALLED ON NULL INPUT
RETURN public.accent_fold(t);

--
-- Hash indexes: they serve only equality (and IN, through a bitmap), which is all ACCENTI's = asks, and hold a
-- hash of any length of text. A B-tree entry has at most 2,704 bytes, and a title of 500 characters folds to more
-- (unaccent() writes up to twice the bytes it reads): such a write would have failed.
CREATE INDEX incidents_location_name_fold_idx ON incidents USING hash (accent_fold_key(location_name)) WHERE deleted_at IS NULL;
CREATE INDEX incidents_title_fold_idx ON incidents USING hash (accent_fold_key(title)) WHERE deleted_at IS NULL;
