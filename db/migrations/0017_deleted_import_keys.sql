-- An import does not bring back an incident an editor deleted: a staged row whose key is a deleted
-- incident of the same source (and no live one) is rejected. The lookup is one probe per staged
-- row in this index of deleted keys only, which imports of new rows never touch; it is made only
-- when the source has deleted incidents at all, so a clean import pays nothing.
CREATE INDEX incidents_deleted_key_idx ON incidents (external_id, import_source)
    WHERE deleted_at IS NOT NULL AND external_id IS NOT NULL;
