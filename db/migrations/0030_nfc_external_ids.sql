-- Writes store external_id in Unicode NFC (IncidentInput's Key), so "Café-1" sent with é as one code
-- point or as e + U+0301 (NFD) is one key: before, it was two incidents, through imports and single
-- writes alike, and a file re-sent in the other form created its incidents again. Keys stored before
-- are brought to NFC here, so that a write of the same key in either form finds its incident.
--
-- As in 0028, this is a real change of each such incident, recorded as any other: its version goes up,
-- the change feed carries it, its history names this migration as the writer, and an import's own
-- version goes along when it was current (the source's next import does not take the change for an
-- editor's). Deleted incidents are no change of anyone's; those an import looks up are seen to at the end.
--
-- external_id is unique among live incidents: a key is changed only when no other live incident has,
-- or would get, its NFC form (an incident "Café-1" beside one spelt Cafe + U+0301 + "-1" is a
-- duplicate for an editor to settle, not for a migration to merge; so are the Ångström sign and
-- A + U+030A, which are both Å), and only when that form fits the key's 200 characters (a few
-- characters are longer in NFC: U+0958 is two code points), as writes now refuse such a key.
--
-- Only keys that are not all ASCII can change (ASCII is NFC), and telling them costs a length
-- comparison. The keys are read from the unique index of live keys alone (an index-only scan: 30 MB
-- beside the table's 1.1 GB on the bench's million incidents), and the few incidents to change are
-- then found by key through that index. On a million ASCII keys it read the index once, in 0.16-0.36 s,
-- and nothing else; testing each key with IS NFC NORMALIZED took 0.55-0.7 s, and 0028's way of reading
-- (a scan of the table) 1.6 s.
SELECT set_config('incidentmap.actor', 'migration 0030_nfc_external_ids', true);

WITH unnormalised AS MATERIALIZED (
    SELECT i.external_id AS key, normalize(i.external_id, NFC) AS nfc
    FROM incidents i
    WHERE i.external_id IS NOT NULL AND i.deleted_at IS NULL
      AND CASE WHEN octet_length(i.external_id) = length(i.external_id) THEN false
               ELSE i.external_id IS NOT NFC NORMALIZED END
), free_keys AS MATERIALIZED (
    SELECT u.key, u.nfc
    FROM unnormalised u
    WHERE length(u.nfc) <= 200
      AND NOT EXISTS (SELECT FROM incidents o WHERE o.external_id = u.nfc AND o.deleted_at IS NULL)
      AND NOT EXISTS (SELECT FROM unnormalised other WHERE other.nfc = u.nfc AND other.key <> u.key)
)
UPDATE incidents i SET
    external_id = f.nfc,
    updated_at = now(),
    version = i.version + 1,
    imported_version = CASE WHEN i.imported_version = i.version THEN i.version + 1 ELSE i.imported_version END
FROM free_keys f
WHERE i.external_id = f.key AND i.deleted_at IS NULL;

-- An import keeps deleted an incident of its source that an editor deleted: it finds the tombstone by
-- (external_id, import_source), exactly, and a file's keys now arrive in NFC. So the keys of those
-- tombstones are brought to NFC too, or a file re-sent with a decomposed key would bring its incident
-- back. Quietly, as in 0012: a tombstone is not changed again (the feed would announce it as updated,
-- and its version stays that of its deletion), so the feed's trigger is off for this one statement.
-- Tombstones share keys freely (no unique index holds them); only the 200 characters bound them.
ALTER TABLE incidents DISABLE TRIGGER incidents_change_feed_update;
UPDATE incidents d SET external_id = normalize(d.external_id, NFC)
WHERE d.external_id IS NOT NULL AND d.deleted_at IS NOT NULL AND d.import_source IS NOT NULL
  AND CASE WHEN octet_length(d.external_id) = length(d.external_id) THEN false
           ELSE d.external_id IS NOT NFC NORMALIZED AND length(normalize(d.external_id, NFC)) <= 200 END;
ALTER TABLE incidents ENABLE TRIGGER incidents_change_feed_update;
