"""Database URLs as users have them, turned into what psycopg 3 connects with.

The application's own URL is usually ``postgresql+asyncpg://``; operators paste that,
so it is accepted and connected with psycopg 3 instead.
"""

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import VerifyTriggersError

_ACCEPTED_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+asyncpg", "postgresql+psycopg2"}


def resolve(url: str | None) -> str:
    """The URL given, else ``DATABASE_URL``; a clear error when there is neither."""
    url = url or os.environ.get("DATABASE_URL")
    if not url:
        raise VerifyTriggersError(
            "no database URL: pass --database-url or set DATABASE_URL (postgresql://user@host/db)"
        )
    return url


def sqlalchemy_url(url: str) -> URL:
    """The URL in SQLAlchemy's ``postgresql+psycopg`` form."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port, a bad IPv6 host
        raise VerifyTriggersError(f"malformed database URL: {_redact(url)!r}") from None
    if parsed.drivername not in _ACCEPTED_DRIVERS:
        raise VerifyTriggersError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql://, "
            "postgresql+psycopg:// or postgresql+asyncpg://"
        )
    if not parsed.database:
        raise VerifyTriggersError(f"database URL names no database: {_redact(url)!r}")
    return parsed.set(drivername="postgresql+psycopg")


def libpq_url(url: str) -> str:
    """The URL as a libpq connection string for ``psycopg.connect``."""
    return sqlalchemy_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _redact(url: str) -> str:
    """The URL with any password masked, for error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
