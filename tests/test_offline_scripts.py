"""The offline scripts (`verify-triggers upgrade --sql`, `alembic upgrade head --sql` and the
downgrades): printed without a server, complete, for the schema asked for, installing a working
sync when run with psql, removing all of it, and passing squawk, PostgreSQL's migration linter.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from clirun import (ROOT, SUBPROCESS_GUARD_S, VERSION_TABLE, alembic, applied_versions,
                    object_names, run)
from helpers import FIXTURES, load_sql
from rule import SYNC, assert_rule, people_verifications, sheet
from verify_triggers import target as targets
from verify_triggers.migrate import commands

HEAD = "0009"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere"
# Online, head asks the catalog and builds no index where the application's serves the same key
# (on tests/fixtures/schema.sql, none); a script cannot ask, so it builds every one of them.
BUILT_ONLY_OFFLINE = {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx", "verify_triggers_products_sku_idx",
                      "verify_triggers_sheets_sku_idx"}


def offline_script(*args: str, schema: str | None = None) -> str:
    """`alembic ARGS --sql` with no URL and no server to reach."""
    env = {"PGHOST": "/nonexistent", "PGPORT": "1"}
    if schema:
        env["VERIFY_TRIGGERS_SCHEMA"] = schema
    result = alembic(*args, "--sql", **env)
    assert result.code == 0, result.out + result.err
    assert "Traceback" not in result.err
    return result.out


def run_with_psql(database, script: str) -> None:
    psql = shutil.which("psql")
    assert psql, "psql (the PostgreSQL client) runs the offline scripts, as users run them"
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        result = subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database.url(), "-f", file.name],
            capture_output=True, text=True, timeout=SUBPROCESS_GUARD_S)
    assert result.returncode == 0, result.stderr


# --- printed without a server --------------------------------------------------------------


def test_upgrade_sql_prints_the_ddl_without_connecting(capsys):
    result = run(capsys, "--database-url", UNREACHABLE, "upgrade", "--sql")
    assert result.code == 0, result.err
    assert "CREATE TRIGGER verify_triggers_sp_update" in result.out
    assert f"CREATE TABLE IF NOT EXISTS app.{VERSION_TABLE}" in result.out
    assert f"UPDATE app.{VERSION_TABLE} SET version_num='{HEAD}'" in result.out
    no_url = run(capsys, "upgrade", "--sql")
    assert no_url.code == 0 and no_url.out == result.out
    other = run(capsys, "--schema", "shop", "upgrade", "--sql")
    assert 'CREATE TRIGGER verify_triggers_sp_update\nAFTER UPDATE ON "shop".supplier_products' in other.out


def test_downgrade_sql_prints_the_drops(capsys):
    result = run(capsys, "downgrade", "base", "--sql")
    assert result.code == 0, result.err
    # from the head down
    for step in ("Running downgrade 0009 -> 0008", "Running downgrade 0008 -> 0007", "Running downgrade 0007 -> 0006", "Running downgrade 0006 -> 0005", "Running downgrade 0005 -> 0004", "Running downgrade 0004 -> 0003", "Running downgrade 0003 -> 0002",
                 "Running downgrade 0002 -> 0001",
                 "Running downgrade 0001 -> "):
        assert step in result.out, step
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_update" in result.out
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_changed" in result.out
    explicit = run(capsys, "downgrade", "0001:base", "--sql")
    assert explicit.code == 0 and "DROP TRIGGER IF EXISTS verify_triggers_sp_update" in explicit.out
    assert "verify_triggers_sp_changed" not in explicit.out
    one_step = run(capsys, "downgrade", "0002:0001", "--sql")
    assert one_step.code == 0, one_step.err
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_changed" in one_step.out
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_confirmed_idx" in one_step.out
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_update" not in one_step.out
    from_head = run(capsys, "downgrade", "0003:0002", "--sql")
    assert from_head.code == 0, from_head.err
    assert 'DROP TABLE IF EXISTS "app".verify_triggers_objects' in from_head.out
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS verify_triggers_sp_match_idx" in from_head.out
    assert "DROP TRIGGER IF EXISTS verify_triggers_sp_update" not in from_head.out
    assert "Running downgrade 0002 -> 0001" not in from_head.out


def test_offline_sql_prints_the_complete_ddl_without_a_database(installed):
    script = offline_script("upgrade", "head")
    with installed.connect() as conn:
        online = object_names(conn)
    assert online
    statement_for = {
        "function": r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+[^(;]*\b{}\(",
        "trigger": r"CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+{}\b",
    }
    for kind, _, name in online:
        if kind == "relation i" and name.endswith(("_pkey", "_pkc")):
            continue  # a primary key's index, created by its CREATE TABLE under an implicit name
        if kind == "function":
            name = name.split("(", 1)[0].split(".")[-1]
        if kind == "trigger":
            name = name.split(".", 1)[1]
        pattern = statement_for.get(kind, r"CREATE\b[^;]*?\b{}\b").format(name)
        assert re.search(pattern, script), f"the script creates no {kind} {name}"
    # RAISE formats keep their single % placeholders; nothing is doubled.
    assert "%%" not in script
    formats = [f for f in re.findall(r"RAISE\s+\w+\s+'([^']*)'", script) if "%" in f]
    assert formats
    assert f"INSERT INTO app.{VERSION_TABLE}" in script


def test_offline_sql_for_another_schema_names_only_that_schema():
    script = offline_script("upgrade", "head", schema="shop")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    assert re.search(r'(?<![\w."])"?shop"?\.\w', code)
    assert not re.search(r'(?<![\w."])"?app"?\.[\w"]', code)


# --- run with psql ----------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["app", "shop"])
def test_the_offline_script_installs_a_working_sync_on_a_fresh_seeded_database(make_db, capsys, schema):
    database = make_db()
    with database.connect() as conn:
        if schema != "app":
            load_sql(conn, FIXTURES / "schema.sql", schema=schema)
        load_sql(conn, FIXTURES / "seed.sql", schema=schema)
        conn.execute(
            f"UPDATE {schema}.product_supplier_sheets SET is_verified = true, verified_by = 'alice'"
            " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")
        people = people_verifications(conn, schema)
    run_with_psql(database, offline_script("upgrade", "head", schema=schema))
    reference = make_db()
    with reference.connect() as conn:
        if schema != "app":
            load_sql(conn, FIXTURES / "schema.sql", schema=schema)
    reference.upgrade(schema=schema)
    with database.connect() as conn, reference.connect() as ref:
        installed = object_names(conn)
        extra = {("relation i", schema, name) for name in BUILT_ONLY_OFFLINE}
        assert installed - extra == object_names(ref)
        assert extra <= installed
        assert applied_versions(conn, schema) == [HEAD]
        assert_rule(conn, people, schema)
        assert sheet(conn, "BMX136", "PAREK", schema)[:2] == (True, SYNC)
        conn.execute(
            f"UPDATE {schema}.supplier_products SET manual_confirmed = NOT manual_confirmed"
            f" FROM {schema}.suppliers su WHERE su.id = supplier_id AND su.name IN ('WANKE', 'PAREK')")
        assert sheet(conn, "AUR516", "WANKE", schema)[:2] == (True, SYNC)
        assert sheet(conn, "BMX136", "PAREK", schema) == (False, None, None)
        assert_rule(conn, people, schema)
    status = run(capsys, "--database-url", database.url(), "--schema", schema, "status")
    assert status.code == 0, status.out + status.err


def test_indexes_an_offline_install_built_beside_the_applications_are_noted_then_dropped_by_upgrade(
        make_db, capsys):
    database = make_db()
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql", schema="app")
    run_with_psql(database, offline_script("upgrade", "head"))
    with database.connect() as conn:
        assert {("relation i", "app", name) for name in BUILT_ONLY_OFFLINE} <= object_names(conn)
    status = run(capsys, "--database-url", database.url(), "--schema", "app", "status", "--format", "json")
    assert status.code == 0, status.out + status.err
    noted = {note.split(" ")[3] for note in status.json()["notes"] if "makes redundant" in note}
    assert noted == BUILT_ONLY_OFFLINE
    # built, so INSTALLED (never "not built"), and named redundant
    lines = {o["name"]: o for o in status.json()["objects"] if o["name"] in BUILT_ONLY_OFFLINE}
    assert {o["state"] for o in lines.values()} == {"INSTALLED"}
    assert all(o["detail"].startswith("built, but the application's ") for o in lines.values())

    upgraded = run(capsys, "--database-url", database.url(), "--schema", "app", "upgrade")
    assert upgraded.code == 0, upgraded.out + upgraded.err
    with database.connect() as conn:
        assert not {("relation i", "app", name) for name in BUILT_ONLY_OFFLINE} & object_names(conn)
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed")
        assert_rule(conn, people_verifications(conn, "app"), "app")
    status = run(capsys, "--database-url", database.url(), "--schema", "app", "status", "--format", "json")
    assert status.code == 0, status.out + status.err
    assert not [note for note in status.json()["notes"] if "makes redundant" in note]


def test_an_offline_script_that_stopped_after_its_first_commit_runs_again_from_the_start(make_db, capsys):
    """The script commits the version table with its first transaction (before the concurrent
    index builds). Stopped later in 0001 (here by a function in the way), it is run again from
    the start once the cause is gone, and installs head."""
    database = make_db()
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql")
        conn.execute("CREATE FUNCTION app.verify_triggers_bucket(text, text) RETURNS text"
                     " LANGUAGE sql AS $$ SELECT 'in the way' $$")
    script = offline_script("upgrade", "head")
    with pytest.raises(AssertionError, match="verify_triggers_bucket\" already exists"):
        run_with_psql(database, script)
    with database.connect() as conn:
        assert conn.execute("SELECT to_regclass('app.verify_triggers_version')").fetchone()[0] is not None
        assert applied_versions(conn) == []
        conn.execute("DROP FUNCTION app.verify_triggers_bucket(text, text)")
    run_with_psql(database, script)
    with database.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)
    assert run(capsys, "--database-url", database.url(), "status").code == 0


def test_the_offline_scripts_from_0002_to_head_and_back(make_db, capsys):
    database = make_db()
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "seed.sql")
    database.upgrade("0002")
    run_with_psql(database, offline_script("upgrade", "0002:head"))
    with database.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)
    status = run(capsys, "--database-url", database.url(), "status")
    assert status.code == 0, status.out + status.err
    run_with_psql(database, offline_script("downgrade", "head:0002"))
    with database.connect() as conn:
        assert applied_versions(conn) == ["0002"]
        assert conn.execute("SELECT to_regclass('app.verify_triggers_objects')").fetchone()[0] is None
        assert_rule(conn)
    status = run(capsys, "--database-url", database.url(), "status", "--format", "json")
    assert status.json()["problems"] == [f"revision 0002 applied, head is {HEAD}: run verify-triggers upgrade"]


def test_the_offline_downgrade_to_base_leaves_nothing(installed):
    script = offline_script("downgrade", f"{HEAD}:base")
    assert re.search(rf'DROP TABLE IF EXISTS "?app"?\."?{VERSION_TABLE}"?', script), \
        "the script keeps the version table"
    run_with_psql(installed, script)
    with installed.connect() as conn:
        assert object_names(conn) == set()


# --- squawk -------------------------------------------------------------------------------------


def _squawk() -> str:
    found = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
    assert found, "squawk-cli is part of the test extra"
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_squawk(), "--config", str(ROOT / ".squawk.toml"), str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=SUBPROCESS_GUARD_S)


@pytest.mark.parametrize("revision, downgrade_from", [
    ("head", None), ("base", "head"), ("0002:head", None), ("0002", "head"),
], ids=["upgrade-head", "downgrade-base", "upgrade-0002-to-head", "downgrade-head-to-0002"])
def test_the_offline_migration_scripts_pass_squawk(tmp_path, revision, downgrade_from):
    config = commands.make_config(targets.resolve(None, "app", need_url=False, environ={}))
    script = commands.offline_script(config, revision, downgrade_from=downgrade_from)
    assert "verify_triggers" in script
    path = tmp_path / "script.sql"
    path.write_text(script)
    result = _lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_squawk_flags_an_index_built_without_concurrently(tmp_path):
    path = tmp_path / "blocking.sql"
    path.write_text("CREATE INDEX blocking_idx ON app.supplier_products (supplier_price);\n")
    result = _lint(path)
    assert result.returncode != 0
    assert "require-concurrent-index-creation" in result.stdout
