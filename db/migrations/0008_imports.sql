-- Bulk imports (issue 8): which import source owns an incident, and the jobs of long imports.

-- The import key is (source, external_id). external_id stays unique among live incidents (the
-- index of 0001), so the source is not part of that index: it records which dataset an incident
-- came from, and an import only ever updates incidents an import of the same source created.
-- Kept beside incidents rather than in it, so that features and revisions stay as they are.
CREATE TABLE imported_incidents (
    incident_id  bigint PRIMARY KEY REFERENCES incidents (id),
    source       text   NOT NULL CHECK (source ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$')
);

-- Imports started with ?async=true. report holds the counts while the job runs (updated every
-- second: updated_at doubles as its heartbeat) and the whole report (the source imported under,
-- rejected rows included, at most 10,000 of them) once it has finished.
CREATE TABLE import_jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status       text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    format       text        NOT NULL,
    created_by   text,
    bytes_total  bigint      NOT NULL,
    bytes_read   bigint      NOT NULL DEFAULT 0,
    report       jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
