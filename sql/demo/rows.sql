-- verify-triggers demo: each sheet row next to its match.
SELECT
    sh.sku,
    sh.supplier_name,
    sp.manual_confirmed,
    sh.is_verified,
    sh.verified_by
FROM {schema}.product_supplier_sheets AS sh
LEFT JOIN {schema}.products AS p ON sh.sku = p.sku
LEFT JOIN {schema}.suppliers AS su ON sh.supplier_name = su.name
LEFT JOIN {schema}.supplier_products AS sp
    ON
        p.id = sp.local_product_id
        AND su.id = sp.supplier_id
ORDER BY sh.sku DESC, sh.id ASC;
