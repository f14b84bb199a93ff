"""The sync inside a host application's own Alembic project.

The host is tests/host_app: its models of the four tables with the application's indexes, its
env.py (alembic_version in schema app, the sync's autogenerate hooks, a psycopg or an asyncpg
engine) and its revisions h1 (tables), h2 (upgrade_sync/downgrade_sync), h3 (widens
product_supplier_sheets.supplier_name under triggers_lifted), h4 (an ordinary change). Every
test runs on a fresh, empty database of the real server; the judge of the rows is the
independent oracle in tests/rule.py.

The host's env sets ``search_path TO app, public`` on its migration connection, as the real
application's does; ``HOST_APP_SEARCH_PATH=default`` runs it without (see host_app/settings.py).
"""

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.pool import NullPool

import clirun
from helpers import BOUNDED_SESSION, SYNC, Database, Writer, leftovers
from host_app import settings as host
from rule import assert_rule, drift, people_verifications, sheet

pytestmark = pytest.mark.usefixtures("watchdog")

ALEMBIC = Path(sys.executable).parent / "alembic"

SHEETS = """
SELECT id, sku, supplier_name, is_verified, verified_by, verified_at
FROM app.product_supplier_sheets ORDER BY id
"""


@pytest.fixture(autouse=True)
def no_sync_environment(monkeypatch):
    """The host's revisions call upgrade_sync() without a schema: app, whatever the caller's
    environment says."""
    for name in ("DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA", "HOST_DATABASE_URL", "HOST_APP_DRIVER",
                 "HOST_APP_HOOKS"):
        monkeypatch.delenv(name, raising=False)


class HostDatabase(Database):
    """An empty database on the test server, migrated by the host's Alembic project."""

    def __init__(self, database: Database, capsys):
        super().__init__(database.server, database.name)
        self.capsys = capsys

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        return super().connect(autocommit=autocommit, options=BOUNDED_SESSION)

    def config(self, driver: str = "psycopg", hooks: str = "sync", per_migration: bool = False):
        return host.make_config(self.url(), driver=driver, hooks=hooks,
                                transaction_per_migration=per_migration)

    def host_upgrade(self, revision: str = "head", driver: str = "psycopg",
                     per_migration: bool = False) -> None:
        command.upgrade(self.config(driver, per_migration=per_migration), revision)

    def host_downgrade(self, revision: str, driver: str = "psycopg") -> None:
        command.downgrade(self.config(driver), revision)

    def host_stamp(self, revision: str) -> None:
        command.stamp(self.config(), revision)

    def verify_triggers(self, *args: str) -> clirun.Result:
        """``verify-triggers --database-url URL ARGS`` in this process."""
        return self.cli(self.capsys, *args)

    def host_revision(self) -> str | None:
        with self.connect() as conn:
            row = conn.execute("SELECT version_num FROM app.alembic_version").fetchone()
        return row[0] if row else None

    def leftovers(self) -> list[tuple[str, str]]:
        with self.connect() as conn:
            return leftovers(conn)

    def sheets(self) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(SHEETS).fetchall()


@pytest.fixture
def host_db(empty_db, capsys):
    return HostDatabase(empty_db, capsys)


# --- data and writers -------------------------------------------------------------------------

def seed(conn, suppliers: int = 8, products: int = 30) -> None:
    """Suppliers, products, two matches per product (a third of them confirmed), a sheet row
    per matched pair, and a few rows verified by people (which the sync must keep)."""
    conn.execute(
        "INSERT INTO app.suppliers (name) SELECT 'Supplier ' || lpad(i::text, 2, '0')"
        " FROM generate_series(1, %s) AS i", (suppliers,))
    conn.execute(
        "INSERT INTO app.products (sku, name)"
        " SELECT 'SKU-' || lpad(i::text, 3, '0'), 'Product ' || i"
        " FROM generate_series(1, %s) AS i", (products,))
    conn.execute("""
        INSERT INTO app.supplier_products
            (supplier_id, local_product_id, manual_confirmed, import_source)
        SELECT s.id, p.id, (p.id + s.id) %% 3 = 0, 'sheet'
        FROM app.products p
        JOIN app.suppliers s ON s.id IN (1 + p.id %% %s, 1 + (p.id + 1) %% %s)
    """, (suppliers, suppliers))
    conn.execute("""
        INSERT INTO app.product_supplier_sheets (sku, supplier_name, supplier_id, price_cny)
        SELECT p.sku, s.name, s.id, 10
        FROM app.supplier_products sp
        JOIN app.products p ON p.id = sp.local_product_id
        JOIN app.suppliers s ON s.id = sp.supplier_id
    """)
    conn.execute("""
        UPDATE app.product_supplier_sheets
        SET is_verified = true, verified_by = 'alice', verified_at = '2026-01-01'
        WHERE id % 7 = 0
    """)


