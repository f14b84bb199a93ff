-- verify-triggers: what the migrating role lacks to install, change or remove the sync, one row
-- each, in the words of the fix: CREATE on the schema (the sync's tables and functions),
-- ownership of the four tables (CREATE TRIGGER, DROP TRIGGER, CREATE INDEX need it) and of
-- the sync's objects already there (CREATE OR REPLACE needs it). A superuser, or a member of
-- the owning role, lacks nothing. No rows: enough.
SELECT 'CREATE on schema ' || pg_catalog.quote_ident(n.nspname) AS lacking
FROM pg_catalog.pg_namespace AS n
WHERE
    n.nspname = {schema_name}
    AND NOT pg_catalog.has_schema_privilege(n.oid, 'CREATE')
UNION ALL
SELECT
    'ownership of '
    || CASE WHEN o.relkind = 'f' THEN 'function ' ELSE 'table ' END
    || pg_catalog.quote_ident(o.relname)
    || ' (owned by ' || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(o.relowner)) || ')'
    AS lacking
FROM (
    SELECT
        c.relname::text AS relname,
        c.relowner,
        'r' AS relkind
    FROM pg_catalog.pg_class AS c
    INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
    WHERE
        n.nspname = {schema_name}
        AND c.relkind IN ('r', 'p')
        AND (
            c.relname IN (
                'supplier_products', 'products', 'suppliers', 'product_supplier_sheets'
            )
            OR c.relname LIKE 'verify\_triggers\_%'
        )
    UNION ALL
    SELECT
        p.proname::text AS relname,
        p.proowner AS relowner,
        'f' AS relkind
    FROM pg_catalog.pg_proc AS p
    INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
    WHERE n.nspname = {schema_name} AND p.proname LIKE 'verify\_triggers\_%'
) AS o
WHERE NOT pg_catalog.pg_has_role(o.relowner, 'USAGE')
ORDER BY lacking;
