-- verify-triggers 0001 downgrade: drop 0001's indexes without blocking writes.

-- squawk: no statement_timeout; a concurrent drop blocks neither reads nor writes.
-- squawk-ignore require-statement-timeout
DROP INDEX CONCURRENTLY IF EXISTS {schema}.verify_triggers_sp_confirmed_idx;
