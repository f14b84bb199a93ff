-- verify-triggers CLI `status`: the sync's triggers on the schema's tables, with their
-- firing mode (pg_trigger.tgenabled: O origin, D disabled, R replica only, A always).
SELECT
    t.tgname AS name,
    c.relname AS table_name,
    t.tgenabled::text AS enabled,
    pg_catalog.pg_get_triggerdef(t.oid) AS definition
FROM pg_catalog.pg_trigger AS t
INNER JOIN pg_catalog.pg_class AS c ON t.tgrelid = c.oid
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
WHERE
    n.nspname = {schema_name}
    AND NOT t.tgisinternal
    AND pg_catalog.starts_with(t.tgname::text, 'verify_triggers_')
ORDER BY t.tgname, c.relname;
