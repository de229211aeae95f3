-- Deployed instances: the states of an instance's life (deploying, failed, removed), the
-- sealed gateway token, the reason for the state, the last job and the technical detail
-- of the last health check. A deploying instance has no container yet (container_id
-- NULL). SQLite cannot change a CHECK constraint in place: the table is rebuilt.

CREATE TABLE instances_new (
    id             TEXT   NOT NULL PRIMARY KEY,
    node_id        TEXT   NOT NULL REFERENCES nodes (id),
    org_id         TEXT   REFERENCES orgs (id),
    state          TEXT   NOT NULL CHECK (state IN ('discovered', 'deploying', 'managed', 'failed', 'removed')),
    container_id   TEXT,
    container_name TEXT   NOT NULL,
    image          TEXT   NOT NULL,
    version        TEXT,
    health         TEXT,
    reasons        TEXT   NOT NULL,
    discovered_at  BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    taken_over_by  TEXT,
    taken_over_at  BIGINT,
    reason         TEXT,
    job_id         TEXT,
    health_detail  TEXT,
    gateway_token  TEXT,
    CONSTRAINT instances_node_container_key UNIQUE (node_id, container_id)
);
INSERT INTO instances_new (id, node_id, org_id, state, container_id, container_name, image, version, health, reasons,
    discovered_at, updated_at, taken_over_by, taken_over_at)
    SELECT id, node_id, org_id, state, container_id, container_name, image, version, health, reasons,
    discovered_at, updated_at, taken_over_by, taken_over_at FROM instances;
DROP TABLE instances;
ALTER TABLE instances_new RENAME TO instances;
CREATE INDEX instances_org_idx ON instances (org_id, state, container_name, id);
CREATE INDEX instances_order_idx ON instances (state, container_name, id);
