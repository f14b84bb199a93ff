"""The benchmark still runs: N = 1,000, one repeat, short pgbench runs, no chart.

Asserts what the run produced is right (every approach leaves zero drift, every result
row exists, people's verifications survive), never how fast anything was.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 1000


def test_benchmark_smoke_run(pg_server, tmp_path):
    out = tmp_path / "docs"
    raw = tmp_path / "latest.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--sizes", str(N), "--repeat", "1",
         "--pgbench-transactions", "5", "--no-chart", "--out", str(out), "--json", str(raw),
         "--dsn", pg_server.url("postgres"), "--db-prefix", f"vt_bench_smoke_{os.getpid()}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    document = json.loads(raw.read_text())
    result = document["results"][str(N)]
    assert result["n"] == N and result["sheet_rows"] == 3 * N
    for role, state in result["initial"].items():
        assert state["drift"] == 0, role
    human = result["initial"]["bare"]["human_verified"]
    assert human > 0

    # (a) every approach confirms all N matches, leaves zero drift, keeps people's
    # verifications, and all three end in the same sheet state.
    bulk = result["bulk_confirm"]
    assert set(bulk) == {"triggers", "hand_written", "naive_row_trigger"}
    for name, summary in bulk.items():
        assert summary["drift"] == 0, name
        assert summary["human_verified"] == human, name
        assert len(summary["runs_s"]) == 1, name
    assert bulk["triggers"]["rows"] == N
    assert bulk["naive_row_trigger"]["rows"] == N
    assert len({summary["state_hash"] for summary in bulk.values()}) == 1
    assert bulk["triggers"]["verified"] >= N
    assert bulk["triggers"]["locks_held"]["advisory"] == 1  # the epoch, shared (0002)
    assert 0 < bulk["triggers"]["bucket_rows_locked"] <= 1024
    assert bulk["triggers"]["sampled_peak_locks"] > 0

    # (b) price updates change no verification (none, then 90% of the matches confirmed).
    for key, rows in (("unrelated_sp_price", N), ("unrelated_sheet_price", 3 * N),
                      ("unrelated_sp_price_90", N), ("unrelated_sheet_price_90", 3 * N)):
        expected = {"triggers", "no_triggers"} | ({"naive_row_trigger"} if not key.endswith("_90") else set())
        assert set(result[key]) == expected, key
        for name, summary in result[key].items():
            assert summary["drift"] == 0, (key, name)
            assert summary["rows"] == rows, (key, name)
            assert summary["human_verified"] == human, (key, name)

    # (c) every pgbench run completed without failures and the synced databases are clean.
    single = result["single_row"]
    assert set(single) == {"1", "90"}
    for pct, by_pct in single.items():
        assert set(by_pct["clients"]) == {"2", "8"}
        for clients, approaches in by_pct["clients"].items():
            assert set(approaches) == {"triggers", "bare_update", "app_sync"}
            for name, summary in approaches.items():
                assert summary["failed"] == 0, (pct, clients, name)
                assert summary["cycles"] == int(clients) * 5, (pct, clients, name)
                assert summary["median_latency_ms"] > 0
        assert by_pct["state_before"]["triggers"]["drift"] == 0
        assert by_pct["state_after"]["triggers"]["drift"] == 0
        assert by_pct["state_after"]["bare"]["drift"] == 0  # the application's own sync
        assert by_pct["state_after"]["triggers"]["human_verified"] == human

    # (d) the sync repairs all N drifted rows; the check sees them.
    check = result["check_sync"]
    for name in ("check_query_clean", "sync_function_clean", "check_query_drifted", "sync_function_drifted"):
        assert name in check
    assert check["sync_function_drifted"]["drift"] == 0
    assert check["sync_function_drifted"]["human_verified"] == human
    # N pairs confirmed behind the triggers' back; the few a person had verified are no drift
    assert 0.9 * N < check["check_query_drifted"]["drift"] <= N
    if "cli_check_clean" in check:  # `verify-triggers check` / `sync` timed through the CLI
        assert check["cli_check_clean"]["drift"] == 0
        assert set(check["cli_check_clean"]["exit_codes"]) == {0}
        assert check["cli_check_drifted"]["drift_before"] > 0
        assert set(check["cli_check_drifted"]["exit_codes"]) == {1}  # drift is a finding
        assert check["cli_sync_drifted"]["drift"] == 0
        assert set(check["cli_sync_drifted"]["exit_codes"]) == {0}
        assert check["cli_sync_drifted"]["human_verified"] == human

    # (e) bulk statements on a connection that ran a single-row write first: same end state.
    warm = result["warm_session"]["triggers"]
    assert set(warm) == {"sp_price_after_single_row", "confirm_after_single_row",
                         "sheet_price_after_single_row"}
    for name, summary in warm.items():
        if not summary["timed_out"]:
            assert summary["drift"] == 0, name

    # The report: every section and a row for N, the targets listed, no chart asked for.
    markdown = (out / "benchmarks.md").read_text()
    for heading in ("## Targets", "## (a) Bulk confirm", "## (b) Bulk update", "## (c) Single-row",
                    "## (e) Bulk statements on a connection", "## (d) check and sync", "## Locks of a bulk update", "## Machine", "## Reproduce"):
        assert heading in markdown
    assert markdown.count("| 1,000 |") >= 1 + 2 + 4 + 3 + 1 + 1 + 1
    assert document["targets"]
    assert not (out / "benchmarks.png").exists()
