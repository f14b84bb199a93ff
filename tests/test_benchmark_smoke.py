"""The benchmark still runs: N = 1,000, one repeat, short pgbench runs, no chart.

Asserts that what the run produced is right (every approach leaves zero drift and ends in the
same state, people's verifications survive, every section is there), never how fast anything was.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark is a package at the root, not installed

from benchmarks.results import Results  # noqa: E402
from benchmarks.verdicts import targets  # noqa: E402

N = 1000
CHECK_ROWS = 3000


def test_benchmark_smoke_run(pg_server, tmp_path):
    out = tmp_path / "docs"
    raw = tmp_path / "latest.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", str(N), "--repeat", "1", "--price-repeat", "1",
         "--pgbench-transactions", "5", "--check-sheet-rows", str(CHECK_ROWS), "--startup-runs", "1",
         "--no-chart", "--out", str(out), "--json", str(raw),
         "--dsn", pg_server.url("postgres"), "--db-prefix", f"vt_bench_smoke_{os.getpid()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = Results.load(raw)
    assert results.meta.complete and results.meta.migration_head
    size = results.size(N)
    assert size.n == N and size.sheet_rows == 3 * N and size.revision == results.meta.migration_head
    assert all(state.drift == 0 for state in size.initial.values())
    human = size.initial["bare"].human_verified
    assert human > 0

    # Bulk confirm: every approach confirms all N, leaves zero drift, keeps people's
    # verifications, and all three end in the same sheet state.
    bulk = size.case("bulk_confirm", 0)
    assert set(bulk.approaches) == {"triggers", "hand_written", "naive_row_trigger"}
    for name, run in bulk.approaches.items():
        assert run.rule.drift == 0, name
        assert run.rule.human_verified == human, name
        assert len(run.seconds) == 1 and run.reads > 0, name
    assert bulk.approaches["triggers"].rows == N
    assert len({run.rule.state_hash for run in bulk.approaches.values()}) == 1
    assert bulk.approaches["triggers"].rule.verified >= N

    # At 1% and 90% confirmed: price refreshes change no verification; an import ends where
    # the INSERT plus a hand-written sync ends.
    for pct in (1, 90):
        for name, rows in (("price_sp", N), ("price_sheet", 3 * N)):
            case = size.case(name, pct)
            assert set(case.approaches) == {"triggers", "no_trigger"}, name
            for approach, run in case.approaches.items():
                assert run.rule.drift == 0 and run.rows == rows, (name, pct)
                assert run.rule.state_hash == case.before[approach].state_hash, (name, pct)
        imported = size.case("import", pct)
        assert set(imported.approaches) == {"triggers", "hand_written"}
        assert all(run.rule.drift == 0 for run in imported.approaches.values()), pct
        assert len({run.rule.state_hash for run in imported.approaches.values()}) == 1, pct
        assert imported.approaches["triggers"].rows == N

    # Single-row cycles: every pgbench run completed without failures, in every state, and
    # both databases (the sync's, and the application syncing itself) are clean after.
    states = {(r.confirmed_pct, r.statistics, r.clients) for r in size.single_row}
    assert states == {(p, s, c) for p in (1, 90) for s in ("fresh", "stale") for c in (2, 8)}
    for row in size.single_row:
        assert set(row.approaches) == {"triggers", "bare_update", "app_sync"}
        for name, bench in row.approaches.items():
            assert bench.failed == 0 and bench.cycles == row.clients * 5, (row, name)
        assert row.drift_after == {"triggers": 0, "bare": 0}
    # ... and the report says how their two databases compare with shared_buffers.
    assert set(size.databases_mb) == {"triggers", "bare"} and all(mb > 0 for mb in size.databases_mb.values())

    # Per confirm: round trips by construction; WAL where the server has pg_walinspect.
    trips = {(p.approach, p.confirmed_pct): p.round_trips for p in size.per_confirm}
    assert trips == {(a, pct): n for a, n in (("triggers", 1), ("bare_update", 1), ("app_sync", 4))
                     for pct in (1, 90)}
    for p in size.per_confirm:
        assert all(w > 0 for w in p.wal_bytes), p

    # The console script: check finds N drifted rows, sync repairs them and keeps people's.
    cli = {(r.verb, r.state): r for r in size.cli}
    assert cli["check", "clean"].exit_codes == [0] and cli["check", "clean"].drift_after == 0
    assert cli["check", "drifted"].exit_codes == [1]  # drift is a finding
    assert 0.9 * N < cli["check", "drifted"].drift_before <= N
    assert cli["sync", "drifted"].exit_codes == [0] and cli["sync", "drifted"].drift_after == 0
    assert cli["sync", "drifted"].human_verified_after == human
    assert [r.exit_codes for r in results.check.runs] == [[0, 0, 0]] * 3
    assert results.check.sheet_rows == CHECK_ROWS
    assert results.startup.check_exit_codes == [0]

    # The report: every section, a row for N, the targets listed, no chart asked for.
    markdown = (out / "benchmarks.md").read_text()
    for heading in ("## Targets", "## Bulk confirm", "## Sheet import", "## Price refresh",
                    "## Single-row confirm", "## WAL and round trips", "## verify-triggers check",
                    "## Start-up", "## Setup and machine"):
        assert heading in markdown
    assert "The rounds use two databases at once" in markdown and "`shared_buffers` of" in markdown
    assert "same, round by round (runs)" in markdown and "x (1) |" in markdown  # one repeat: one round
    assert markdown.count("| 1,000 |") >= 1 + 2 + 4 + 8 + 2 + 1 + 1
    assert "$" not in markdown.split("## Reproduce")[0]  # every template field filled in
    assert len(targets(results)) >= 19
    assert not (out / "benchmarks.png").exists()


def test_floor_runs_every_approach_and_its_one_statement_syncs_keep_the_rule(pg_server):
    """``python -m benchmarks.floor``: each approach at 2 and 8 clients, no pgbench failure,
    and every database clean after (the floors' statements and triggers, and the sync with a piece
    taken out, verify and un-verify as the rule says, or their database drifts); its databases
    are dropped."""
    prefix = f"vt_floor_smoke_{os.getpid()}"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", "--n", str(N), "--transactions", "5", "--repeat", "1",
         "--without", "token", "epoch", "sheet_trigger", "--waits",
         "--dsn", pg_server.url("postgres"), "--db-prefix", prefix],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    waits = {(int(line.split()[0]), line.split()[2]) for line in lines if " clients " in line and " waits: " in line}
    assert all("WAL per cycle: " in line and " full-page images, " in line
               for line in lines if " waits: " in line), done.stdout[-3000:]
    lines = [line for line in lines if " waits: " not in line]
    measured = {(int(line.split()[0]), line.split()[2]) for line in lines if " clients " in line}
    assert waits == measured  # --waits: one more line per approach and client count
    assert measured == {(c, a) for c in (2, 8)
                        for a in ("bare_update", "app_sync", "triggers", "floor", "floor_bucket",
                                  "statement_trigger_floor", "row_trigger_floor", "triggers_without_token",
                                  "triggers_without_epoch", "triggers_without_sheet_trigger")}
    assert all("failed 0" in line for line in lines if " clients " in line)
    for database in ("triggers", "bare", "statement_floor", "row_floor", "without_token", "without_epoch",
                     "without_sheet_trigger"):
        assert f"{database} database: drift 0" in lines, done.stdout[-3000:]
    with pg_server.connect("postgres") as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", [prefix + "%"]).fetchone()[0]
    assert left == 0


def test_instructions_counts_each_floor_database_or_names_what_it_lacks():
    """``python -m benchmarks.instructions`` at N = 1,000, one and two cycles: a count per
    database, the bare one the unit, the sync above it. Where valgrind or the server's binaries
    are missing, one line saying which, and exit 2."""
    from benchmarks.instructions import find_bindir

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "benchmarks.instructions", "--n", str(N), "--cycles", "1,2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if shutil.which("valgrind") is None or find_bindir(None) is None:
        assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and ("valgrind not found" in lines[0] or "binaries" in lines[0]), lines
        return
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = {line.split()[0]: (float(line.split()[1].rstrip("k").replace(",", "")), line.split()[2])
              for line in done.stdout.splitlines()[1:]}
    assert set(counts) == {"triggers", "bare", "statement_floor", "row_floor"}
    assert counts["bare"][1] == "1.00x"
    assert all(value > 0 for value, _ in counts.values())
    assert counts["triggers"][0] > counts["bare"][0]
