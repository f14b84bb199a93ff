-- verify-triggers CLI: what the installed revision recorded about each object it created
-- (sql/triggers/record.sql).
SELECT
    o.kind,
    o.name,
    o.table_name,
    o.revision,
    o.fingerprint,
    o.served_by
FROM {schema}.verify_triggers_objects AS o
ORDER BY o.kind, o.name;
