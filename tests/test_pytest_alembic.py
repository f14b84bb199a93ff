"""pytest-alembic's built-in tests, run against the sync's own migrations.

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

from pathlib import Path

import pytest
import sqlalchemy as sa
from pytest_alembic.plugin.fixtures import alembic_runner  # noqa: F401 (the fixture)
from pytest_alembic.tests import (  # noqa: F401 (collected as tests of this module)
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy.pool import NullPool

from helpers import BOUNDED_SESSION, FIXTURES, leftovers, load_sql

try:  # experimental, not in every release of pytest-alembic
    from pytest_alembic.tests.experimental import test_downgrade_leaves_no_trace  # noqa: F401
except ImportError:  # pragma: no cover
    pass

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
SCHEMA = "shop"

pytestmark = pytest.mark.usefixtures("watchdog")


@pytest.fixture(autouse=True)
def target_schema(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VERIFY_TRIGGERS_SCHEMA", SCHEMA)


@pytest.fixture
def alembic_config():
    return {"script_location": str(MIGRATIONS), "path_separator": "os"}


@pytest.fixture
def app_database(empty_db):
    """A fresh database holding the application's tables in schema ``shop``."""
    with empty_db.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema=SCHEMA)
    return empty_db


@pytest.fixture
def alembic_engine(app_database):
    engine = sa.create_engine(app_database.url("postgresql+psycopg"), poolclass=NullPool,
                              connect_args={"options": BOUNDED_SESSION})
    yield engine
    engine.dispose()


def test_the_built_in_tests_ran_the_sync(alembic_runner, app_database):  # noqa: F811
    """The wiring itself: the runner's upgrade installs the sync in ``shop`` and its downgrade
    to base removes all of it (so the built-in tests above exercise real migrations)."""
    alembic_runner.migrate_up_to("heads")
    assert alembic_runner.current == "0009"
    with app_database.connect() as conn:
        schemas = {r[0] for r in conn.execute(
            "SELECT DISTINCT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname LIKE 'verify\\_triggers\\_%'")}
        assert schemas == {SCHEMA}
    alembic_runner.migrate_down_to("base", return_current=False)
    # (asked before pytest-alembic's `current`, which creates an empty version table itself)
    with app_database.connect() as conn:
        assert leftovers(conn) == []


def test_the_experimental_test_is_present():
    """The installed pytest-alembic ships "downgrade leaves no trace", so it runs above."""
    import pytest_alembic.tests.experimental as experimental

    assert hasattr(experimental, "test_downgrade_leaves_no_trace")

