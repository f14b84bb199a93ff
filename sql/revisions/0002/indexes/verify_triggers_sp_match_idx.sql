-- verify-triggers 0002: matches by (product, supplier), all of them, built CONCURRENTLY so
-- that writes go on while it builds. It replaces 0001's partial index of confirmed matches
-- (dropped by 0002_drop_old_indexes.sql once the functions no longer name it): an index
-- whose predicate reads manual_confirmed makes every confirm and unconfirm a non-HOT update
-- that inserts into each index of supplier_products. This one reads no column a confirm
-- changes, so a confirm stays a HOT update; the sync filters manual_confirmed on the few
-- matches of one product.
-- squawk: no statement_timeout or lock_timeout, on purpose, as in 0001_indexes.sql: a
-- concurrent build blocks neither reads nor writes, and a timeout would only leave an
-- INVALID index behind (the migration drops one and rebuilds it on the next run).

-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_match_idx
ON {schema}.supplier_products (local_product_id, supplier_id);
