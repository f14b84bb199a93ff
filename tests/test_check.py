"""`verify-triggers check`: counts, drifted rows, diagnostics and trigger health, against
a real server; every format and exit code."""

import json

import pytest
from psycopg import sql

from clirun import run, sheet_rows
from helpers import match_id
from verify_triggers import check as check_mod
from verify_triggers import resources


def test_seed_state_fails_with_four_rows_needing_sync(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "check")
    assert result.code == 1
    out = result.out
    for line in ("rows checked  6", "SYNCED        2", "NEEDS SYNC    4", "STALE         0",
                 "MANUAL        0"):
        assert line in out, out
    assert "drifted rows (4):" in out
    assert "triggers: not installed in schema 'app': run verify-triggers upgrade" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: 4 drifted row(s)")
    assert result.err_lines == ["verify-triggers: not installed in schema 'app': run verify-triggers upgrade"]

    data = run(capsys, "--database-url", seeded.url(), "check", "--format", "json").json()
    assert data["ok"] is False
    assert data["summary"] == {"checked": 6, "synced": 2, "needs_sync": 4, "stale": 0,
                               "manual": 0, "drift": 4}
    pairs = {(d["sku"], d["supplier_name"]) for d in data["drift"]}
    assert pairs == {("BMX136", "XINRUI"), ("BMX136", "PAREK"), ("BMX136", "KEMEISING"),
                     ("AUR516", "KEMEISING")}
    with seeded.connect() as conn:
        for d in data["drift"]:
            assert d["is_verified"] is False and d["expected"] is True
            assert d["state"] == "NEEDS SYNC"
            assert d["match_ids"] == [match_id(conn, d["sku"], d["supplier_name"])]
    assert data["triggers"]["installed"] is False and data["triggers"]["healthy"] is False


def test_installed_passes(installed, capsys):
    result = run(capsys, "--database-url", installed.url(), "check")
    assert result.code == 0, result.out
    assert result.err == ""
    assert "NEEDS SYNC    0" in result.out and "drifted rows" not in result.out
    assert "triggers: healthy" in result.out
    assert result.out.rstrip().splitlines()[-1] == "OK: 6 row(s) agree with their matches; triggers healthy"
    data = run(capsys, "--database-url", installed.url(), "check", "--format", "json").json()
    assert data["ok"] is True and data["drift"] == []
    assert data["summary"]["synced"] == data["summary"]["checked"] == 6
    assert data["triggers"]["healthy"] is True


def test_drift_written_while_a_trigger_was_disabled(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.supplier_products DISABLE TRIGGER verify_triggers_sp_update")
        wanke = match_id(conn, "AUR516", "WANKE")
        parek = match_id(conn, "BMX136", "PAREK")
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed"
                     " WHERE id IN (%s, %s)", (wanke, parek))
    result = run(capsys, "--database-url", installed.url(), "check")
    assert result.code == 1
    rows = {tuple(line.split()[:2]): line for line in result.out.splitlines()
            if line.startswith("  AUR516") or line.startswith("  BMX136")}
    assert rows[("AUR516", "WANKE")].split()[2:6] == ["false", "true", "NEEDS", "SYNC"]
    assert rows[("AUR516", "WANKE")].split()[-1] == f"#{wanke}"
    assert rows[("BMX136", "PAREK")].split()[2:5] == ["true", "false", "STALE"]
    assert "triggers: UNHEALTHY: 1 disabled: verify_triggers_sp_update" in result.out
    assert "DISABLED  trigger  verify_triggers_sp_update on supplier_products" in result.out
    last = result.out.rstrip().splitlines()[-1]
    assert "2 drifted row(s) (1 NEEDS SYNC, 1 STALE): run verify-triggers sync" in last
    assert "UNHEALTHY" in last

    data = run(capsys, "--database-url", installed.url(), "check", "--format", "json").json()
    assert data["ok"] is False
    drift = {(d["sku"], d["supplier_name"]): d for d in data["drift"]}
    assert drift[("BMX136", "PAREK")]["expected"] is False
    assert drift[("BMX136", "PAREK")]["verified_by"] == "verify-triggers"
    assert drift[("BMX136", "PAREK")]["match_ids"] == []
    assert drift[("AUR516", "WANKE")]["match_ids"] == [wanke]
    assert data["summary"]["needs_sync"] == 1 and data["summary"]["stale"] == 1


