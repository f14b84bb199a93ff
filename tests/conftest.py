"""Fixtures: a real PostgreSQL server, a fresh database per test, the sync installed."""

import itertools
import os
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

import pgserver
from verify_triggers import migrations_api

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = "app"
_names = itertools.count()


class Database:
    """One throwaway database on the test server."""

    def __init__(self, server: pgserver.Server, name: str):
        self.server = server
        self.name = name

    def url(self, driver: str = "postgresql") -> str:
        return self.server.url(self.name, driver)

    def connect(self, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return self.server.connect(self.name, **kwargs)

    def upgrade(self, revision: str = "head", schema: str = SCHEMA) -> None:
        migrations_api.upgrade(migrations_api.make_config(self.url(), schema), revision)

    def downgrade(self, revision: str = "base", schema: str = SCHEMA) -> None:
        migrations_api.downgrade(migrations_api.make_config(self.url(), schema), revision)


def load_sql(conn: psycopg.Connection, path: Path, schema: str = SCHEMA) -> None:
    conn.execute(sql.SQL(path.read_text()).format(schema=sql.Identifier(schema)))


def pytest_report_header(config):
    return f"verify-triggers test server: {os.environ.get('VERIFY_TRIGGERS_TEST_SERVER') or 'local, else embedded'}"


@pytest.fixture(scope="session")
def pg_server():
    server = pgserver.start()
    yield server
    pgserver.stop(server)


def _template(pg_server, name: str, schema_file: Path):
    janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port,
                              dbname=name, as_template=True)
    janitor.drop()
    janitor.init()
    with pg_server.connect(name, autocommit=True) as conn:
        load_sql(conn, schema_file)
    return janitor


@pytest.fixture(scope="session")
def template_db(pg_server):
    """The application's schema: every index its models declare (fixtures/schema.sql)."""
    name = f"vt_template_{os.getpid()}"
    janitor = _template(pg_server, name, FIXTURES / "schema.sql")
    yield name
    janitor.drop()


@pytest.fixture(scope="session")
def lean_template_db(pg_server):
    """The same tables with only the indexes the sync needs (fixtures/schema_lean.sql)."""
    name = f"vt_template_lean_{os.getpid()}"
    janitor = _template(pg_server, name, FIXTURES / "schema_lean.sql")
    yield name
    janitor.drop()


def _new_database(pg_server, template_db):
    name = f"vt_{os.getpid()}_{next(_names)}"
    janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port,
                              dbname=name, template_dbname=template_db)
    janitor.init()
    return janitor, Database(pg_server, name)


@pytest.fixture
def db(pg_server, template_db):
    """A fresh database holding the fixture schema, no data, no triggers."""
    janitor, database = _new_database(pg_server, template_db)
    yield database
    janitor.drop()


@pytest.fixture
def lean_db(pg_server, lean_template_db):
    """A fresh database holding the lean schema (fixtures/schema_lean.sql), no data, no triggers."""
    janitor, database = _new_database(pg_server, lean_template_db)
    yield database
    janitor.drop()


@pytest.fixture
def seeded(db):
    """The seed's state: confirmed matches whose sheet rows were never verified."""
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql")
    return db


@pytest.fixture
def installed(seeded):
    """The seed's state with the sync installed (and so reconciled)."""
    seeded.upgrade()
    return seeded


@pytest.fixture
def conn(installed):
    with installed.connect() as connection:
        yield connection


@pytest.fixture
def make_db(pg_server, template_db):
    """Factory for more fresh databases (fixture schema, no data) within one test."""
    janitors = []

    def make() -> Database:
        janitor, database = _new_database(pg_server, template_db)
        janitors.append(janitor)
        return database

    yield make
    for janitor in janitors:
        janitor.drop()
