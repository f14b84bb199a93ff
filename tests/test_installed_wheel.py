"""The wheel carries the migrations and SQL files: built, installed into a fresh virtual
environment (dependencies from PyPI), and run from a temporary folder with no source tree."""

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clirun import ROOT, Result, assert_one_line_error
from verify_triggers import __version__


def _run(command: list, cwd: Path, env: dict | None = None, timeout: float = 900) -> Result:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT]
    if importlib.util.find_spec("hatchling") is not None:
        command.insert(4, "--no-build-isolation")  # the build backend is here already
    built = _run(command, cwd=dist)
    assert built.code == 0, built.out + built.err
    [path] = dist.glob("verify_triggers-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel (no demo extra) and its dependencies."""
    where = tmp_path_factory.mktemp("venv") / "env"
    created = _run([sys.executable, "-m", "venv", where], cwd=where.parent)
    assert created.code == 0, created.err
    installed = _run([where / "bin" / "python", "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", wheel], cwd=where.parent)
    assert installed.code == 0, installed.out + installed.err
    return where


def _env(venv: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA",
                        "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_the_wheel_ships_migrations_sql_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    tracked = subprocess.run(["git", "ls-files", "migrations", "sql"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked
    shipped = {f"verify_triggers/{path}" for path in tracked if not path.endswith(".sqlfluffignore")}
    assert shipped - names == set()
    for name in ("verify_triggers/cli.py", "verify_triggers/__main__.py",
                 "verify_triggers/migrate/env.py", "verify_triggers/migrate/steps.py",
                 "verify_triggers/migrations/env.py",
                 "verify_triggers/migrations/versions/0001_verification_sync.py",
                 "verify_triggers/migrations/versions/0002_cheaper_writes.py",
                 "verify_triggers/migrations/versions/0003_bounded_work.py",
                 "verify_triggers/migrations/versions/0004_cheaper_single_row_writes.py",
                 "verify_triggers/migrations/versions/0005_one_bucket_lock.py",
                 "verify_triggers/migrations/versions/0006_import_without_a_join.py",
                 "verify_triggers/migrations/versions/0007_host_tables_looked_up_by_key.py",
                 "verify_triggers/migrations/versions/0008_token_read_in_place.py",
                 "verify_triggers/migrations/versions/0009_token_secret_in_the_plan.py",
                 "verify_triggers/sql/revisions/0001/install.sql",
                 "verify_triggers/sql/revisions/0002/install.sql",
                 "verify_triggers/sql/revisions/0003/upgrade.sql",
                 "verify_triggers/sql/revisions/0003/revision.json",
                 "verify_triggers/sql/revisions/0004/upgrade.sql",
                 "verify_triggers/sql/revisions/0005/upgrade.sql",
                 "verify_triggers/sql/revisions/0006/upgrade.sql",
                 "verify_triggers/sql/revisions/0007/upgrade.sql",
                 "verify_triggers/sql/revisions/0008/upgrade.sql",
                 "verify_triggers/sql/revisions/0009/upgrade.sql",
                 "verify_triggers/sql/triggers/sync.sql",
                 "verify_triggers/sql/queries/check.sql",
                 "verify_triggers/sql/demo/seed.sql"):
        assert name in names, name
    assert "verify-triggers = verify_triggers.cli:main" in entry_points


def test_installed_wheel_upgrades_and_checks_from_any_folder(venv, seeded, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _env(venv, DATABASE_URL=seeded.url("postgresql+asyncpg"))
    script = venv / "bin" / "verify-triggers"

    where = _run([venv / "bin" / "python", "-c", "import verify_triggers; print(verify_triggers.__file__)"],
                 cwd=work, env=env)
    assert where.code == 0 and where.out.strip().startswith(str(venv)), where.out + where.err

    version = _run([script, "--version"], cwd=work, env=env)
    assert version.out.strip() == f"verify-triggers {__version__}"

    before = _run([script, "check"], cwd=work, env=env)
    assert before.code == 1 and "NEEDS SYNC    4" in before.out, before.out + before.err

    upgrade = _run([script, "upgrade"], cwd=work, env=env)
    assert upgrade.code == 0, upgrade.out + upgrade.err
    assert "Running upgrade  -> 0001" in upgrade.out
    assert "Running upgrade 0001 -> 0002" in upgrade.out
    assert "Running upgrade 0002 -> 0003" in upgrade.out
    assert "Running upgrade 0003 -> 0004" in upgrade.out
    assert "Running upgrade 0008 -> 0009" in upgrade.out
    assert "at revision 0009 (head)" in upgrade.out

    check = _run([script, "check"], cwd=work, env=env)
    assert check.code == 0, check.out + check.err
    assert "OK: 6 row(s) agree with their matches; triggers healthy" in check.out

    status = _run([venv / "bin" / "python", "-m", "verify_triggers", "status"], cwd=work, env=env)
    assert status.code == 0, status.out + status.err
    assert "OUTDATED" not in status.out and "MISSING" not in status.out
    assert "healthy: 12 triggers, 21 functions, 2 tables installed" in status.out

    offline = _run([script, "upgrade", "--sql"], cwd=work, env=_env(venv))
    assert offline.code == 0 and "CREATE TRIGGER verify_triggers_sp_update" in offline.out
    assert list(work.iterdir()) == []  # nothing written where it ran


def test_demo_without_the_extra_says_what_to_install(venv, tmp_path):
    result = _run([venv / "bin" / "verify-triggers", "demo"], cwd=tmp_path, env=_env(venv))
    assert_one_line_error(result, 2, "pip install 'verify-triggers[demo]'")
