-- verify-triggers CLI `sync`: is the repair function installed in the target schema?
SELECT
    pg_catalog.to_regprocedure(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_sync(text[])'
    ) IS NOT NULL AS installed;
