"""`verify-triggers upgrade` at head makes the install whole, or says why it cannot.

A dropped lock table, trigger, function or index is reinstalled, a changed one put back, and the
rows that went unsynced meanwhile are reconciled; an install whose version table is gone is
taken over; what no command can put back (a column the sync reads) stops it with exit 1,
naming it. `downgrade base` leaves nothing of the sync, whatever was left of it.
"""

import pytest
from psycopg import sql

from clirun import applied_versions, reconciliation_reports, run, sync_objects
from helpers import FIXTURES, SCHEMA, TABLES, load_sql, match_id, set_confirmed
from rule import SYNC, assert_rule, drift, sheet

HEAD = "0009"
REPAIRING = "verify-triggers: the install is not whole ("


@pytest.fixture
def reference(make_db):
    """A fresh install at head on the same schema: what a repaired install must equal."""
    def objects(lean_from=None):
        fresh = make_db()
        if lean_from is not None:
            with fresh.connect() as conn:
                conn.execute(lean_from)
        fresh.upgrade()
        with fresh.connect() as conn:
            return sync_objects(conn)
    return objects


def upgrade(capsys, database):
    result = run(capsys, "--database-url", database.url(), "upgrade")
    status = run(capsys, "--database-url", database.url(), "status")
    return result, status


DAMAGE = {
    "lock_table": "DROP TABLE app.verify_triggers_lock CASCADE",
    "trigger": "DROP TRIGGER verify_triggers_sp_update ON app.supplier_products",
    "trigger_function": "DROP FUNCTION app.verify_triggers_sheet_update() CASCADE",
    "helper_function": "DROP FUNCTION app.verify_triggers_bump_epoch()",
    "record_table": "DROP TABLE app.verify_triggers_objects",
    # the product rename trigger re-created without its WHEN
    "trigger_when": "DO $$ DECLARE d text; BEGIN"
                    " SELECT pg_get_triggerdef(oid) INTO d FROM pg_trigger WHERE tgname = 'verify_triggers_product_renamed';"
                    " DROP TRIGGER verify_triggers_product_renamed ON app.products;"
                    " EXECUTE regexp_replace(d, 'WHEN \\(.*\\)\\) EXECUTE', 'EXECUTE'); END $$",
    "function_options": "ALTER FUNCTION app.verify_triggers_sync(text[]) SECURITY INVOKER",
}


def assert_upgrade_repairs(capsys, database, expected) -> None:
    """`upgrade` says it repairs, ends at head with exactly ``expected`` installed, status
    is healthy, and a confirm verifies again."""
    result, status = upgrade(capsys, database)
    assert result.code == 0, result.out + result.err
    assert REPAIRING in result.out
    assert result.out.splitlines()[-1].endswith(f": at revision {HEAD} (head)")
    assert status.code == 0, status.out
    with database.connect() as conn:
        assert sync_objects(conn) == expected
        assert applied_versions(conn) == [HEAD]
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)
        assert_rule(conn)


@pytest.mark.parametrize("damage", DAMAGE)
def test_upgrade_repairs_a_dropped_or_changed_object(installed, capsys, reference, damage):
    expected = reference()
    with installed.connect() as conn:
        assert sync_objects(conn) == expected
        conn.execute(DAMAGE[damage])
        assert sync_objects(conn) != expected
    assert run(capsys, "--database-url", installed.url(), "status").code == 1

    assert_upgrade_repairs(capsys, installed, expected)


EARLIER = ["0001", "0002", "0003", "0004"]
# Damage to an earlier revision's install that the revisions after it do not undo (0004 to
# 0007 replace or add a few functions only).
DAMAGE_BEFORE_UPGRADE = {
    "lock_table_and_sync_function": "DROP TABLE app.verify_triggers_lock CASCADE;"
                                    " DROP FUNCTION app.verify_triggers_sync(text[])",
    "trigger": "DROP TRIGGER verify_triggers_sp_update ON app.supplier_products",
    "function_options": "ALTER FUNCTION app.verify_triggers_sync(text[]) SECURITY INVOKER",
}
# A changed function is found by its fingerprint, which revisions record from 0003 on (0003
# replaces every function of 0001's and 0002's anyway).
DAMAGED_REVISIONS = [(revision, damage) for revision in EARLIER for damage in DAMAGE_BEFORE_UPGRADE
                     if damage != "function_options" or revision >= "0003"]


