-- verify-triggers CLI `sync --adopt`: the verified sheet rows stamped with one of {stamps}
-- (text[]: what an application's own sync code wrote into verified_by), among the SKUs
-- {skus} (text[]; NULL for all); and how many of them no confirmed match backs any more,
-- which taking them over un-verifies.
WITH confirmed AS MATERIALIZED (
    SELECT
        pr.sku,
        su.name AS supplier_name
    FROM {schema}.supplier_products AS sp
    INNER JOIN {schema}.products AS pr ON sp.local_product_id = pr.id
    INNER JOIN {schema}.suppliers AS su ON sp.supplier_id = su.id
    WHERE
        sp.manual_confirmed
        AND (CAST({skus} AS text[]) IS NULL OR pr.sku = ANY(CAST({skus} AS text[])))
    GROUP BY pr.sku, su.name
)

SELECT
    pg_catalog.count(*) AS adopted,
    pg_catalog.count(*) FILTER (WHERE c.sku IS NULL) AS unverified
FROM {schema}.product_supplier_sheets AS sh
LEFT JOIN confirmed AS c
    ON
        sh.sku = c.sku
        AND sh.supplier_name = c.supplier_name
WHERE
    sh.is_verified
    AND sh.verified_by = ANY(CAST({stamps} AS text[]))
    AND (CAST({skus} AS text[]) IS NULL OR sh.sku = ANY(CAST({skus} AS text[])));
