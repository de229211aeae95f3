-- An audit append starts by waiting for the chain lock and then reading the chain's
-- head. This function does both in one round trip. A VOLATILE PL/pgSQL function takes
-- a fresh snapshot for each query in it, so under READ COMMITTED the head it reads
-- includes the record the previous holder of the lock committed; a single statement
-- that took the lock itself would read with a snapshot from before it waited.

CREATE FUNCTION audit_chain_head(lock_key BIGINT) RETURNS TABLE (head_seq BIGINT, head_hash TEXT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
END
$$;
