"""Print what each write path reads, per matrix cell: ``python -m tests.work_report``.

The cells and counts of tests/test_sync_work_is_bounded.py (tests/work.py), for the
revision the migrations install (head by default, ``--revision`` for another), on the
application's schema and on the lean one, as Markdown tables. Run from the repository
root with the test dependencies installed; the server is the tests' own
(``VERIFY_TRIGGERS_TEST_SERVER``, else 127.0.0.1:5432, else an embedded PostgreSQL), or
``--dsn``. Cells over the test's bounds are marked; the table is a measurement, it fails
nothing (exit status 0 unless the run itself fails).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import pgserver  # noqa: E402
import test_sync_work_is_bounded as bounded  # noqa: E402
import work  # noqa: E402

STATS_SHORT = {"stats_before": "stats before", "stats_after": "stats after", "stats_emptied": "emptied stats"}
SESSIONS_SHORT = {"fresh_session": "fresh", "warm_session": "warm"}


def cell_text(measured: work.Measured) -> str:
    if measured.timeout:
        return f"cancelled after {work.STATEMENT_TIMEOUT} ✗"
    reads = measured.reads
    text = (f"{reads.rows:,} / {reads.index_entries:,} [{reads.table('supplier_products').rows:,}]"
            f" {{{reads.plan_rows:,}}}")
    if measured.drift or measured.rowcount != work.paths(bounded.SIZE)[measured.cell.path].rowcount:
        text += f" (drift {measured.drift}, wrote {measured.rowcount})"
    return text + (" ✗" if bounded.over_bounds(measured) else "")


def table(results: dict, indexes: str, names: list) -> list[str]:
    columns = [(st, se) for st in work.STATS for se in work.SESSIONS]
    lines = ["| path | N | bound: rows, entries [matches] {plan rows} | "
             + " | ".join(f"{STATS_SHORT[st]}, {SESSIONS_SHORT[se]}" for st, se in columns) + " |",
             "|---|--:|--:|" + "--:|" * len(columns)]
    for name in names:
        path = work.paths(bounded.SIZE)[name]
        limits = bounded.bounds(path.n, path.bumps_epoch)
        row = [name, f"{path.n:,}",
               f"{limits['rows read']:,} [{limits['supplier_products rows read']:,}]"
               f" {{{limits['rows handled by plan nodes']:,}}}"]
        row += [cell_text(results[work.Cell(name, indexes, st, se)]) for st, se in columns]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def git_head() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=TESTS.parent,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sql", "migrations"], cwd=TESTS.parent,
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + (" (uncommitted changes in sql/ or migrations/)" if dirty else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.work_report", description=__doc__.split("\n")[0])
    parser.add_argument("--schema-variant", default="app,lean",
                        help="comma-separated: app (tests/fixtures/schema.sql), lean (schema_lean.sql); default both")
    parser.add_argument("--revision", default="head", help="revision to install (default head)")
    parser.add_argument("--paths", default="", help="comma-separated write paths (default all)")
    parser.add_argument("--dsn", default=None, help="server (superuser); default: the tests' server")
    parser.add_argument("--out", default=None, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.schema_variant.split(",") if v.strip()]
    for variant in variants:
        if variant not in work.SCHEMA_FILES:
            parser.error(f"unknown schema variant {variant!r}")
    names = [p.strip() for p in args.paths.split(",") if p.strip()] or list(work.paths(bounded.SIZE))
    for name in names:
        if name not in work.paths(bounded.SIZE):
            parser.error(f"unknown path {name!r}; known: {', '.join(work.paths(bounded.SIZE))}")

    if args.dsn:
        os.environ["VERIFY_TRIGGERS_TEST_SERVER"] = args.dsn
    server = pgserver.start()
    started = time.perf_counter()
    size = bounded.SIZE
    out = []
    try:
        with server.connect() as conn:
            version = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
        for variant in variants:
            templates = work.Templates(server, f"vt_work_report_{os.getpid()}", variant, size, args.revision)
            try:
                results = {}
                for name in names:
                    for cell in work.matrix(name):
                        results[cell] = work.run_in_copy(templates, cell, f"vt_work_report_{os.getpid()}_cell")
                        print(f"  {variant}: {cell.id}: {cell_text(results[cell])}", file=sys.stderr, flush=True)
                installed = sorted(set(templates.installed.values()))
            finally:
                templates.drop()
            schema_file = work.SCHEMA_FILES[variant].relative_to(TESTS.parent)
            for indexes, meaning in work.INDEXES.items():
                out += ["", f"### {variant} schema ({schema_file}), {indexes}: {meaning}",
                        f"revision installed: {', '.join(installed)}", ""]
                out += table(results, indexes, names)
    finally:
        pgserver.stop(server)
    header = [
        f"Measured with `python -m tests.work_report {' '.join(sys.argv[1:] if argv is None else argv)}`".rstrip()
        + f" at commit {git_head()} on {version}, {time.strftime('%Y-%m-%d')}, in {time.perf_counter() - started:.0f} s.",
        "",
        f"Data: {size.matches:,} matches (one per product), {size.suppliers} suppliers, three sheet rows per"
        f" product; bulk paths write N = {size.n:,} rows; shares of confirmed matches as in each path's name"
        " (renames at 90%). Each cell: rows read from the four tables (`seq_tup_read + idx_tup_fetch`) /"
        " index entries read [rows of supplier_products read] {rows handled by the plan nodes of every"
        " statement: returned or filtered out, times loops}, by the statement and its triggers, in its"
        f" own transaction. ✗: over a bound of tests/test_sync_work_is_bounded.py (rows and entries <="
        f" {bounded.READS_PER_ROW}·N + {bounded.FIXED}; supplier_products rows and entries <="
        f" {bounded.MATCH_READS_PER_ROW}·N + {bounded.MATCH_READS_FIXED}; plan rows <="
        f" {bounded.PLAN_ROWS_PER_ROW}·N + {bounded.PLAN_ROWS_FIXED}, plus {bounded.EPOCH_PLAN_ROWS:,}"
        " for a rename's epoch). Columns: statistics taken while"
        " nothing was confirmed (before) or after the confirmations and the change (after; for an unconfirm,"
        " while its matches were still confirmed), or emptied (every table's rows deleted, analyzed, and"
        " inserted again: the planner takes each table for empty); a fresh session, or one past"
        f" {work.WARM_RUNS} runs of the same kind of write (warm).",
    ]
    text = "\n".join(header + out) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
