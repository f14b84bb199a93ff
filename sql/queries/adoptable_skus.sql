-- verify-triggers CLI `sync --adopt`: the SKUs with a verified sheet row stamped with one of
-- {stamps} (text[]), among {skus} (text[]; NULL for all), in order, for committed batches.
SELECT DISTINCT sh.sku
FROM {schema}.product_supplier_sheets AS sh
WHERE
    sh.is_verified
    AND sh.verified_by = ANY(CAST({stamps} AS text[]))
    AND (CAST({skus} AS text[]) IS NULL OR sh.sku = ANY(CAST({skus} AS text[])))
ORDER BY sh.sku;
