"""Running ``verify-triggers`` (and ``alembic``) in tests, and reading back what they left.

The command runs in this process (:func:`run`) or as a real subprocess (:func:`subprocess_run`,
:func:`alembic`), always without the caller's ``DATABASE_URL`` or ``VERIFY_TRIGGERS_*``. The
catalog helpers below are written for the tests, independently of the package's own catalog
reading: they are the oracle the CLI's answers are judged by.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from verify_triggers import cli

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).parent / "verify-triggers"
_ALEMBIC = Path(sys.executable).with_name("alembic")
ALEMBIC = [str(_ALEMBIC)] if _ALEMBIC.exists() else [sys.executable, "-m", "alembic"]
# A guard against a hung subprocess (an install, a pip run), not a timing assertion.
SUBPROCESS_GUARD_S = 300
VERSION_TABLE = "verify_triggers_version"
_CLI_VARIABLES = ("DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA", "VERIFY_TRIGGERS_DEBUG",
                  "VERIFY_TRIGGERS_LOCK_TIMEOUT", "VERIFY_TRIGGERS_LOCK_RETRIES")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


# --- running the command ------------------------------------------------------------------


@contextmanager
def _environment(extra: dict | None):
    saved = {name: os.environ.pop(name) for name in _CLI_VARIABLES if name in os.environ}
    os.environ.update(extra or {})
    try:
        yield
    finally:
        for name in (extra or {}):
            os.environ.pop(name, None)
        os.environ.update(saved)


def run(capsys, *args: str, env: dict | None = None) -> Result:
    """``cli.main(args)`` in this process, its output captured; the CLI's variables are those
    of ``env`` only."""
    capsys.readouterr()
    with _environment(env):
        code = cli.main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def clean_env(**extra: str) -> dict:
    """This environment without the variables the CLI reads, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _CLI_VARIABLES}
    env.update(extra)
    return env


def subprocess_run(*args: str, env: dict | None = None, module: bool = True, cwd=None,
                   timeout: float = SUBPROCESS_GUARD_S) -> Result:
    """The command as a separate process: ``python -m verify_triggers`` or the console script."""
    command = [sys.executable, "-m", "verify_triggers"] if module else [str(CONSOLE_SCRIPT)]
    proc = subprocess.run(command + list(args), capture_output=True, text=True,
                          env=env if env is not None else clean_env(), cwd=cwd, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def alembic_env(**extra: str) -> dict:
    """The environment for ``alembic`` run from the repository root: no database variables
    (libpq's PG* included), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _CLI_VARIABLES and not k.startswith("PG")}
    env.update(extra)
    return env


def alembic(*args: str, **env: str) -> Result:
    """``alembic ARGS`` from the repository root, as a user runs it."""
    proc = subprocess.run([*ALEMBIC, *args], cwd=ROOT, env=alembic_env(**env), capture_output=True,
                          text=True, timeout=SUBPROCESS_GUARD_S)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(result: Result, code: int = 2, *fragments: str) -> None:
    """Exit ``code``, exactly one line on stderr naming ``fragments``, no traceback."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("verify-triggers: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def reconciliation_reports(output: str) -> list[str]:
    """The lines in which an install reported reconciling rows (not Alembic's lines naming the
    revisions it runs, whose descriptions may mention it)."""
    return [line for line in output.splitlines() if re.search(r"reconcil", line, re.IGNORECASE)
            and not re.search(r"Running (up|down)grade", line)]


# --- the catalog, as the tests read it ----------------------------------------------------

# Every object named verify_triggers_* in any schema: (kind, schema, name, definition).
# Definitions make "unchanged" mean the same definition; oids make it the same object.
OBJECTS = r"""
SELECT 'function', n.nspname, p.oid::regprocedure::text, pg_catalog.pg_get_functiondef(p.oid),
       p.oid::bigint
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'verify\_triggers%'
UNION ALL
SELECT 'trigger', n.nspname, c.relname || '.' || t.tgname, pg_catalog.pg_get_triggerdef(t.oid),
       t.oid::bigint
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname LIKE 'verify\_triggers%' AND NOT t.tgisinternal
UNION ALL
SELECT 'relation ' || c.relkind::text, n.nspname, c.relname,
       coalesce(pg_catalog.pg_get_indexdef(c.oid), ''), c.oid::bigint
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'verify\_triggers%'
"""


def sync_objects(conn, schema: str | None = None, oids: bool = False) -> set[tuple]:
    """(kind, schema, name, definition[, oid]) of every verify_triggers_* object."""
    rows = conn.execute(OBJECTS).fetchall()
    return {tuple(r) if oids else tuple(r[:4]) for r in rows if schema is None or r[1] == schema}


def object_names(conn, schema: str | None = None) -> set[tuple]:
    """(kind, schema, name) of every verify_triggers_* object."""
    return {r[:3] for r in sync_objects(conn, schema)}


def applied_versions(conn, schema: str = "app") -> list[str]:
    """The rows of the sync's version table."""
    return [r[0] for r in conn.execute(sql.SQL("SELECT version_num FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(VERSION_TABLE)))]


def alembic_version_tables(conn) -> list[tuple]:
    """Every table named alembic_version, in any schema (the host's own version table)."""
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'alembic_version'"
    ).fetchall()


def host_indexes(conn, schema: str = "app") -> list[str]:
    """The application's indexes on the four tables, other than primary keys and unique
    constraints."""
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
        " WHERE t.relnamespace = %s::regnamespace AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = c.oid)"
        " AND t.relname IN ('suppliers', 'products', 'supplier_products', 'product_supplier_sheets')"
        " AND c.relname NOT LIKE 'verify\\_triggers%%' ORDER BY 1", (schema,))]


def drop_host_indexes(conn, schema: str = "app") -> list[str]:
    """Drop the application's own indexes on the four tables (keys and constraints stay)."""
    dropped = host_indexes(conn, schema)
    for name in dropped:
        conn.execute(sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
    return dropped


# --- rows ---------------------------------------------------------------------------------


def sheet_rows(conn, schema: str = "app") -> list[tuple]:
    """Every sheet row's id, pair and verification, in id order."""
    return conn.execute(sql.SQL(
        "SELECT id, sku, supplier_name, is_verified, verified_by, verified_at"
        " FROM {}.product_supplier_sheets ORDER BY id").format(sql.Identifier(schema))).fetchall()


def table_data(conn, schema: str = "app") -> dict[str, list]:
    """Every row of the four tables."""
    return {
        table: conn.execute(sql.SQL("SELECT * FROM {}.{} ORDER BY id").format(
            sql.Identifier(schema), sql.Identifier(table))).fetchall()
        for table in ("suppliers", "products", "supplier_products", "product_supplier_sheets")
    }


def sheet_versions(conn, schema: str = "app") -> list[tuple]:
    """Each sheet row's id and tuple version: a row written since gets a new xmin and ctid."""
    return conn.execute(sql.SQL(
        "SELECT id, xmin::text, ctid::text FROM {}.product_supplier_sheets ORDER BY id").format(
        sql.Identifier(schema))).fetchall()
