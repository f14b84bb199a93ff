-- verify-triggers 0002 downgrade: the index 0002 added, once 0001's functions (and their
-- partial index, rebuilt from 0001_indexes.sql) are back. CONCURRENTLY: writes go on.
-- squawk: no timeouts, as for the build.

-- squawk-ignore require-statement-timeout, require-lock-timeout
DROP INDEX CONCURRENTLY IF EXISTS {schema}.verify_triggers_sp_match_idx;
