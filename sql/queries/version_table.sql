-- verify-triggers CLI: does the schema hold the migrations' version table?
SELECT
    pg_catalog.to_regclass(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_version'
    ) IS NOT NULL AS present;