def unconfirmed_match(conn) -> tuple[int, str, str]:
    """A match that is not confirmed, whose pair is confirmed by no other match and whose sheet
    row nobody verified: (match id, sku, supplier name)."""
    return conn.execute("""
        SELECT sp.id, p.sku, s.name
        FROM app.supplier_products sp
        JOIN app.products p ON p.id = sp.local_product_id
        JOIN app.suppliers s ON s.id = sp.supplier_id
        JOIN app.product_supplier_sheets sh ON sh.sku = p.sku AND sh.supplier_name = s.name
        WHERE NOT sp.manual_confirmed AND NOT sh.is_verified
        ORDER BY sp.id LIMIT 1
    """).fetchone()


def assert_confirm_verifies(db: HostDatabase) -> None:
    """The application confirms a match: its sheet row reads verified, stamped by the sync;
    unconfirming it takes the verification back."""
    with db.connect() as conn:
        match_id, sku, supplier_name = unconfirmed_match(conn)
        assert sheet(conn, sku, supplier_name)[0] is False
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s",
                     (match_id,))
        verified, verified_by, verified_at = sheet(conn, sku, supplier_name)
        assert (verified, verified_by) == (True, SYNC) and verified_at is not None
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = false WHERE id = %s",
                     (match_id,))
        assert sheet(conn, sku, supplier_name)[:2] == (False, None)
        assert drift(conn) == []


def application_writer(db: HostDatabase) -> Writer:
    """The application confirming and unconfirming matches, one short transaction each, until
    stopped; every statement bounded, any error a failure (none is retried)."""
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM app.supplier_products ORDER BY id")]

    def toggle(rng):
        match = rng.choice(ids)
        return "toggle", lambda conn: conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed,"
            " confirmed_at = now() WHERE id = %s", (match,))

    return Writer(lambda: db.connect(autocommit=False), toggle, seed=11, retry_on=(),
                  pause_s=0.002)


# --- autogenerate -----------------------------------------------------------------------------

