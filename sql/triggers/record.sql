-- verify-triggers: record what the installed revision created, for `verify-triggers status` and
-- the self-repair of `verify-triggers upgrade` to compare with the catalog later: each object
-- with its fingerprint, each key with the index that serves it (the sync's own indexes only
-- where one of them serves). The rows come from sql/queries/installed_objects.sql, filled in
-- with this revision's keys when the revision is cut. The last statement of every install.
--
-- A fingerprint hashes the server's rendering of a definition, and the server names objects
-- relative to the search_path: they are taken with pg_catalog alone on it, as status reads
-- them, whatever path the migration runs with (a host's env may set its own).
DO $record$
DECLARE
    caller_search_path text := pg_catalog.current_setting('search_path');
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true);

    DELETE FROM {schema}.verify_triggers_objects;

    WITH installed AS (
        {installed_objects}
    )

    INSERT INTO {schema}.verify_triggers_objects (
        kind, name, table_name, revision, fingerprint, served_by
    )
    SELECT
        o.kind,
        o.name,
        o.table_name,
        {revision},
        o.fingerprint,
        o.served_by
    FROM installed AS o
    WHERE
        o.kind <> 'index'
        OR o.name IN (
            SELECT l.served_by
            FROM installed AS l
            WHERE l.kind = 'lookup'
        );

    PERFORM pg_catalog.set_config('search_path', caller_search_path, true);
END
$record$;
