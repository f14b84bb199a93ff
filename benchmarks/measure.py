"""How a figure is taken: timed and rolled back, interleaved, under pgbench, from the WAL, by the CLI.

Other work shares the machine, so every comparison is made side by side: the approaches of a
case run in turn within each repeat (the order rotating), and the verdicts are ratios of
medians. Each bulk write runs in a transaction that judges the rule inside it and is rolled
back, then the tables are vacuumed, so every repeat starts from the same state.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks import queries as q
from benchmarks.results import CliRun, Pgbench, PerConfirm, RuleState, Run

HERE = Path(__file__).resolve().parent
CLI_TIMEOUT_S = 900


def rule_state(conn: psycopg.Connection) -> RuleState:
    """The rule, judged in one pass over each table (hash joins, whatever the statistics say)."""
    with conn.transaction():
        conn.execute(q.NO_NESTED_LOOPS)
        unverified, stale, human, verified, state = conn.execute(
            q.DRIFT, {"stamp": q.STAMP, "human": q.HUMAN}).fetchone()
    return RuleState(drift=unverified + stale, unverified_confirmed=unverified, stale_stamps=stale,
                     human_verified=human, verified=verified, state_hash=int(state))


def vacuum(conn: psycopg.Connection, synced: bool) -> None:
    for statement in q.VACUUM_TABLES:
        conn.execute(statement)
    if synced:
        conn.execute(q.VACUUM_LOCK_TABLE)


def checkpoint(conn: psycopg.Connection) -> None:
    """Every timed run starts just after a checkpoint, so each pays the full-page images of the
    pages it touches first. Without it, whether a checkpoint fell inside a run decided up to a
    third of a bulk write's time (its WAL), whichever approach it was."""
    conn.execute(q.CHECKPOINT)


def rolled_back(conn: psycopg.Connection, steps: Sequence[sql.Composable], params: dict,
                setup: Sequence[sql.Composable] = (), timeout_s: float | None = None) -> dict:
    """Run ``steps`` timed inside a transaction (after untimed ``setup``), judge, roll back.

    With ``timeout_s``, the steps are cancelled after that long and the run counts as timed out.
    """
    try:
        with conn.transaction(force_rollback=True):
            for statement in setup:
                conn.execute(statement, params)
            if timeout_s:
                conn.execute(q.SET_LOCAL_STATEMENT_TIMEOUT, {"ms": str(int(timeout_s * 1000))})
            reads_before = conn.execute(q.READS).fetchone()[0]
            rows = 0
            start = time.perf_counter()
            for statement in steps:
                rows += max(conn.execute(statement, params).rowcount, 0)
            seconds = time.perf_counter() - start
            if timeout_s:
                conn.execute(q.SET_LOCAL_STATEMENT_TIMEOUT, {"ms": "0"})
            reads = conn.execute(q.READS).fetchone()[0] - reads_before
            locks = conn.execute(q.OWN_LOCKS).fetchone()[0]
            rule = rule_state(conn)
    except psycopg.errors.QueryCanceled:
        return {"seconds": timeout_s, "rows": 0, "reads": 0, "locks": 0, "rule": None, "timed_out": True}
    return {"seconds": seconds, "rows": rows, "reads": reads, "locks": locks, "rule": rule, "timed_out": False}


def capped(run: Callable[[], dict]) -> Callable[[], dict]:
    """Once a run has timed out, the later repeats repeat its result instead of waiting again."""
    first: list[dict] = []

    def once() -> dict:
        if first and first[0]["timed_out"]:
            return first[0]
        result = run()
        first[:] = [result]
        return result

    return once


def interleaved(repeat: int, approaches: dict[str, Callable[[], object]],
                after: Callable[[str], None], before: Callable[[], None] | None = None) -> dict[str, list]:
    """Every approach once per repeat, the order rotating; ``after`` resets an approach's database,
    ``before`` settles the server ahead of each run."""
    names = list(approaches)
    runs: dict[str, list] = {name: [] for name in names}
    for rep in range(repeat):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            if before:
                before()
            runs[name].append(approaches[name]())
            after(name)
    return runs


def summarize(runs: list[dict]) -> Run:
    judged = [r for r in runs if not r["timed_out"]]
    return Run(seconds=[r["seconds"] for r in runs], rows=runs[-1]["rows"],
               rule=judged[-1]["rule"] if judged else None,
               same_state_every_repeat=len({r["rule"].state_hash for r in judged}) <= 1,
               reads=runs[-1]["reads"], locks_held=runs[-1]["locks"],
               timed_out=any(r["timed_out"] for r in runs))


# --- pgbench --------------------------------------------------------------------------------

def _pgbench_figures(output: str) -> dict:
    found = {}
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("latency average ="):
            found["latency_ms"] = float(line.split("=")[1].split()[0])
        elif line.startswith("tps =") and "tps" not in found:
            found["tps"] = float(line.split("=")[1].split()[0])
        elif line.startswith("number of transactions actually processed:"):
            found["cycles"] = int(line.split(":")[1].split("/")[0].split()[0])
        elif line.startswith("number of failed transactions:"):
            found["failed"] = int(line.split(":")[1].split()[0])
    return found