def test_unhealthy_triggers_alone_fail_the_check(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.products ENABLE REPLICA TRIGGER verify_triggers_product_renamed")
    result = run(capsys, "--database-url", installed.url(), "check", "--format", "json")
    assert result.code == 1
    data = result.json()
    assert data["summary"]["drift"] == 0 and data["ok"] is False
    assert any("replica-only" in p for p in data["problems"])



@pytest.mark.parametrize("fixture", ["seeded", "installed"])
def test_a_missing_column_is_an_unhealthy_install_with_the_fix(request, capsys, fixture):
    database = request.getfixturevalue(fixture)
    with database.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_at")
    message = ("schema 'app' lacks column product_supplier_sheets.verified_at, which the sync needs:"
               " restore it (a migration dropped or renamed it), then run verify-triggers upgrade")
    result = run(capsys, "--database-url", database.url(), "check")
    assert result.code == 1
    assert result.err_lines == [f"verify-triggers: {message}"]
    assert f"triggers: UNHEALTHY: {message}" in result.out
    assert result.out.rstrip().splitlines()[-1].startswith("FAIL: ")
    assert message in result.out.rstrip().splitlines()[-1]
    data = run(capsys, "--database-url", database.url(), "check", "--format", "json").json()
    assert data["ok"] is False
    assert data["triggers"]["healthy"] is False
    assert data["triggers"]["missing"] == ["column product_supplier_sheets.verified_at"]

def test_a_persons_verification_without_a_match_is_manual_not_drift(installed, capsys):
    with installed.connect() as conn:
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
                     " verified_at = now() WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")
    result = run(capsys, "--database-url", installed.url(), "check", "--format", "json")
    assert result.code == 0
    assert result.json()["summary"]["manual"] == 1
    assert result.json()["drift"] == []


def test_sku_filter_is_repeatable(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "check", "--sku", "AUR516",
                 "--sku", "EMG411", "--format", "json")
    assert result.code == 1
    data = result.json()
    assert data["skus"] == ["AUR516", "EMG411"]
    assert data["summary"]["checked"] == 3 and data["summary"]["needs_sync"] == 1
    assert [(d["sku"], d["supplier_name"]) for d in data["drift"]] == [("AUR516", "KEMEISING")]
    table = run(capsys, "--database-url", seeded.url(), "check", "--sku", "EMG411")
    assert "(SKU EMG411)" in table.out and "rows checked  1" in table.out


def test_limit_bounds_the_listing_not_the_counts(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "check", "--limit", "2")
    assert result.code == 1
    assert "drifted rows (4):" in result.out
    assert "... 2 of 4 shown (--limit N to see more)" in result.out
    data = run(capsys, "--database-url", seeded.url(), "check", "--limit", "2", "--format", "json").json()
    assert len(data["drift"]) == 2 and data["drift_listed"] == 2
    assert data["summary"]["drift"] == 4
    data = run(capsys, "--database-url", seeded.url(), "check", "--limit", "0", "--format", "json").json()
    assert data["drift"] == [] and data["summary"]["drift"] == 4


def test_the_largest_limit_lists_every_row(seeded, capsys):
    """The listing's LIMIT is a bigint: its largest value is accepted (one more is a usage
    error, in test_errors_are_one_line.py)."""
    data = run(capsys, "--database-url", seeded.url(), "check", "--limit", str(2**63 - 1),
               "--format", "json").json()
    assert len(data["drift"]) == 4 and data["summary"]["drift"] == 4


def test_diagnostics_say_why_a_confirmed_match_verifies_nothing(installed, capsys):
    with installed.connect() as conn:
        # a sheet row typed "Kemeising " for the supplier KEMEISING
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
                     " VALUES ('EMG411', 'Kemeising ')")
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM app.suppliers su, app.products p"
                     " WHERE su.name = 'KEMEISING' AND p.sku = 'EMG411'")
        # a confirmed pair with no sheet row at all
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM app.suppliers su, app.products p"
                     " WHERE su.name = 'XINRUI' AND p.sku = 'AUR516'")
        # a confirmed match without a local product
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, NULL, true FROM app.suppliers su WHERE su.name = 'PAREK'")
        kemeising = match_id(conn, "EMG411", "KEMEISING")
        xinrui = match_id(conn, "AUR516", "XINRUI")
    result = run(capsys, "--database-url", installed.url(), "check")
    assert result.code == 0, result.out  # diagnostics explain, they are not drift
    out = result.out
    assert "confirmed matches that verify no sheet row (3):" in out
    assert (f"EMG411 / KEMEISING: confirmed by match #{kemeising}, but the sheet row has supplier "
            "name 'Kemeising ', which differs only by case or spaces") in out
    assert f"AUR516 / XINRUI: confirmed by match #{xinrui}, but no sheet row exists for the pair" in out
    assert "(supplier PAREK) is confirmed but has no local product (local_product_id is NULL)" in out

    data = run(capsys, "--database-url", installed.url(), "check", "--format", "json").json()
    kinds = {d["kind"]: d for d in data["diagnostics"]}
    assert set(kinds) == {"name_mismatch", "no_sheet_row", "no_local_product"}
    assert kinds["name_mismatch"]["sheet_supplier_name"] == "Kemeising "
    assert kinds["name_mismatch"]["match_ids"] == [kemeising]
    assert data["diagnostics_total"] == 3


