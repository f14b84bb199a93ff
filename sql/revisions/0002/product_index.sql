-- verify-triggers 0002: an index of the application's that already finds matches by
-- product (valid, btree, no predicate, local_product_id its first column), if any. When
-- there is one, 0002 builds no index of its own: a second index on the same column would
-- cost every non-HOT write to supplier_products (about 10-25% of a bulk price update at
-- N = 10k) and serve no lookup the first does not. Read by the migration and by `status`.
SELECT ic.relname AS index_name
FROM pg_catalog.pg_index AS i
INNER JOIN pg_catalog.pg_class AS ic ON i.indexrelid = ic.oid
INNER JOIN pg_catalog.pg_class AS tc ON i.indrelid = tc.oid
INNER JOIN pg_catalog.pg_namespace AS n ON tc.relnamespace = n.oid
INNER JOIN pg_catalog.pg_am AS am ON ic.relam = am.oid
INNER JOIN pg_catalog.pg_attribute AS a
    ON
        tc.oid = a.attrelid
        AND i.indkey[0] = a.attnum
WHERE
    n.nspname = {schema_name}
    AND tc.relname = 'supplier_products'
    AND a.attname = 'local_product_id'
    AND am.amname = 'btree'
    AND i.indisvalid
    AND i.indpred IS NULL
    AND ic.relname <> 'verify_triggers_sp_match_idx'
ORDER BY ic.relname
LIMIT 1;
