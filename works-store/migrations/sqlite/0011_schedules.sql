-- Schedules: a workflow run or safe node work started by a cron expression in a time
-- zone. The record is kept whole as a JSON document (`doc`); the columns beside it are
-- the ones queries filter or compare on. `next_fire_at`, `last_fire_at` and
-- `last_outcome` are authoritative over the document: a fire is claimed by a
-- compare-and-set on (id, next_fire_at), so two servers ticking at once start it once.
-- Timestamps are unix milliseconds.

CREATE TABLE schedules (
    id           TEXT    NOT NULL PRIMARY KEY,
    org_id       TEXT    NOT NULL REFERENCES orgs (id),
    owner_id     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL,
    next_fire_at BIGINT,
    last_fire_at BIGINT,
    last_outcome TEXT,
    doc          TEXT    NOT NULL
);
CREATE INDEX schedules_org_idx ON schedules (org_id, name, id);
CREATE INDEX schedules_due_idx ON schedules (enabled, next_fire_at);
