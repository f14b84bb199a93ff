"""Installing and removing the sync: `verify-triggers upgrade [REV]`, `downgrade REV`, `current`,
`history`, and the same run in process through the package's Alembic configuration.

Upgrade installs every revision in order and reconciles the rows once; a second upgrade changes
nothing; downgrade to base removes every object, the version table included, and keeps all data;
the host application's alembic_version is never created, read or written; the version table is
verify_triggers_version in the target schema; what the sync needs but lacks stops an upgrade
before it installs anything (exit 1, naming it).
"""

import re
import threading
import time

import pytest

from clirun import (VERSION_TABLE, alembic_version_tables, applied_versions, clean_env,
                    reconciliation_reports, run, subprocess_run, sync_objects, table_data)
from helpers import FIXTURES, HANG_GUARD_S, load_sql
from rule import SYNC, assert_rule, drift, people_verifications, sheet
from verify_triggers import __version__
from verify_triggers.errors import VerifyTriggersError

HEAD = "0009"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere"
TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify\\_triggers%'"


def add_people(conn):
    """Verifications made by people before the sync exists."""
    conn.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
        " verified_at = '2025-10-15 01:35+03' WHERE sku = 'AUR516' AND supplier_name = 'WANKE'")
    conn.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true"
        " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")


def without_oids(found: set[tuple]) -> set[tuple]:
    return {r[:4] for r in found}


# --- the command line ------------------------------------------------------------------------


def test_upgrade_installs_every_revision_and_reports_the_head(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert result.code == 0, result.err
    # every revision in order, 0001's reconciliation reported while it runs
    steps = ["Running upgrade  -> 0001", "verify-triggers: reconciliation changed 4 sheet row(s)",
             "Running upgrade 0001 -> 0002", "Running upgrade 0002 -> 0003",
             "Running upgrade 0003 -> 0004", "Running upgrade 0004 -> 0005", "Running upgrade 0005 -> 0006",
             "Running upgrade 0006 -> 0007", "Running upgrade 0007 -> 0008",
             "Running upgrade 0008 -> 0009"]
    positions = [result.out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), result.out
    assert len(reconciliation_reports(result.out)) == 1, result.out
    assert result.out.splitlines()[-1].endswith(f": at revision {HEAD} (head)")
    with seeded.connect() as conn:
        assert drift(conn) == []
        # the seed's confirmed pairs are verified by the sync; its unconfirmed one is not
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, SYNC)
        assert sheet(conn, "AUR516", "WANKE")[:2] == (False, None)
    assert run(capsys, "--database-url", seeded.url(), "status").code == 0
    current = run(capsys, "--database-url", seeded.url(), "current")
    assert current.code == 0 and current.out.strip() == f"{HEAD} (head)"
    # a second upgrade is a no-op
    again = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert again.code == 0 and "Running upgrade" not in again.out
    assert reconciliation_reports(again.out) == []


def test_upgrade_to_an_explicit_revision_and_downgrade_to_base(seeded, capsys):
    upgrade = run(capsys, "--database-url", seeded.url(), "upgrade", "0001")
    assert upgrade.code == 0, upgrade.err
    assert "Running upgrade  -> 0001" in upgrade.out and "-> 0002" not in upgrade.out
    assert upgrade.out.splitlines()[-1].endswith(": at revision 0001")  # not the head
    assert run(capsys, "--database-url", seeded.url(), "current").out.strip() == "0001"
    result = run(capsys, "--database-url", seeded.url(), "downgrade", "base")
    assert result.code == 0, result.err
    assert "Running downgrade 0001 -> " in result.out
    assert "no revision applied" in result.out
    current = run(capsys, "--database-url", seeded.url(), "current")
    assert current.out.strip() == "none: nothing applied in schema app (run verify-triggers upgrade)"
    with seeded.connect() as conn:
        # data kept: the rows the sync verified stay verified
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, SYNC)
        # nothing left, the version table included
        assert sync_objects(conn) == set()


