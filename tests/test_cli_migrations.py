"""Migration verbs of the CLI: upgrade [REV], downgrade REV, current, history, --sql."""

import pytest

from clirun import clean_env, isolated_env, run, subprocess_run  # noqa: F401
from rule import drift, sheet
from verify_triggers import __version__

pytestmark = pytest.mark.usefixtures("isolated_env")

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere"


def test_upgrade_installs_and_reports_the_revision(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert result.code == 0, result.err
    # every revision in order, 0001's reconciliation reported while it runs
    steps = ["Running upgrade  -> 0001", "verify-triggers: reconciliation changed 4 sheet row(s)",
             "Running upgrade 0001 -> 0002"]
    positions = [result.out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), result.out
    assert result.out.splitlines()[-1].endswith(": at revision 0002 (head)")
    with seeded.connect() as conn:
        assert drift(conn) == []
    assert run(capsys, "--database-url", seeded.url(), "status").code == 0
    current = run(capsys, "--database-url", seeded.url(), "current")
    assert current.code == 0 and current.out.strip() == "0002 (head)"
    # a second upgrade is a no-op
    again = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert again.code == 0 and "Running upgrade" not in again.out


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
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, "verify-triggers")
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify_triggers%'"
                            ).fetchone()[0] == 0


def test_upgrade_from_0001_to_head_and_downgrade_back_to_0001(seeded, capsys):
    assert run(capsys, "--database-url", seeded.url(), "upgrade", "0001").code == 0
    upgrade = run(capsys, "--database-url", seeded.url(), "upgrade")
    assert upgrade.code == 0, upgrade.err
    assert "Running upgrade 0001 -> 0002" in upgrade.out
    assert "Running upgrade  -> 0001" not in upgrade.out and "reconciliation" not in upgrade.out
    assert upgrade.out.splitlines()[-1].endswith(": at revision 0002 (head)")
    downgrade = run(capsys, "--database-url", seeded.url(), "downgrade", "0001")
    assert downgrade.code == 0, downgrade.err
    assert "Running downgrade 0002 -> 0001" in downgrade.out
    assert "Running downgrade 0001 -> " not in downgrade.out
    assert downgrade.out.splitlines()[-1].endswith(": at revision 0001")
    assert run(capsys, "--database-url", seeded.url(), "current").out.strip() == "0001"
    with seeded.connect() as conn:
        assert drift(conn) == []
        # 0001's triggers, without 0002's marks
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify_triggers%'"
                            ).fetchone()[0] == 12
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname IN"
                            " ('verify_triggers_sp_changed', 'verify_triggers_sheet_changed')"
                            ).fetchone()[0] == 0
    # at 0001, status names the upgrade to the head as the only thing to do
    status = run(capsys, "--database-url", seeded.url(), "status")
    assert status.code == 1
    assert "revision 0001 applied, head is 0002: run verify-triggers upgrade" in status.out


def test_current_before_anything_is_installed(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "current")
    assert result.code == 0
    assert "nothing applied" in result.out


def test_history_needs_no_database(capsys):
    result = run(capsys, "history")
    assert result.code == 0
    assert "0001 -> 0002 (head), " in result.out
    assert "<base> -> 0001, " in result.out


def test_upgrade_sql_prints_the_ddl_without_connecting(capsys):
    result = run(capsys, "--database-url", UNREACHABLE, "upgrade", "--sql")
    assert result.code == 0, result.err
    assert "CREATE TRIGGER verify_triggers_sp_update" in result.out
    assert "CREATE TABLE app.verify_triggers_version" in result.out or \
        "CREATE TABLE \"app\".verify_triggers_version" in result.out or \
        "verify_triggers_version" in result.out
    no_url = run(capsys, "upgrade", "--sql")
    assert no_url.code == 0 and "CREATE TRIGGER" in no_url.out
    other = run(capsys, "--schema", "shop", "upgrade", "--sql")
    assert 'CREATE TRIGGER verify_triggers_sp_update\nAFTER UPDATE ON "shop".supplier_products' in other.out


def test_downgrade_sql_prints_the_drops(capsys):
    result = run(capsys, "downgrade", "base", "--sql")
    assert result.code == 0, result.err
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_update" in result.out
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_changed" in result.out  # from the head down
    explicit = run(capsys, "downgrade", "0001:base", "--sql")
    assert explicit.code == 0 and "DROP TRIGGER IF EXISTS" in explicit.out
    assert "verify_triggers_sp_changed" not in explicit.out
    one_step = run(capsys, "downgrade", "0002:0001", "--sql")
    assert one_step.code == 0, one_step.err
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_changed" in one_step.out
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_confirmed_idx" in one_step.out
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_update" not in one_step.out


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
    assert result.code == 2
    assert result.err_lines == ["verify-triggers: schema 'empty' lacks table product_supplier_sheets,"
                                " table products, table supplier_products, table suppliers"]
    with db.connect() as conn:
        assert conn.execute("SELECT to_regclass('empty.verify_triggers_version')").fetchone()[0] is None


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
