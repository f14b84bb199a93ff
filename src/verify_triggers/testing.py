"""Install the sync into a host application's test database in one line.

A host's own tests must run against the triggers production has, or they test a back office
in which confirming a match verifies nothing. Installing is this release's ``upgrade`` to head,
the migrations a deploy runs, so rows already loaded are reconciled as well.

With pytest-postgresql, list :func:`load_sync` after the loader of the host's own schema::

    postgresql_proc = factories.postgresql_proc(load=[load_schema, load_sync])

It runs once per session, into the template every test database is copied from. A suite that
builds its database itself calls :func:`install_sync`.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

from . import target as targets
from .constants import DEFAULT_SCHEMA
from .errors import VerifyTriggersError


def install_sync(database, schema: str = DEFAULT_SCHEMA) -> None:
    """Install the sync at head in ``schema`` (or bring it there; a second call changes nothing).

    ``database``: a URL (``postgresql://``, ``postgresql+psycopg://``, ``postgresql+asyncpg://``),
    a SQLAlchemy Engine or Connection, or an idle psycopg Connection. On a SQLAlchemy Connection
    inside a transaction the install joins that transaction and the caller commits; otherwise
    it is committed when this returns. A psycopg Connection only says where: the install runs
    on a connection of its own. Any failure is one :class:`VerifyTriggersError` line.
    """
    from .migrate import commands  # Alembic only when installing

    url, handle = _where(database)
    target = _target(url, schema, handle)
    try:
        commands.upgrade(commands.make_config(target, connection=handle), "head")
    except VerifyTriggersError as exc:
        raise type(exc)(f"installing verify-triggers into {target.where} failed: {exc}") from None
    except Exception as exc:  # a driver's error raised outside the migration environment
        from .connection import error_line

        raise VerifyTriggersError(
            f"installing verify-triggers into {target.where} failed: {error_line(exc)}") from None


def load_sync(*, host: str, port: int | str, user: str, dbname: str,
              password: str | None = None, schema: str = DEFAULT_SCHEMA, **_) -> None:
    """:func:`install_sync` as a pytest-postgresql loader.

    pytest-postgresql calls each loader with ``host``, ``port``, ``user``, ``dbname`` and
    ``password`` (newer releases add ``autocommit``, not needed: the install manages its own
    transactions). Another schema: ``functools.partial(load_sync, schema="shop")``.
    """
    install_sync(_url(host=host, port=port, user=user, dbname=dbname, password=password), schema)


def _url(*, host: str, port: int | str, user: str, dbname: str, password: str | None = None,
         **options: str) -> str:
    """A ``postgresql://`` URL from libpq's connection values. A host that is a socket folder
    goes in the query, where libpq reads it; ``options`` (``sslmode``...) too."""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    path = quote(dbname, safe="")
    if str(host).startswith("/"):
        options = {"host": str(host), "port": str(port), **options}
        netloc = f"{auth}@"
    else:
        netloc = f"{auth}@{f'[{host}]' if ':' in str(host) else host}:{port}"
    return f"postgresql://{netloc}/{path}" + (f"?{urlencode(options)}" if options else "")


def _where(database) -> tuple[str, object]:
    """The URL that names the target, and the SQLAlchemy handle to migrate on (None: connect
    to the URL)."""
    if isinstance(database, str):
        return database, None
    import psycopg

    if isinstance(database, psycopg.Connection):
        return _psycopg_url(database), None
    from sqlalchemy.engine import Connection, Engine

    if isinstance(database, (Engine, Connection)):
        return database.engine.url.render_as_string(hide_password=False), database
    raise VerifyTriggersError(
        "install_sync needs a database URL, a SQLAlchemy Engine or Connection, or a psycopg "
        f"Connection, not {type(database).__name__}")


def _target(url: str, schema: str, handle) -> targets.Target:
    try:
        return targets.resolve(url, schema)
    except VerifyTriggersError:
        if handle is None:
            raise
        # An engine made with a creator function has no usable URL; it names nothing then,
        # and must not pick up DATABASE_URL, which names some other database.
        environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        return targets.resolve(None, schema, need_url=False, environ=environ)


def _psycopg_url(conn) -> str:
    from psycopg import pq

    if conn.closed:
        raise VerifyTriggersError("install_sync was handed a closed psycopg connection")
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise VerifyTriggersError(
            "install_sync was handed a psycopg connection inside a transaction: commit or roll "
            "back first (the install runs on a connection of its own, which that transaction "
            "would block)")
    info = conn.info
    options = {k: v for k, v in info.get_parameters().items()
               if k not in ("host", "hostaddr", "port", "user", "dbname", "password")}
    return _url(host=info.host, port=info.port, user=info.user, dbname=info.dbname,
                password=info.password or None, **options)


__all__ = ["install_sync", "load_sync"]
