-- verify-triggers CLI: privileges on the sync's own objects held by roles other than their
-- owner, through which a role with DML rights only could forge the token that lets the sync's
-- own sheet writes pass unchecked (reading lock row -2, or calling the token function where it
-- runs as its owner, by a role that may also write the sheet rows: a read-only monitor cannot
-- use the token), or drop the bucket rows that serialise it (writing the lock table), or
-- rewrite the record status compares with. GRANT ... ON ALL TABLES IN SCHEMA and ALTER DEFAULT
-- PRIVILEGES hand them out without anyone meaning to. One row per grantee and object; grantee
-- NULL is PUBLIC.
SELECT
    x.object_name,
    x.object_kind,
    r.rolname AS grantee,
    pg_catalog.string_agg(x.privilege_type, ', ' ORDER BY x.privilege_type) AS privileges
FROM (
    SELECT
        c.relname::text AS object_name,
        'table' AS object_kind,
        a.grantee,
        a.privilege_type
    FROM pg_catalog.pg_class AS c
    INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
    CROSS JOIN LATERAL pg_catalog.aclexplode(
        coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))
    ) AS a
    WHERE
        n.nspname = {schema_name}
        AND a.grantee <> c.relowner
        AND (
            -- writing the lock table drops or forges the locks; reading it gives the secret,
            -- which matters to a role that can also write the sheet rows (or to PUBLIC)
            (
                c.relname = 'verify_triggers_lock'
                AND (
                    a.privilege_type <> 'SELECT'
                    OR a.grantee = 0
                    OR pg_catalog.has_table_privilege(
                        a.grantee, c.relnamespace::regnamespace::text
                        || '.product_supplier_sheets', 'INSERT, UPDATE'
                    )
                )
            )
            OR (
                c.relname = 'verify_triggers_objects'
                AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
            )
        )
    UNION ALL
    SELECT
        p.proname::text AS object_name,
        'function' AS object_kind,
        a.grantee,
        a.privilege_type
    FROM pg_catalog.pg_proc AS p
    INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
    CROSS JOIN LATERAL pg_catalog.aclexplode(
        coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))
    ) AS a
    WHERE
        n.nspname = {schema_name}
        AND p.proname = 'verify_triggers_sync_token'
        -- up to 0008 it ran as the owner; since 0009 it reads the secret with its caller's
        -- rights, so calling it gives a role nothing it could not read already
        AND p.prosecdef
        AND a.grantee <> p.proowner
        AND (
            a.grantee = 0
            OR pg_catalog.has_table_privilege(
                a.grantee, p.pronamespace::regnamespace::text || '.product_supplier_sheets',
                'INSERT, UPDATE'
            )
        )
) AS x
LEFT JOIN pg_catalog.pg_roles AS r ON x.grantee = r.oid
GROUP BY x.object_name, x.object_kind, r.rolname
ORDER BY x.object_name, r.rolname NULLS FIRST;
