"""Where a verb runs, resolved once at the edge: the database URL, the schema, the DDL settings.

Each value comes from the command line, else the environment, else a default, and the URL is
parsed once here. Operators paste the application's own URL (``postgresql+asyncpg://``), so the
SQLAlchemy driver forms are accepted; the connection is always made by libpq (psycopg 3). Only
the standard library is imported: ``--help`` and ``--version`` load no driver.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .constants import DEFAULT_SCHEMA
from .errors import VerifyTriggersError

ACCEPTED_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+asyncpg",
                    "postgresql+psycopg2")
DEFAULT_LOCK_TIMEOUT = "2s"
DEFAULT_LOCK_RETRIES = 30

# a % not followed by two hex digits, or an encoded NUL (libpq refuses it, quoting the value)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")

# asyncpg's spelling of libpq's parameters, as found in applications' URLs
_ASYNCPG_PARAMETERS = {"ssl": "sslmode"}


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL: libpq's form to connect with, and a display form without the
    password."""

    conninfo: str
    user: str | None
    host: str
    port: str
    dbname: str

    @property
    def display(self) -> str:
        """``user@host:port/dbname``."""
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class Target:
    """A database URL and the application's schema, with the settings of DDL steps."""

    url: DatabaseURL | None  # None for a verb that needs no connection (``upgrade --sql``)
    schema: str = DEFAULT_SCHEMA
    lock_timeout: str = DEFAULT_LOCK_TIMEOUT
    lock_retries: int = DEFAULT_LOCK_RETRIES

    @property
    def display(self) -> str:
        return self.url.display if self.url else "the database"

    @property
    def where(self) -> str:
        return f"schema {self.schema} on {self.display}"


def parse_url(url: str) -> DatabaseURL:
    """The URL as libpq takes it, or a one-line :class:`VerifyTriggersError` saying what is
    wrong (never echoing a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number
    except ValueError:
        raise VerifyTriggersError(f"malformed database URL: {redact(url)!r}") from None
    if not parts.scheme or "://" not in url:
        raise VerifyTriggersError(f"malformed database URL: {redact(url)!r}")
    # libpq rejects these too, but quotes the offending part, which may be the password
    if any(c.isspace() for c in url):
        raise VerifyTriggersError(
            f"malformed database URL: {redact(url)!r}: percent-encode spaces as %20")
    if _BAD_PERCENT.search(url):
        raise VerifyTriggersError(
            f"malformed database URL: {redact(url)!r}: a % must start a percent-encoded byte "
            "other than %00 (%25 for a % itself)")
    if parts.scheme not in ACCEPTED_SCHEMES:
        raise VerifyTriggersError(
            f"unsupported database URL scheme {parts.scheme!r}: use postgresql://, "
            "postgresql+psycopg:// or postgresql+asyncpg://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    dbname = unquote(parts.path.lstrip("/")) or dict(query).get("dbname", "")
    if not dbname:
        raise VerifyTriggersError(f"database URL names no database: {redact(url)!r}")
    query = [(_ASYNCPG_PARAMETERS.get(k, k), v) for k, v in query]
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
    options = dict(query)
    host = unquote(parts.hostname or "") or options.get("host") or "localhost"
    return DatabaseURL(
        conninfo=conninfo,
        user=unquote(parts.username) if parts.username else options.get("user"),
        host=host.split(",")[0],
        port=str(port or options.get("port") or 5432),
        dbname=dbname,
    )


def redact(url: str) -> str:
    """The URL with any password masked."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def resolve(database_url: str | None = None, schema: str | None = None, *,
            lock_timeout: str | None = None, lock_retries: str | int | None = None,
            need_url: bool = True, environ=os.environ) -> Target:
    """A :class:`Target` from explicit values, else the environment, else the defaults."""
    url = database_url or environ.get("DATABASE_URL")
    if not url and need_url:
        raise VerifyTriggersError(
            "no database URL: pass --database-url or set DATABASE_URL (postgresql://user@host/db)")
    schema = schema if schema is not None else (environ.get("VERIFY_TRIGGERS_SCHEMA") or DEFAULT_SCHEMA)
    if not schema:
        raise VerifyTriggersError("--schema must not be empty")
    retries = lock_retries if lock_retries is not None else (
        environ.get("VERIFY_TRIGGERS_LOCK_RETRIES") or DEFAULT_LOCK_RETRIES)
    try:
        count = int(retries)
    except ValueError:
        count = 0
    if count < 1:
        raise VerifyTriggersError(f"lock retries must be a whole number of 1 or more, not {retries!r}")
    retries = count
    return Target(
        url=parse_url(url) if url else None,
        schema=schema,
        lock_timeout=lock_timeout or environ.get("VERIFY_TRIGGERS_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT,
        lock_retries=retries,
    )
