"""`current` and `history` return data to Python callers, as every verb does, and the CLI
prints it; neither imports Alembic or SQLAlchemy, and `history` loads no driver at all.

Alembic's own `history` (run here through alembic.command, which the verbs no longer call) is
the oracle for the listing the CLI prints.
"""

import io
import json
import subprocess
import sys

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from clirun import clean_env, run
from verify_triggers import resources
from verify_triggers import target as targets
from verify_triggers.migrate import commands

HEAD = "0009"


def _alembic_history() -> list[str]:
    buffer = io.StringIO()
    config = Config(stdout=buffer)
    config.set_main_option("script_location", str(resources.migrations_dir()))
    command.history(config)
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


def test_history_prints_what_alembic_history_prints(capsys):
    result = run(capsys, "history")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == _alembic_history()


def test_history_format_json_carries_what_the_table_prints(capsys):
    result = run(capsys, "history", "--format", "json")
    assert (result.code, result.err) == (0, "")
    data = result.json()
    assert data["head"] == HEAD
    assert [f"{r['previous'] or '<base>'} -> {r['revision']}{' (head)' if r['head'] else ''}, "
            f"{r['description']}" for r in data["revisions"]] == _alembic_history()


def test_current_format_json_carries_the_applied_revision_and_the_head(installed, capsys):
    result = run(capsys, "--database-url", installed.url(), "current", "--format", "json")
    assert (result.code, result.err) == (0, "")
    assert result.json() == {"schema": "app", "applied": HEAD, "head": HEAD, "at_head": True}
    table = run(capsys, "--database-url", installed.url(), "current", "--format", "table")
    assert table.out.strip() == f"{HEAD} (head)"


def test_current_format_json_before_an_install_says_nothing_is_applied(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "current", "--format", "json")
    assert (result.code, result.err) == (0, "")
    assert result.json() == {"schema": "app", "applied": None, "head": HEAD, "at_head": False}


def test_history_returns_the_revisions_newest_first():
    history = commands.history(commands.make_config(targets.resolve(None, need_url=False)))
    data = history.to_dict()
    assert data["head"] == HEAD
    assert [(r["previous"], r["revision"]) for r in data["revisions"]] == [
        ("0008", "0009"), ("0007", "0008"), ("0006", "0007"), ("0005", "0006"), ("0004", "0005"), ("0003", "0004"), ("0002", "0003"), ("0001", "0002"), (None, "0001")]
    assert [r["head"] for r in data["revisions"]] == [True] + [False] * 8
    assert data["revisions"][-1]["description"].startswith("Install the is_verified sync")
    json.dumps(data)  # plain data


def test_current_returns_the_applied_revision_on_every_kind_of_connection(installed):
    url = installed.url()
    by_url = commands.current(commands.make_config(targets.resolve(url, "app")))
    assert by_url.to_dict() == {"schema": "app", "applied": HEAD, "head": HEAD, "at_head": True}
    engine = create_engine(installed.url("postgresql+psycopg"))
    try:
        no_url = targets.resolve(None, "app", need_url=False)
        assert commands.current(commands.make_config(no_url, connection=engine)).applied == HEAD
        with engine.connect() as connection:
            assert commands.current(commands.make_config(no_url, connection=connection)).at_head
    finally:
        engine.dispose()


def test_current_before_an_install_returns_none_applied(seeded):
    current = commands.current(commands.make_config(targets.resolve(seeded.url(), "app")))
    assert (current.applied, current.at_head) == (None, False)


def _modules_loaded_by(*args: str, env: dict) -> set[str]:
    """The top-level modules a real `verify-triggers ARGS` process had loaded when it ended."""
    probe = ("import sys, atexit\n"
             "from verify_triggers import cli\n"
             "atexit.register(lambda: sys.stderr.write('\\nLOADED ' + ' '.join(sorted({m.split('.')[0] "
             "for m in sys.modules})) + '\\n'))\n"
             f"sys.exit(cli.main({list(args)!r}))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stderr.splitlines() if line.startswith("LOADED "))
    return set(line.split()[1:])


def test_history_loads_neither_alembic_nor_sqlalchemy_nor_a_driver():
    loaded = _modules_loaded_by("history", env=clean_env())
    assert not loaded & {"alembic", "sqlalchemy", "psycopg", "psycopg_binary", "psycopg_c"}, loaded


def test_current_loads_neither_alembic_nor_sqlalchemy(installed):
    loaded = _modules_loaded_by("current", env=clean_env(DATABASE_URL=installed.url()))
    assert "psycopg" in loaded  # it connected
    assert not loaded & {"alembic", "sqlalchemy"}, loaded