def test_sku_differing_by_case_is_diagnosed(installed, capsys):
    with installed.connect() as conn:
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = true")  # AUR516/WANKE too
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('emg 411', 'XINRUI')")
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM app.suppliers su, app.products p"
                     " WHERE su.name = 'XINRUI' AND p.sku = 'EMG411'")
    data = run(capsys, "--database-url", installed.url(), "check", "--format", "json").json()
    [diag] = data["diagnostics"]
    assert diag["kind"] == "name_mismatch" and diag["sheet_sku"] == "emg 411"
    assert "sku 'emg 411'" in diag["message"]


def test_a_hostile_sku_is_a_value_and_changes_nothing(installed, capsys):
    with installed.connect() as conn:
        before = sheet_rows(conn)
    for hostile in ("BMX136' OR '1'='1", "x'); DROP TABLE app.products; --", "%(skus)s", "{schema}"):
        result = run(capsys, "--database-url", installed.url(), "check", "--sku", hostile,
                     "--format", "json")
        assert result.code == 0, result.err
        data = result.json()
        assert data["summary"]["checked"] == 0 and data["skus"] == [hostile]
    with installed.connect() as conn:
        assert sheet_rows(conn) == before
        assert conn.execute("SELECT count(*) FROM app.products").fetchone()[0] == 3


def test_json_is_one_object(seeded, capsys):
    out = run(capsys, "--database-url", seeded.url(), "check", "--format", "json").out
    data = json.loads(out)
    assert {"ok", "drift", "summary", "triggers"} <= set(data)
    for item in data["drift"]:
        assert {"sku", "supplier_name", "is_verified", "expected"} <= set(item)


def test_python_api_returns_dataclasses(seeded):
    with seeded.connect() as conn:
        report = check_mod.check(conn, "app", skus=["BMX136"], limit=10)
    assert isinstance(report.summary, check_mod.Summary)
    assert report.summary.needs_sync == 3 and not report.ok
    assert all(isinstance(r, check_mod.DriftRow) for r in report.drift)
    assert report.drift[0].reason.startswith("confirmed by match #")


@pytest.mark.slow
def test_a_million_sheet_rows_are_checked_by_one_set_based_statement(db):
    """check stays set-based at 1M sheet rows: one statement; the sheets scanned once to
    count, and once more for the listing only because there is drift, and once for confirmed pairs
    without a row; no per-row lookups;
    the counts are exact."""
    with db.connect() as conn:
        conn.execute("INSERT INTO app.suppliers (name) SELECT 'SUP' || g FROM generate_series(1, 4) g")
        conn.execute("INSERT INTO app.products (sku) SELECT 'SKU' || g FROM generate_series(1, 250000) g")
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
                     " SELECT 'SKU' || p, 'SUP' || s FROM generate_series(1, 250000) p,"
                     " generate_series(1, 4) s")
        conn.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT s, p, p % 10 = 0 FROM generate_series(1, 250000) p, generate_series(1, 2) s")
        conn.execute("ANALYZE")
        report = check_mod.check(conn, "app")
        assert report.summary.checked == 1_000_000
        assert report.summary.needs_sync == 50_000  # 25,000 products x 2 confirmed suppliers
        assert len(report.drift) == check_mod.DEFAULT_LIMIT

        statement = resources.query("check.sql", "app", "skus", "limit")
        plan = conn.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + statement,
                            {"skus": None, "limit": 50}).fetchone()[0][0]["Plan"]
    nodes = []

    def walk(node):
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    sheet_scans = [n for n in nodes if n.get("Relation Name") == "product_supplier_sheets"
                   and n.get("Actual Loops", 0) > 0]
    # counting (parallel: a loop per worker), listing the drift, finding confirmed pairs
    # without a row
    assert len(sheet_scans) <= 3, [(n["Node Type"], n["Actual Loops"]) for n in sheet_scans]
    assert all(n["Actual Rows"] * n["Actual Loops"] >= 50_000 for n in sheet_scans)
    assert max(n.get("Actual Loops", 0) for n in nodes) < 1000  # no per-row lookups
