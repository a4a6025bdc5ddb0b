-- Change feed (issue 5): every create, update and delete of an incident appends a change in the
-- same transaction. Readers order changes by (xid, position) and only read below the oldest
-- transaction still running (pg_snapshot_xmin), so a transaction that started earlier but commits
-- later can never be skipped: its changes sort before anything a reader has been allowed past.
CREATE TABLE incident_changes (
    xid          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    position     bigint      GENERATED ALWAYS AS IDENTITY,
    incident_id  bigint      NOT NULL REFERENCES incidents (id),
    kind         text        NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    version      integer     NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (xid, position)
);
CREATE INDEX incident_changes_changed_at_idx ON incident_changes (changed_at);

-- How far retention has purged: a cursor at or before this point has lost changes (410 Gone).
CREATE TABLE incident_changes_purged (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    xid        xid8    NOT NULL,
    position   bigint  NOT NULL
);

CREATE FUNCTION incidents_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_changes (incident_id, kind, version)
    VALUES (NEW.id,
            CASE WHEN TG_OP = 'INSERT' THEN 'created'
                 WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted'
                 ELSE 'updated' END,
            NEW.version);
    -- A wake-up only: listeners read the feed itself. Identical payloads in one transaction
    -- are delivered once.
    PERFORM pg_notify('incident_changes', '');
    RETURN NULL;
END $$;

CREATE TRIGGER incidents_change_feed
    AFTER INSERT OR UPDATE ON incidents
    FOR EACH ROW EXECUTE FUNCTION incidents_record_change();
