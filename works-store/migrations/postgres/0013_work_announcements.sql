-- Several servers on one database: every job that becomes queued is announced on the
-- channel `works_job_queued` (payload: the node id), so that a server holding an agent's
-- long poll wakes it at once when the job was queued through another server. NOTIFY is
-- delivered when the transaction commits, and never when it rolls back.

CREATE OR REPLACE FUNCTION works_announce_queued_job() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('works_job_queued', NEW.node_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_announce_queued
    AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued')
    EXECUTE FUNCTION works_announce_queued_job();
