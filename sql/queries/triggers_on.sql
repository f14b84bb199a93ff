-- verify-triggers: the sync's triggers on the tables {tables} (text[]), with the server's own
-- rendering of each definition and its firing mode (pg_trigger.tgenabled), so that they can be
-- dropped around a host migration and put back as they were.
SELECT
    t.tgname::text AS name,
    c.relname::text AS table_name,
    t.tgenabled::text AS enabled,
    pg_catalog.pg_get_triggerdef(t.oid) AS definition
FROM pg_catalog.pg_trigger AS t
INNER JOIN pg_catalog.pg_class AS c ON t.tgrelid = c.oid
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
WHERE
    n.nspname = {schema_name}
    AND c.relname = ANY(CAST({tables} AS text[]))
    AND NOT t.tgisinternal
    AND pg_catalog.starts_with(t.tgname::text, 'verify_triggers_')
ORDER BY c.relname, t.tgname;
