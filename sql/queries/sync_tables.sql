-- verify-triggers CLI: does the schema hold the sync's version table and its record of
-- installed objects, and may the reading role read the lock table's rows (its owner may; a
-- monitor usually may not, and then they go unchecked)?
SELECT
    pg_catalog.to_regclass(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_version'
    ) IS NOT NULL AS version_table,
    pg_catalog.to_regclass(
        pg_catalog.quote_ident({schema_name}) || '.verify_triggers_objects'
    ) IS NOT NULL AS record_table,
    coalesce(
        pg_catalog.has_table_privilege(
            pg_catalog.to_regclass(
                pg_catalog.quote_ident({schema_name}) || '.verify_triggers_lock'
            ),
            'SELECT'
        )
        -- and its key as the install made it: a table altered by hand reads OUTDATED, and is
        -- not queried
        AND EXISTS (
            SELECT 1
            FROM pg_catalog.pg_attribute AS a
            WHERE
                a.attrelid = pg_catalog.to_regclass(
                    pg_catalog.quote_ident({schema_name}) || '.verify_triggers_lock'
                )
                AND a.attname = 'bucket'
                AND a.atttypid = 'pg_catalog.int4'::pg_catalog.regtype
                AND NOT a.attisdropped
        ),
        FALSE
    ) AS lock_rows_readable;