def autogenerate(db: HostDatabase, hooks: str) -> list:
    """What the host's ``alembic revision --autogenerate`` would propose: compare_metadata with
    the env's options (variant ``hooks``)."""
    options = host.migration_options(hooks)
    metadata = options.pop("target_metadata")
    engine = sa.create_engine(db.url("postgresql+psycopg"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    finally:
        engine.dispose()


def about_the_sync(diff: list) -> list:
    return [entry for entry in diff if "verify_triggers_" in repr(entry)]


@pytest.mark.parametrize("hooks", ["sync", "wrapped"])
def test_autogenerate_after_install_proposes_nothing_about_the_sync(host_db, hooks):
    host_db.host_upgrade("head")
    assert host_db.host_revision() == "h4"
    if hooks == "wrapped":
        # a table the host keeps outside its models, which its own include_object leaves out:
        # the wrapped hook must still apply it
        with host_db.connect() as conn:
            conn.execute("CREATE TABLE app.legacy_import (id int PRIMARY KEY)")
    # the sync's own index on a host table as well: the host's index on suppliers(name) went
    # away, `upgrade` built the sync's, and the host's came back
    with host_db.connect() as conn:
        conn.execute("DROP INDEX app.ix_suppliers_name")
    assert host_db.verify_triggers("upgrade").code == 0
    with host_db.connect() as conn:
        conn.execute("CREATE INDEX ix_suppliers_name ON app.suppliers (name)")
    names = {name for _, name in host_db.leftovers()}
    for table in ("verify_triggers_lock", "verify_triggers_objects", "verify_triggers_version",
                  "verify_triggers_suppliers_name_idx"):
        assert f"app.{table}" in names

    assert autogenerate(host_db, hooks) == []

    # the same comparison with the host's hooks alone proposes dropping the sync
    unhooked = autogenerate(host_db, "none")
    assert unhooked == about_the_sync(unhooked)
    proposed = {(entry[0], entry[1].name) for entry in unhooked if isinstance(entry, tuple)}
    assert {("remove_table", "verify_triggers_lock"), ("remove_table", "verify_triggers_objects"),
            ("remove_table", "verify_triggers_version"),
            ("remove_index", "verify_triggers_suppliers_name_idx")} <= proposed


# --- one `alembic upgrade head` in the host's repository --------------------------------------

@pytest.mark.parametrize("driver", ["psycopg", "asyncpg"])
def test_host_upgrade_installs_the_sync_while_the_application_writes(host_db, driver):
    """One `upgrade head` (h2, h3, h4) while the application confirms and unconfirms matches.

    The host runs each revision in its own transaction here. In one transaction for the whole
    run (Alembic's default), h3's lock on product_supplier_sheets is held while h4 waits for
    products, and a confirm that has read products through the sync's trigger waits for the
    sheets: PostgreSQL aborts the migration with "deadlock detected" (a hazard the sync's
    triggers add to host migrations that alter two of the four tables in one transaction).
    """
    host_db.host_upgrade("h1", driver)
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
        assert drift(conn) != []  # confirmed pairs whose rows nobody verified yet
    assert people

    writer = application_writer(host_db)
    writer.start()
    try:
        while writer.committed < 20 and writer.is_alive():  # writing before the upgrade starts
            time.sleep(0.01)
        started = time.monotonic()
        host_db.host_upgrade("head", driver, per_migration=True)
        ended = time.monotonic()
        before = writer.committed
        while writer.committed < before + 20 and writer.is_alive():  # and after it ends
            time.sleep(0.01)
    finally:
        writer.stop()
    assert writer.writes_between(started, ended) > 0

    assert host_db.host_revision() == "h4"
    with host_db.connect() as conn:
        assert_rule(conn, people)  # zero drift, people's verifications kept
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    assert host_db.verify_triggers("current").out.startswith("0009 (head)")
    assert_confirm_verifies(host_db)

    # the host's downgrade removes the sync and keeps the rows as they are
    rows = host_db.sheets()
    host_db.host_downgrade("h1", driver)
    assert host_db.host_revision() == "h1"
    assert host_db.leftovers() == []
    assert host_db.sheets() == rows
    assert host_db.verify_triggers("status").code == 1
    with host_db.connect() as conn:  # nothing syncs any more
        match_id, sku, supplier_name = unconfirmed_match(conn)
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s",
                     (match_id,))
        assert sheet(conn, sku, supplier_name)[0] is False


# --- a host migration that alters a column the sync reads ------------------------------------

def column_type(db: HostDatabase) -> str:
    with db.connect() as conn:
        return conn.execute("""
            SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'app.product_supplier_sheets'::regclass AND attname = 'supplier_name'
        """).fetchone()[0]


def sheet_triggers(db: HostDatabase) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute("""
            SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger
            WHERE tgrelid = 'app.product_supplier_sheets'::regclass AND NOT tgisinternal
            ORDER BY tgname
        """).fetchall()


def assert_long_sheet_name_accepted(db: HostDatabase) -> None:
    """A sheet row whose supplier name is longer than 255 characters, possible only after the
    widening, goes through the sync's triggers (no supplier can have that name: it stays
    unverified) and the rows still keep the rule."""
    name = "Long supplier " + "x" * 300
    with db.connect() as conn:
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
                     " VALUES ('SKU-001', %s)", (name,))
        conn.execute("UPDATE app.product_supplier_sheets SET price_cny = 12"
                     " WHERE supplier_name = %s", (name,))
        assert sheet(conn, "SKU-001", name)[:2] == (False, None)
        assert drift(conn) == []


def test_widening_run_the_supported_way(host_db):
    host_db.host_upgrade("h2")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
    before = sheet_triggers(host_db)
    assert before and column_type(host_db) == "character varying(255)"

    host_db.host_upgrade("h3")

    assert column_type(host_db) == "character varying(500)"
    assert sheet_triggers(host_db) == before  # put back as they were
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    with host_db.connect() as conn:
        assert_rule(conn, people)
    assert_confirm_verifies(host_db)
    assert_long_sheet_name_accepted(host_db)


