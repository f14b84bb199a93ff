-- verify-triggers CLI `status`: the sync's functions as the catalog holds them.
SELECT
    p.proname AS name,
    l.lanname AS language,
    p.prosecdef AS security_definer,
    p.proconfig AS config,
    p.prosrc AS source,
    p.provolatile::text AS volatility,
    pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
    pg_catalog.pg_get_function_result(p.oid) AS result,
    CASE
        WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid)
    END AS sql_body
FROM pg_catalog.pg_proc AS p
INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
INNER JOIN pg_catalog.pg_language AS l ON p.prolang = l.oid
WHERE
    n.nspname = {schema_name}
    AND pg_catalog.starts_with(p.proname::text, 'verify_triggers_')
ORDER BY p.proname, p.oid;
