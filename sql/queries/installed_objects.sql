-- verify-triggers: every object of the sync in the target schema as the server holds it, with a
-- fingerprint of the server's own rendering of its definition (pg_get_functiondef,
-- pg_get_triggerdef, pg_get_indexdef; a table's columns and options), and for each key the
-- sync looks up, the index that serves it. The install records these rows
-- (verify_triggers_objects); `verify-triggers status` reads them again and compares. Changing
-- a fingerprint's formula here makes every install read OUTDATED until it is upgraded.
--
-- Bound values: {index_names}, {lookup_tables}, {lookup_columns} (text[], in step): each
-- lookup's own index and the key it serves. A key is served by a valid btree index without a
-- predicate whose first column is the key (with the column's collation); the host's own index
-- is preferred to the sync's.
--
-- One row per object: kind (function, trigger, table, index, lookup), name, table_name,
-- fingerprint, enabled (pg_trigger.tgenabled), valid (pg_index.indisvalid), served_by.
WITH ns AS (
    SELECT n.oid
    FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname = {schema_name}
),

lookups AS (
    SELECT
        l.index_name,
        l.table_name,
        l.column_name
    FROM
        unnest(
            {index_names}::text[],
            {lookup_tables}::text[],
            {lookup_columns}::text[]
        ) AS l (index_name, table_name, column_name)
),

serving AS (
    SELECT
        l.index_name AS lookup,
        ic.relname AS index_name,
        (ic.relname = l.index_name) AS own
    FROM lookups AS l
    INNER JOIN pg_catalog.pg_class AS tc
        ON
            l.table_name = tc.relname
            AND tc.relnamespace = (SELECT ns.oid FROM ns)
    INNER JOIN pg_catalog.pg_attribute AS a
        ON
            tc.oid = a.attrelid
            AND l.column_name = a.attname
    INNER JOIN pg_catalog.pg_index AS i
        ON
            tc.oid = i.indrelid
            AND a.attnum = i.indkey[0]
    INNER JOIN pg_catalog.pg_class AS ic ON i.indexrelid = ic.oid
    INNER JOIN pg_catalog.pg_am AS am ON ic.relam = am.oid
    WHERE
        am.amname = 'btree'
        AND i.indisvalid
        AND i.indpred IS NULL
        AND i.indcollation[0] = a.attcollation
)

SELECT
    'function' AS kind,
    p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS name,
    NULL::text AS table_name,
    pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)) AS fingerprint,
    NULL::text AS enabled,
    NULL::boolean AS valid,
    NULL::text AS served_by
FROM pg_catalog.pg_proc AS p
WHERE
    p.pronamespace = (SELECT ns.oid FROM ns)
    AND pg_catalog.starts_with(p.proname::text, 'verify_triggers_')

UNION ALL

SELECT
    'trigger' AS kind,
    t.tgname::text AS name,
    c.relname::text AS table_name,
    pg_catalog.md5(pg_catalog.pg_get_triggerdef(t.oid)) AS fingerprint,
    t.tgenabled::text AS enabled,
    NULL::boolean AS valid,
    NULL::text AS served_by
FROM pg_catalog.pg_trigger AS t
INNER JOIN pg_catalog.pg_class AS c ON t.tgrelid = c.oid
WHERE
    c.relnamespace = (SELECT ns.oid FROM ns)
    AND NOT t.tgisinternal
    AND pg_catalog.starts_with(t.tgname::text, 'verify_triggers_')

UNION ALL

SELECT
    CASE WHEN c.relkind IN ('i', 'I') THEN 'index' ELSE 'table' END AS kind,
    c.relname::text AS name,
    CASE WHEN c.relkind IN ('i', 'I') THEN tc.relname::text END AS table_name,
    pg_catalog.md5(
        CASE
            WHEN c.relkind IN ('i', 'I') THEN pg_catalog.pg_get_indexdef(c.oid)
            ELSE
                (
                    SELECT
                        pg_catalog.string_agg(
                            a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                            || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                            ', ' ORDER BY a.attnum
                        )
                    FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                )
                || coalesce(' with ' || pg_catalog.array_to_string(c.reloptions, ', '), '')
        END
    ) AS fingerprint,
    NULL::text AS enabled,
    i.indisvalid AS valid,
    NULL::text AS served_by
FROM pg_catalog.pg_class AS c
LEFT JOIN pg_catalog.pg_index AS i ON c.oid = i.indexrelid
LEFT JOIN pg_catalog.pg_class AS tc ON i.indrelid = tc.oid
WHERE
    c.relnamespace = (SELECT ns.oid FROM ns)
    AND c.relkind IN ('r', 'p', 'i', 'I')
    AND pg_catalog.starts_with(c.relname::text, 'verify_triggers_')
    AND c.relname NOT IN ('verify_triggers_version', 'verify_triggers_version_pkc')
    -- not the keys of the sync's own tables: they come with their tables
    AND NOT coalesce(pg_catalog.starts_with(tc.relname::text, 'verify_triggers_'), FALSE)

UNION ALL

SELECT
    'lookup' AS kind,
    l.index_name AS name,
    l.table_name,
    NULL::text AS fingerprint,
    NULL::text AS enabled,
    NULL::boolean AS valid,
    (
        SELECT s.index_name
        FROM serving AS s
        WHERE s.lookup = l.index_name
        ORDER BY s.own, s.index_name
        LIMIT 1
    ) AS served_by
FROM lookups AS l

ORDER BY kind, name;