@pytest.mark.parametrize("start, up, down, triggers, marks", [
    ("0001", ["0001 -> 0002", "0002 -> 0003", "0003 -> 0004", "0004 -> 0005", "0005 -> 0006", "0006 -> 0007",
              "0007 -> 0008", "0008 -> 0009"],
     ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006", "0006 -> 0005", "0005 -> 0004", "0004 -> 0003", "0003 -> 0002", "0002 -> 0001"],
     12, 0),
    ("0002", ["0002 -> 0003", "0003 -> 0004", "0004 -> 0005", "0005 -> 0006", "0006 -> 0007", "0007 -> 0008", "0008 -> 0009"],
     ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006", "0006 -> 0005", "0005 -> 0004", "0004 -> 0003", "0003 -> 0002"], 14, 2),
    ("0003", ["0003 -> 0004", "0004 -> 0005", "0005 -> 0006", "0006 -> 0007", "0007 -> 0008", "0008 -> 0009"],
     ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006", "0006 -> 0005", "0005 -> 0004", "0004 -> 0003"], 14, 2),
    ("0004", ["0004 -> 0005", "0005 -> 0006", "0006 -> 0007", "0007 -> 0008", "0008 -> 0009"],
     ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006", "0006 -> 0005", "0005 -> 0004"], 12, 0),
    ("0005", ["0005 -> 0006", "0006 -> 0007", "0007 -> 0008", "0008 -> 0009"], ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006", "0006 -> 0005"], 12, 0),
    ("0006", ["0006 -> 0007", "0007 -> 0008", "0008 -> 0009"], ["0009 -> 0008", "0008 -> 0007", "0007 -> 0006"], 12, 0),
    ("0007", ["0007 -> 0008", "0008 -> 0009"], ["0009 -> 0008", "0008 -> 0007"], 12, 0),
    ("0008", ["0008 -> 0009"], ["0009 -> 0008"], 12, 0),
])
def test_upgrade_from_an_earlier_revision_to_head_and_downgrade_back(seeded, capsys, start, up, down,
                                                                     triggers, marks):
    assert run(capsys, "--database-url", seeded.url(), "upgrade", start).code == 0
    upgrade = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert upgrade.code == 0, upgrade.err
    positions = [upgrade.out.find(f"Running upgrade {step}") for step in up]
    assert -1 not in positions and positions == sorted(positions), upgrade.out
    assert "Running upgrade  -> 0001" not in upgrade.out
    assert reconciliation_reports(upgrade.out) == []
    assert len(re.findall(r"Running upgrade", upgrade.out)) == len(up)
    assert upgrade.out.splitlines()[-1].endswith(f": at revision {HEAD} (head)")

    downgrade = run(capsys, "--database-url", seeded.url(), "downgrade", start)
    assert downgrade.code == 0, downgrade.err
    positions = [downgrade.out.find(f"Running downgrade {step}") for step in down]
    assert -1 not in positions and positions == sorted(positions), downgrade.out
    assert len(re.findall(r"Running downgrade", downgrade.out)) == len(down)
    assert downgrade.out.splitlines()[-1].endswith(f": at revision {start}")
    assert run(capsys, "--database-url", seeded.url(), "current").out.strip() == start
    with seeded.connect() as conn:
        assert drift(conn) == []
        assert conn.execute(TRIGGERS).fetchone()[0] == triggers
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname IN"
                            " ('verify_triggers_sp_changed', 'verify_triggers_sheet_changed')"
                            ).fetchone()[0] == marks
        # the record of what was installed is 0003's: it goes with a downgrade below 0003 and
        # holds 0003's objects at 0003
        record = conn.execute("SELECT to_regclass('app.verify_triggers_objects')").fetchone()[0]
        if start < "0003":
            assert record is None
        else:
            assert conn.execute("SELECT DISTINCT revision FROM app.verify_triggers_objects"
                                ).fetchall() == [(start,)]
    # at an earlier revision, status names the upgrade to the head as the only thing to do
    status = run(capsys, "--database-url", seeded.url(), "status")
    assert status.code == 1
    assert f"revision {start} applied, head is {HEAD}: run verify-triggers upgrade" in status.out


def test_current_before_anything_is_installed(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "current")
    assert result.code == 0
    assert result.out.strip() == "none: nothing applied in schema app (run verify-triggers upgrade)"


def test_history_needs_no_database(capsys):
    result = run(capsys, "history")
    assert result.code == 0
    assert f"0008 -> {HEAD} (head), " in result.out
    assert "0001 -> 0002, " in result.out
    assert "<base> -> 0001, " in result.out


def test_the_applications_url_forms_are_accepted(seeded, capsys):
    for driver in ("postgresql+asyncpg", "postgresql+psycopg"):
        result = run(capsys, "--database-url", seeded.url(driver), "status")
        assert result.code == 1 and "not installed" in result.err  # connected and answered
    assert run(capsys, "--database-url", seeded.url("postgresql+asyncpg"), "upgrade").code == 0
    assert run(capsys, "--database-url", seeded.url("postgresql+asyncpg"), "check").code == 0


def test_database_url_and_schema_from_the_environment(seeded):
    env = clean_env(DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="app")
    assert subprocess_run("upgrade", env=env).code == 0
    result = subprocess_run("check", env=env)
    assert result.code == 0, result.out + result.err
    # options given after the verb work too, and win over the environment
    wrong = clean_env(DATABASE_URL=UNREACHABLE, VERIFY_TRIGGERS_SCHEMA="nosuch")
    result = subprocess_run("status", "--database-url", seeded.url(), "--schema", "app", env=wrong)
    assert result.code == 0, result.err


def test_upgrade_refuses_a_schema_without_the_tables(db, capsys):
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA empty")
    result = run(capsys, "--database-url", db.url(), "--schema", "empty", "upgrade")
    assert result.code == 1
    assert result.err_lines == [
        "verify-triggers: schema 'empty' has none of the tables the sync needs"
        " (product_supplier_sheets, products, supplier_products, suppliers): is it the"
        " application's schema? (pass --schema or set VERIFY_TRIGGERS_SCHEMA to it)"]
    with db.connect() as conn:
        assert sync_objects(conn) == set()


def test_upgrade_to_an_unknown_revision_is_one_line(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "upgrade", "9999")
    assert result.code == 2
    assert result.err_lines == ["verify-triggers: Can't locate revision identified by '9999'"]


def test_version_help_and_both_entry_points():
    for module in (True, False):
        version = subprocess_run("--version", module=module)
        assert version.code == 0 and version.out.strip() == f"verify-triggers {__version__}"
        helped = subprocess_run("--help", module=module)
        assert helped.code == 0
        for text in ("examples:", "verify-triggers check --sku BMX136 --format json",
                     "--database-url", "--schema", "status", "check", "sync", "upgrade",
                     "downgrade", "current", "history", "demo", "exit status"):
            assert text in helped.out, text
    sub = subprocess_run("check", "--help")
    assert sub.code == 0 and "--sku SKU" in sub.out and "--limit N" in sub.out
    sync = subprocess_run("sync", "--help")
    assert sync.code == 0 and "--adopt STAMP" in sync.out and "--dry-run" in sync.out


# --- in process ---------------------------------------------------------------------------------


def test_upgrade_verifies_the_seeds_confirmed_rows_reports_the_count_and_keeps_peoples(seeded, capsys):
    with seeded.connect() as conn:
        add_people(conn)
        people = people_verifications(conn)
        assert len(drift(conn)) == 4
    capsys.readouterr()
    seeded.upgrade()
    reports = reconciliation_reports(capsys.readouterr().out)
    assert len(reports) == 1 and re.search(r"\b4\b", reports[0]), reports
    with seeded.connect() as conn:
        for supplier_name in ("XINRUI", "PAREK", "KEMEISING"):
            assert sheet(conn, "BMX136", supplier_name)[:2] == (True, SYNC)
        assert sheet(conn, "AUR516", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


def test_reconciliation_unverifies_rows_stamped_by_an_earlier_install_whose_pair_is_unconfirmed(seeded):
    with seeded.connect() as conn:
        conn.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = %s, verified_at = now()"
            " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'", (SYNC,))
        add_people(conn)
        people = people_verifications(conn)
    seeded.upgrade()
    with seeded.connect() as conn:
        assert sheet(conn, "EMG411", "WANKE") == (False, None, None)
        assert_rule(conn, people)


def test_the_version_table_is_verify_triggers_version_in_the_target_schema(installed):
    with installed.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        assert conn.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = %s AND c.relkind = 'r'", (VERSION_TABLE,)).fetchall() == [("app",)]


def test_a_second_upgrade_changes_no_object_and_reconciles_nothing(installed, capsys):
    with installed.connect() as conn:
        before = sync_objects(conn, oids=True)
        # Drift planted behind the triggers' back: a second upgrade must not touch it.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL"
            " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
        conn.execute("RESET session_replication_role")
    capsys.readouterr()
    installed.upgrade()
    assert reconciliation_reports(capsys.readouterr().out) == []
    with installed.connect() as conn:
        assert sync_objects(conn, oids=True) == before
        assert [(r[1], r[2]) for r in drift(conn)] == [("BMX136", "XINRUI")]


def test_downgrade_to_base_removes_every_object_and_keeps_all_data(installed):
    with installed.connect() as conn:
        installed_objects = sync_objects(conn)
        data = table_data(conn)
    assert {r[0] for r in installed_objects} >= {"function", "trigger", "relation r", "relation i"}
    installed.downgrade()
    with installed.connect() as conn:
        assert sync_objects(conn) == set()  # the version table included
        assert table_data(conn) == data
        # Nothing syncs any more: a confirm leaves its row as it is.
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = true FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'")
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)


def test_upgrade_downgrade_upgrade_reinstalls_the_same_objects_and_a_working_sync(installed):
    with installed.connect() as conn:
        first = sync_objects(conn)
    installed.downgrade()
    with installed.connect() as conn:
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = true FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'")
    installed.upgrade()
    with installed.connect() as conn:
        assert sync_objects(conn) == first
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)  # reconciled
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = false FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'")
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)  # synced
        assert_rule(conn)
    installed.downgrade()
    installed.upgrade()
    with installed.connect() as conn:
        assert sync_objects(conn) == first


