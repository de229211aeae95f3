-- Acknowledgements of health issues: one per issue, valid while the condition's
-- fingerprint is unchanged. Timestamps are unix milliseconds.

CREATE TABLE health_acks (
    issue_id        TEXT   NOT NULL PRIMARY KEY,
    fingerprint     TEXT   NOT NULL,
    org_id          TEXT,
    note            TEXT   NOT NULL,
    acknowledged_by TEXT   NOT NULL,
    acknowledged_at BIGINT NOT NULL
);
CREATE INDEX health_acks_org_idx ON health_acks (org_id);

-- Failed and timed-out jobs by when they finished, for the health answer.
CREATE INDEX jobs_finished_idx ON jobs (state, finished_at);
