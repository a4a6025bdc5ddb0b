-- A revision's changed_at, and a feed entry's, is the time of the transaction that made the change:
-- the same instant as the incident's updated_at at that version (now() in every write). Both
-- columns defaulted to clock_timestamp(), the moment the trigger ran, so the history said 2016-…:01.153
-- where the incident said :01.012 for the same version, and an import's rows spread over its seconds.
-- Rows written before keep the times they have.
ALTER TABLE incident_revisions ALTER COLUMN changed_at SET DEFAULT now();
ALTER TABLE incident_changes ALTER COLUMN changed_at SET DEFAULT now();
