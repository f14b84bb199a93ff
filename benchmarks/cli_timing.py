"""The console script as a monitor runs it: ``check`` at a fixed number of sheet rows, and start-up.

Both are wall times of the installed ``verify-triggers`` in a subprocess, Python start-up
included, because that is what a monitor running ``check`` every minute pays. Start-up is
judged against ``python -c 'import psycopg'``: the floor of any verb that connects.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from benchmarks import databases as db
from benchmarks import measure
from benchmarks import queries as q
from benchmarks.results import CheckAtScale, Startup
from benchmarks.scenarios import set_confirmed_share

CHECK_SHARES = (0, 50, 90)


def check_at_scale(args, server: db.Server, sheet_rows: int, repeat: int,
                   log: Callable[[str], None]) -> CheckAtScale:
    """``verify-triggers check`` with 0%, 50% and 90% of the matches confirmed (by the sync)."""
    matches = math.ceil(sheet_rows / 3)
    name = f"{args.db_prefix}_check"
    db.create(server, name)
    try:
        db.load(server, name, matches, sheet_rows, db.SCHEMA_FILES[args.schema_variant], stage_import=False)
        db.install_sync(server, name)
        result = CheckAtScale(sheet_rows=sheet_rows, matches=matches)
        with server.connect(name) as conn:
            for pct in CHECK_SHARES:
                set_confirmed_share(conn, pct, by_hand=False)
                conn.execute(q.VACUUM_ANALYZE)
                run = measure.cli_run(db.console_script(), "check", f"{pct}% confirmed", server.env(name),
                                      conn, repeat)
                result.runs.append(run)
                log(f"   check at {sheet_rows:,} sheet rows, {pct}% confirmed: "
                    + ", ".join(f"{s:.2f}" for s in run.seconds) + f" s, exit {run.exit_codes}")
        return result
    finally:
        if not args.keep:
            db.drop(server, name)


def startup(args, server: db.Server, runs: int, log: Callable[[str], None]) -> Startup:
    """The floor, ``--version`` and ``check`` (seed database, sync installed), interleaved."""
    name = f"{args.db_prefix}_seed"
    db.create(server, name)
    try:
        db.load_seed(server, name, db.SCHEMA_FILES[args.schema_variant])
        db.install_sync(server, name)
        env = server.env(name)
        script = db.console_script()
        commands = {"floor": [sys.executable, "-c", "import psycopg"],
                    "version": script + ["--version"],
                    "check": script + ["check"]}
        for command in commands.values():  # warm the file cache; not counted
            measure.timed_command(command, env)
        timed = measure.interleaved(runs, {k: (lambda c=c: measure.timed_command(c, env))
                                           for k, c in commands.items()}, after=lambda _: None)
        result = Startup(floor_s=[t[0] for t in timed["floor"]], version_s=[t[0] for t in timed["version"]],
                         check_s=[t[0] for t in timed["check"]], check_exit_codes=[t[1] for t in timed["check"]])
        log(f"   start-up, {runs} runs each: floor {min(result.floor_s):.3f} s, --version "
            f"{min(result.version_s):.3f} s, check {min(result.check_s):.3f} s (minimums)")
        return result
    finally:
        if not args.keep:
            db.drop(server, name)
