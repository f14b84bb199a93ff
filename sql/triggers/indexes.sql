-- verify-triggers: the keys the sync looks up, and for each the index the install builds when
-- the host has none that serves it (a valid btree index without predicate whose first column is
-- the key). The host's own index is preferred: a second index on the same column would cost
-- every write to the table and serve no lookup the first does not. Each build runs
-- CONCURRENTLY, outside a transaction, so writes go on while it builds; one that failed leaves
-- an INVALID index, which the install drops and builds again.
--
-- Each index is introduced by `-- object: index <name>` and `-- serves: <table> (<column>)`.
-- squawk: no statement_timeout or lock_timeout on these, on purpose: a concurrent build blocks
-- neither reads nor writes (its SHARE UPDATE EXCLUSIVE lock only blocks DDL and VACUUM), and a
-- build on a large table may rightly take minutes; a timeout would only leave an INVALID index.

-- object: index verify_triggers_sp_match_idx
-- serves: supplier_products (local_product_id)
-- A match's pair is found from its product: every confirmation probe starts here.
-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_match_idx
ON {schema}.supplier_products (local_product_id, supplier_id);

-- object: index verify_triggers_sp_supplier_idx
-- serves: supplier_products (supplier_id)
-- A supplier's matches, read when the supplier is renamed.
-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_supplier_idx
ON {schema}.supplier_products (supplier_id);

-- object: index verify_triggers_suppliers_name_idx
-- serves: suppliers (name)
-- The suppliers of a pair's name.
-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_suppliers_name_idx
ON {schema}.suppliers (name);

-- object: index verify_triggers_products_sku_idx
-- serves: products (sku)
-- The products of a pair's sku.
-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_products_sku_idx
ON {schema}.products (sku);

-- object: index verify_triggers_sheets_sku_idx
-- serves: product_supplier_sheets (sku)
-- A pair's sheet rows, found by sku (a few rows each) and then by supplier name.
-- squawk-ignore require-statement-timeout, require-lock-timeout
CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sheets_sku_idx
ON {schema}.product_supplier_sheets (sku);
