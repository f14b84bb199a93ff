"""What ``migrations/env.py`` does, kept in the package so the wheel carries it.

The sync's revisions keep their own version table (``verify_triggers_version`` in the target
schema), so the host application's ``alembic_version`` is never touched. Online, a session
advisory lock lets every replica of a deploy run ``upgrade`` at once: one installs, the others
find nothing to do. An upgrade to head first checks the applied revision's install: if objects
are missing or changed, head is reinstalled over it instead of running the revisions after it
(each would record what it finds). After an upgrade to head the install is checked against what
head records and repaired if objects are missing or changed (``repair``); an install whose
version table is gone is adopted. A connection handed in through
``config.attributes["connection"]`` (Alembic's cookbook convention, used by pytest-alembic and
hosts' test suites) is used as it is.
"""

from __future__ import annotations

import time

from alembic import context as alembic_context
from alembic.util import CommandError, msg
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateTable

from .. import target as targets
from ..connection import connection_error_line, error_line
from ..constants import VERSION_TABLE
from ..errors import VerifyTriggersError
from . import repair
from .steps import TARGET, Runner

OWNED = "verify_triggers.owned"  # see commands.make_config

# pg_advisory_lock key serialising `upgrade`/`downgrade` runs against one database.
MIGRATION_LOCK_KEY = 0x76657269667931  # "verify1"
MIGRATION_LOCK_POLL_S = 0.2


def configured_target(config, x_args: dict) -> targets.Target:
    """The Target the CLI put in the configuration, else one resolved from ``-x`` arguments
    and the environment (``alembic upgrade head`` run from the repository root)."""
    given = config.attributes.get(TARGET)
    if given is None or x_args:
        given = targets.resolve(x_args.get("database_url"), x_args.get("schema"),
                                lock_timeout=x_args.get("lock_timeout"),
                                lock_retries=x_args.get("lock_retries"), need_url=False)
        config.attributes[TARGET] = given
    return given


def run() -> None:
    """Entry point for ``env.py``: the offline script or an online run, errors as one line."""
    context = alembic_context
    config = context.config
    try:
        target = configured_target(config, context.get_x_argument(as_dictionary=True))
        options = {
            "version_table": VERSION_TABLE,
            "version_table_schema": target.schema,
            "transactional_ddl": True,
        }
        if context.is_offline_mode():
            _run_offline(context, target, options)
        else:
            _run_online(context, config, target, options)
    except VerifyTriggersError as exc:
        raise CommandError(str(exc)) from exc
    except DBAPIError as exc:
        raise CommandError(error_line(exc)) from None


@compiles(CreateTable, "postgresql")
def _create_table(element, compiler, **kw):
    """The offline script creates the sync's version table only if it is not there: a script
    that stopped after its first commit (the concurrent index builds) can be run again from
    the start, and a resumed one (``upgrade --sql REV:head``) does not trip on it."""
    if element.element.name == VERSION_TABLE:
        element.if_not_exists = True
    return compiler.visit_create_table(element, **kw)


def _run_offline(context, target: targets.Target, options: dict) -> None:
    # paramstyle "named": with the default pyformat every % in the script (RAISE formats,
    # format()) would be doubled.
    context.configure(dialect_name="postgresql", literal_binds=True,
                      dialect_opts={"paramstyle": "named"}, **options)
    removing = _has_destination(context) and _removing(context, context.get_revision_argument())
    with context.begin_transaction():
        context.run_migrations()
        if removing:
            repair.sweep(Runner(context.get_context(), target))


def _engine(target: targets.Target):
    """An engine that connects with psycopg 3 from libpq's form of the URL, parsed once."""
    import psycopg

    if target.url is None:
        raise targets.no_url("-x database_url=URL")  # `alembic` from the command line
    return create_engine("postgresql+psycopg://", poolclass=NullPool,
                         creator=lambda: psycopg.connect(target.url.conninfo))


def _run_online(context, config, target: targets.Target, options: dict) -> None:
    handed = config.attributes.get("connection")
    if handed is not None and hasattr(handed, "run_sync"):  # AsyncEngine or AsyncConnection
        _run_async(context, handed, target, options)
    elif handed is not None and _is_connection(handed):
        _migrate(context, handed, target, options, owned=bool(config.attributes.get(OWNED)))
    else:
        # An Engine, or a wrapper whose connect() hands back a connection already in use
        # (pytest-alembic's): a connection inside the caller's transaction is not ours.
        engine = handed if handed is not None else _engine(target)
        try:
            opened = engine.connect()
        except DBAPIError as exc:
            raise VerifyTriggersError(connection_error_line(exc.orig, target.display)) from None
        with opened as connection:
            _migrate(context, connection, target, options, owned=not connection.in_transaction())
        if handed is None:
            engine.dispose()


def _is_connection(obj) -> bool:
    from sqlalchemy.engine import Connection

    return isinstance(obj, Connection)


