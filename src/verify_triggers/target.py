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
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

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

# What libpq connects to when no host is given at all: its default Unix socket, in a directory
# compiled into it (psql and the server's log call it [local]); on Windows, localhost.
DEFAULT_HOST_DISPLAY = "localhost" if os.name == "nt" else "[local]"


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL: libpq's form to connect with, and a display form without the
    password."""

    conninfo: str
    user: str | None
    # (host, port) in libpq's order of trying them; host "" for libpq's default socket
    servers: tuple[tuple[str, str], ...]
    dbname: str
    # a connection service (service=, PGSERVICE) that names the host where the URL does not
    service: str | None = None

    @property
    def host(self) -> str:
        return self.servers[0][0]

    @property
    def port(self) -> str:
        return self.servers[0][1]

    @property
    def display(self) -> str:
        """``user@host:port/dbname``; ``host:port,host:port`` for a list of hosts;
        ``[local]`` for libpq's default socket, whose directory only a connection tells
        (:meth:`connected_display`)."""
        return self._display(self.servers)

    def connected_display(self, host: str | None, port: int | str | None = None) -> str:
        """The display once connected, ``host`` and ``port`` being those libpq reports
        (psycopg's ``conn.info``): with no host given, the default socket's directory, or
        the host a service named."""
        if len(self.servers) == 1 and not self.host and host:
            return self._display(((host, str(port or self.port)),), service=False)
        return self.display

    def _display(self, servers, service: bool = True) -> str:
        shown = []
        for host, port in servers:
            if not host and service and self.service:
                shown.append(f"[service {self.service}]")  # its host and port are in the file
                continue
            host = host or DEFAULT_HOST_DISPLAY
            shown.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        return f"{self.user + '@' if self.user else ''}{','.join(shown)}/{self.dbname}"


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
        return self.connected_where(None)

    def connected_display(self, host: str | None, port: int | str | None = None) -> str:
        """:attr:`display` once connected (:meth:`DatabaseURL.connected_display`)."""
        return self.url.connected_display(host, port) if self.url else self.display

    def connected_where(self, host: str | None, port: int | str | None = None) -> str:
        return f"schema {self.schema} on {self.connected_display(host, port)}"


def parse_url(url: str, environ=os.environ) -> DatabaseURL:
    """The URL as libpq takes it, or a one-line :class:`VerifyTriggersError` saying what is
    wrong (never echoing a password).

    libpq's own URL rules are the reference: the authority may be empty (``postgresql:///db``,
    the host then comes from ``?host=``, ``PGHOST`` or the default socket) or list several
    hosts (``h1:5432,h2:5433``), and a URL without a database name connects to the database
    named after the user. Query parameters libpq does not know are refused in a libpq URL; in
    a SQLAlchemy driver URL (``postgresql+asyncpg://``, ...) they belong to the driver or the
    dialect (``prepared_statement_cache_size=0``) and are left out of the connection."""
    try:
        parts = urlsplit(url)  # ValueError for an unbalanced IPv6 bracket
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
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts = []
    for item in hostlist.split(","):
        spec = _HOST_SPEC.fullmatch(item)
        if spec is None:  # a port that is not a number, a stray bracket
            raise VerifyTriggersError(f"malformed database URL: {redact(url)!r}")
        hosts.append((unquote(spec["host"].strip("[]")), spec["port"] or ""))
    query = [(_ASYNCPG_PARAMETERS.get(k, k), v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if query:
        query = _libpq_parameters(url, query, driver="+" in parts.scheme)
    options = dict(query)
    # %20, not +, for a space: libpq decodes no +
    conninfo = "postgresql://" + parts.netloc + parts.path + (
        f"?{urlencode(query, quote_via=quote)}" if query else "")

    # libpq: the query's parameters win over the authority's and the path's, then the
    # environment (PGUSER, PGHOST, PGPORT, PGDATABASE) fills in what is still unset
    user = unquote(userinfo.split(":", 1)[0]) if userinfo else None
    user = options.get("user") or user or environ.get("PGUSER") or None
    if options.get("host"):
        hosts = [(host, "") for host in options["host"].split(",")]
    elif not any(host for host, _ in hosts) and environ.get("PGHOST"):
        # the authority's ports still hold, e.g. postgresql://:5999/db
        given = [port for _, port in hosts]
        hosts = [(host, given[min(i, len(given) - 1)]) for i, host in enumerate(environ["PGHOST"].split(","))]
    if not any(host for host, _ in hosts):
        # no host at all: libpq connects over TCP to a hostaddr given, and a service file may
        # name the host; only with neither is it the default socket
        addresses = options.get("hostaddr") or environ.get("PGHOSTADDR")
        if addresses:
            given = [port for _, port in hosts]
            hosts = [(addr, given[min(i, len(given) - 1)]) for i, addr in enumerate(addresses.split(","))]
    ports = (options.get("port") or "").split(",")
    if ports != [""]:
        hosts = [(host, ports[min(i, len(ports) - 1)]) for i, (host, _) in enumerate(hosts)]
    default_port = environ.get("PGPORT") or "5432"
    dbname = (options.get("dbname") or unquote(parts.path.lstrip("/")) or environ.get("PGDATABASE")
              or user or _system_user())
    return DatabaseURL(
        conninfo=conninfo,
        user=user,
        servers=tuple((host, port or default_port) for host, port in hosts),
        dbname=dbname,
        service=options.get("service") or environ.get("PGSERVICE") or None,
    )


# one host of an authority's list: a name, an address or a [bracketed IPv6 address], and a port
_HOST_SPEC = re.compile(r"(?P<host>\[[^\[\]]*\]|[^\[\]:]*)(?::(?P<port>[0-9]*))?")


def _system_user() -> str:
    """The user libpq connects as when none is given: the operating system's."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "postgres"


def _libpq_parameters(url: str, query: list[tuple[str, str]], driver: bool) -> list[tuple[str, str]]:
    """The query parameters libpq knows. The others are refused in a libpq URL, and left out of
    a driver URL, where they are SQLAlchemy's or the driver's own options."""
    from psycopg import pq  # only for a URL with a query: the driver's libpq names its keywords

    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    unknown = [key for key, _ in query if key not in known]
    if unknown and not driver:
        raise VerifyTriggersError(
            f"database URL option {unknown[0]!r} is not a libpq connection parameter: "
            f"{redact(url)!r}")
    return [(key, value) for key, value in query if key in known]


def redact(url: str) -> str:
    """The URL with any password masked (in the authority and in a ``password=`` option)."""
    url = re.sub(r"([?&]password=)[^&#]*", r"\1***", url)
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def no_url(option: str) -> VerifyTriggersError:
    """The error for a verb that connects with no URL given, naming the entry point's own way
    to give one: the CLI's ``--database-url URL``, Alembic's ``-x database_url=URL``."""
    return VerifyTriggersError(
        f"no database URL: pass {option} or set DATABASE_URL (postgresql://user@host/db)")


def resolve(database_url: str | None = None, schema: str | None = None, *,
            lock_timeout: str | None = None, lock_retries: str | int | None = None,
            need_url: bool = True, environ=os.environ) -> Target:
    """A :class:`Target` from explicit values, else the environment, else the defaults."""
    url = database_url or environ.get("DATABASE_URL")
    if not url and need_url:
        raise no_url("--database-url")
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
        url=parse_url(url, environ) if url else None,
        schema=schema,
        lock_timeout=_lock_timeout(
            lock_timeout if lock_timeout is not None
            else environ.get("VERIFY_TRIGGERS_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT),
        lock_retries=retries,
    )


# A duration as PostgreSQL reads lock_timeout: a number, in milliseconds unless a unit follows.
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|h|d)?\s*")
_MAX_MS = 2**31 - 1  # lock_timeout is an int of milliseconds
_MS_PER_UNIT = {"us": 0.001, "ms": 1, None: 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _lock_timeout(value: str) -> str:
    """The DDL steps' lock_timeout: a positive duration. 0 is PostgreSQL's "no limit", which
    would let every write queue behind the deploy for as long as a transaction holds a table."""
    found = _DURATION.fullmatch(str(value))
    ms = float(found.group(1)) * _MS_PER_UNIT[found.group(2)] if found else 0
    if not 1 <= ms <= _MAX_MS:
        raise VerifyTriggersError(
            "lock timeout must be a duration of 1ms or more, such as 2s or 500ms (0 would mean no "
            f"limit, and writes would queue behind the deploy), not {value!r}"
            + (" (PostgreSQL's largest is 2147483647ms, about 24 days)" if ms > _MAX_MS else ""))
    return str(value).strip()
