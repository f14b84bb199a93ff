-- verify-triggers CLI `check --sku` and `sync --sku`: the SKUs asked for that no sheet row and
-- no product has (a typo, most likely), in the order given. Each is two index lookups.
-- Bound value: {skus} (text[]).
SELECT s.sku
FROM UNNEST(CAST({skus} AS text[])) WITH ORDINALITY AS s (sku, n)
WHERE
    NOT EXISTS (
        SELECT 1
        FROM {schema}.product_supplier_sheets AS sh
        WHERE sh.sku = s.sku
    )
    AND NOT EXISTS (
        SELECT 1
        FROM {schema}.products AS pr
        WHERE pr.sku = s.sku
    )
ORDER BY s.n;
