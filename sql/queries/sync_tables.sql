-- verify-triggers CLI: does the schema hold the sync's version table and its record of
-- installed objects?
SELECT
    pg_catalog.to_regclass(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_version'
    ) IS NOT NULL AS version_table,
    pg_catalog.to_regclass(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_objects'
    ) IS NOT NULL AS record_table;
