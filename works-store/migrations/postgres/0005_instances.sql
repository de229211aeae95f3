-- OpenClaw instances: containers found on a node (discovered) and the ones the product
-- manages. One instance per node and container. Timestamps are unix milliseconds;
-- reasons are a JSON list of plain-English strings.

CREATE TABLE instances (
    id             TEXT   NOT NULL PRIMARY KEY,
    node_id        TEXT   NOT NULL REFERENCES nodes (id),
    org_id         TEXT   REFERENCES orgs (id),
    state          TEXT   NOT NULL CHECK (state IN ('discovered', 'managed')),
    container_id   TEXT   NOT NULL,
    container_name TEXT   NOT NULL,
    image          TEXT   NOT NULL,
    version        TEXT,
    health         TEXT,
    reasons        TEXT   NOT NULL,
    discovered_at  BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    taken_over_by  TEXT,
    taken_over_at  BIGINT,
    CONSTRAINT instances_node_container_key UNIQUE (node_id, container_id)
);
CREATE INDEX instances_org_idx ON instances (org_id, state, container_name, id);
CREATE INDEX instances_order_idx ON instances (state, container_name, id);
