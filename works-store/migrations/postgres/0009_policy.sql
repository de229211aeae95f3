-- Capability permissions, connections, workflows and workflow runs. Each record is kept
-- whole as a JSON document (`doc`); the columns beside it are the ones queries filter,
-- sort or compare on. Timestamps are unix milliseconds. A connection's credential is
-- kept sealed with the master key, apart from its document.

CREATE TABLE capability_permissions (
    id            TEXT   NOT NULL PRIMARY KEY,
    org_id        TEXT   NOT NULL REFERENCES orgs (id),
    capability_id TEXT   NOT NULL,
    doc           TEXT   NOT NULL,
    CONSTRAINT capability_permissions_org_capability_key UNIQUE (org_id, capability_id)
);

CREATE TABLE connections (
    id                TEXT NOT NULL PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs (id),
    owner_id          TEXT NOT NULL,
    name              TEXT NOT NULL,
    doc               TEXT NOT NULL,
    sealed_credential TEXT
);
CREATE INDEX connections_org_idx ON connections (org_id, name, id);

CREATE TABLE workflows (
    id       TEXT NOT NULL PRIMARY KEY,
    org_id   TEXT NOT NULL REFERENCES orgs (id),
    owner_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE INDEX workflows_org_idx ON workflows (org_id, name, id);

CREATE TABLE workflow_runs (
    id                  TEXT   NOT NULL PRIMARY KEY,
    workflow_id         TEXT   NOT NULL,
    org_id              TEXT   NOT NULL REFERENCES orgs (id),
    owner_id            TEXT   NOT NULL,
    state               TEXT   NOT NULL CHECK (state IN ('running', 'awaiting_approval', 'blocked', 'succeeded', 'failed')),
    version             BIGINT NOT NULL,
    heartbeat_at        BIGINT,
    approval_expires_at BIGINT,
    created_at          BIGINT NOT NULL,
    doc                 TEXT   NOT NULL
);
CREATE INDEX workflow_runs_workflow_idx ON workflow_runs (workflow_id, created_at);
CREATE INDEX workflow_runs_state_idx ON workflow_runs (state, heartbeat_at);
