-- The access layer: shared SSH credentials (private keys sealed with the master key),
-- jumpboxes, host profiles of customer organizations, and Test Access attempts.
-- Timestamps are unix milliseconds; an attempt's transcript and discovery are JSON.

CREATE TABLE ssh_credentials (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    key_type    TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    public_key  TEXT   NOT NULL,
    sealed_key  TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT ssh_credentials_name_key UNIQUE (name)
);

CREATE TABLE jumpboxes (
    id                   TEXT    NOT NULL PRIMARY KEY,
    name                 TEXT    NOT NULL,
    address              TEXT    NOT NULL,
    port                 INTEGER NOT NULL,
    ssh_user             TEXT    NOT NULL,
    credential_id        TEXT    NOT NULL REFERENCES ssh_credentials (id),
    host_key             TEXT,
    host_key_fingerprint TEXT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    CONSTRAINT jumpboxes_name_key UNIQUE (name)
);

CREATE TABLE hosts (
    id                   TEXT    NOT NULL PRIMARY KEY,
    org_id               TEXT    NOT NULL REFERENCES orgs (id),
    name                 TEXT    NOT NULL,
    address              TEXT    NOT NULL,
    port                 INTEGER NOT NULL,
    ssh_user             TEXT    NOT NULL,
    credential_id        TEXT    NOT NULL REFERENCES ssh_credentials (id),
    jumpbox_id           TEXT    REFERENCES jumpboxes (id),
    host_key             TEXT,
    host_key_fingerprint TEXT,
    verified_at          BIGINT,
    node_id              TEXT    REFERENCES nodes (id),
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    CONSTRAINT hosts_org_name_key UNIQUE (org_id, name)
);
CREATE INDEX hosts_name_idx ON hosts (name, id);

CREATE TABLE access_attempts (
    id           TEXT   NOT NULL PRIMARY KEY,
    host_id      TEXT   NOT NULL REFERENCES hosts (id),
    org_id       TEXT   NOT NULL REFERENCES orgs (id),
    host_name    TEXT   NOT NULL,
    jumpbox_id   TEXT,
    route        TEXT   NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    stage_hop    TEXT   NOT NULL,
    stage_step   TEXT   NOT NULL,
    failure      TEXT,
    reason       TEXT,
    next_action  TEXT,
    transcript   TEXT   NOT NULL,
    discovery    TEXT   NOT NULL,
    technical    TEXT   NOT NULL,
    requested_by TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX access_attempts_host_idx ON access_attempts (host_id, started_at);
CREATE INDEX access_attempts_org_idx ON access_attempts (org_id, started_at);
CREATE INDEX access_attempts_status_idx ON access_attempts (status, started_at);
