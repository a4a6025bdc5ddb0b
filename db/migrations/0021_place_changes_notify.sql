-- Answers that use places (near=Homs on items, stats, tiles, the feed) carry ETags made from the data
-- version, which moved only with incidents: after an editor moved or removed a place, a poll with
-- the old ETag was a 304 for an answer that had changed. A statement that writes places now sends
-- the same wake-up as incidents do; the listener advances the data version on every one.
CREATE FUNCTION places_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;

CREATE TRIGGER places_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places
    FOR EACH STATEMENT EXECUTE FUNCTION places_notify_change();
