"""What ``migrations/env.py`` does, kept in the package so the wheel carries it.

Alembic gets its own version table (``verify_triggers_version`` in the target schema),
a psycopg 3 connection and a session advisory lock, so the host application's
``alembic_version`` is never touched and concurrent deploys install everything once.
"""

import os
import time

from alembic import context as alembic_context
from alembic.util import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from . import DEFAULT_SCHEMA, dburl
from .errors import VerifyTriggersError

VERSION_TABLE = "verify_triggers_version"
# pg_advisory_lock key serialising `upgrade`/`downgrade` runs against one database.
MIGRATION_LOCK_KEY = 0x76657269667931  # "verify1"
MIGRATION_LOCK_POLL_S = 0.2
DEFAULT_LOCK_TIMEOUT = "2s"
DEFAULT_LOCK_RETRIES = 30


def target_schema(config, x_args: dict) -> str:
    schema = (
        x_args.get("schema")
        or config.attributes.get("schema")
        or os.environ.get("VERIFY_TRIGGERS_SCHEMA")
        or DEFAULT_SCHEMA
    )
    config.attributes["schema"] = schema
    return schema


def lock_settings(config, x_args: dict) -> None:
    """How long DDL may wait for a table lock per attempt, and how many attempts."""
    config.attributes["lock_timeout"] = (
        x_args.get("lock_timeout")
        or config.attributes.get("lock_timeout")
        or os.environ.get("VERIFY_TRIGGERS_LOCK_TIMEOUT")
        or DEFAULT_LOCK_TIMEOUT
    )
    retries = (
        x_args.get("lock_retries")
        or config.attributes.get("lock_retries")
        or os.environ.get("VERIFY_TRIGGERS_LOCK_RETRIES")
        or DEFAULT_LOCK_RETRIES
    )
    try:
        config.attributes["lock_retries"] = max(1, int(retries))
    except ValueError:
        raise CommandError(f"lock retries must be a whole number, not {retries!r}") from None


def run() -> None:
    """Entry point for ``env.py``: offline script or online run, errors as one line."""
    context = alembic_context
    config = context.config
    x_args = context.get_x_argument(as_dictionary=True)
    schema = target_schema(config, x_args)
    lock_settings(config, x_args)
    url = x_args.get("database_url") or config.attributes.get("database_url")
    options = {
        "version_table": VERSION_TABLE,
        "version_table_schema": schema,
        "transactional_ddl": True,
    }
    try:
        if context.is_offline_mode():
            _run_offline(context, url, options)
        else:
            _run_online(context, dburl.resolve(url), schema, options)
    except VerifyTriggersError as exc:
        raise CommandError(str(exc)) from None
    except DBAPIError as exc:
        raise CommandError(database_error_line(exc)) from None


def database_error_line(exc: DBAPIError) -> str:
    """One line from a driver error: the server's primary message, or the driver's first line."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return primary
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _run_offline(context, url: str | None, options: dict) -> None:
    # paramstyle "named": with the default pyformat every % in the script (RAISE
    # formats, format()) would be doubled.
    if url:
        context.configure(url=dburl.sqlalchemy_url(url), literal_binds=True,
                          dialect_opts={"paramstyle": "named"}, **options)
    else:
        context.configure(dialect_name="postgresql", literal_binds=True,
                          dialect_opts={"paramstyle": "named"}, **options)
    with context.begin_transaction():
        context.run_migrations()


def _wait_for_migration_lock(connection) -> None:
    """Take the session advisory lock, polling outside any transaction.

    A process blocked in ``pg_advisory_lock`` holds a snapshot while it waits, and the
    winner's ``CREATE INDEX CONCURRENTLY`` waits for every older snapshot: a deadlock.
    Polling with ``pg_try_advisory_lock`` between commits holds none.
    """
    while True:
        taken = connection.execute(
            text("SELECT pg_catalog.pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        ).scalar()
        connection.commit()
        if taken:
            return
        time.sleep(MIGRATION_LOCK_POLL_S)


def _run_online(context, url: str, schema: str, options: dict) -> None:
    engine = create_engine(dburl.sqlalchemy_url(url), poolclass=NullPool)
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise VerifyTriggersError(f"cannot connect to the database: {database_error_line(exc)}") from None
    with connection:
        # Session-level, so it survives the commits inside a migration; every replica
        # of a deploy runs this, one at a time, and the later ones find nothing to do.
        _wait_for_migration_lock(connection)
        try:
            exists = connection.execute(
                text("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :schema)"),
                {"schema": schema},
            ).scalar()
            connection.commit()
            if not exists:
                raise VerifyTriggersError(
                    f"schema {schema!r} does not exist in this database "
                    "(set VERIFY_TRIGGERS_SCHEMA or --schema to the application's schema)"
                )
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT pg_catalog.pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    engine.dispose()
