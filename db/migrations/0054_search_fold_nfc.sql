-- Full text (q) missed text stored decomposed (Unicode NFD, as macOS and some exports write it), and a q typed
-- decomposed missed text stored composed. Text other than a key is stored as sent, and search_fold (0025, 0036)
-- folded it without composing it first: wherever the mark of a decomposed letter is something the folding or
-- unaccent takes off, the decomposed word became another word. "Київ" stored decomposed (ї as і and U+0308) was
-- indexed as "киів", so q=Київ typed composed did not find it, and q typed decomposed did not find "Київ" stored
-- composed; so too й (и and a breve), the Arabic hamza letters ئ and ؤ (ي and و with U+0654, which search_fold
-- removes as a haraka), Hangul syllables (their jamo) and kana with a voicing mark (ガ as カ and U+3099). Latin
-- letters such as Ḥ and é were folded alike either way, since unaccent removes the combining marks too.
--
-- search_fold now brings text to NFC before folding it, on both sides: the stored document
-- (incident_search_document calls it on each part) and q (IncidentSqlBuilder.TextQuery folds @q with it).
-- All-ASCII text, which is in NFC, returns at once without the Arabic check (octet_length is the stored
-- length, char_length one pass over the bytes), so English text costs what it did or less. Other text is
-- asked IS NFC NORMALIZED first, a quick check of each character, since normalize() decomposes and composes
-- the whole text even when it is in NFC: the search document of rows whose every part is accented or Arabic
-- (NFC) cost 40-44 µs a row with the old function, 57-66 with normalize() alone, 44-47 so (docs/query-performance.md).
CREATE OR REPLACE FUNCTION search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE CALLED ON NULL INPUT
RETURN CASE WHEN octet_length(t) = char_length(t) THEN t
            WHEN t ~ '[\u064B-\u065F\u0670\u0640أإآٱةىیک]'
            THEN translate(CASE WHEN t IS NFC NORMALIZED THEN t ELSE normalize(t, NFC) END,
                           'أإآٱةىیکًٌٍَُِّْٰٕٖٜٟٓٔٗ٘ٙٚٛٝٞـ', 'ااااهييك')
            WHEN t IS NFC NORMALIZED THEN t
            ELSE normalize(t, NFC) END;

-- For text in NFC the function returns what it did (normalize leaves it as it is), so a stored document
-- changes only where a part of it is not in NFC. Those rows alone are computed again by an UPDATE that
-- sets a column to itself (an UPDATE computes again the stored generated columns that depend on it),
-- deleted ones too. Nothing an API client reads changes, so the change feed's trigger is off meanwhile:
-- no feed entry; the version and updated_at stay, and a revision for an unchanged version is never written.
-- ALTER TABLE … DISABLE TRIGGER locks incidents against writes until the migration commits, not against reads.
-- Rewriting the whole table as 0048 did would hold every read too, for minutes on a million rows
-- (docs/query-performance.md, "q over text stored decomposed").
ALTER TABLE incidents DISABLE TRIGGER incidents_change_feed_update;

UPDATE incidents SET title = title
WHERE NOT (title IS NFC NORMALIZED)
   OR NOT (summary IS NFC NORMALIZED)
   OR NOT (location_name IS NFC NORMALIZED)
   OR NOT (admin1 IS NFC NORMALIZED)
   OR NOT (admin2 IS NFC NORMALIZED)
   OR NOT (admin3 IS NFC NORMALIZED)
   OR NOT (array_to_string(actors, ' ') IS NFC NORMALIZED)
   OR NOT (claimed_by IS NFC NORMALIZED);

ALTER TABLE incidents ENABLE TRIGGER incidents_change_feed_update;
