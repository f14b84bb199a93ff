"""Fixtures: a real PostgreSQL server, a fresh database per test, the sync installed.

The helpers they build on (Database, load_sql, ...) are in tests/helpers.py.
"""

import faulthandler
import itertools
import os
from pathlib import Path

import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

import pgserver
from helpers import FIXTURES, SCHEMA, TABLES, Database, load_sql  # noqa: F401 (imported from here too)

_names = itertools.count()
# Longest any one test of a module that asks for `watchdog` may run.
TEST_TIMEOUT_S = 240


def pytest_report_header(config):
    return f"verify-triggers test server: {os.environ.get('VERIFY_TRIGGERS_TEST_SERVER') or 'local, else embedded'}"


@pytest.fixture(scope="session")
def pg_server():
    server = pgserver.start()
    yield server
    pgserver.stop(server)


def _janitor(pg_server, name: str, **kwargs) -> DatabaseJanitor:
    return DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port,
                           dbname=name, **kwargs)


def _template(pg_server, name: str, schema_file: Path):
    janitor = _janitor(pg_server, name, as_template=True)
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


def _new_database(pg_server, template_db: str | None, prefix: str = "vt"):
    name = f"{prefix}_{os.getpid()}_{next(_names)}"
    janitor = _janitor(pg_server, name, template_dbname=template_db)
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
def empty_db(pg_server):
    """A fresh database with nothing in it (not even the application's tables)."""
    janitor, database = _new_database(pg_server, None, prefix="vt_empty")
    yield database
    janitor.drop()


@pytest.fixture
def seeded(db):
    """The seed's state: confirmed matches whose sheet rows were never verified."""
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql")
    return db


@pytest.fixture(scope="session")
def installed_template_db(pg_server, template_db):
    """The seed's state with the sync installed, made once per test process: cloning it takes
    a fraction of an install's time, and most tests start from it."""
    name = f"vt_template_installed_{os.getpid()}"
    janitor = _janitor(pg_server, name, template_dbname=template_db)
    janitor.drop()
    janitor.init()
    database = Database(pg_server, name)
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql")
    database.upgrade()
    with pg_server.connect("postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH is_template true").format(sql.Identifier(name)))
    janitor.as_template = True  # so that drop() clears the flag first
    yield name
    janitor.drop()


@pytest.fixture
def installed(pg_server, installed_template_db):
    """The seed's state with the sync installed (and so reconciled), as `upgrade` leaves it."""
    janitor, database = _new_database(pg_server, installed_template_db)
    yield database
    janitor.drop()


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


@pytest.fixture
def own_server():
    """An embedded PostgreSQL 18 of the test's own, which it may stop and start: the suite's
    server is never touched."""
    server = pgserver.start_embedded()
    yield server
    pgserver.stop(server)


@pytest.fixture
def app_role(installed):
    """A login role with what an application needs and nothing more: USAGE on the schema and
    its sequences, SELECT, INSERT, UPDATE and DELETE on the four tables."""
    role = f"vt_app_{os.getpid()}_{installed.name}"
    ident = sql.Identifier(role)
    with installed.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(SCHEMA, t) for t in TABLES), ident))
        conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO {}").format(ident))
    yield role
    with installed.connect() as conn:
        conn.execute("RESET ROLE")
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


@pytest.fixture
def watchdog():
    """No test can hang: past TEST_TIMEOUT_S the process dumps every thread and exits."""
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
