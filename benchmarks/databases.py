"""The benchmark's databases: built once per size, cloned per approach, dropped at the end.

Every approach runs in its own clone of one template, so they start from identical data and
differ only in what is installed: the sync (through ``verify-triggers upgrade``, as a user
installs it), a naive row trigger, or nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from benchmarks import queries as q

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The tables are the tests' own: the application's schema (every index its models declare),
# or the lean variant with only the indexes the sync needs.
SCHEMA_FILES = {"app": ROOT / "tests" / "fixtures" / "schema.sql",
                "lean": ROOT / "tests" / "fixtures" / "schema_lean.sql"}
SEED_FILE = ROOT / "tests" / "fixtures" / "seed.sql"
NAIVE_FILE = HERE / "sql" / "naive_row_trigger.sql"


def console_script() -> list[str]:
    """The installed ``verify-triggers``, next to this interpreter (what a user runs)."""
    beside = Path(sys.executable).parent / "verify-triggers"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("verify-triggers")
    return [found] if found else [sys.executable, "-m", "verify_triggers"]


class Server:
    """The PostgreSQL server the databases are built on (a superuser connection)."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.params = conninfo_to_dict(dsn)

    def connect(self, dbname: str, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.dsn, dbname=dbname, **kwargs)

    def url(self, dbname: str) -> str:
        """The database as a ``postgresql://`` URL, for ``DATABASE_URL``."""
        user = quote(self.params.get("user", ""), safe="")
        password = self.params.get("password")
        auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
        host, port = self.params.get("host", "127.0.0.1"), self.params.get("port", "5432")
        if host.startswith("/"):
            return f"postgresql://{auth}/{quote(dbname)}?host={quote(host)}&port={port}"
        return f"postgresql://{auth}{host}:{port}/{quote(dbname)}"

    def libpq_args(self) -> list[str]:
        args = ["-h", self.params.get("host", "127.0.0.1"), "-p", str(self.params.get("port", 5432))]
        return args + (["-U", self.params["user"]] if self.params.get("user") else [])

    def env(self, dbname: str | None = None) -> dict:
        """The environment of a subprocess: the password, and the target of the CLI."""
        env = dict(os.environ)
        if self.params.get("password"):
            env["PGPASSWORD"] = self.params["password"]
        if dbname:
            env["DATABASE_URL"] = self.url(dbname)
            env["VERIFY_TRIGGERS_SCHEMA"] = q.SCHEMA
        return env


def drop(server: Server, name: str) -> None:
    with server.connect("postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create(server: Server, name: str, template: str | None = None) -> None:
    drop(server, name)
    with server.connect("postgres") as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            # FILE_COPY (15+): a checkpoint and a file copy, instead of WAL-logging every block.
            strategy = sql.SQL(" STRATEGY FILE_COPY") if conn.info.server_version >= 150000 else sql.SQL("")
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
                sql.Identifier(name), sql.Identifier(template), strategy))


def load_schema(conn: psycopg.Connection, path: Path) -> None:
    conn.execute(sql.SQL(path.read_text()).format(schema=sql.Identifier(q.SCHEMA)))


def load(server: Server, name: str, n: int, sheets: int, schema_file: Path, stage_import: bool) -> bool:
    """The tables, N matches and ``sheets`` sheet rows; returns whether pg_walinspect is there."""
    with server.connect(name) as conn:
        load_schema(conn, schema_file)
        with conn.transaction():
            for statement in q.LOAD:
                conn.execute(statement, {"n": n, "sheets": sheets, "suppliers": q.SUPPLIERS,
                                         "human": q.HUMAN})
            if stage_import:
                for statement in q.STAGE_IMPORT:
                    conn.execute(statement, {})
        walinspect = stage_import and conn.execute(q.WALINSPECT_AVAILABLE).fetchone()[0]
        if walinspect:
            conn.execute(q.CREATE_WALINSPECT)
        conn.execute(q.VACUUM_ANALYZE)
    return bool(walinspect)


def load_seed(server: Server, name: str, schema_file: Path) -> None:
    with server.connect(name) as conn:
        load_schema(conn, schema_file)
        load_schema(conn, SEED_FILE)
        conn.execute(q.VACUUM_ANALYZE)


def install_sync(server: Server, name: str) -> None:
    """``verify-triggers upgrade``: the head revision, its indexes and the reconcile."""
    done = subprocess.run(console_script() + ["upgrade"], env=server.env(name),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"verify-triggers upgrade failed: {(done.stdout + done.stderr)[-2000:]}")
    with server.connect(name) as conn:
        conn.execute(q.VACUUM_ANALYZE)


def install_naive(server: Server, name: str) -> None:
    with server.connect(name) as conn:
        load_schema(conn, NAIVE_FILE)
        conn.execute(q.VACUUM_ANALYZE)


def functions_md5(conn: psycopg.Connection) -> str:
    return conn.execute(q.FUNCTIONS_MD5, {"schema": q.SCHEMA}).fetchone()[0] or ""


def applied_revision(conn: psycopg.Connection) -> str:
    return conn.execute(q.APPLIED_REVISION).fetchone()[0]
