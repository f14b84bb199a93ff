"""After Alembic has run: make the install whole, or leave nothing behind.

``upgrade`` never reports success while head's objects are missing or changed: it reads the
same record ``status`` reads, reinstalls what is wrong (every object of head can be run again)
and reconciles the rows that went unsynced meanwhile. What it cannot repair, such as a column
the sync needs, stops it with the reason. ``downgrade base`` removes whatever of the sync is
left, its version table included.
"""

from __future__ import annotations

from alembic.util import msg
from psycopg import sql

from .. import catalog, resources, revisions
from ..constants import lock_rank
from ..errors import UnhealthyInstall, VerifyTriggersError
from ..status import INCOMPLETE, INVALID, MISSING, OUTDATED, assess, first_of, revoke_statement
from .steps import Runner, drop_index, drop_indexes, drop_triggers, install_head


def _fetch(connection):
    def fetch(query: sql.Composable) -> list[dict]:
        result = connection.execution_options(no_parameters=True).exec_driver_sql(
            query.as_string(None))
        return [dict(row) for row in result.mappings()]

    return fetch


def read(connection, schema: str) -> catalog.Catalog:
    return catalog.read(_fetch(connection), schema)


def require_schema(connection, schema: str, tables: bool = True) -> None:
    """Stop before migrating when the schema, or (with ``tables``) a table or column the sync
    needs, is missing."""
    cat = read(connection, schema)
    if not cat.schema_exists:
        raise VerifyTriggersError(
            f"schema {schema!r} does not exist in this database "
            "(pass --schema or set VERIFY_TRIGGERS_SCHEMA to the application's schema)")
    if tables and cat.missing:
        raise UnhealthyInstall(assess(cat).problems[0])


def require_privileges(connection, schema: str) -> None:
    """Stop before changing anything when the migrating role lacks what the change needs
    (CREATE on the schema, ownership of the four tables and of the sync's objects), naming
    it, instead of failing half-way on the server's "must be owner of table ..."."""
    lacking = [row["lacking"] for row in _fetch(connection)(resources.query("privileges.sql", schema))]
    if not lacking:
        return
    role = _fetch(connection)(sql.SQL("SELECT current_user AS role"))[0]["role"]
    shown = first_of(lacking, 4, "; ")
    raise VerifyTriggersError(
        f"role {role} lacks what installing, changing or removing the sync needs: {shown}: run the "
        "migration as the owner of the application's tables (or a member of that role), with "
        "CREATE on the schema")


def needs_changes(connection, schema: str, destination, removing: bool) -> bool:
    """Whether the migration will change anything: not a deploy's `upgrade head` over a whole
    install at head, nor a removal where nothing is installed."""
    cat = read(connection, schema)
    if removing:
        return cat.applied is not None or cat.has_sync_objects
    return not (is_head(destination) and cat.applied == revisions.head().revision
                and not _broken(assess(cat)) and not cat.exposed)


def revoke_exposed(runner: Runner) -> None:
    """Take back the privileges on the sync's own objects that let a non-owner get around it
    (status names them); granted later by GRANT ... ON ALL TABLES IN SCHEMA, or at install by
    the schema's ALTER DEFAULT PRIVILEGES."""
    if runner.offline:
        return
    for row in read(runner.context.connection, runner.schema).exposed:
        runner._run(revoke_statement(runner.schema, row).as_string(None))
        msg(f"verify-triggers: revoked {row['privileges']} on {row['object_name']} from "
            f"{row['grantee'] or 'PUBLIC'}")


def needs_adoption(connection, schema: str) -> bool:
    """The sync's objects are there but no revision is recorded (its version table is gone)."""
    cat = read(connection, schema)
    return cat.applied is None and cat.has_sync_objects


def adopt(runner: Runner) -> None:
    """Take over an install whose version table is gone, at head (the sync's own env)."""
    adopt_objects(runner)
    _stamp_head(runner)
    ensure_healthy(runner, repaired=True)


def adopt_objects(runner: Runner) -> None:
    msg(f"verify-triggers: the sync is installed in schema {runner.schema} without a version "
        "record: reinstalling head over it")
    install_head(runner)


def _stamp_head(runner: Runner) -> None:
    from alembic.script import ScriptDirectory

    runner.context.stamp(ScriptDirectory(str(resources.migrations_dir())), "head")


def damage(connection, schema: str) -> list[str]:
    """What is wrong with the applied revision's install, before an upgrade runs: empty when
    its objects are all there and as it recorded them.

    Asked before the revisions after it run, not after: each of them records the catalog as it
    finds it, so an object already gone or changed then would be recorded so, and never be
    put back. The rows written while it was gone would never be reconciled either."""
    cat = read(connection, schema)
    if cat.applied is None or cat.missing:
        return []
    status = assess(cat)
    if not _broken(status):
        return []
    behind = f"revision {cat.applied} applied, head is "
    return [problem for problem in status.problems if not problem.startswith(behind)]


def reinstall(runner: Runner, problems: list[str]) -> None:
    """Make a damaged install whole at head (the sync's own env): head reinstalled over what is
    there instead of the revisions after the applied one, which assume their predecessor's
    objects, the rows reconciled, and head stamped."""
    repair(runner, problems)
    _stamp_head(runner)
    ensure_healthy(runner, repaired=True)


