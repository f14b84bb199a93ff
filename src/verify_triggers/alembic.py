"""The sync inside a host application's own Alembic project.

Three things a host needs, in the host's ``env.py`` and revisions:

* :func:`include_name` and :func:`include_object`, Alembic's autogenerate hooks: with them the
  host's ``alembic revision --autogenerate`` sees nothing the sync owns (its tables, its indexes
  on the host's tables, its version table). Use them as they are, or wrap the host's own hook
  with :func:`excluding_sync`.
* :func:`upgrade_sync` and :func:`downgrade_sync`, called from a host revision's ``upgrade()``
  and ``downgrade()``: they install this release's head (or update or repair an install), or
  remove it all, on the host's migration connection. Index builds go through Alembic's
  ``autocommit_block()``, the rest runs in the host's transaction, and no second Alembic
  environment is started. The sync keeps its own version table, so ``verify-triggers status``,
  ``check`` and ``sync`` work as before; a host revision written against one release brings
  the sync to a later release's head the next time an ``upgrade_sync()`` runs.
* :func:`triggers_lifted`, a context manager for a host revision that alters a column of the
  four tables: the sync's triggers are dropped around the block and put back as they were, in
  the host's transaction, which holds the altered table, so no write goes unsynced.

Example ``env.py`` and revision: see the README, "Inside the application's Alembic project".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from alembic import op
from psycopg import sql

from . import resources, revisions
from . import target as targets
from .constants import HOST_TABLES, PREFIX, VERSION_TABLE, lock_rank
from .migrate import repair, steps
from .migrate.steps import Runner

# The four tables, in the order a confirm locks them, which is the order triggers_lifted takes
# them in.
TABLES = HOST_TABLES


# --- autogenerate ---------------------------------------------------------------------------

def _owned(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


def include_name(name, type_, parent_names) -> bool:
    """Alembic's ``include_name`` hook: False for every object of the sync (a table, an
    index, a constraint or column of the sync's tables)."""
    if _owned(name):
        return False
    return not _owned((parent_names or {}).get("table_name"))


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object`` hook: False for every object of the sync."""
    if _owned(name):
        return False
    table = getattr(obj, "table", None)
    return not _owned(getattr(table, "name", None))


def excluding_sync(hook: Callable[..., bool]) -> Callable[..., bool]:
    """The host's own ``include_name`` or ``include_object`` hook, never shown the sync's
    objects: ``include_object=excluding_sync(my_include_object)``."""
    def wrapped(*args) -> bool:
        own = include_name(*args) if len(args) == 3 else include_object(*args)
        return own and hook(*args)

    wrapped.__doc__ = hook.__doc__
    return wrapped


# --- installing from the host's revisions ----------------------------------------------------

def _runner(schema: str | None, lock_timeout: str | None, lock_retries: int | None) -> Runner:
    target = targets.resolve(None, schema, lock_timeout=lock_timeout, lock_retries=lock_retries,
                             need_url=False)
    return Runner(op.get_context(), target, host=True)


def upgrade_sync(schema: str | None = None, *, lock_timeout: str | None = None,
                 lock_retries: int | None = None) -> None:
    """Install this release's head of the sync in ``schema`` (default: $VERIFY_TRIGGERS_SCHEMA,
    else ``app``), or bring an install to it, or repair it; call it from a host revision's
    ``upgrade()``.

    Online, the sync's own revisions run in order from the one applied, as
    ``verify-triggers upgrade`` runs them, and the install is checked against its record.
    Offline (``alembic upgrade --sql``) there is no catalog to read: the script installs head
    over whatever is there (every object of head can be run again).
    """
    runner = _runner(schema, lock_timeout, lock_retries)
    if runner.offline:
        steps.install_head(runner)
        _write_version(runner, revisions.head().revision)
        return
    repair.require_schema(runner.context.connection, runner.schema)
    if repair.needs_changes(runner.context.connection, runner.schema, "head", removing=False):
        repair.require_privileges(runner.context.connection, runner.schema)
    cat = repair.read(runner.context.connection, runner.schema)
    damaged = repair.damage(runner.context.connection, runner.schema)
    if cat.applied is None:
        if cat.has_sync_objects:
            repair.adopt_objects(runner)
        else:
            steps.install_head(runner)
        _write_version(runner, revisions.head().revision)
    elif damaged:
        # the revisions after the applied one would record its missing or changed objects so
        repair.repair(runner, damaged)
        _write_version(runner, revisions.head().revision)
    else:
        with steps.target_for(runner.target):
            for rev in _chain_after(cat.applied):
                _revision_module(rev.revision).upgrade()
                _write_version(runner, rev.revision)
    repair.ensure_healthy(runner, repaired=bool(damaged))


def downgrade_sync(schema: str | None = None, *, lock_timeout: str | None = None,
                   lock_retries: int | None = None) -> None:
    """Remove the sync from ``schema``, its version table included; sheet rows keep their
    values. Call it from a host revision's ``downgrade()``. Offline (``alembic downgrade
    --sql``) the script drops every object any revision installs, by name, if it exists."""
    runner = _runner(schema, lock_timeout, lock_retries)
    if runner.offline:
        # the script may meet any revision's install, and the revisions' downgrades assume
        # head's objects (0005's records into a table 0002 never had)
        repair.sweep_by_name(runner)
        return
    if repair.needs_changes(runner.context.connection, runner.schema, None, removing=True):
        repair.require_privileges(runner.context.connection, runner.schema)
    applied = repair.read(runner.context.connection, runner.schema).applied
    # the revisions' own downgrades need what they remove, and the older ones the host's
    # columns their triggers name: a damaged install is swept instead
    if applied is not None and not repair.is_broken(runner.context.connection, runner.schema):
        with steps.target_for(runner.target):
            for rev in reversed(_chain_to(applied)):
                _revision_module(rev.revision).downgrade()
    repair.sweep(runner)


def _chain_after(applied: str) -> list:
    chain = list(revisions.chain())
    names = [rev.revision for rev in chain]
    return chain[names.index(applied) + 1:] if applied in names else []


def _chain_to(applied: str) -> list:
    chain = list(revisions.chain())
    names = [rev.revision for rev in chain]
    return chain[:names.index(applied) + 1] if applied in names else chain


def _revision_module(revision: str):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.migrations_dir()))
    return script.get_revision(revision).module


def _write_version(runner: Runner, revision: str) -> None:
    """The sync's own version table, as Alembic keeps it for ``verify-triggers upgrade``."""
    table = sql.SQL("{}.{}").format(sql.Identifier(runner.schema), sql.Identifier(VERSION_TABLE))
    statements = [
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (version_num varchar(32) NOT NULL, "
                "CONSTRAINT {} PRIMARY KEY (version_num))").format(
            table, sql.Identifier(VERSION_TABLE + "_pkc")),
        sql.SQL("DELETE FROM {}").format(table),
        sql.SQL("INSERT INTO {} (version_num) VALUES ({})").format(table, sql.Literal(revision)),
    ]
    runner._run(";\n".join(s.as_string(None) for s in statements) + ";")


