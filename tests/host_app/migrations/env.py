"""The host application's Alembic env, written as the real application's is: its models'
metadata, ``include_schemas`` limited to its schema, ``compare_type`` and
``compare_server_default``, a session advisory lock around the run, and (for ``asyncpg``)
``create_async_engine`` with ``connection.run_sync``. Unlike the real one it keeps
``alembic_version`` in schema ``app``, and it adds the sync's autogenerate hooks
(verify_triggers.alembic). See host_app/settings.py for the switches.
"""

import asyncio
import sys
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `host_app`

from host_app import settings  # noqa: E402
from host_app.models import SCHEMA  # noqa: E402

config = context.config
options = settings.migration_options(settings.choice(config, "hooks", "HOST_APP_HOOKS", "sync"))
# One transaction for the whole run (Alembic's default, the real application's), or one per
# revision.
per_migration = settings.choice(config, "transaction_per_migration",
                                "HOST_APP_TRANSACTION_PER_MIGRATION", "") in (True, "1", "true")
MIGRATION_LOCK = 123456789  # the application's own advisory lock key


def database_url() -> str:
    url = (settings.choice(config, "url", "HOST_DATABASE_URL")
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        raise RuntimeError("no database URL: set HOST_DATABASE_URL")
    return url


def do_run_migrations(connection) -> None:
    context.configure(connection=connection, transaction_per_migration=per_migration, **options)
    with context.begin_transaction():
        context.run_migrations()


def sets_search_path() -> bool:
    return settings.choice(config, "search_path", "HOST_APP_SEARCH_PATH", "app") != "default"


def run_offline() -> None:
    context.configure(dialect_name="postgresql", literal_binds=True,
                      dialect_opts={"paramstyle": "named"}, **options)
    with context.begin_transaction():
        context.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        if sets_search_path():
            context.execute(f'SET search_path TO "{SCHEMA}", public')
        context.run_migrations()


def prepare(connection) -> None:
    """Outside the migration's transaction, as the application does: lock, schema, path."""
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    if sets_search_path():
        connection.execute(text(f'SET search_path TO "{SCHEMA}", public'))


def run_psycopg() -> None:
    engine = create_engine(settings.url_for(database_url(), "psycopg"), poolclass=NullPool,
                           connect_args={"options": "-c statement_timeout="
                                                    + settings.STATEMENT_TIMEOUT})
    try:
        with engine.connect() as connection:
            prepare(connection)
            connection.commit()
            try:
                do_run_migrations(connection)
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    finally:
        engine.dispose()


async def run_asyncpg() -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        settings.url_for(database_url(), "asyncpg"), poolclass=NullPool,
        connect_args={"server_settings": {"statement_timeout": settings.STATEMENT_TIMEOUT}})
    try:
        async with engine.connect() as connection:
            await connection.run_sync(prepare)
            await connection.commit()
            try:
                await connection.run_sync(do_run_migrations)
            finally:
                await connection.rollback()
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": MIGRATION_LOCK})
                await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
elif settings.choice(config, "driver", "HOST_APP_DRIVER", "psycopg") == "asyncpg":
    asyncio.run(run_asyncpg())
else:
    run_psycopg()