@pytest.mark.parametrize(("revision", "damage"), DAMAGED_REVISIONS)
def test_upgrade_from_an_earlier_revision_repairs_what_was_damaged_before_it(
        seeded, capsys, reference, revision, damage):
    """Each revision records the catalog as it finds it: what was already gone or changed
    when the upgrade began must be put back, not recorded so."""
    expected = reference()
    seeded.upgrade(revision)
    with seeded.connect() as conn:
        conn.execute(DAMAGE_BEFORE_UPGRADE[damage])
    assert_upgrade_repairs(capsys, seeded, expected)


@pytest.mark.parametrize("revision", EARLIER)
def test_upgrade_from_an_earlier_revision_reinstalls_the_triggers_of_recreated_tables(
        seeded, capsys, reference, revision):
    """The host's test suite drops and re-creates the four tables (and with them every trigger
    and index the sync had on them), then writes rows no trigger saw."""
    expected = reference()
    seeded.upgrade(revision)
    with seeded.connect() as conn:
        conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(
            sql.SQL(", ").join(sql.Identifier(SCHEMA, table) for table in TABLES)))
        load_sql(conn, FIXTURES / "schema.sql")
        load_sql(conn, FIXTURES / "seed.sql")
        assert drift(conn) != []
    result, status = upgrade(capsys, seeded)
    assert result.code == 0, result.out + result.err
    assert REPAIRING in result.out
    assert len(reconciliation_reports(result.out)) == 1, result.out
    assert status.code == 0, status.out
    with seeded.connect() as conn:
        assert sync_objects(conn) == expected
        assert_rule(conn)
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)


def test_rows_written_while_a_trigger_was_missing_are_reconciled(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TRIGGER verify_triggers_sp_update ON app.supplier_products")
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        set_confirmed(conn, match_id(conn, "BMX136", "PAREK"), False)
        assert len(drift(conn)) == 2
    result, status = upgrade(capsys, installed)
    assert result.code == 0 and status.code == 0, result.out + result.err
    assert len(reconciliation_reports(result.out)) == 1, result.out
    with installed.connect() as conn:
        assert_rule(conn)
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)


def test_upgrade_builds_the_index_the_application_dropped(installed, capsys, reference):
    expected = reference("DROP INDEX app.ix_suppliers_name")
    with installed.connect() as conn:
        conn.execute("DROP INDEX app.ix_suppliers_name")
    result, status = upgrade(capsys, installed)
    assert result.code == 0 and REPAIRING in result.out, result.out + result.err
    assert status.code == 0, status.out
    with installed.connect() as conn:
        assert sync_objects(conn) == expected
        assert ("relation i", "app", "verify_triggers_suppliers_name_idx") in {r[:3] for r in expected}


@pytest.mark.parametrize("damage", [
    "DROP INDEX app.verify_triggers_suppliers_name_idx",
    "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'app.verify_triggers_suppliers_name_idx'::regclass",
    "DROP INDEX app.verify_triggers_suppliers_name_idx;"
    " CREATE INDEX verify_triggers_suppliers_name_idx ON app.suppliers (name, id)",
], ids=["dropped", "invalid", "redefined"])
def test_upgrade_rebuilds_the_syncs_own_index(lean_db, capsys, damage):
    lean_db.upgrade()
    with lean_db.connect() as conn:
        expected = sync_objects(conn)
        conn.execute(damage)
    result, status = upgrade(capsys, lean_db)
    assert result.code == 0 and REPAIRING in result.out, result.out + result.err
    assert status.code == 0, status.out
    with lean_db.connect() as conn:
        assert sync_objects(conn) == expected
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid ="
                            " 'app.verify_triggers_suppliers_name_idx'::regclass").fetchone()[0] is True