def repair(runner: Runner, problems: list[str]) -> None:
    """Reinstall head over a damaged install, and reconcile the rows."""
    msg(f"verify-triggers: the install is not whole ({'; '.join(problems)}): repairing it")
    # an index of the sync's that is not what it built: built again by install_head
    cat = read(runner.context.connection, runner.schema)
    for obj in assess(cat).objects:
        if obj.kind == "index" and obj.state == OUTDATED:
            drop_index(runner, obj.name)
    install_head(runner)


def ensure_healthy(runner: Runner, repaired: bool = False) -> None:
    """Repair head's install if the catalog disagrees with its record; fail if that is not
    enough."""
    if runner.offline:
        return
    revoke_exposed(runner)
    status = assess(read(runner.context.connection, runner.schema))
    if _broken(status) and not repaired:
        repair(runner, status.problems)
        status = assess(read(runner.context.connection, runner.schema))
    if _broken(status) or status.missing:
        raise UnhealthyInstall(f"the install could not be repaired: {'; '.join(status.problems)}")
    # The sync's own indexes where the application's serve the same keys (an offline install
    # builds them all): every write would maintain both. Not inside a caller's transaction,
    # where only a plain DROP INDEX could run, locking the table until it ends: status notes
    # them instead.
    if not runner.in_outer_transaction:
        drop_indexes(runner, revisions.head())
    # A trigger its owner disabled, or set to fire on replicas only, was switched on purpose:
    # reported, not undone.
    for problem in status.problems:
        msg(f"verify-triggers: warning: {problem}")


def _broken(status) -> bool:
    """What a reinstall of head puts right: objects missing, changed or half-built, the lock
    table's rows, or a lost record."""
    return (any(o.state in (MISSING, OUTDATED, INVALID, INCOMPLETE) for o in status.objects)
            or any("verify_triggers_objects" in p for p in status.problems))


def is_broken(connection, schema: str) -> bool:
    """Objects of the applied revision, or tables or columns of the host's, are missing: the
    revisions' own downgrades could not run."""
    cat = read(connection, schema)
    if cat.missing:
        return cat.has_sync_objects or cat.applied is not None
    return any(o.state == MISSING and o.kind in ("table", "function", "trigger")
               for o in assess(cat).objects)


def sweep(runner: Runner) -> None:
    """After ``downgrade base``: drop whatever of the sync is still there, and its version
    table, so the host's autogenerate never sees a trace of it."""
    if runner.offline:
        runner._emit(sql.SQL("DROP TABLE IF EXISTS {}.{};").format(
            sql.Identifier(runner.schema), sql.Identifier("verify_triggers_version")).as_string(None))
        return
    cat = read(runner.context.connection, runner.schema)
    statements = []
    for (kind, name), row in sorted(cat.installed.items(), key=_sweep_order):
        if kind == "trigger":
            statements.append(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}.{}").format(
                sql.Identifier(name), sql.Identifier(runner.schema), sql.Identifier(row["table_name"])))
        elif kind == "function":
            # by name alone: the sync's function names are not overloaded
            statements.append(sql.SQL("DROP FUNCTION IF EXISTS {}.{} CASCADE").format(
                sql.Identifier(runner.schema), sql.Identifier(name.split("(", 1)[0])))
        elif kind in ("table", "index"):
            statements.append(sql.SQL("DROP {} IF EXISTS {}.{} CASCADE").format(
                sql.SQL(kind.upper()), sql.Identifier(runner.schema), sql.Identifier(name)))
    statements.append(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
        sql.Identifier(runner.schema), sql.Identifier("verify_triggers_version")))
    for statement in statements:
        runner._run(statement.as_string(None))


def sweep_by_name(runner: Runner) -> None:
    """Offline ``downgrade_sync()``: no catalog tells which revision the script will find, so
    every object any revision of this release installs is dropped by name if it exists (the
    revisions' own downgrades assume head's objects), then the version table. Triggers go
    first, under the DDL steps' lock_timeout, and the sync's indexes concurrently."""
    chain = revisions.chain()
    functions = sorted({o["name"] for rev in chain for o in rev.objects if o["kind"] == "function"})
    tables = sorted({o["name"] for rev in chain for o in rev.objects if o["kind"] == "table"})
    indexes = sorted({name for rev in chain for name in rev.own_indexes + rev.retired_indexes})
    schema = sql.Identifier(runner.schema)
    # by name alone: the sync's function names are not overloaded
    statements = [sql.SQL("DROP FUNCTION IF EXISTS {}.{} CASCADE;").format(
        schema, sql.Identifier(name)) for name in functions]
    statements += [sql.SQL("DROP TABLE IF EXISTS {}.{};").format(schema, sql.Identifier(name))
                   for name in tables]
    triggers = drop_triggers(runner.schema, set().union(*(rev.triggers for rev in chain)))
    runner.ddl_text("\n".join([triggers, *(s.as_string(None) for s in statements)]),
                    "the sync's objects")
    drop_index(runner, *indexes)
    sweep(runner)


_SWEEP_ORDER = {"trigger": 0, "function": 1, "index": 2, "table": 3, "lookup": 4}


def _sweep_order(item) -> tuple:
    """Triggers first, table by table in the order a confirm locks them, then the rest."""
    (kind, name), row = item
    return _SWEEP_ORDER[kind], lock_rank(row.get("table_name")) if kind == "trigger" else 0, name


def is_head(destination) -> bool:
    if destination in ("head", "heads"):
        return True
    return isinstance(destination, str) and destination == revisions.head().revision


def is_base(destination) -> bool:
    """Alembic gives the destination ``base`` as None."""
    return destination in (None, "base")
