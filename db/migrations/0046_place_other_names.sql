-- GeoNames' other names of a place (issue 7): "Tombouctou" and "Timbuctoo" for Timbuktu, "Baydhabo" for Baidoa,
-- "Halab" and "Haleb" for Aleppo. The gazetteer knew a place by its name and a curated spelling or two; a
-- journalist's spelling of a town abroad was often not found at all.
--
-- They are searched like every other name, but they rank below a place's own names (its name, and the alternate
-- names an editor or the curated list gave it): GeoNames gives "Homs" to Al Khums, Libya as an old name, and
-- Homs, Syria must stay the place "Homs" names. place_names.other says which kind a spelling is; a spelling
-- that is both is an own name.
ALTER TABLE places ADD COLUMN other_names text[] NOT NULL DEFAULT '{}';
ALTER TABLE place_names ADD COLUMN other boolean NOT NULL DEFAULT false;

-- A place's spellings as place_names has them: a spelling that is both an own name and an other name is an own name.
-- (An SQL function of one SELECT: PostgreSQL inlines it into the triggers' statements.)
CREATE FUNCTION place_spellings(name text, alternate_names text[], other_names text[])
RETURNS TABLE (name text, other boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT s.n, bool_and(s.other)
    FROM (SELECT n, false AS other FROM unnest(array_prepend($1, $2)) AS n
          UNION ALL
          SELECT n, true FROM unnest($3) AS n) s
    WHERE btrim(s.n) <> ''
    GROUP BY s.n
$$;

CREATE OR REPLACE FUNCTION places_names_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO place_names (place_id, name, other)
    SELECT r.id, s.name, s.other FROM new_rows r, place_spellings(r.name, r.alternate_names, r.other_names) s;
    RETURN NULL;
END $$;

-- Once a statement, as inserts are, no longer once a row: filling the shipped places' other names (135,233 rows)
-- and a `places import` of a large dump update every place at once. (A trigger with transition tables cannot
-- name columns, so it looks at the names itself.)
DROP TRIGGER places_names_update ON places;
CREATE OR REPLACE FUNCTION places_names_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM place_names p USING new_rows n, old_rows o
    WHERE p.place_id = n.id AND o.id = n.id
      AND (n.name, n.alternate_names, n.other_names) IS DISTINCT FROM (o.name, o.alternate_names, o.other_names);
    INSERT INTO place_names (place_id, name, other)
    SELECT n.id, s.name, s.other
    FROM new_rows n JOIN old_rows o ON o.id = n.id, place_spellings(n.name, n.alternate_names, n.other_names) s
    WHERE (n.name, n.alternate_names, n.other_names) IS DISTINCT FROM (o.name, o.alternate_names, o.other_names);
    RETURN NULL;
END $$;
CREATE TRIGGER places_names_update
    AFTER UPDATE ON places REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION places_names_updated();

-- What the service has put into this database from the shipped gazetteer beyond the places themselves, so that a
-- database loaded before a part existed gets it once at its next start ('other_names': the other names of
-- db/gazetteer/places.tsv.gz).
CREATE TABLE gazetteer_parts (
    part       text PRIMARY KEY,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);
