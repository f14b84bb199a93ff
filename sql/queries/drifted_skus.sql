-- verify-triggers CLI `sync`: the SKUs with at least one drifted sheet row (a confirmed
-- pair's row not verified, or a row stamped {stamp} whose pair is not confirmed), in
-- order, so the repair can go in small committed batches. One pass over each table: the
-- sheet rows in scope hash-joined with the confirmed pairs, the pairs from one read of
-- supplier_products with products and suppliers. The pairs are a subquery, not a
-- materialised CTE, so the planner keeps their columns' statistics and hashes the pairs
-- rather than the sheets (as in check.sql). Bound value: {skus} (text[]; NULL for every
-- SKU).
WITH confirmed AS NOT MATERIALIZED (
    SELECT DISTINCT
        pr.sku,
        su.name AS supplier_name
    FROM {schema}.supplier_products AS sp
    INNER JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
    INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
    WHERE
        sp.manual_confirmed
        AND (CAST({skus} AS text[]) IS NULL OR pr.sku = ANY(CAST({skus} AS text[])))
)

SELECT DISTINCT sh.sku
FROM {schema}.product_supplier_sheets AS sh
LEFT JOIN confirmed AS c
    ON
        sh.sku = c.sku
        AND sh.supplier_name = c.supplier_name
WHERE
    (CAST({skus} AS text[]) IS NULL OR sh.sku = ANY(CAST({skus} AS text[])))
    AND (
        (c.sku IS NOT NULL AND sh.is_verified IS NOT TRUE)
        OR (c.sku IS NULL AND sh.verified_by = {stamp})
    )
ORDER BY sh.sku;