def test_widening_on_revision_0002_needs_the_triggers_lifted(host_db):
    """Revision 0002 pins supplier_name in its triggers' WHEN clauses: the plain ALTER fails,
    the host's h3 (triggers_lifted) succeeds and the 0002 triggers are back after it."""
    host_db.host_upgrade("h1")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
    installed = host_db.verify_triggers("upgrade", "0002")
    assert installed.code == 0, installed.out + installed.err
    assert host_db.verify_triggers("current").out.startswith("0002")
    before = sheet_triggers(host_db)
    assert any("supplier_name" in definition for _, definition, _ in before)

    # the same ALTER as h3's, without triggers_lifted
    engine = sa.create_engine(host_db.url("postgresql+psycopg"), poolclass=NullPool,
                              connect_args={"options": BOUNDED_SESSION})
    try:
        with engine.begin() as conn:
            with pytest.raises(sa.exc.DBAPIError,
                               match="cannot alter type of a column used in a trigger definition"):
                Operations(MigrationContext.configure(conn)).alter_column(
                    "product_supplier_sheets", "supplier_name", schema="app",
                    type_=sa.String(500), existing_type=sa.String(255), existing_nullable=False)
    finally:
        engine.dispose()
    assert column_type(host_db) == "character varying(255)"

    # a host that installed 0002 with the CLI before it adopted h2 records h2 as done
    host_db.host_stamp("h2")
    host_db.host_upgrade("h3")

    assert column_type(host_db) == "character varying(500)"
    assert sheet_triggers(host_db) == before
    assert host_db.verify_triggers("current").out.startswith("0002")
    with host_db.connect() as conn:
        assert_rule(conn, people)
    assert_confirm_verifies(host_db)
    assert_long_sheet_name_accepted(host_db)


# --- `verify-triggers upgrade` repairs --------------------------------------------------------

def test_upgrade_repairs_a_dropped_lock_table(host_db):
    host_db.host_upgrade("head")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
        conn.execute("DROP TABLE app.verify_triggers_lock CASCADE")
        match_id = unconfirmed_match(conn)[0]
        with pytest.raises(psycopg.errors.UndefinedTable, match="verify_triggers_lock"):
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s",
                         (match_id,))
    assert host_db.verify_triggers("status").code == 1

    repaired = host_db.verify_triggers("upgrade")
    assert repaired.code == 0, repaired.out + repaired.err
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    with host_db.connect() as conn:
        assert_rule(conn, people)
    assert_confirm_verifies(host_db)


def test_upgrade_repairs_a_dropped_version_table(host_db):
    host_db.host_upgrade("head")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
        conn.execute("DROP TABLE app.verify_triggers_version")
    assert host_db.verify_triggers("status").code == 1

    repaired = host_db.verify_triggers("upgrade")
    assert repaired.code == 0, repaired.out + repaired.err
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    assert host_db.verify_triggers("current").out.startswith("0009 (head)")
    with host_db.connect() as conn:
        assert_rule(conn, people)
    assert_confirm_verifies(host_db)


def assert_whole_at_head(host_db, people) -> None:
    """The sync at head, status healthy, the rule kept (no person's verification taken away),
    and a confirm verifies."""
    assert host_db.verify_triggers("current").out.startswith("0009 (head)")
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    with host_db.connect() as conn:
        assert_rule(conn, people)
    assert_confirm_verifies(host_db)


# Damage below an older install that its later revisions would not undo.
OLDER_INSTALL_DAMAGE = {
    "intact": None,
    "version table dropped": "DROP TABLE app.verify_triggers_version",
    "lock table and sync function dropped": "DROP TABLE app.verify_triggers_lock;"
                                            " DROP FUNCTION app.verify_triggers_sync(text[])",
    "lock rows truncated": "TRUNCATE app.verify_triggers_lock",
}


@pytest.mark.parametrize("revision, damage", [
    ("0002", "intact"),
    *((revision, "version table dropped") for revision in ("0001", "0002", "0003", "0004")),
    *((revision, "lock table and sync function dropped") for revision in ("0003", "0004")),
    *((revision, "lock rows truncated") for revision in ("0002", "0009")),
])
def test_host_upgrade_brings_an_older_install_to_head_whole(host_db, revision, damage):
    """h2 written against this release, run where the sync was installed at an earlier revision
    (by the CLI, or by an older release's upgrade_sync): the sync's revisions run on from
    there. Also when the install was damaged since: a host migration dropped its version table
    (the install is taken over), its lock table and sync function (the revisions after it
    would not bring them back), or the lock table's rows."""
    host_db.host_upgrade("h1")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
    assert host_db.verify_triggers("upgrade", revision).code == 0
    if OLDER_INSTALL_DAMAGE[damage]:
        with host_db.connect() as conn:
            conn.execute(OLDER_INSTALL_DAMAGE[damage])

    host_db.host_upgrade("head")

    assert_whole_at_head(host_db, people)


# --- `downgrade base` leaves nothing ----------------------------------------------------------

