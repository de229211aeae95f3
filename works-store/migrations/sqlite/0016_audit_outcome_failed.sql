-- An audit record may say an attempt `failed`: it was allowed and tried, and did not
-- work (a host that could not be reached, an installation that stopped). SQLite cannot
-- change a CHECK constraint, so the table is copied into one that allows it; every
-- record keeps its place and hash.
CREATE TABLE audit_log_next (
    seq         INTEGER NOT NULL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    org_id      TEXT,
    action      TEXT    NOT NULL,
    target_kind TEXT    NOT NULL,
    target_id   TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'denied', 'rejected', 'failed')),
    reason      TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
INSERT INTO audit_log_next (seq, at, actor_id, actor_name, org_id, action, target_kind, target_id, outcome, reason, prev_hash, hash)
    SELECT seq, at, actor_id, actor_name, org_id, action, target_kind, target_id, outcome, reason, prev_hash, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_next RENAME TO audit_log;
CREATE INDEX audit_log_org_idx ON audit_log (org_id, seq);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_at_idx ON audit_log (at);
