-- Place keys ignore invisible formatting characters: the right-to-left and left-to-right marks
-- (U+200F, U+200E) and the Arabic letter mark (U+061C) that Arabic text copied from web pages and
-- editors carries, the other bidirectional controls (U+202A–U+202E, U+2066–U+2069), zero-width
-- spaces and joiners (U+200B–U+200D, U+2060–U+2064, U+FEFF) and the soft hyphen (U+00AD). None of
-- them is seen, so "‏حمص" (with a leading mark) was a name no place had, and geocoding it a 422.
-- Otherwise the same function as migration 0016's.
CREATE OR REPLACE FUNCTION place_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN regexp_replace(regexp_replace(
    btrim(regexp_replace(
        translate(
            regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary,
                    -- Before unaccent, which makes the soft hyphen a hyphen.
                    regexp_replace(name, '[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\u061C\uFEFF\u00AD]', '', 'g'))),
                '[''’‘ʿʾʻʼ`´\u064B-\u065F\u0670\u0640]', '', 'g'),
            'أإآٱةىیک', 'ااااهييك'),
        '[-_.,()[:space:]]+', ' ', 'g')),
    '(^| )[ae](sh|th|dh|[dnrstz]) \2', '\1al \2', 'g'),
    '(^| )el ', '\1al ', 'g');

-- The stored keys are computed again, in one table rewrite (as in 0016).
ALTER TABLE place_names DROP COLUMN key;
ALTER TABLE place_names ADD COLUMN key text GENERATED ALWAYS AS (place_key(name)) STORED;
CREATE INDEX place_names_key_trgm_idx ON place_names USING gin (key gin_trgm_ops);
CREATE INDEX place_names_key_idx ON place_names (key);