@pytest.mark.parametrize("damage", ["intact", "version table dropped"])
def test_cli_downgrade_base_leaves_zero_objects(host_db, damage):
    host_db.host_upgrade("h1")
    with host_db.connect() as conn:
        seed(conn)
    assert host_db.verify_triggers("upgrade").code == 0
    assert len(host_db.leftovers()) > 40  # so the assertion below could fail
    rows = host_db.sheets()
    if damage != "intact":
        with host_db.connect() as conn:
            conn.execute("DROP TABLE app.verify_triggers_version")

    removed = host_db.verify_triggers("downgrade", "base")
    assert removed.code == 0, removed.out + removed.err
    assert host_db.leftovers() == []
    assert host_db.sheets() == rows


def test_host_downgrade_sync_leaves_zero_objects(host_db):
    host_db.host_upgrade("head")
    with host_db.connect() as conn:
        seed(conn)
    assert len(host_db.leftovers()) > 40
    rows = host_db.sheets()

    host_db.host_downgrade("h1")  # h4, h3 (narrowed under triggers_lifted), h2 (downgrade_sync)
    assert host_db.leftovers() == []
    assert host_db.sheets() == rows
    assert column_type(host_db) == "character varying(255)"

    host_db.host_downgrade("base")
    assert host_db.leftovers() == []
    host_db.host_upgrade("head")  # and the chain runs again from nothing
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err


def test_host_downgrade_sync_removes_the_sync_after_the_host_dropped_a_column_it_needs(host_db):
    """0002's triggers, which a replay of the sync's downgrades would create again, name
    supplier_products.manual_confirmed: a damaged install is swept instead, as the CLI does."""
    host_db.host_upgrade("head")
    with host_db.connect() as conn:
        seed(conn)
        conn.execute("ALTER TABLE app.supplier_products DROP COLUMN manual_confirmed")
    assert len(host_db.leftovers()) > 40  # so the assertion below could fail
    host_db.host_downgrade("h1")  # h4, h3, h2 (downgrade_sync)
    assert host_db.leftovers() == []


# --- offline ----------------------------------------------------------------------------------

