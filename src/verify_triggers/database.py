"""Connections and query files for the CLI verbs, with failures as one clear line.

Every value a query needs is a bound parameter; the target schema is composed in as
an identifier (``psycopg.sql.Identifier``) and never formatted into a string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from . import dburl, resources
from .errors import VerifyTriggersError

CONNECT_TIMEOUT = 10

_AUTH_REFUSED = re.compile(
    r"authentication failed|no pg_hba\.conf entry|not permitted to log in|"
    r"role \".*\" does not exist|no password supplied|password is required|"
    r"permission denied for database",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    """Where a verb runs: a database URL (any of the accepted forms) and a schema."""

    url: str
    schema: str

    @property
    def display(self) -> str:
        """``user@host:port/dbname``, never the password."""
        return describe(self.url)


def validated_url(url: str | None) -> str:
    """The URL given (else ``DATABASE_URL``) as a libpq URL, or a one-line error."""
    url = dburl.resolve(url)
    try:
        return dburl.libpq_url(url)
    except VerifyTriggersError:
        raise
    except ValueError as exc:  # e.g. a port that is not a number
        reason = "its port is not a number" if "int()" in str(exc) else str(exc)
        raise VerifyTriggersError(f"malformed database URL {dburl._redact(url)!r}: {reason}") from None


def describe(url: str) -> str:
    try:
        parsed = dburl.sqlalchemy_url(url)
    except (VerifyTriggersError, ValueError):
        return "the database"
    host = parsed.host or parsed.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = parsed.port or parsed.query.get("port") or 5432
    if isinstance(port, tuple):
        port = port[0]
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{user}{host}:{port}/{parsed.database}"


def connect(url: str | None, *, autocommit: bool = True) -> psycopg.Connection:
    """A psycopg connection, or a :class:`VerifyTriggersError` saying why not, in one line."""
    conninfo = validated_url(url)
    where = describe(dburl.resolve(url))
    try:
        conn = psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        raise VerifyTriggersError(connection_error_line(exc, where)) from None
    # The verbs run each query once over whole tables: JIT compilation cost more than it
    # saved (1.5 s of `check` at 3M sheet rows on PostgreSQL 15).
    conn.execute("SET jit = off")
    return conn


def connection_error_line(exc: Exception, where: str) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    reason = first.removeprefix("connection failed: ")
    if " failed: " in reason:
        reason = reason.rsplit(" failed: ", 1)[1]
    reason = re.sub(r"^(FATAL|ERROR):\s+", "", reason).strip()
    if _AUTH_REFUSED.search(reason):
        return f"the server refused authentication for {where}: {reason}"
    if reason.lower() == "connection refused":
        reason = "connection refused (is the server running and accepting connections there?)"
    return f"cannot connect to {where}: {reason}"


def database_error_line(exc: psycopg.Error) -> str:
    """One line from an error raised while a verb's query ran."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    line = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"database error: {line}"


def query(name: str, schema: str, *placeholders: str) -> sql.Composed:
    """``sql/queries/<name>`` for ``schema``, its ``{placeholders}`` as named bind parameters.

    ``{schema}`` is the quoted identifier and ``{schema_name}`` the schema as a string
    literal, as in :func:`verify_triggers.resources.query`.
    """
    text = resources.sql_path(f"queries/{name}").read_text(encoding="utf-8")
    return sql.SQL(text).format(
        schema=sql.Identifier(schema),
        schema_name=sql.Literal(schema),
        **{p: sql.Placeholder(p) for p in placeholders},
    )


def missing_objects(conn: psycopg.Connection, schema: str) -> list[str]:
    """What the sync needs and the schema lacks: the schema itself, tables, columns."""
    rows = conn.execute(query("required.sql", schema)).fetchall()
    return [row[0] for row in rows]


def require_tables(conn: psycopg.Connection, schema: str) -> None:
    """Fail with one line when the schema, one of the four tables or a column is missing."""
    missing = missing_objects(conn, schema)
    if not missing:
        return
    if missing == ["schema"]:
        raise VerifyTriggersError(
            f"schema {schema!r} does not exist in this database "
            "(pass --schema or set VERIFY_TRIGGERS_SCHEMA to the application's schema)"
        )
    raise VerifyTriggersError(f"schema {schema!r} lacks {', '.join(missing)}")