def test_the_host_applications_alembic_version_is_never_created(seeded):
    seeded.upgrade()
    with seeded.connect() as conn:
        assert alembic_version_tables(conn) == []
    seeded.downgrade()
    with seeded.connect() as conn:
        assert alembic_version_tables(conn) == []


def test_an_existing_alembic_version_is_never_read_or_written(seeded):
    """The host's alembic_version tables are locked ACCESS EXCLUSIVE while the migrations
    run: any read or write of them would queue behind the lock, which pg_locks shows."""
    with seeded.connect() as conn:
        for schema in ("app", "public"):
            conn.execute(f"CREATE TABLE {schema}.alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute(f"INSERT INTO {schema}.alembic_version VALUES ('host_rev_{schema}')")
        before = {s: conn.execute(f"TABLE {s}.alembic_version").fetchall() for s in ("app", "public")}
    failures = []

    def migrate():
        try:
            seeded.upgrade()
            seeded.downgrade()
            seeded.upgrade()
        except Exception as exc:  # reported below
            failures.append(exc)

    with seeded.connect(autocommit=False) as holder, seeded.connect() as observer:
        holder.execute("LOCK TABLE app.alembic_version, public.alembic_version IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=migrate, daemon=True)
        worker.start()
        touched = False
        while worker.is_alive():
            touched = observer.execute(
                "SELECT count(*) > 0 FROM pg_catalog.pg_locks WHERE NOT granted AND relation IN"
                " ('app.alembic_version'::regclass, 'public.alembic_version'::regclass)").fetchone()[0]
            if touched:
                break
            time.sleep(0.01)
        holder.rollback()
        worker.join(HANG_GUARD_S)
    assert not touched, "the migrations waited for a lock on the host's alembic_version"
    assert failures == []
    with seeded.connect() as conn:
        assert {s: conn.execute(f"TABLE {s}.alembic_version").fetchall() for s in ("app", "public")} == before
        assert applied_versions(conn) == [HEAD]


def test_a_target_schema_whose_name_needs_quoting_works(db):
    schema = "Back Office"
    quoted = '"Back Office"'
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema=schema)
        load_sql(conn, FIXTURES / "seed.sql", schema=schema)
    db.upgrade(schema=schema)
    with db.connect() as conn:
        assert drift(conn, quoted) == []
        assert sheet(conn, "BMX136", "PAREK", schema=quoted)[:2] == (True, SYNC)
        assert sync_objects(conn, "app") == set()
        assert {r[2] for r in sync_objects(conn, schema)} >= {VERSION_TABLE}
        conn.execute(
            f"UPDATE {quoted}.supplier_products SET manual_confirmed = true FROM {quoted}.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'")
        assert sheet(conn, "AUR516", "WANKE", schema=quoted)[:2] == (True, SYNC)
        assert drift(conn, quoted) == []
    db.downgrade(schema=schema)
    with db.connect() as conn:
        assert sync_objects(conn) == set()


MISSING_CASES = {
    "verified_by_and_verified_at": (
        "ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_by, DROP COLUMN verified_at",
        ["verified_by", "verified_at"]),
    "sheets_table": ("DROP TABLE app.product_supplier_sheets", ["product_supplier_sheets"]),
    "products_table": ("DROP TABLE app.products CASCADE", ["products"]),
    "manual_confirmed": ("ALTER TABLE app.supplier_products DROP COLUMN manual_confirmed", ["manual_confirmed"]),
}


@pytest.mark.parametrize("case", MISSING_CASES)
def test_what_the_sync_needs_and_lacks_is_named_and_nothing_is_installed(seeded, case):
    statement, names = MISSING_CASES[case]
    with seeded.connect() as conn:
        conn.execute(statement)
    with pytest.raises(VerifyTriggersError) as raised:
        seeded.upgrade()
    assert raised.value.exit_code == 1  # an unhealthy install, not an error
    message = str(raised.value)
    assert len(message.strip().splitlines()) == 1, message
    for name in names:
        assert re.search(rf"\b{name}\b", message), (name, message)
    assert "restore it" in message and "then run verify-triggers upgrade" in message
    with seeded.connect() as conn:
        assert sync_objects(conn) == set()
        assert alembic_version_tables(conn) == []


def test_upgrade_base_is_refused_and_removes_nothing(installed, capsys):
    with installed.connect() as conn:
        objects = sync_objects(conn)
    assert objects  # so the assertions below could fail
    for args in (["upgrade", "base"], ["upgrade", "--sql", "base"], ["upgrade", "--sql", "0001:base"]):
        result = run(capsys, "--database-url", installed.url(), *args)
        assert result.code == 2, (args, result.out, result.err)
        assert result.err_lines == [
            "verify-triggers: upgrade base installs nothing and removes nothing: to remove the"
            " sync, run verify-triggers downgrade base"], args
        assert result.out == "", args  # not the first lines of a script
    with installed.connect() as conn:
        assert sync_objects(conn) == objects
        assert applied_versions(conn) == [HEAD]


@pytest.mark.parametrize("case", MISSING_CASES)
def test_downgrade_base_removes_every_object_whatever_the_host_dropped(installed, capsys, case):
    statement, _ = MISSING_CASES[case]
    with installed.connect() as conn:
        conn.execute(statement)
        assert sync_objects(conn)  # so the assertion below could fail
    result = run(capsys, "--database-url", installed.url(), "downgrade", "base")
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1].endswith("no revision applied (verify-triggers is not installed)")
    with installed.connect() as conn:
        assert sync_objects(conn) == set()  # the version table included


