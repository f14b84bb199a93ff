-- verify-triggers CLI `sync --adopt`: the verified sheet rows stamped with one of {stamps}
-- (text[]: what an application's own sync code wrote into verified_by), among the SKUs
-- {skus} (text[]; NULL for all); and how many of them no confirmed match backs any more,
-- which taking them over un-verifies. Confirmation is the installed rule's own
-- (verify_triggers_confirmation), probed for these rows only.
SELECT
    pg_catalog.count(*) AS adopted,
    pg_catalog.count(*) FILTER (WHERE NOT c.is_confirmed) AS unverified
FROM {schema}.product_supplier_sheets AS sh
CROSS JOIN LATERAL {schema}.verify_triggers_confirmation(sh.sku, sh.supplier_name) AS c
WHERE
    sh.is_verified
    AND sh.verified_by = ANY(CAST({stamps} AS text[]))
    AND (CAST({skus} AS text[]) IS NULL OR sh.sku = ANY(CAST({skus} AS text[])));
