-- Deployed instances: the states of an instance's life (deploying, failed, removed), the
-- sealed gateway token, the reason for the state, the last job and the technical detail
-- of the last health check. A deploying instance has no container yet (container_id
-- NULL).

ALTER TABLE instances DROP CONSTRAINT instances_state_check;
ALTER TABLE instances ADD CONSTRAINT instances_state_check
    CHECK (state IN ('discovered', 'deploying', 'managed', 'failed', 'removed'));
ALTER TABLE instances ALTER COLUMN container_id DROP NOT NULL;
ALTER TABLE instances ADD COLUMN reason TEXT;
ALTER TABLE instances ADD COLUMN job_id TEXT;
ALTER TABLE instances ADD COLUMN health_detail TEXT;
ALTER TABLE instances ADD COLUMN gateway_token TEXT;
