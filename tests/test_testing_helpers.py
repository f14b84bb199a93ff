"""verify_triggers.testing, used as a host application's test suite uses it: pytest-postgresql's
own fixtures load the host's schema and then the sync, and a confirm verifies its sheet row."""

import functools
import os
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql import factories
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from helpers import FIXTURES, SYNC, load_sql
from rule import drift, sheet
from verify_triggers.errors import VerifyTriggersError
from verify_triggers.testing import install_sync, load_sync

CONFIRM = sql.SQL("""
UPDATE {schema}.supplier_products AS sp
SET manual_confirmed = true
FROM {schema}.products AS p, {schema}.suppliers AS su
WHERE sp.local_product_id = p.id AND sp.supplier_id = su.id AND p.sku = %s AND su.name = %s
""")

TRIGGERS = """
SELECT count(*) FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND t.tgname LIKE 'verify\\_triggers\\_%%'
"""

# The seed's confirmed pairs, whose sheet rows it left unverified.
CONFIRMED = [("BMX136", "XINRUI"), ("BMX136", "PAREK"), ("BMX136", "KEMEISING"),
             ("AUR516", "KEMEISING")]


def confirm(conn, sku: str, supplier: str, schema: str = "app") -> None:
    conn.execute(CONFIRM.format(schema=sql.Identifier(schema)), (sku, supplier))


def sync_triggers(conn, schema: str = "app") -> int:
    return conn.execute(TRIGGERS, (schema,)).fetchone()[0]


def assert_synced(conn, schema: str = "app") -> None:
    """The seed reconciled by the install, and a confirm made now verifying its row."""
    for pair in CONFIRMED:
        assert sheet(conn, *pair, schema=schema)[:2] == (True, SYNC), pair
    assert sheet(conn, "AUR516", "WANKE", schema=schema)[0] is False
    confirm(conn, "AUR516", "WANKE", schema)
    assert sheet(conn, "AUR516", "WANKE", schema=schema)[:2] == (True, SYNC)
    assert drift(conn, schema) == []


# --- the pytest-postgresql way: a loader after the host's own ------------------------------

def load_host_schema(*, host, port, user, dbname, password=None, **_):
    """The host application's own loader: its tables and the rows its tests start from."""
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password,
                         autocommit=True) as conn:
        load_sql(conn, FIXTURES / "schema.sql")
        load_sql(conn, FIXTURES / "seed.sql")


@pytest.fixture(scope="session")
def running_server(pg_server):
    """The suite's server, as pytest-postgresql's ``depends_on`` takes an already running one
    (no template of its own: the host's template is made from template1)."""
    return SimpleNamespace(host=pg_server.host, port=pg_server.port, user=pg_server.user,
                           password=None, options="", maintenance_dbname="postgres",
                           template_dbname=None)


# What a host's conftest.py writes: the sync is one more entry in ``load``.
host_proc = factories.postgresql_noproc(depends_on="running_server",
                                        dbname=f"vt_host_app_{os.getpid()}",
                                        load=[load_host_schema, load_sync])
host_db = factories.postgresql("host_proc")


def test_the_loader_installs_the_sync_after_the_hosts_schema(host_db):
    assert sync_triggers(host_db) > 0
    assert_synced(host_db)
    host_db.commit()


def test_every_test_database_is_a_fresh_copy_of_the_installed_template(host_db):
    assert sheet(host_db, "AUR516", "WANKE")[0] is False  # the previous test's confirm is gone
    assert_synced(host_db)


def test_the_loader_takes_pytest_postgresqls_arguments_and_another_schema(make_db, pg_server):
    database = make_db()
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema="shop")
        load_sql(conn, FIXTURES / "seed.sql", schema="shop")
    loader = functools.partial(load_sync, schema="shop")
    # exactly the keywords DatabaseJanitor.load passes
    loader(host=pg_server.host, port=pg_server.port, user=pg_server.user, dbname=database.name,
           password=None, autocommit=False)
    with database.connect() as conn:
        assert sync_triggers(conn, "shop") > 0 and sync_triggers(conn, "app") == 0
        assert_synced(conn, "shop")


# --- install_sync for suites that build their database themselves --------------------------

