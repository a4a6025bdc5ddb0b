-- The gazetteer is of populated places (GeoNames feature class P), and `places import` now takes
-- only those. Earlier it took administrative areas (class A) too and treated them as towns: a
-- governorate named "Muhafazat Hims" with the alternate name Homs made "Homs" ambiguous for
-- geocoding, a country ("Syrian Arab Republic", PCLI) geocoded as a town and named incidents on
-- reverse geocoding. Such places are removed, unless an incident, live, deleted or in its history,
-- names one by place_id: incidents keep what they were given, and their place_id keeps naming a place.
-- Class A's codes: ADM1…ADM5 and ADMD (with their historical H forms), PCL* (countries and dependencies),
-- LTER, PRSH, TERR, ZN, ZNB; a line with no feature code was stored with its class, A.
DO $$
DECLARE
    areas bigint[];
BEGIN
    SELECT array_agg(id) INTO areas FROM places
    WHERE source = 'geonames' AND (kind ~ '^(ADM|PCL)' OR kind IN ('A', 'LTER', 'PRSH', 'TERR', 'ZN', 'ZNB'));
    -- Most databases have none: then neither incidents nor their history is read.
    IF areas IS NULL THEN RETURN; END IF;
    DELETE FROM places p
    WHERE p.id = ANY (areas)
      AND p.id NOT IN (SELECT i.place_id FROM incidents i WHERE i.place_id = ANY (areas))
      AND p.id NOT IN (SELECT (r.feature -> 'properties' ->> 'place_id')::bigint FROM incident_revisions r
                       WHERE (r.feature -> 'properties' ->> 'place_id')::bigint = ANY (areas));
END $$;

-- First-level divisions by GeoNames code (country, "13" → Damascus Governorate), from
-- db/gazetteer/admin1.tsv, loaded at every start as the gazetteer is: `places import` names a
-- place's admin1 from its dump line's code, with the names the shipped places have.
CREATE TABLE admin1_divisions (
    country  char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    code     text    NOT NULL,
    name     text    NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    PRIMARY KEY (country, code)
);
