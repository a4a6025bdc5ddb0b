-- Full text (q) over admin3 (migration 0044), as over admin1 and admin2: a sub-district such as "Markaz Rif
-- Dimashq" that an ACLED import stored was found by admin3= but not by q, which the README says searches the
-- place. The search document takes admin3 beside the other two, in the place's part (weight B).
CREATE FUNCTION incident_search_document(
    title text, summary text, location_name text, admin1 text, admin2 text, admin3 text,
    actors text[], claimed_by text)
RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN
        setweight(to_tsvector('public.incidentmap_search'::regconfig, coalesce(public.search_fold(title), '')), 'A') ||
        setweight(to_tsvector('public.incidentmap_search'::regconfig, coalesce(public.search_fold(
            coalesce(location_name, '') || ' ' || coalesce(admin1, '') || ' ' || coalesce(admin2, '') || ' ' || coalesce(admin3, '')), '')), 'B') ||
        setweight(to_tsvector('public.incidentmap_search'::regconfig, coalesce(public.search_fold(
            coalesce(array_to_string(actors, ' '), '') || ' ' || coalesce(claimed_by, '')), '')), 'B') ||
        setweight(to_tsvector('public.incidentmap_search'::regconfig, coalesce(public.search_fold(summary), '')), 'C');
END $$;

-- Every stored document is computed again, as in 0022 and 0025: the column dropped and added (one table
-- rewrite, about a minute a million rows; no trigger fires, so no version, feed entry or revision), its
-- index rebuilt, analyzed.
ALTER TABLE incidents
    DROP COLUMN search,
    ADD COLUMN search tsvector GENERATED ALWAYS AS (incident_search_document(
        title, summary, location_name, admin1, admin2, admin3, actors, claimed_by)) STORED;

CREATE INDEX incidents_search_idx ON incidents USING gin (search) WHERE deleted_at IS NULL;

DROP FUNCTION incident_search_document(text, text, text, text, text, text[], text);

ANALYZE incidents (search);
