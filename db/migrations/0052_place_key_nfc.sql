-- A place name typed decomposed (Unicode NFD, as macOS, some keyboards and some exports write it) had
-- another key than the same name composed (NFC) wherever unaccent has no rule for the composed letter:
-- the Arabic hamza letters ئ and ؤ, the Cyrillic й and ї (2,261 places of the shipped gazetteer have a
-- name with one). Composed they stayed as they are; decomposed (ي and ٔ, и and ̆) the mark went, as a
-- haraka or an accent, and the name was another: "القائم" typed NFD was an unknown place (422), "Київ"
-- typed NFD found nothing, and an editor's NFD copy of an NFC name beside it was no "Place exists".
--
-- place_key now brings the name to NFC first (after taking out the invisible formatting characters,
-- which can stand between a letter and its mark), so both forms have the key the composed one always
-- had. Otherwise the same function as migration 0026's.
CREATE OR REPLACE FUNCTION place_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN regexp_replace(regexp_replace(
    btrim(regexp_replace(
        translate(
            regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary,
                    -- Before unaccent, which makes the soft hyphen a hyphen; and before NFC, since a mark
                    -- after one of them composes with the letter before it once they are gone.
                    normalize(regexp_replace(name, '[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\u061C\uFEFF\u00AD]', '', 'g'), NFC))),
                '[''’‘ʿʾʻʼ`´\u064B-\u065F\u0670\u0640]', '', 'g'),
            'أإآٱةىیک', 'ااااهييك'),
        '[-_.,()[:space:]]+', ' ', 'g')),
    '(^| )[ae](sh|th|dh|[dnrstz]) \2', '\1al \2', 'g'),
    '(^| )el ', '\1al ', 'g');

-- The stored keys (place_names.key, generated from place_key) that this changes are computed again: the
-- function differs from 0026's only where the name without its formatting characters is not in NFC, which
-- needs a name not in NFC or one holding such a character. An UPDATE of those rows alone recomputes their
-- key and its two indexes (an UPDATE computes a generated column again). The shipped gazetteer (379,059
-- names) has 2 such names, whose keys stay as they were: the UPDATE took 0.8 to 1.5 s (the scan), where
-- rewriting the table and its indexes as 0026 did took 17.7 s (2-core machine under load, psql \timing).
UPDATE place_names SET name = name
WHERE NOT name IS NFC NORMALIZED
   OR name ~ '[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\u061C\uFEFF\u00AD]';
