"""`alembic` run as a user runs it: a subprocess from the repository root.

Database URL from DATABASE_URL or `-x database_url=...` in each accepted form; errors as
one line without a traceback; VERIFY_TRIGGERS_SCHEMA; `upgrade head --sql` with no URL
and no server, and the printed script installing a working sync; four replicas upgrading
one database at once.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from conftest import FIXTURES, load_sql
from rule import assert_rule, drift, people_verifications, sheet
from verify_triggers import migrations_api

ROOT = Path(__file__).resolve().parents[1]
_ALEMBIC = Path(sys.executable).with_name("alembic")
ALEMBIC = [str(_ALEMBIC)] if _ALEMBIC.exists() else [sys.executable, "-m", "alembic"]
SYNC = "verify-triggers"
VERSION_TABLE = "verify_triggers_version"
# A guard against a hung subprocess, not a timing assertion.
HANG_GUARD_S = 300

OBJECT_NAMES = r"""
SELECT 'function', n.nspname, p.proname FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname LIKE 'verify\_triggers%'
UNION ALL
SELECT 'trigger', n.nspname, t.tgname FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname LIKE 'verify\_triggers%' AND NOT t.tgisinternal
UNION ALL
SELECT 'relation ' || c.relkind::text, n.nspname, c.relname FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE 'verify\_triggers%'
"""


def object_names(conn, schema: str | None = None) -> list[tuple]:
    """(kind, schema, name) of every verify_triggers_* object, duplicates kept."""
    rows = conn.execute(OBJECT_NAMES).fetchall()
    return sorted(r for r in rows if schema is None or r[1] == schema)


def environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA") and not k.startswith("PG")}
    env.update(extra)
    return env


def alembic(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ALEMBIC, *args], cwd=ROOT, env=environment(**env), capture_output=True, text=True,
        timeout=HANG_GUARD_S,
    )


def assert_one_line_error(result, *phrases):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for phrase in phrases:
        assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


def version(conn, schema="app"):
    return conn.execute(f'SELECT version_num FROM "{schema}".{VERSION_TABLE}').fetchall()


def reconciliation_reports(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"reconcil", line, re.IGNORECASE)]


# --- the database URL -------------------------------------------------------------------


def test_a_missing_database_url_is_a_one_line_error():
    assert_one_line_error(alembic("upgrade", "head"), "DATABASE_URL")


MALFORMED = {
    "not_a_url": ("not a url", "url"),
    "other_database": ("mysql://app@db.internal/magflow", "url"),
    "no_database_name": ("postgresql+asyncpg://app@127.0.0.1:5432/", "database"),
    "port_not_a_number": ("postgresql://app:s3cret@127.0.0.1:notaport/magflow", "url"),
    "unbalanced_ipv6_host": ("postgresql://app:s3cret@[::1/magflow", "url"),
    "nothing_listening": ("postgresql://app:s3cret@127.0.0.1:1/magflow", "connect"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_or_unusable_database_url_is_a_one_line_error_without_the_password(case):
    url, phrase = MALFORMED[case]
    line = assert_one_line_error(alembic("upgrade", "head", DATABASE_URL=url), phrase)
    assert "s3cret" not in line


def test_a_target_schema_that_does_not_exist_is_a_one_line_error(seeded):
    line = assert_one_line_error(
        alembic("upgrade", "head", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop_floor"),
        "shop_floor",
    )
    assert "schema" in line


def test_a_failed_precheck_is_a_one_line_error_naming_the_missing_columns(seeded):
    with seeded.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_by, DROP COLUMN verified_at")
    line = assert_one_line_error(alembic("upgrade", "head", DATABASE_URL=seeded.url()), "verified_by", "verified_at")
    assert "product_supplier_sheets" in line
    with seeded.connect() as conn:
        assert object_names(conn) == []


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg", "postgresql+asyncpg"])
def test_upgrade_head_accepts_each_url_form(seeded, driver):
    result = alembic("upgrade", "head", DATABASE_URL=seeded.url(driver))
    assert result.returncode == 0, result.stdout + result.stderr
    with seeded.connect() as conn:
        assert version(conn) == [(migrations_api.head_revision(),)]
        assert_rule(conn)
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)


def test_x_database_url_overrides_DATABASE_URL(seeded):
    result = alembic(
        "-x", f"database_url={seeded.url('postgresql+asyncpg')}", "upgrade", "head",
        DATABASE_URL="postgresql://nobody:s3cret@127.0.0.1:1/elsewhere",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with seeded.connect() as conn:
        assert version(conn) == [(migrations_api.head_revision(),)]
        assert_rule(conn)


def test_x_database_url_works_without_DATABASE_URL_and_downgrade_too(seeded):
    url = f"database_url={seeded.url()}"
    assert alembic("-x", url, "upgrade", "head").returncode == 0
    result = alembic("-x", url, "downgrade", "base")
    assert result.returncode == 0, result.stdout + result.stderr
    with seeded.connect() as conn:
        assert [r for r in object_names(conn) if not r[2].startswith(VERSION_TABLE)] == []


# --- the target schema -------------------------------------------------------------------


def test_VERIFY_TRIGGERS_SCHEMA_installs_into_that_schema_only(seeded):
    with seeded.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema="shop")
        load_sql(conn, FIXTURES / "seed.sql", schema="shop")
        app_before = conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
    result = alembic("upgrade", "head", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop")
    assert result.returncode == 0, result.stdout + result.stderr
    with seeded.connect() as conn:
        assert object_names(conn, "app") == []
        assert ("relation r", "shop", VERSION_TABLE) in object_names(conn, "shop")
        assert version(conn, "shop") == [(migrations_api.head_revision(),)]
        assert drift(conn, "shop") == []
        conn.execute(
            "UPDATE shop.supplier_products SET manual_confirmed = true FROM shop.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
        assert sheet(conn, "AUR516", "WANKE", schema="shop")[:2] == (True, SYNC)
        # The app schema was neither installed into nor reconciled.
        assert conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall() == app_before
    result = alembic("downgrade", "base", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop")
    assert result.returncode == 0, result.stdout + result.stderr
    with seeded.connect() as conn:
        assert [r for r in object_names(conn) if not r[2].startswith(VERSION_TABLE)] == []


# --- offline SQL ---------------------------------------------------------------------------


def offline_script(schema: str | None = None) -> str:
    """`alembic upgrade head --sql` with no URL and no server to reach."""
    env = {"PGHOST": "/nonexistent", "PGPORT": "1"}
    if schema:
        env["VERIFY_TRIGGERS_SCHEMA"] = schema
    result = alembic("upgrade", "head", "--sql", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def split_statements(script: str) -> list[str]:
    """Split a SQL script at top-level semicolons (quotes, dollar quotes, comments aware)."""
    statements, current, i = [], [], 0
    while i < len(script):
        if script.startswith("--", i):
            end = script.find("\n", i)
            end = len(script) if end == -1 else end
        elif script.startswith("/*", i):
            end = script.index("*/", i) + 2
        elif script[i] in "'\"":
            quote, end = script[i], i + 1
            while True:
                end = script.index(quote, end) + 1
                if not script.startswith(quote, end):
                    break
                end += 1
        elif (tag := re.match(r"\$(?:[A-Za-z_]\w*)?\$", script[i:])) is not None:
            end = script.index(tag.group(0), i + len(tag.group(0))) + len(tag.group(0))
        elif script[i] == ";":
            statements.append("".join(current).strip())
            current, i = [], i + 1
            continue
        else:
            end = i + 1
        current.append(script[i:end])
        i = end
    statements.append("".join(current).strip())
    meaningful = re.compile(r"^\s*(--.*)?$")
    return [s for s in statements if not all(meaningful.match(line) for line in s.splitlines())]


def run_with_psycopg(database, script: str) -> None:
    with database.connect() as conn:
        for statement in split_statements(script):
            conn.execute(statement)


def run_with_psql(database, script: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        result = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database.url(), "-f", file.name],
            capture_output=True, text=True, timeout=HANG_GUARD_S,
        )
    assert result.returncode == 0, result.stderr


RUNNERS = {"psycopg": run_with_psycopg}
if shutil.which("psql"):
    RUNNERS["psql"] = run_with_psql


def test_offline_sql_prints_the_complete_ddl_without_a_database(installed):
    script = offline_script()
    with installed.connect() as conn:
        online = object_names(conn)
    assert online
    statement_for = {
        "function": r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+[^(;]*\b{}\(",
        "trigger": r"CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+{}\b",
    }
    for kind, _, name in online:
        if kind == "relation i" and name.endswith("_pkey"):
            continue  # a primary key's index, created by its CREATE TABLE under an implicit name
        pattern = statement_for.get(kind, r"CREATE\b[^;]*?\b{}\b").format(name)
        assert re.search(pattern, script), f"the script creates no {kind} {name}"
    triggers = [name for kind, _, name in online if kind == "trigger"]
    assert len(re.findall(r"^CREATE TRIGGER\b", script, re.MULTILINE)) == len(triggers)
    # RAISE formats keep their single % placeholders; nothing is doubled.
    assert "%%" not in script
    formats = [f for f in re.findall(r"RAISE\s+\w+\s+'([^']*)'", script) if "%" in f]
    assert formats
    assert f"INSERT INTO app.{VERSION_TABLE}" in script


def test_offline_sql_for_another_schema_names_only_that_schema():
    script = offline_script("shop")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    assert re.search(r'(?<![\w."])"?shop"?\.\w', code)
    assert not re.search(r'(?<![\w."])"?app"?\.[\w"]', code)


@pytest.mark.parametrize("schema", ["app", "shop"])
@pytest.mark.parametrize("runner", RUNNERS)
def test_the_offline_script_installs_a_working_sync_on_a_fresh_seeded_database(make_db, runner, schema):
    database = make_db()
    with database.connect() as conn:
        if schema != "app":
            load_sql(conn, FIXTURES / "schema.sql", schema=schema)
        load_sql(conn, FIXTURES / "seed.sql", schema=schema)
        conn.execute(
            f"UPDATE {schema}.product_supplier_sheets SET is_verified = true, verified_by = 'alice'"
            " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'"
        )
        people = people_verifications(conn, schema)
    RUNNERS[runner](database, offline_script(schema))
    reference = make_db()
    with reference.connect() as conn:
        if schema != "app":
            load_sql(conn, FIXTURES / "schema.sql", schema=schema)
    reference.upgrade(schema=schema)
    with database.connect() as conn, reference.connect() as ref:
        # Online, 0002 asks the catalog and reuses the application's index on
        # supplier_products (local_product_id); a script cannot ask, so it builds its own.
        offline_extra = {("relation i", schema, "verify_triggers_sp_match_idx")}
        installed = object_names(conn)
        assert [r for r in installed if r not in offline_extra] == object_names(ref)
        assert offline_extra <= set(installed)
        assert version(conn, schema) == [(migrations_api.head_revision(),)]
        assert_rule(conn, people, schema)
        assert sheet(conn, "BMX136", "PAREK", schema)[:2] == (True, SYNC)
        conn.execute(
            f"UPDATE {schema}.supplier_products SET manual_confirmed = NOT manual_confirmed"
            f" FROM {schema}.suppliers su WHERE su.id = supplier_id AND su.name IN ('WANKE', 'PAREK')"
        )
        assert sheet(conn, "AUR516", "WANKE", schema)[:2] == (True, SYNC)
        assert sheet(conn, "BMX136", "PAREK", schema) == (False, None, None)
        assert_rule(conn, people, schema)


# --- every replica of a deploy upgrades at once ----------------------------------------------


def test_four_concurrent_upgrades_all_succeed_install_once_and_reconcile_once(seeded, make_db):
    """Four replicas start `alembic upgrade head` together. To make them overlap for
    certain, the matches table is held locked until all four wait on a lock (or a bounded
    while has passed: an implementation that waits without a lock is fine too)."""
    reference = make_db()
    reference.upgrade()
    with reference.connect() as conn:
        expected = object_names(conn)
    env = environment(DATABASE_URL=seeded.url())
    with seeded.connect(autocommit=False) as holder, seeded.connect() as observer:
        holder.execute("LOCK TABLE app.supplier_products IN ACCESS EXCLUSIVE MODE")
        ours = [holder.info.backend_pid, observer.info.backend_pid]
        processes = [
            subprocess.Popen([*ALEMBIC, "upgrade", "head"], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        stop_waiting = time.monotonic() + 20
        while time.monotonic() < stop_waiting and all(p.poll() is None for p in processes):
            waiting = observer.execute(
                "SELECT count(DISTINCT l.pid) FROM pg_catalog.pg_locks l"
                " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
                " WHERE NOT l.granted AND a.datname = current_database() AND NOT l.pid = ANY(%s)",
                (ours,),
            ).fetchone()[0]
            if waiting >= 4:
                break
            time.sleep(0.02)
        holder.rollback()
        outputs = [p.communicate(timeout=HANG_GUARD_S) for p in processes]
    outcomes = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]
    assert [rc for rc, _, _ in outcomes] == [0, 0, 0, 0], outcomes
    reports = [line for _, out, err in outcomes for line in reconciliation_reports(out + err)]
    assert len(reports) == 1, reports
    with seeded.connect() as conn:
        assert object_names(conn) == expected
        assert version(conn) == [(migrations_api.head_revision(),)]
        assert_rule(conn)
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)
