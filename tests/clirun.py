"""Running the ``verify-triggers`` command in tests: in process, or as a real subprocess."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from verify_triggers import cli

CONSOLE_SCRIPT = Path(sys.executable).parent / "verify-triggers"


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


def run(capsys, *args: str) -> Result:
    """``cli.main(args)`` in this process, its output captured."""
    capsys.readouterr()
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def clean_env(**extra: str) -> dict:
    """This environment without the variables the CLI reads, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA", "VERIFY_TRIGGERS_DEBUG")}
    env.update(extra)
    return env


def subprocess_run(*args: str, env: dict | None = None, module: bool = True, cwd=None,
                   timeout: float = 300) -> Result:
    """The command as a separate process: ``python -m verify_triggers`` or the console script."""
    command = [sys.executable, "-m", "verify_triggers"] if module else [str(CONSOLE_SCRIPT)]
    proc = subprocess.run(command + list(args), capture_output=True, text=True,
                          env=env if env is not None else clean_env(), cwd=cwd, timeout=timeout)
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


import pytest  # noqa: E402


@pytest.fixture(autouse=False)
def isolated_env(monkeypatch):
    """No DATABASE_URL or VERIFY_TRIGGERS_* from the caller's environment."""
    for name in ("DATABASE_URL", "VERIFY_TRIGGERS_SCHEMA", "VERIFY_TRIGGERS_DEBUG"):
        monkeypatch.delenv(name, raising=False)
