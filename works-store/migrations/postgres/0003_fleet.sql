-- Nodes, their inventory, enrollment tokens, agent credentials, jobs and leases.
-- Timestamps are unix milliseconds; health, inventory, parameters and results are JSON
-- text. Node names use the "C" collation so both backends order them alike.

CREATE TABLE nodes (
    id              TEXT   NOT NULL PRIMARY KEY,
    name            TEXT   COLLATE "C" NOT NULL,
    org_id          TEXT   REFERENCES orgs (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    retired_at      BIGINT,
    last_checkin_at BIGINT,
    health          TEXT,
    enrolled_at     BIGINT
);
CREATE INDEX nodes_name_idx ON nodes (name, id);
CREATE INDEX nodes_org_idx ON nodes (org_id, name, id);

-- The last full container inventory an agent reported.
CREATE TABLE node_inventory (
    node_id    TEXT   NOT NULL PRIMARY KEY REFERENCES nodes (id),
    containers TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE enrollment_tokens (
    id          TEXT   NOT NULL PRIMARY KEY,
    node_id     TEXT   NOT NULL REFERENCES nodes (id),
    org_id      TEXT,
    secret_hash TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    CONSTRAINT enrollment_tokens_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX enrollment_tokens_node_idx ON enrollment_tokens (node_id);

CREATE TABLE agent_credentials (
    id          TEXT   NOT NULL PRIMARY KEY,
    node_id     TEXT   NOT NULL REFERENCES nodes (id),
    secret_hash TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    CONSTRAINT agent_credentials_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX agent_credentials_node_idx ON agent_credentials (node_id);

-- `org_id` is the node's organization, copied so lists are scoped without a join.
-- `kind` is checked when read, so a new kind needs no table rebuild.
CREATE TABLE jobs (
    id              TEXT   NOT NULL PRIMARY KEY,
    node_id         TEXT   NOT NULL REFERENCES nodes (id),
    org_id          TEXT,
    kind            TEXT   NOT NULL,
    risk            TEXT   NOT NULL CHECK (risk IN ('safe', 'risky')),
    state           TEXT   NOT NULL CHECK (state IN ('requested', 'awaiting_approval', 'queued', 'claimed',
                                                     'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
    params          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    timeout_secs    BIGINT NOT NULL,
    reason          TEXT,
    approval_phrase TEXT,
    requested_by    TEXT   NOT NULL,
    approved_by     TEXT,
    approved_at     BIGINT,
    retry_of        TEXT,
    result          TEXT,
    output          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    claimed_at      BIGINT,
    heartbeat_at    BIGINT,
    deadline_at     BIGINT,
    expires_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
-- Claiming: the oldest queued job of a node.
CREATE INDEX jobs_claim_idx ON jobs (node_id, state, created_at);
-- Recovery: claimed or running past the deadline; waiting past expiry.
CREATE INDEX jobs_deadline_idx ON jobs (state, deadline_at);
CREATE INDEX jobs_expires_idx ON jobs (state, expires_at);
-- Listing: an organization's jobs, newest first.
CREATE INDEX jobs_org_idx ON jobs (org_id, created_at);

-- Named leases, e.g. the recovery leader among several servers.
CREATE TABLE leases (
    name       TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
