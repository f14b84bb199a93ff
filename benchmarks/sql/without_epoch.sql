-- Measurement only (`python -m benchmarks.floor --without epoch`): syncs take no epoch, so a
-- rename no longer waits for the syncs in flight. What the epoch costs, not a way to run the sync.
CREATE OR REPLACE FUNCTION {schema}.verify_triggers_lock_epoch()
RETURNS void
LANGUAGE sql
VOLATILE
RETURN pg_catalog.pg_sleep(0);
