-- verify-triggers CLI: what the sync needs and the target schema lacks, one row each:
-- 'schema' when the schema itself is missing, else 'table <name>' and
-- 'column <table>.<column>', in name order. No rows: everything is there.
WITH required (tbl, col) AS (
    VALUES
    ('suppliers', NULL), ('suppliers', 'id'), ('suppliers', 'name'),
    ('products', NULL), ('products', 'id'), ('products', 'sku'),
    ('supplier_products', NULL), ('supplier_products', 'id'),
    ('supplier_products', 'supplier_id'), ('supplier_products', 'local_product_id'),
    ('supplier_products', 'manual_confirmed'),
    ('product_supplier_sheets', NULL), ('product_supplier_sheets', 'id'),
    ('product_supplier_sheets', 'sku'), ('product_supplier_sheets', 'supplier_name'),
    ('product_supplier_sheets', 'is_verified'),
    ('product_supplier_sheets', 'verified_by'),
    ('product_supplier_sheets', 'verified_at')
),

ns AS (
    SELECT n.oid
    FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname = {schema_name}
)

SELECT 'schema' AS missing
WHERE NOT EXISTS (SELECT 1 FROM ns)

UNION ALL

SELECT
    CASE
        WHEN required.col IS NULL THEN 'table ' || required.tbl
        ELSE 'column ' || required.tbl || '.' || required.col
    END AS missing
FROM required
CROSS JOIN ns
LEFT JOIN pg_catalog.pg_class AS c
    ON
        required.tbl = c.relname
        AND ns.oid = c.relnamespace
        AND c.relkind IN ('r', 'p')
WHERE
    -- a missing table is reported once, not once per column
    (required.col IS NULL AND c.oid IS NULL)
    OR (
        required.col IS NOT NULL
        AND c.oid IS NOT NULL
        AND NOT EXISTS (
            SELECT 1
            FROM pg_catalog.pg_attribute AS a
            WHERE
                a.attrelid = c.oid
                AND a.attname = required.col
                AND a.attnum > 0
                AND NOT a.attisdropped
        )
    )

ORDER BY missing;
