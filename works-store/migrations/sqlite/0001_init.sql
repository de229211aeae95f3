-- Anthropy Works: organizations, users, API tokens, sessions, sign-in failures and the
-- audit hash chain. Timestamps are unix milliseconds; ids are uuid strings.

CREATE TABLE orgs (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    archived_at BIGINT
);
CREATE INDEX orgs_name_idx ON orgs (name, id);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('msp_admin', 'msp_operator', 'org_admin', 'org_user')),
    org_id        TEXT    REFERENCES orgs (id),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_org_idx ON users (org_id, username);

CREATE TABLE api_tokens (
    id           TEXT   NOT NULL PRIMARY KEY,
    user_id      TEXT   NOT NULL REFERENCES users (id),
    name         TEXT   NOT NULL,
    prefix       TEXT   NOT NULL,
    secret_hash  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CONSTRAINT api_tokens_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at);

CREATE TABLE sessions (
    id          TEXT   NOT NULL PRIMARY KEY,
    user_id     TEXT   NOT NULL REFERENCES users (id),
    kind        TEXT   NOT NULL CHECK (kind IN ('browser', 'api')),
    secret_hash TEXT   NOT NULL,
    csrf_hash   TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    CONSTRAINT sessions_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_failures (
    username TEXT   NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX login_failures_username_at_idx ON login_failures (username, at);

-- `seq` is the rowid: unique, and the order of the chain.
CREATE TABLE audit_log (
    seq         INTEGER NOT NULL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    org_id      TEXT,
    action      TEXT    NOT NULL,
    target_kind TEXT    NOT NULL,
    target_id   TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'denied', 'rejected')),
    reason      TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, seq);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_at_idx ON audit_log (at);
