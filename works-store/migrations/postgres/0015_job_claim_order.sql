-- A claim takes a node's oldest queued job by (created_at, id). The earlier index gave
-- the order of created_at only, so every claim sorted all of the node's queued jobs to
-- find the first; with the id in the index the first entry is the one.

CREATE INDEX jobs_claim_order_idx ON jobs (node_id, state, created_at, id);
DROP INDEX jobs_claim_idx;