def _run_async(context, handed, target: targets.Target, options: dict) -> None:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncEngine

    async def main() -> None:
        if isinstance(handed, AsyncEngine):
            async with handed.connect() as connection:
                await connection.run_sync(_migrate_owned)
        else:
            await handed.run_sync(_migrate_handed)

    def _migrate_owned(connection) -> None:
        _migrate(context, connection, target, options, owned=True)

    def _migrate_handed(connection) -> None:
        _migrate(context, connection, target, options, owned=False)

    asyncio.run(main())


def _migrate(context, connection, target: targets.Target, options: dict, *, owned: bool) -> None:
    """Migrate on ``connection``; ``owned`` when this env opened it (and may commit on it)."""
    if owned:
        # Session-level, so it survives the commits inside a migration.
        _wait_for_migration_lock(connection)
    try:
        outside = not connection.in_transaction()
        context.configure(connection=connection, **options)
        # `current`, `history` and the like run the env with no destination
        destination = context.get_revision_argument() if _has_destination(context) else NONE
        removing = _removing(context, destination)
        # Removing the sync needs none of the host's tables: a host migration may have dropped
        # one, and that is no reason to leave the sync's objects behind.
        repair.require_schema(connection, target.schema, tables=not removing)
        if repair.needs_changes(connection, target.schema, destination, removing):
            repair.require_privileges(connection, target.schema)
        adopting = repair.needs_adoption(connection, target.schema)
        damaged = [] if removing or adopting or not repair.is_head(destination) else \
            repair.damage(connection, target.schema)
        if outside:
            connection.rollback()  # the reads above began a transaction; Alembic begins its own
        if adopting and repair.is_head(destination):
            # The sync's objects are there, its version table is not (a host migration dropped
            # it): take the install over at head instead of replaying 0001 over it.
            with context.begin_transaction():
                runner = Runner(context.get_context(), target)
                repair.adopt(runner)
            if owned:
                connection.commit()
            return
        if damaged:
            # Objects of the applied revision are missing or changed: the revisions after it
            # would record them so. Head is reinstalled over it instead.
            with context.begin_transaction():
                repair.reinstall(Runner(context.get_context(), target), damaged)
            if owned:
                connection.commit()
            return
        with context.begin_transaction():
            runner = Runner(context.get_context(), target)
            if removing and repair.is_broken(connection, target.schema):
                # the revisions' own downgrades need the objects they remove, and the host's
                # tables and columns their older triggers name: sweep instead
                msg("verify-triggers: the install is not whole: removing what is left of it")
                repair.sweep(runner)
            else:
                try:
                    context.run_migrations()
                except BaseException:
                    _forget_empty_version_table(connection, target.schema, owned)
                    raise
                if repair.is_head(destination):
                    repair.ensure_healthy(runner)
                elif removing:
                    repair.sweep(runner)
        if owned:
            connection.commit()
    finally:
        if owned:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT pg_catalog.pg_advisory_unlock(:key)"),
                               {"key": MIGRATION_LOCK_KEY})
            connection.commit()


NONE = object()  # no destination: the command migrates nothing
UPGRADE_BASE = ("upgrade base installs nothing and removes nothing: to remove the sync, run "
                "verify-triggers downgrade base")


def _removing(context, destination) -> bool:
    """Whether this run removes the sync (``downgrade base``). ``upgrade base`` is refused:
    Alembic finds nothing to do for it, and it must not remove what a downgrade removes."""
    if destination is NONE or not repair.is_base(destination):
        return False
    # Alembic's upgrade and downgrade commands hand the environment a step function named
    # after themselves.
    command = getattr(context.get_context().opts.get("fn"), "__name__", None)
    if command == "upgrade":
        raise VerifyTriggersError(UPGRADE_BASE)
    return command == "downgrade"


def _forget_empty_version_table(connection, schema: str, owned: bool) -> None:
    """A first install that failed (a role that does not own the tables, say) after Alembic
    committed its new version table: leave no empty table behind."""
    if not owned:
        return
    connection.rollback()
    cat = repair.read(connection, schema)
    if cat.version_table and cat.applied is None and not cat.has_sync_objects:
        connection.execute(text(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
            sql.Identifier(schema), sql.Identifier(VERSION_TABLE)).as_string(None)))
    connection.commit()


def _has_destination(context) -> bool:
    try:
        context.get_revision_argument()
    except KeyError:  # Alembic keeps the destination in a dict that `current` leaves out
        return False
    return True


def _wait_for_migration_lock(connection) -> None:
    """Take the session advisory lock, polling outside any transaction.

    A process blocked in ``pg_advisory_lock`` holds a snapshot while it waits, and the winner's
    ``CREATE INDEX CONCURRENTLY`` waits for every older snapshot: a deadlock. Polling with
    ``pg_try_advisory_lock`` between commits holds none.
    """
    while True:
        taken = connection.execute(
            text("SELECT pg_catalog.pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        ).scalar()
        connection.commit()
        if taken:
            return
        time.sleep(MIGRATION_LOCK_POLL_S)
