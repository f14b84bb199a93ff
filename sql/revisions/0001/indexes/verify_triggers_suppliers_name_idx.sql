-- verify-triggers 0001: the indexes the sync's lookups need on large tables, built
-- CONCURRENTLY so that writes go on while they build: confirmed matches by (product,
-- supplier), and suppliers by name. products.sku and the sheets' (sku, supplier_name)
-- are unique, so indexed, already. One statement each: CONCURRENTLY cannot run in a
-- transaction block.
-- squawk: no statement_timeout or lock_timeout here, on purpose. A concurrent build's
-- SHARE UPDATE EXCLUSIVE lock blocks neither reads nor writes (only DDL and VACUUM), and
-- a build on a large table may rightly take minutes; a timeout would only leave an
-- INVALID index behind (the migration drops one and rebuilds it on the next run).

-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_suppliers_name_idx
ON {schema}.suppliers (name);
