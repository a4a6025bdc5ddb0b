-- An import leaves alone an incident an editor changed after the import last wrote it: a re-import
-- would otherwise quietly undo a correction. imported_version is the version an import last wrote;
-- single writes (PUT, PATCH) raise version but not it. NULL (rows imported before this migration)
-- counts as not edited, as before. Adding a column without a default rewrites nothing.
ALTER TABLE incidents ADD COLUMN imported_version integer;