def pgbench(binary: str, libpq_args: list[str], env: dict, dbname: str, script: str, n: int, pct: int,
            clients: int, seconds: int | None, transactions: int | None) -> dict:
    """One pgbench run of ``benchmarks/pgbench/<script>`` (prepared statements)."""
    cmd = [binary, "--no-vacuum", "--protocol=prepared", "--client", str(clients),
           "--jobs", str(min(clients, os.cpu_count() or 1)),
           "--define", f"n={n}", "--define", f"pct={pct}", "--file", str(HERE / "pgbench" / script)]
    cmd += ["--transactions", str(transactions)] if transactions else ["--time", str(seconds)]
    done = subprocess.run(cmd + libpq_args + [dbname], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    found = _pgbench_figures(done.stdout)
    if "latency_ms" not in found:
        raise RuntimeError(f"could not read pgbench's output:\n{done.stdout}\n{done.stderr}")
    return found


@contextmanager
def waits(connect: Callable[[], psycopg.Connection], dbname: str, every_s: float = 0.1) -> Iterator[Counter]:
    """Samples what the database's active client backends wait on while the block runs: the
    counter fills with one count per backend per sample, "CPU" where it waits on nothing."""
    seen: Counter = Counter()
    stop = threading.Event()

    def sample() -> None:
        with connect() as conn:
            while not stop.wait(every_s):
                seen.update(row[0] for row in conn.execute(q.ACTIVE_WAITS, {"name": dbname}))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()


def wait_shares(seen: Counter, top: int = 4) -> str:
    """The commonest waits as shares of all samples: "LWLock:WALWrite 61%, CPU 14%, ..."."""
    total = sum(seen.values())
    if not total:
        return "no active backend sampled"
    return ", ".join(f"{name} {count / total:.0%}" for name, count in seen.most_common(top))


def pgbench_summary(runs: list[dict]) -> Pgbench:
    return Pgbench(latency_ms=[r["latency_ms"] for r in runs], tps=[r["tps"] for r in runs],
                   cycles=sum(r.get("cycles", 0) for r in runs), failed=sum(r.get("failed", 0) for r in runs))


# --- one confirm: WAL bytes and round trips -------------------------------------------------
# A confirm as each approach sends it, one statement per round trip; the first statement
# returns the transaction id. The unconfirm puts the match back.
CONFIRM = {
    "triggers": ([q.CONFIRM_ONE], [q.UNCONFIRM_ONE]),
    "bare_update": ([q.CONFIRM_ONE], [q.UNCONFIRM_ONE]),
    "app_sync": ([q.BEGIN, q.CONFIRM_ONE, q.APP_VERIFY_ONE, q.COMMIT],
                 [q.BEGIN, q.UNCONFIRM_ONE, q.APP_UNVERIFY_ONE, q.COMMIT]),
}
_SUBXACTS = re.compile(r"subxacts:((?: \d+)+)")


def _send(conn: psycopg.Connection, statements: list, match_id: int) -> str | None:
    xid = None
    for statement in statements:
        cursor = conn.execute(statement, {"id": match_id, "stamp": q.STAMP})
        if xid is None and cursor.description:
            xid = cursor.fetchone()[0]
    return xid


def _wal_of(inspect: psycopg.Connection, start: str, end: str, xid: str) -> tuple[int, int]:
    """Bytes and full-page-image bytes of the records of transaction ``xid`` (and its subtransactions)."""
    records = inspect.execute(q.WAL_RECORDS, {"start": start, "end": end}).fetchall()
    mine = {xid}
    for rec_xid, record_type, _, _, description in records:
        if rec_xid == xid and record_type.startswith("COMMIT"):
            found = _SUBXACTS.search(description or "")
            if found:
                mine |= set(found.group(1).split())
    picked = [(length, fpi) for rec_xid, _, length, fpi, _ in records if rec_xid in mine]
    return sum(p[0] for p in picked), sum(p[1] for p in picked)


def per_confirm(conn: psycopg.Connection, inspect: psycopg.Connection | None, approach: str, pct: int,
                match_ids: list[int]) -> PerConfirm:
    """WAL of one confirm, per sample: a warm-up cycle on the match first (so the pages it
    touches have had their full-page image since the last checkpoint), then one confirm whose
    own WAL records are summed, then the unconfirm."""
    confirm, unconfirm = CONFIRM[approach]
    result = PerConfirm(approach=approach, confirmed_pct=pct, round_trips=len(confirm))
    if inspect is None:
        return result
    for match_id in match_ids:
        _send(conn, confirm, match_id)
        _send(conn, unconfirm, match_id)
        start = conn.execute(q.WAL_INSERT_LSN).fetchone()[0]
        xid = _send(conn, confirm, match_id)
        end = conn.execute(q.WAL_FLUSH_LSN).fetchone()[0]
        _send(conn, unconfirm, match_id)
        wal, fpi = _wal_of(inspect, start, end, xid)
        result.wal_bytes.append(wal)
        result.fpi_bytes.append(fpi)
    return result


# --- the console script -----------------------------------------------------------------------

def timed_command(command: list[str], env: dict) -> tuple[float, int, str]:
    """Wall time of a subprocess, start-up included; its exit code and the tail of its output."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -1, f"timed out after {CLI_TIMEOUT_S} s"
    return time.perf_counter() - start, done.returncode, (done.stdout + done.stderr).strip()[-300:]


def cli_run(command: list[str], verb: str, state: str, env: dict, conn: psycopg.Connection,
            repeat: int, between: Callable[[], None] | None = None) -> CliRun:
    """``repeat`` runs of one verb, the rule judged after each; ``between`` restores the state
    a run changed (after a repair, the drift) before the next."""
    before = rule_state(conn)
    seconds, codes, afters = [], [], []
    for _ in range(repeat):
        spent, code, _ = timed_command(command + [verb, "--format", "json"], env)
        seconds.append(spent)
        codes.append(code)
        afters.append(rule_state(conn))
        if between:
            between()
    return CliRun(verb=verb, state=state, seconds=seconds, exit_codes=codes, drift_before=before.drift,
                  drift_after=max(a.drift for a in afters),
                  human_verified_after=min(a.human_verified for a in afters))


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
