"""pytest-alembic's built-in tests, run against the sync's own migrations (issue 11, item 5).

They are the field's own test suite for Alembic projects: a single head, an upgrade from base
to head, every revision up and down again, and (experimental) a downgrade that leaves no trace
in what autogenerate sees. pytest-alembic drives the sync's env (migrations/env.py) through
Alembic's cookbook convention, config.attributes["connection"] (here an Engine), and the env
reads the target schema from $VERIFY_TRIGGERS_SCHEMA.

The plugin's own collection is off in this project (``-p no:pytest_alembic`` in pyproject.toml:
its collector fails under pytest 9), so the tests are imported here, as pytest-alembic
documents, with its ``alembic_runner`` fixture and our ``alembic_config`` and
``alembic_engine``. Each runs on a fresh database holding the application's tables
(tests/fixtures/schema.sql), in schema ``shop`` so that the schema can only come from the
environment variable.
"""

import faulthandler
import itertools
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg import sql
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401 (the fixture)
from pytest_alembic.tests import (  # noqa: F401 (collected as tests of this module)
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy.pool import NullPool

try:  # experimental, not in every release of pytest-alembic
    from pytest_alembic.tests.experimental import test_downgrade_leaves_no_trace  # noqa: F401
except ImportError:  # pragma: no cover
    pass

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "migrations"
SCHEMA_SQL = ROOT / "tests" / "fixtures" / "schema.sql"
SCHEMA = "shop"
TEST_TIMEOUT_S = 240
# A concurrent index build waiting on the caller's transaction fails in seconds, not never.
SESSION_OPTIONS = "-c statement_timeout=60s -c lock_timeout=20s"
_names = itertools.count()

LEFTOVERS = r"""
SELECT c.relname::text FROM pg_catalog.pg_class c WHERE c.relname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT p.proname::text FROM pg_catalog.pg_proc p WHERE p.proname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT t.tgname::text FROM pg_catalog.pg_trigger t WHERE t.tgname LIKE 'verify\_triggers\_%'
"""


@pytest.fixture(autouse=True)
def watchdog():
    """No test can hang: past TEST_TIMEOUT_S the process dumps every thread and exits."""
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def target_schema(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VERIFY_TRIGGERS_SCHEMA", SCHEMA)


@pytest.fixture
def alembic_config():
    return {"script_location": str(MIGRATIONS)}


@pytest.fixture
def app_database(pg_server):
    """A fresh database holding the application's tables in schema ``shop``."""
    name = f"vt_pa_{os.getpid()}_{next(_names)}"
    janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port,
                              dbname=name)
    janitor.init()
    with pg_server.connect(name, autocommit=True) as conn:
        conn.execute(sql.SQL(SCHEMA_SQL.read_text()).format(schema=sql.Identifier(SCHEMA)))
    yield name
    janitor.drop()


@pytest.fixture
def alembic_engine(pg_server, app_database):
    engine = sa.create_engine(pg_server.url(app_database, "postgresql+psycopg"), poolclass=NullPool,
                              connect_args={"options": SESSION_OPTIONS})
    yield engine
    engine.dispose()


def test_the_built_in_tests_ran_the_sync(alembic_runner, pg_server, app_database):  # noqa: F811
    """The wiring itself: the runner's upgrade installs the sync in ``shop`` and its downgrade
    to base removes all of it (so the built-in tests above exercise real migrations)."""
    alembic_runner.migrate_up_to("heads")
    assert alembic_runner.current == "0003"
    with pg_server.connect(app_database, autocommit=True) as conn:
        schemas = {r[0] for r in conn.execute(
            "SELECT DISTINCT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname LIKE 'verify\\_triggers\\_%'")}
        assert schemas == {SCHEMA}
    alembic_runner.migrate_down_to("base", return_current=False)
    # (asked before pytest-alembic's `current`, which creates an empty version table itself)
    with pg_server.connect(app_database, autocommit=True) as conn:
        assert conn.execute(LEFTOVERS).fetchall() == []


def test_the_experimental_test_is_present():
    """The installed pytest-alembic ships "downgrade leaves no trace", so it runs above."""
    import pytest_alembic.tests.experimental as experimental

    assert hasattr(experimental, "test_downgrade_leaves_no_trace")

