"""`verify-triggers sync`: repairs drift by the rule through the installed function, and
never takes a person's verification away."""

import pytest

from clirun import run, sheet_rows
from rule import drift, sheet
from verify_triggers import sync as sync_mod


@pytest.fixture
def drifted(installed):
    """Rows written while the triggers were off: 2 NEEDS SYNC, 1 STALE, 1 person's
    verification with no confirmed match."""
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.supplier_products DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER USER")
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
                     " verified_at = NULL WHERE sku = 'BMX136' AND supplier_name IN ('XINRUI', 'KEMEISING')")
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = false WHERE supplier_id ="
                     " (SELECT id FROM app.suppliers WHERE name = 'KEMEISING') AND local_product_id ="
                     " (SELECT id FROM app.products WHERE sku = 'AUR516')")
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
                     " verified_at = now() WHERE sku = 'EMG411'")
        conn.execute("ALTER TABLE app.supplier_products ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE app.product_supplier_sheets ENABLE TRIGGER USER")
        assert len(drift(conn)) == 3
    return installed


def test_dry_run_shows_what_would_change_and_writes_nothing(drifted, capsys):
    with drifted.connect() as conn:
        before = sheet_rows(conn)
    result = run(capsys, "--database-url", drifted.url(), "sync", "--dry-run")
    assert result.code == 0, result.err
    assert "3 row(s) would change (nothing written):" in result.out
    lines = {tuple(l.split()[:2]): l.split()[2:] for l in result.out.splitlines()
             if l.startswith(("  BMX136", "  AUR516"))}
    assert lines[("BMX136", "XINRUI")] == ["false", "true", "NEEDS", "SYNC"]
    assert lines[("AUR516", "KEMEISING")] == ["true", "false", "STALE"]
    data = run(capsys, "--database-url", drifted.url(), "sync", "--dry-run", "--format", "json").json()
    assert data["dry_run"] is True and data["changed"] == 3
    assert {(r["sku"], r["supplier_name"]) for r in data["would_change"]} == {
        ("BMX136", "XINRUI"), ("BMX136", "KEMEISING"), ("AUR516", "KEMEISING")}
    with drifted.connect() as conn:
        assert sheet_rows(conn) == before


def test_sync_repairs_drift_and_keeps_a_persons_verification(drifted, capsys):
    result = run(capsys, "--database-url", drifted.url(), "sync")
    assert result.code == 0, result.err
    assert "3 row(s) changed:" in result.out.splitlines()
    with drifted.connect() as conn:
        assert drift(conn) == []
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, "verify-triggers")
        assert sheet(conn, "AUR516", "KEMEISING") == (False, None, None)
        assert sheet(conn, "EMG411", "WANKE")[:2] == (True, "alice")
    assert run(capsys, "--database-url", drifted.url(), "check").code == 0
    again = run(capsys, "--database-url", drifted.url(), "sync", "--format", "json").json()
    assert again["changed"] == 0 and again["batches"] == 0


def test_sku_scopes_the_repair(drifted, capsys):
    result = run(capsys, "--database-url", drifted.url(), "sync", "--sku", "AUR516", "--sku", "NOPE")
    assert result.code == 0
    assert "(SKU AUR516, NOPE)" in result.out and "1 row(s) changed" in result.out
    with drifted.connect() as conn:
        assert {(r[1], r[2]) for r in drift(conn)} == {("BMX136", "XINRUI"), ("BMX136", "KEMEISING")}


def test_a_hostile_sku_changes_nothing(drifted, capsys):
    with drifted.connect() as conn:
        before = sheet_rows(conn)
    for hostile in ("BMX136' OR '1'='1", "x'); UPDATE app.product_supplier_sheets SET is_verified = true; --",
                    "BMX136%", "{schema}"):
        result = run(capsys, "--database-url", drifted.url(), "sync", "--sku", hostile)
        assert result.code == 0, result.err
        assert "0 row(s) changed" in result.out
    with drifted.connect() as conn:
        assert sheet_rows(conn) == before
        assert conn.execute("SELECT count(*) FROM app.products").fetchone()[0] == 3


def test_not_installed_is_an_error_but_dry_run_previews(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "sync")
    assert result.code == 2
    assert result.err_lines == [
        "verify-triggers: the triggers are not installed in schema 'app': run verify-triggers upgrade"]
    preview = run(capsys, "--database-url", seeded.url(), "sync", "--dry-run")
    assert preview.code == 0 and "4 row(s) would change" in preview.out


def test_python_api_commits_in_batches(drifted):
    with drifted.connect() as conn:
        result = sync_mod.sync(conn, "app", batch_size=1)
        assert result.changed == 3 and result.batches == 2  # BMX136 and AUR516
        assert drift(conn) == []
    assert result.to_dict()["changed"] == 3


def test_sync_lists_the_rows_it_changed_bounded_by_limit(drifted, capsys):
    result = run(capsys, "--database-url", drifted.url(), "sync", "--limit", "2")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1:4] == [
        "3 row(s) changed:",
        "  SKU     SUPPLIER   WAS VERIFIED  NOW VERIFIED  STATE",
        "  AUR516  KEMEISING  true          false         STALE",
    ]
    assert lines[4].split() == ["BMX136", "KEMEISING", "false", "true", "NEEDS", "SYNC"]
    assert lines[5:] == ["  ... 2 of 3 shown (--limit N to see more)"]
    with drifted.connect() as conn:
        assert drift(conn) == []


def test_sync_json_lists_the_rows_it_changed(drifted, capsys):
    data = run(capsys, "--database-url", drifted.url(), "sync", "--format", "json").json()
    assert data["changed"] == 3
    assert {(r["sku"], r["supplier_name"], r["is_verified"], r["expected"]) for r in data["repaired"]} == {
        ("BMX136", "XINRUI", False, True), ("BMX136", "KEMEISING", False, True),
        ("AUR516", "KEMEISING", True, False)}
    assert data["summary_before"]["drift"] == 3
    again = run(capsys, "--database-url", drifted.url(), "sync", "--format", "json").json()
    assert again["repaired"] == [] and again["summary_before"]["drift"] == 0
