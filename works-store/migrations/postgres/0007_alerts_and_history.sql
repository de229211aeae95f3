-- Alerts on changes of the health answer, and the sampled history of the health answer
-- and fleet counts. Timestamps are unix milliseconds.

-- Where notifications go. The shared secret is sealed with the master key.
CREATE TABLE alert_webhooks (
    id            TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    url           TEXT   NOT NULL,
    secret_sealed TEXT,
    created_by    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX alert_webhooks_name_idx ON alert_webhooks (name);

-- The state last notified per channel ('health'): changes are compare-and-set on it.
CREATE TABLE alert_state (
    channel    TEXT   NOT NULL PRIMARY KEY,
    state      TEXT   NOT NULL,
    changed_at BIGINT NOT NULL
);

-- One notification to one webhook, with what its attempts gave.
CREATE TABLE alert_deliveries (
    id               TEXT   NOT NULL PRIMARY KEY,
    webhook_id       TEXT   NOT NULL,
    webhook_name     TEXT   NOT NULL,
    event_id         TEXT   NOT NULL,
    from_state       TEXT   NOT NULL,
    to_state         TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    max_attempts     BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error       TEXT,
    next_attempt_at  BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_created_idx ON alert_deliveries (created_at);

-- The health answer and fleet counts, sampled by the background monitor.
CREATE TABLE metric_samples (
    at      BIGINT NOT NULL PRIMARY KEY,
    state   TEXT   NOT NULL,
    counts  TEXT   NOT NULL
);
