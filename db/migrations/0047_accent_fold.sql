-- CQL2's ACCENTI (SqlCompiler.Fold) was unaccent() alone, whose rules know Latin, Greek and Cyrillic letters
-- but no Hebrew or Arabic mark: ACCENTI('حِمْص') was not ACCENTI('حمص'), nor ACCENTI('שָׁלוֹם') ACCENTI('שלום'),
-- though vowel points are optional in both scripts. And a text spelled decomposed (NFD, as macOS file names
-- and some keyboards give it) folded unlike the same text composed whenever unaccent() has no rule for the
-- mark (Korean and Hebrew, for instance).
--
-- accent_fold brings text that holds anything but ASCII to its canonical decomposition, removes the Hebrew
-- points and cantillation marks and the Arabic harakat, Quranic marks and superscript alef (so a hamza or
-- madda on an alef goes too: أ is ا and U+0654), composes it again, and then runs unaccent(). Letters that
-- are no marks stay: ة, ى and tatweel are ACCENTI's business no more than ß is (q's search_fold does fold
-- them, migration 0025). All-ASCII text skips the first part, so ACCENTI over English text costs what it did.
--
-- Marks that make another letter rather than an accent stay too: Japanese voicing (が is not か), Indic
-- nukta and vowel signs. The composed text never holds a letter whose case folding needs more than lower()
-- where the original did not (CaseFolding.Trigger): unaccent() removes the accents of every such letter
-- that composition can make (ΐ, ǰ, ẖ …); Cql2ExecutionTests checks that over every decomposable character.
CREATE FUNCTION accent_fold(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE CALLED ON NULL INPUT
RETURN public.unaccent('public.unaccent'::regdictionary,
    CASE WHEN octet_length(t) <> char_length(t)
         THEN normalize(regexp_replace(normalize(t, NFD),
                  '[\u0591-\u05BD\u05BF\u05C1\u05C2\u05C4\u05C5\u05C7\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06DC\u06DF-\u06E4\u06E7\u06E8\u06EA-\u06ED]',
                  '', 'g'), NFC)
         ELSE t END);
