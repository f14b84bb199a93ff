-- verify-triggers CLI: settings that start sessions with session_replication_role = replica,
-- in which the sync's triggers (enabled for ORIGIN) never fire: ALTER ROLE ... SET, ALTER
-- DATABASE ... SET (for this database or every one), and the server's own configuration.
-- Setting it takes a superuser; a session's own SET leaves no trace here (check finds its
-- drift). One row per setting, named as the command that made it.
SELECT
    CASE
        WHEN s.setrole = 0 AND s.setdatabase = 0 THEN 'ALTER ROLE ALL'
        WHEN s.setrole = 0 THEN 'ALTER DATABASE ' || pg_catalog.quote_ident(d.datname)
        WHEN s.setdatabase = 0 THEN 'ALTER ROLE ' || pg_catalog.quote_ident(r.rolname)
        ELSE
            'ALTER ROLE ' || pg_catalog.quote_ident(r.rolname)
            || ' IN DATABASE ' || pg_catalog.quote_ident(d.datname)
    END AS set_by
FROM pg_catalog.pg_db_role_setting AS s
LEFT JOIN pg_catalog.pg_roles AS r ON s.setrole = r.oid
LEFT JOIN pg_catalog.pg_database AS d ON s.setdatabase = d.oid
WHERE
    (s.setdatabase = 0 OR d.datname = pg_catalog.current_database())
    AND EXISTS (
        SELECT 1
        FROM pg_catalog.unnest(s.setconfig) AS c (setting)
        WHERE pg_catalog.lower(c.setting) = 'session_replication_role=replica'
    )
UNION ALL
SELECT 'the server configuration (' || g.source || ')' AS set_by
FROM pg_catalog.pg_settings AS g
WHERE
    g.name = 'session_replication_role'
    AND g.setting = 'replica'
    AND g.source IN ('configuration file', 'command line', 'environment variable')
ORDER BY set_by;
