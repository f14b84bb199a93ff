-- verify-triggers CLI `status`: the sync's tables and indexes in the schema; an index
-- whose concurrent build failed is left INVALID (pg_index.indisvalid false).
SELECT
    c.relname AS name,
    CASE WHEN c.relkind IN ('i', 'I') THEN 'index' ELSE 'table' END AS kind,
    coalesce(i.indisvalid, true) AS valid
FROM pg_catalog.pg_class AS c
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
LEFT JOIN pg_catalog.pg_index AS i ON c.oid = i.indexrelid
WHERE
    n.nspname = {schema_name}
    AND c.relkind IN ('r', 'p', 'i', 'I')
    AND pg_catalog.starts_with(c.relname::text, 'verify_triggers_')
    AND c.relname <> 'verify_triggers_version'
    AND c.relname <> 'verify_triggers_version_pkc'
ORDER BY c.relname;