def test_the_hosts_own_timeouts_hold_inside_and_after_triggers_lifted(host_db):
    """The lifting's DDL runs under lock_timeout 2s and statement_timeout 60s; the host's block
    and its later statements run under the host's own settings (a table rewrite in the block
    may take longer than a minute)."""
    from verify_triggers.alembic import triggers_lifted

    host_db.host_upgrade("h2")
    timeouts = "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
    engine = sa.create_engine(host_db.url("postgresql+psycopg"), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '7s'")
            conn.exec_driver_sql("SET LOCAL statement_timeout = '5min'")
            with Operations.context(MigrationContext.configure(conn)):
                with triggers_lifted(["product_supplier_sheets"]):
                    lifted = len(sheet_triggers_in(conn))
                    inside = conn.exec_driver_sql(timeouts).one()
                after = conn.exec_driver_sql(timeouts).one()
                restored = len(sheet_triggers_in(conn))
    finally:
        engine.dispose()
    assert lifted == 0 and restored > 0  # so the DDL did run
    assert tuple(inside) == ("7s", "5min")
    assert tuple(after) == ("7s", "5min")


def test_downgrade_sync_in_the_hosts_transaction_checks_function_bodies_again_after(host_db):
    """The revisions' downgrades put released definitions back without checking SQL function
    bodies (so that a lock table altered by hand cannot stop a removal); the host's later
    statements in the same transaction are checked again."""
    from verify_triggers.alembic import downgrade_sync

    host_db.host_upgrade("h2")
    engine = sa.create_engine(host_db.url("postgresql+psycopg"), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            before = conn.exec_driver_sql("SELECT current_setting('check_function_bodies')").scalar()
            with Operations.context(MigrationContext.configure(conn)):
                downgrade_sync()
            after = conn.exec_driver_sql("SELECT current_setting('check_function_bodies')").scalar()
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'verify%%'"
                " AND pronamespace = 'app'::regnamespace").scalar()
    finally:
        engine.dispose()
    assert left == 0  # so the downgrades did run
    assert before == after == "on"


def sheet_triggers_in(conn) -> list:
    return conn.exec_driver_sql(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'app.product_supplier_sheets'::regclass"
        " AND tgname LIKE 'verify%%'").fetchall()


def _host_env() -> dict:
    env = clirun.clean_env()
    for name in ("HOST_DATABASE_URL", "HOST_APP_DRIVER", "HOST_APP_HOOKS"):
        env.pop(name, None)
    return env


def offline_host_upgrade(span: str = "head", command: str = "upgrade") -> str:
    """``alembic upgrade head --sql`` of the host's project (or another span or command), as a
    host prints it."""
    offline = subprocess.run([str(ALEMBIC), "-c", str(host.INI), command, span, "--sql"],
                             capture_output=True, text=True, env=_host_env(), timeout=120)
    assert offline.returncode == 0, offline.stderr
    return offline.stdout


def run_host_script(host_db: HostDatabase, script: Path) -> None:
    """The script through psql, stopping at the first error, in a session with the suite's
    bounded timeouts (lock_timeout 20s, statement_timeout 60s)."""
    env = _host_env()
    env["PGOPTIONS"] = BOUNDED_SESSION
    applied = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", host_db.url(),
                              "-f", str(script)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert applied.returncode == 0, applied.stderr


def test_the_offline_host_script_leaves_the_sessions_timeouts_as_they_were(host_db, tmp_path):
    offline = offline_host_upgrade()
    assert "SET LOCAL lock_timeout = '2s'" in offline  # so the check below could fail
    # h3's triggers_lifted locks the table before it drops the triggers, as online
    lifted = offline.index("the sync's triggers lifted")
    locked = offline.index('LOCK TABLE "app"."product_supplier_sheets" IN ACCESS EXCLUSIVE MODE;', lifted)
    assert locked < offline.index("DROP TRIGGER", lifted)
    end = offline.rindex("COMMIT;")
    check = """
DO $check$
BEGIN
    IF pg_catalog.current_setting('lock_timeout') <> '20s'
        OR pg_catalog.current_setting('statement_timeout') <> '1min' THEN
        RAISE EXCEPTION 'the host is left with lock_timeout %, statement_timeout %',
            pg_catalog.current_setting('lock_timeout'),
            pg_catalog.current_setting('statement_timeout');
    END IF;
END
$check$;
"""
    script = tmp_path / "host_upgrade.sql"
    script.write_text(offline[:end] + check + offline[end:])
    run_host_script(host_db, script)
    assert host_db.host_revision() == "h4"


def test_offline_host_upgrade_script_installs_a_working_sync(host_db, tmp_path):
    offline = offline_host_upgrade()
    script = tmp_path / "host_upgrade.sql"
    script.write_text(offline)
    assert "verify_triggers_lock" in offline and "app.alembic_version" in offline
    run_host_script(host_db, script)

    assert host_db.host_revision() == "h4"
    assert host_db.verify_triggers("current").out.startswith("0009 (head)")
    assert column_type(host_db) == "character varying(500)"
    status = host_db.verify_triggers("status")
    assert status.code == 0, status.out + status.err
    with host_db.connect() as conn:
        seed(conn)  # written through the installed triggers
        assert drift(conn) == []
    assert_confirm_verifies(host_db)
    assert_long_sheet_name_accepted(host_db)


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
def test_offline_host_upgrade_script_brings_an_older_install_to_head(host_db, tmp_path, revision):
    """h2's script, printed without a database, applied where the sync is at an earlier
    revision: it installs head over it (0002's and 0003's marking triggers go before the
    functions they call)."""
    host_db.host_upgrade("h1")
    with host_db.connect() as conn:
        seed(conn)
        people = people_verifications(conn)
    assert host_db.verify_triggers("upgrade", revision).code == 0
    script = tmp_path / "host_upgrade.sql"
    script.write_text(offline_host_upgrade("h1:h2"))
    run_host_script(host_db, script)

    assert host_db.host_revision() == "h2"
    assert_whole_at_head(host_db, people)


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"])
def test_offline_host_downgrade_script_removes_any_revisions_install(host_db, tmp_path, revision):
    """h2's downgrade script, printed without a database, cannot know which revision it will
    find: it removes every object of the sync whatever revision is installed, and keeps the
    sheet rows."""
    host_db.host_upgrade("h1")
    with host_db.connect() as conn:
        seed(conn)
    assert host_db.verify_triggers("upgrade", revision).code == 0
    host_db.host_stamp("h2")
    assert len(host_db.leftovers()) > 30  # so the assertion below could fail
    rows = host_db.sheets()
    script = tmp_path / "host_downgrade.sql"
    script.write_text(offline_host_upgrade("h2:h1", command="downgrade"))
    run_host_script(host_db, script)

    assert host_db.host_revision() == "h1"
    assert host_db.leftovers() == []
    assert host_db.sheets() == rows