# --- host migrations that alter the tables ---------------------------------------------------

@contextmanager
def triggers_lifted(tables: Iterable[str] = TABLES, schema: str | None = None, *,
                    lock_timeout: str | None = None, lock_retries: int | None = None) -> Iterator[None]:
    """Drop the sync's triggers on ``tables`` for the block, then put them back as they were
    (definition and firing mode), all in the host's migration transaction::

        def upgrade():
            with triggers_lifted(["product_supplier_sheets"]):
                op.alter_column("product_supplier_sheets", "supplier_name",
                                type_=sa.String(500), schema="app")

    The tables are locked first (ACCESS EXCLUSIVE, in the order a confirm takes them) and stay
    locked until the host's transaction ends: writers wait, none goes unsynced, and a later
    statement of the same transaction that alters another of the tables cannot deadlock with
    them. Revision 0003 and later pin no column, so widening a column needs no lifting;
    revisions before it pin the columns their WHEN clauses name, and a column drop or type
    change fails with "cannot alter type of a column used in a trigger definition" without it.
    The block should hold DDL only: rows the block itself writes to these tables are not
    synced (run ``verify-triggers sync`` after such a data migration).
    """
    runner = _runner(schema, lock_timeout, lock_retries)
    tables = tuple(tables)
    # Lock the tables first, all at once and in a confirm's order: the host's transaction then
    # holds them until it commits, and a later statement of it that alters another of them
    # cannot deadlock with a writer that locked that one first.
    lock = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE;").format(sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(runner.schema), sql.Identifier(table))
        for table in sorted(tables, key=lock_rank))).as_string(None)
    if runner.offline:
        head = revisions.head()
        runner._emit("-- verify-triggers: the sync's triggers lifted for the statements below")
        runner.ddl_text(lock + "\n" + steps.drop_triggers(
            runner.schema, [(name, table) for name, table in head.triggers if table in tables]))
        yield
        runner.ddl(resources.revision_path(head.revision, "triggers.sql"))
        return
    saved = runner.fetch(resources.query("triggers_on.sql", runner.schema, tables=list(tables)))
    runner.ddl_text(lock + "\n" + steps.drop_triggers(
        runner.schema, [(t["name"], t["table_name"]) for t in saved]))
    yield
    if saved:
        restore = [f"{t['definition']};" for t in saved]
        restore += [_mode(runner.schema, t).as_string(None) + ";" for t in saved if t["enabled"] != "O"]
        runner.ddl_text("\n".join(restore))
        cat = repair.read(runner.context.connection, runner.schema)
        rev = revisions.get(cat.applied) if cat.applied else None
        if rev is not None and rev.cut:
            runner.execute(resources.revision_path(rev.revision, "record.sql"))


_MODES = {"D": "DISABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER", "A": "ENABLE ALWAYS TRIGGER"}


def _mode(schema: str, trigger: dict) -> sql.Composed:
    return sql.SQL("ALTER TABLE {}.{} {} {}").format(
        sql.Identifier(schema), sql.Identifier(trigger["table_name"]),
        sql.SQL(_MODES[trigger["enabled"]]), sql.Identifier(trigger["name"]))


__all__ = ["excluding_sync", "downgrade_sync", "include_name", "include_object",
           "triggers_lifted", "upgrade_sync"]
