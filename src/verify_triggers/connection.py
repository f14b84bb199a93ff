"""Connections for the verbs, and every database failure worded as one line.

Every value a query needs is a bound parameter; the target schema is composed in as an
identifier (``psycopg.sql.Identifier``), never formatted into a string.
"""

from __future__ import annotations

import re

import psycopg

from .errors import VerifyTriggersError
from .target import Target

CONNECT_TIMEOUT = 10

_AUTH_REFUSED = re.compile(
    r"authentication failed|no pg_hba\.conf entry|not permitted to log in|"
    r"role \".*\" does not exist|no password supplied|password is required|"
    r"permission denied for database",
    re.IGNORECASE,
)
# libpq's "connection to server on socket "/path/.s.PGSQL.5432" failed: ..."
_SOCKET = re.compile(r'on socket "([^"]+)"')


def connect(target: Target, *, autocommit: bool = True) -> psycopg.Connection:
    """A psycopg connection to the target, or a :class:`VerifyTriggersError` saying why not."""
    try:
        conn = psycopg.connect(target.url.conninfo, autocommit=autocommit,
                               connect_timeout=CONNECT_TIMEOUT)
    except psycopg.OperationalError as exc:
        raise VerifyTriggersError(connection_error_line(exc, target.display)) from None
    # The verbs run each query once over whole tables: JIT compilation cost more than it
    # saved (1.5 s of `check` at 3M sheet rows on PostgreSQL 15); and check's hash joins over
    # a million sheet rows spill to disk in the default 4MB of work_mem (a third of its time).
    conn.execute("SET jit = off")
    conn.execute("SET work_mem = '64MB'")
    if not autocommit:
        conn.commit()
    return conn


def connection_error_line(exc: Exception, where: str) -> str:
    """Why a connection to ``where`` failed, in one line."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    reason = first.removeprefix("connection failed: ").removeprefix("connection is bad: ")
    socket = _SOCKET.search(reason)
    if " failed: " in reason:
        reason = reason.rsplit(" failed: ", 1)[1]
    reason = re.sub(r"^(FATAL|ERROR):\s+", "", reason).strip()
    if _AUTH_REFUSED.search(reason):
        return f"the server refused authentication for {where}: {reason}"
    if reason.lower() == "connection refused":
        reason = "connection refused (is the server running and accepting connections there?)"
    elif socket and reason.lower() == "no such file or directory":
        # the socket libpq tried, which the display cannot name before a connection
        reason = f"no server socket at {socket.group(1)} (is the server running on this machine?)"
    return f"cannot connect to {where}: {reason}"


def error_line(exc: BaseException) -> str:
    """One line from an error the server raised while a verb or a migration ran."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    line = primary or (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return f"database error: {line}"
