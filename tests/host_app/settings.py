"""The host's migration settings, shared by its ``env.py`` and by the tests that compare its
models with a database the way its ``alembic revision --autogenerate`` would.

The env is switched by a configuration attribute, else an environment variable:

* ``driver`` / ``$HOST_APP_DRIVER``: ``psycopg`` (a sync engine) or ``asyncpg``
  (``create_async_engine`` and ``connection.run_sync``, as the real application's env does);
* ``hooks`` / ``$HOST_APP_HOOKS``: ``sync`` (verify_triggers.alembic's hooks as they are),
  ``wrapped`` (the host's own hooks wrapped with ``excluding_sync``) or ``none`` (the host's
  hooks alone, as before the sync: autogenerate then sees the sync's objects);
* ``search_path`` / ``$HOST_APP_SEARCH_PATH``: ``app`` (the default: ``SET search_path TO app,
  public`` on the migration connection, as the real application's env does) or ``default``
  (the server's search_path left alone);
* ``transaction_per_migration`` / ``$HOST_APP_TRANSACTION_PER_MIGRATION``: unset (one
  transaction for the whole run, Alembic's default and the real application's) or true;
* ``url`` / ``$HOST_DATABASE_URL``: the database (any of postgresql://,
  postgresql+psycopg://, postgresql+asyncpg://; the driver part is replaced).
"""

import os
from pathlib import Path

from alembic.config import Config

from verify_triggers.alembic import excluding_sync, include_name, include_object

from .models import SCHEMA, Base

HERE = Path(__file__).resolve().parent
INI = HERE / "alembic.ini"
DRIVERS = ("psycopg", "asyncpg")
HOOKS = ("sync", "wrapped", "none")
# Every statement of the host's migrations is bounded: nothing in a test can wait forever.
STATEMENT_TIMEOUT = "120s"
# The host's own tables that its models do not describe (left alone by autogenerate).
LEGACY_PREFIX = "legacy_"


def host_include_name(name, type_, parent_names) -> bool:
    """The application's own hook: only its schema."""
    if type_ == "schema":
        return name == SCHEMA
    return True


def host_include_object(obj, name, type_, reflected, compare_to) -> bool:
    """The host's own hook: tables it keeps outside its models are not autogenerate's."""
    return not (type_ == "table" and reflected and compare_to is None
                and name.startswith(LEGACY_PREFIX))


def hooks_for(variant: str) -> dict:
    if variant == "sync":
        def both(*args):
            return include_name(*args) and host_include_name(*args)
        return {"include_name": both, "include_object": include_object}
    if variant == "wrapped":
        return {"include_name": excluding_sync(host_include_name),
                "include_object": excluding_sync(host_include_object)}
    if variant == "none":
        return {"include_name": host_include_name, "include_object": host_include_object}
    raise ValueError(f"hooks: one of {HOOKS}, not {variant!r}")


def migration_options(variant: str = "sync") -> dict:
    """What the host's env passes to ``context.configure`` (online and offline)."""
    return {
        "target_metadata": Base.metadata,
        "version_table_schema": SCHEMA,
        "include_schemas": True,
        "compare_type": True,
        "compare_server_default": True,
        **hooks_for(variant),
    }


def choice(config: Config | None, key: str, env: str, default: str | None = None) -> str | None:
    value = config.attributes.get(key) if config is not None else None
    return value or os.environ.get(env) or default


def url_for(url: str, driver: str) -> str:
    """``url`` with SQLAlchemy's driver part set to ``driver``."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+{driver}://{rest}"


def make_config(url: str | None = None, *, driver: str = "psycopg", hooks: str = "sync",
                transaction_per_migration: bool = False, stdout=None) -> Config:
    """The host's Alembic configuration, as ``alembic -c tests/host_app/alembic.ini`` reads
    it, with the switches set."""
    config = Config(str(INI), stdout=stdout) if stdout is not None else Config(str(INI))
    config.attributes["driver"] = driver
    config.attributes["hooks"] = hooks
    config.attributes["transaction_per_migration"] = transaction_per_migration
    if url is not None:
        config.attributes["url"] = url
    return config
