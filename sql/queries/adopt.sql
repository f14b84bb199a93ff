-- verify-triggers CLI `sync --adopt`: give the sync's stamp to the verified rows of the SKUs
-- {skus} (text[]) stamped with one of {stamps} (text[]). The sheet triggers see the stamp
-- change and recompute those rows' pairs in the same statement: a pair still confirmed keeps
-- its row verified (and its verified_at); one that is not is un-verified. Returns the rows
-- taken over.
WITH adopted AS (
    UPDATE {schema}.product_supplier_sheets AS sh
    SET verified_by = {stamp}
    WHERE
        sh.sku = ANY(CAST({skus} AS text[]))
        AND sh.is_verified
        AND sh.verified_by = ANY(CAST({stamps} AS text[]))
    RETURNING sh.id
)

SELECT pg_catalog.count(*) AS adopted
FROM adopted;
