-- verify-triggers 0001: refuse to install on a schema that lacks what the sync reads and writes.
-- Runs in the migration's transaction, so a failure leaves the database untouched.
DO $precheck$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(req.tbl || coalesce('.' || req.col, ''), ', ' ORDER BY req.tbl, req.col)
    INTO missing
    FROM (
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
    ) AS req (tbl, col)
    LEFT JOIN pg_catalog.pg_class AS c
        ON
            c.relname = req.tbl
            AND c.relkind IN ('r', 'p')
            AND c.relnamespace = (
                SELECT n.oid FROM pg_catalog.pg_namespace AS n
                WHERE n.nspname = {schema_name}
            )
    WHERE
        -- a missing table is reported once, not once per column
        (req.col IS NULL AND c.oid IS NULL)
        OR (
            req.col IS NOT NULL
            AND c.oid IS NOT NULL
            AND NOT EXISTS (
                SELECT 1
                FROM pg_catalog.pg_attribute AS a
                WHERE
                    a.attrelid = c.oid
                    AND a.attname = req.col
                    AND a.attnum > 0
                    AND NOT a.attisdropped
            )
        );

    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'verify-triggers cannot install: schema % lacks %', {schema_name}, missing
            USING ERRCODE = 'VT001',
            HINT = 'The sync needs suppliers, products, supplier_products and '
            'product_supplier_sheets with the columns named in the README.';
    END IF;
END
$precheck$;
