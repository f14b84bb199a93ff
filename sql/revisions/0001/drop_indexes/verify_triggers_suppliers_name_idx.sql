-- verify-triggers 0001 downgrade: drop 0001's indexes without blocking writes.

-- squawk-ignore require-statement-timeout
DROP INDEX CONCURRENTLY IF EXISTS {schema}.verify_triggers_suppliers_name_idx;
