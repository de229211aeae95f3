-- An audit record may say an attempt `failed`: it was allowed and tried, and did not
-- work (a host that could not be reached, an installation that stopped).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_outcome_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_outcome_check CHECK (outcome IN ('succeeded', 'denied', 'rejected', 'failed'));
