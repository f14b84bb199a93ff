-- verify-triggers: bring the rows written before the triggers existed in line with the rule,
-- once, after the triggers are live. A thousand SKUs at a time, each batch read by sku and
-- committed on its own, so no lock is held for long; rows written meanwhile are kept right by
-- the triggers. Like every sync it never un-verifies a row it did not verify.
DO $reconcile$
DECLARE
    last_sku text;
    batch text [];
    changed bigint := 0;
BEGIN
    LOOP
        -- Each batch commits, which resets these: a generic plan could not use the index for
        -- "last_sku IS NULL OR sku > last_sku" and would read from the start every time.
        PERFORM pg_catalog.set_config('plan_cache_mode', 'force_custom_plan', true);
        PERFORM pg_catalog.set_config('enable_seqscan', 'off', true);

        SELECT pg_catalog.array_agg(s.sku ORDER BY s.sku)
        INTO batch
        FROM (
            SELECT DISTINCT sh.sku
            FROM {schema}.product_supplier_sheets AS sh
            WHERE last_sku IS NULL OR sh.sku > last_sku
            ORDER BY sh.sku
            LIMIT 1000
        ) AS s;

        EXIT WHEN batch IS NULL;

        changed := changed + {schema}.verify_triggers_sync(batch);
        last_sku := batch[pg_catalog.array_upper(batch, 1)];
        COMMIT;
    END LOOP;

    RAISE NOTICE 'verify-triggers: reconciliation changed % sheet row(s)', changed;
END
$reconcile$;
