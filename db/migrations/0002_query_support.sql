-- Support for the query engine (issue 3): CSV built in SQL, array filters served by indexes.

-- RFC 4180 field quoting; IMMUTABLE and single-expression so the planner inlines it.
CREATE FUNCTION csv_quote(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value ~ '[",\r\n]' THEN '"' || replace(value, '"', '""') || '"' ELSE value END;

CREATE INDEX incidents_tags_idx   ON incidents USING gin (tags)   WHERE deleted_at IS NULL;
CREATE INDEX incidents_actors_idx ON incidents USING gin (actors) WHERE deleted_at IS NULL;
CREATE INDEX incidents_country_idx ON incidents (country, occurred_at) WHERE deleted_at IS NULL;
CREATE INDEX incidents_updated_idx ON incidents (updated_at, id) WHERE deleted_at IS NULL;