def test_a_lock_table_altered_by_hand_reads_outdated_and_downgrade_base_still_removes_everything(
        installed, capsys):
    """Its rows are read only while its key is as the install made it: a renamed column is an
    OUTDATED table for status and check, not a database error, and no obstacle to removal."""
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.verify_triggers_lock RENAME bucket TO bkt")
    status = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert status.code == 1, status.out + status.err
    [lock] = [o for o in status.json()["objects"] if o["name"] == "verify_triggers_lock"]
    assert lock["state"] == "OUTDATED"
    check = run(capsys, "--database-url", installed.url(), "check")
    assert check.code == 1, check.out + check.err
    result = run(capsys, "--database-url", installed.url(), "downgrade", "base")
    assert result.code == 0, result.out + result.err
    with installed.connect() as conn:
        assert sync_objects(conn) == set()


def test_downgrade_base_in_a_schema_without_the_tables_has_nothing_to_remove(db, capsys):
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA empty")
    result = run(capsys, "--database-url", db.url(), "--schema", "empty", "downgrade", "base")
    assert result.code == 0, result.out + result.err
    assert len(result.out.splitlines()) == 1, result.out
    assert result.out.startswith("schema empty on ")
    assert result.out.rstrip().endswith("no revision applied (verify-triggers is not installed)")
    with db.connect() as conn:
        assert sync_objects(conn) == set()