@pytest.mark.parametrize("also", ["", "DROP TABLE app.verify_triggers_objects"],
                         ids=["version-table", "version-and-record-tables"])
def test_upgrade_takes_over_an_install_whose_version_table_is_gone(installed, capsys, reference, also):
    expected = reference()
    with installed.connect() as conn:
        conn.execute("DROP TABLE app.verify_triggers_version")
        if also:
            conn.execute(also)
        # written meanwhile, while the triggers still ran
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
    result, status = upgrade(capsys, installed)
    assert result.code == 0, result.out + result.err
    assert "without a version record: reinstalling head over it" in result.out
    assert "Running upgrade  -> 0001" not in result.out
    assert status.code == 0, status.out
    with installed.connect() as conn:
        assert sync_objects(conn) == expected
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004"])
def test_upgrade_takes_over_an_earlier_revisions_install_whose_version_table_is_gone(
        seeded, capsys, reference, revision):
    """0002's and 0003's marking triggers call functions head retires: they go before them."""
    expected = reference()
    seeded.upgrade(revision)
    with seeded.connect() as conn:
        conn.execute("DROP TABLE app.verify_triggers_version")
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
    result, status = upgrade(capsys, seeded)
    assert result.code == 0, result.out + result.err
    assert "without a version record: reinstalling head over it" in result.out
    assert status.code == 0, status.out
    with seeded.connect() as conn:
        assert sync_objects(conn) == expected
        assert applied_versions(conn) == [HEAD]
        set_confirmed(conn, match_id(conn, "BMX136", "PAREK"), False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn)


def test_a_disabled_trigger_is_reported_not_undone(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.supplier_products DISABLE TRIGGER verify_triggers_sp_update")
    result = run(capsys, "--database-url", installed.url(), "upgrade")
    assert result.code == 0, result.err
    assert "verify-triggers: warning: 1 disabled: verify_triggers_sp_update" in result.out
    with installed.connect() as conn:
        assert conn.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'verify_triggers_sp_update'"
                            ).fetchone()[0] == "D"


def test_upgrade_cannot_put_back_a_column_and_exits_1_naming_it(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets RENAME COLUMN verified_at TO verified_on")
    result = run(capsys, "--database-url", installed.url(), "upgrade")
    assert result.code == 1
    assert result.err_lines == [
        "verify-triggers: schema 'app' lacks column product_supplier_sheets.verified_at, which the sync"
        " needs: restore it (a migration dropped or renamed it), then run verify-triggers upgrade"]
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets RENAME COLUMN verified_on TO verified_at")
    result, status = upgrade(capsys, installed)
    assert result.code == 0 and status.code == 0, result.out + result.err + status.out


@pytest.mark.parametrize("damage", [
    None,
    "DROP TABLE app.verify_triggers_lock CASCADE",
    "DROP TABLE app.verify_triggers_version",
    "DROP TABLE app.verify_triggers_objects",
    "DROP TRIGGER verify_triggers_sp_update ON app.supplier_products",
], ids=["intact", "lock-table-dropped", "version-table-dropped", "record-dropped", "trigger-dropped"])
def test_downgrade_base_leaves_nothing_whatever_was_left(installed, capsys, damage):
    with installed.connect() as conn:
        if damage:
            conn.execute(damage)
    result = run(capsys, "--database-url", installed.url(), "downgrade", "base")
    assert result.code == 0, result.out + result.err
    with installed.connect() as conn:
        assert sync_objects(conn) == set()
    assert run(capsys, "--database-url", installed.url(), "current").out.strip() == (
        "none: nothing applied in schema app (run verify-triggers upgrade)")


def test_downgrade_base_of_a_lean_install_drops_the_syncs_own_index(lean_db, capsys):
    lean_db.upgrade()
    with lean_db.connect() as conn:
        assert ("relation i", "app", "verify_triggers_suppliers_name_idx") in {
            r[:3] for r in sync_objects(conn)}
    assert run(capsys, "--database-url", lean_db.url(), "downgrade", "base").code == 0
    with lean_db.connect() as conn:
        assert sync_objects(conn) == set()
