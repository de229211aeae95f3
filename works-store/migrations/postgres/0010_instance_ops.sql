-- Operating OpenClaw instances: assignments to organization users, the CLI commands
-- requested in an instance (each one a job), and upgrade plans. Timestamps are unix
-- milliseconds; warnings and steps are JSON lists of plain-English strings.

CREATE TABLE instance_assignments (
    instance_id TEXT   NOT NULL REFERENCES instances (id),
    user_id     TEXT   NOT NULL REFERENCES users (id),
    org_id      TEXT   NOT NULL REFERENCES orgs (id),
    assigned_by TEXT   NOT NULL,
    assigned_at BIGINT NOT NULL,
    PRIMARY KEY (instance_id, user_id)
);
CREATE INDEX instance_assignments_user_idx ON instance_assignments (user_id, instance_id);

CREATE TABLE instance_cli_runs (
    job_id      TEXT NOT NULL PRIMARY KEY REFERENCES jobs (id),
    instance_id TEXT NOT NULL REFERENCES instances (id),
    command_id  TEXT NOT NULL
);
CREATE INDEX instance_cli_runs_instance_idx ON instance_cli_runs (instance_id);

CREATE TABLE upgrade_plans (
    id              TEXT   NOT NULL PRIMARY KEY,
    instance_id     TEXT   NOT NULL REFERENCES instances (id),
    node_id         TEXT   NOT NULL REFERENCES nodes (id),
    org_id          TEXT   REFERENCES orgs (id),
    from_version    TEXT,
    to_version      TEXT   NOT NULL,
    channel         TEXT   NOT NULL CHECK (channel IN ('stable', 'extended-stable', 'beta', 'dev')),
    direction       TEXT   NOT NULL,
    warnings        TEXT   NOT NULL,
    steps           TEXT   NOT NULL,
    state           TEXT   NOT NULL CHECK (state IN ('proposed', 'approved', 'cancelled')),
    approval_phrase TEXT   NOT NULL,
    created_by      TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    approved_by     TEXT,
    approved_at     BIGINT,
    cancelled_by    TEXT,
    cancelled_at    BIGINT
);
CREATE INDEX upgrade_plans_instance_idx ON upgrade_plans (instance_id, created_at);
