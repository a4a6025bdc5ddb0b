-- Writes take the white space off single-line free text (IncidentInput's Line: title, external_id,
-- sub_event_type, location_name, admin1, admin2, claimed_by; list items always were). Incidents
-- stored before kept it: "Homs " was not found by location_name=Homs, and a file naming the key
-- "E-1 " now matches "E-1", not the stored "E-1 ". So live incidents stored untrimmed are trimmed
-- here, to what a write of the same values stores now (blank text is none).
--
-- This is a real change of each such incident, recorded as any other: its version goes up (a GET's
-- ETag names the version, and the bytes it stands for change), the change feed carries it (a mirror
-- following the feed would otherwise keep "Homs "), and its history names this migration as the
-- writer. An import's own version goes along when it was current, so the source's next import does
-- not take the trimming for an editor's change and refuse its rows. Deleted incidents are left as
-- they are: a tombstone is not changed again, and the feed would announce it as updated.
--
-- external_id is unique among live incidents: a key is trimmed only when no other live incident has,
-- or would get, the trimmed key (two incidents "E-1" and "E-1 " are duplicates for an editor to
-- settle, not for a migration to merge), and never to an empty key.
--
-- The characters taken off are those of .NET's String.Trim (char.IsWhiteSpace), which writes use.
SELECT set_config('incidentmap.actor', 'migration 0028_trimmed_text', true);

WITH space AS (
    SELECT E'\t\n\u000B\f\r \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000'::text AS chars
), untrimmed_keys AS MATERIALIZED (
    SELECT i.id, btrim(i.external_id, s.chars) AS trimmed
    FROM incidents i, space s
    WHERE i.deleted_at IS NULL AND i.external_id <> btrim(i.external_id, s.chars)
), free_keys AS (
    SELECT k.id, k.trimmed
    FROM untrimmed_keys k
    WHERE k.trimmed <> ''
      AND NOT EXISTS (SELECT FROM incidents o WHERE o.external_id = k.trimmed AND o.deleted_at IS NULL)
      AND NOT EXISTS (SELECT FROM untrimmed_keys other WHERE other.trimmed = k.trimmed AND other.id <> k.id)
)
UPDATE incidents i SET
    title = btrim(i.title, s.chars),
    external_id = coalesce((SELECT f.trimmed FROM free_keys f WHERE f.id = i.id), i.external_id),
    sub_event_type = nullif(btrim(i.sub_event_type, s.chars), ''),
    location_name = nullif(btrim(i.location_name, s.chars), ''),
    admin1 = nullif(btrim(i.admin1, s.chars), ''),
    admin2 = nullif(btrim(i.admin2, s.chars), ''),
    claimed_by = nullif(btrim(i.claimed_by, s.chars), ''),
    updated_at = now(),
    version = i.version + 1,
    imported_version = CASE WHEN i.imported_version = i.version THEN i.version + 1 ELSE i.imported_version END
FROM space s
WHERE i.deleted_at IS NULL
  AND (i.title <> btrim(i.title, s.chars)
       OR i.id IN (SELECT id FROM free_keys)
       OR i.sub_event_type IS DISTINCT FROM nullif(btrim(i.sub_event_type, s.chars), '')
       OR i.location_name IS DISTINCT FROM nullif(btrim(i.location_name, s.chars), '')
       OR i.admin1 IS DISTINCT FROM nullif(btrim(i.admin1, s.chars), '')
       OR i.admin2 IS DISTINCT FROM nullif(btrim(i.admin2, s.chars), '')
       OR i.claimed_by IS DISTINCT FROM nullif(btrim(i.claimed_by, s.chars), ''));