def _engine(database):
    return create_engine(database.url("postgresql+psycopg"), poolclass=NullPool)


@pytest.mark.parametrize("kind", ["url", "asyncpg-url", "engine", "sqlalchemy-connection",
                                  "psycopg-connection"])
def test_install_sync_takes_a_url_an_engine_or_a_connection(seeded, kind):
    if kind == "url":
        install_sync(seeded.url())
    elif kind == "asyncpg-url":  # the application's own URL
        install_sync(seeded.url("postgresql+asyncpg"))
    elif kind == "engine":
        engine = _engine(seeded)
        install_sync(engine)
        engine.dispose()
    elif kind == "sqlalchemy-connection":
        engine = _engine(seeded)
        with engine.connect() as connection:
            install_sync(connection)
        engine.dispose()
    else:
        with seeded.connect(autocommit=False) as conn:
            install_sync(conn)
    with seeded.connect() as conn:
        assert_synced(conn)


SHEET_ROWS = "SELECT * FROM app.product_supplier_sheets ORDER BY id"


def test_install_sync_twice_changes_nothing(installed):
    with installed.connect() as conn:
        before = conn.execute(SHEET_ROWS).fetchall()
        triggers = sync_triggers(conn)
    install_sync(installed.url())
    with installed.connect() as conn:
        assert conn.execute(SHEET_ROWS).fetchall() == before
        assert sync_triggers(conn) == triggers


@pytest.mark.parametrize("rows", ["none", "seed"])
def test_install_sync_in_the_callers_transaction_is_rolled_back_with_it(db, rows):
    if rows == "seed":
        with db.connect() as conn:
            load_sql(conn, FIXTURES / "seed.sql")
    engine = _engine(db)
    with engine.connect() as connection:
        connection.begin()
        install_sync(connection)
        assert connection.exec_driver_sql(TRIGGERS, ("app",)).scalar() > 0
        with db.connect() as other:  # not committed: nobody else sees it yet
            assert sync_triggers(other) == 0
        connection.rollback()
    engine.dispose()
    with db.connect() as conn:
        assert sync_triggers(conn) == 0


def test_install_sync_in_the_callers_transaction_leaves_the_callers_timeouts_as_they_were(db):
    engine = _engine(db)
    with engine.connect() as connection:
        connection.begin()
        connection.exec_driver_sql("SET LOCAL lock_timeout = '7s'")
        connection.exec_driver_sql("SET LOCAL statement_timeout = '5min'")
        install_sync(connection)
        assert connection.exec_driver_sql(TRIGGERS, ("app",)).scalar() > 0  # the DDL did run
        timeouts = connection.exec_driver_sql(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").one()
        connection.rollback()
    engine.dispose()
    assert tuple(timeouts) == ("7s", "5min")


# --- failures: one line that says what is wrong ---------------------------------------------

def _one_line(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_a_schema_that_does_not_exist(db):
    with pytest.raises(VerifyTriggersError) as excinfo:
        install_sync(db.url(), schema="nowhere")
    _one_line(excinfo, "installing verify-triggers into schema nowhere on", db.name,
              "schema 'nowhere' does not exist")


def test_a_host_schema_without_a_table_the_sync_needs(db):
    with db.connect() as conn:
        conn.execute("DROP TABLE app.product_supplier_sheets")
    with pytest.raises(VerifyTriggersError) as excinfo:
        install_sync(db.url())
    _one_line(excinfo, "installing verify-triggers into schema app on", "product_supplier_sheets")


def test_an_unreachable_server():
    with pytest.raises(VerifyTriggersError) as excinfo:
        install_sync("postgresql://postgres@127.0.0.1:1/shop")
    _one_line(excinfo, "cannot connect to postgres@127.0.0.1:1/shop")


def test_a_psycopg_connection_inside_a_transaction_is_refused(seeded):
    with seeded.connect(autocommit=False) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(VerifyTriggersError) as excinfo:
            install_sync(conn)
        _one_line(excinfo, "inside a transaction: commit or roll back first")


def test_something_that_names_no_database():
    with pytest.raises(VerifyTriggersError) as excinfo:
        install_sync(42)
    _one_line(excinfo, "install_sync needs a database URL", "not int")
