-- verify-triggers 0002: 0001's partial index of confirmed matches, no longer read once
-- 0002's functions are installed (see 0002_indexes.sql). CONCURRENTLY: writes go on.
-- squawk: no timeouts, as for the build: DROP INDEX CONCURRENTLY waits for transactions
-- using the index without blocking anyone.

-- squawk-ignore require-statement-timeout, require-lock-timeout
DROP INDEX CONCURRENTLY IF EXISTS {schema}.verify_triggers_sp_confirmed_idx;
