"""What is measured at one size N: each write the sync follows, side by side with what a
developer would do without it, on clones of one database.

Databases: ``triggers`` (the sync, installed by ``verify-triggers upgrade``), ``bare`` (nothing
installed: the hand-written SQL, the bare UPDATE and the application syncing itself run here)
and ``naive`` (a plain FOR EACH ROW trigger, for the bulk confirm only).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from benchmarks import databases as db
from benchmarks import measure
from benchmarks import queries as q
from benchmarks import verdicts
from benchmarks.results import Case, SingleRow, Size, shared_buffers_mb

CONFIRMED_SHARES = (1, 90)
CLIENTS = (2, 8)
PER_CONFIRM_SAMPLES = 15

# case -> approach -> (database, timed statements); the first approach is the sync.
BULK_CONFIRM = {"triggers": ("triggers", [q.CONFIRM_ALL]),
                "hand_written": ("bare", [q.CONFIRM_ALL, q.HAND_VERIFY]),
                "naive_row_trigger": ("naive", [q.CONFIRM_ALL])}
IMPORT = {"triggers": ("triggers", [q.IMPORT]),
          "hand_written": ("bare", [q.IMPORT, q.HAND_VERIFY_IMPORTED])}
PRICE_SP = {"triggers": ("triggers", [q.SP_PRICE]), "no_trigger": ("bare", [q.SP_PRICE])}
PRICE_SHEET = {"triggers": ("triggers", [q.SHEET_PRICE]), "no_trigger": ("bare", [q.SHEET_PRICE])}
# approach -> (database, pgbench script)
SINGLE_ROW = {"triggers": ("triggers", "confirm_cycle.sql"),
              "bare_update": ("bare", "confirm_cycle.sql"),
              "app_sync": ("bare", "app_cycle.sql")}
SINGLE_ROW_DATABASES = ("triggers", "bare")


def set_confirmed_share(conn: psycopg.Connection, pct: int, by_hand: bool) -> None:
    """Confirmed iff id % 100 < pct, committed: the rule kept by the sync, or (``by_hand``, on a
    database without it) by the hand-written statements."""
    with conn.transaction():
        conn.execute(q.SET_CONFIRMED_SHARE, {"pct": pct})
        if by_hand:
            conn.execute(q.NO_NESTED_LOOPS)
            conn.execute(q.HAND_VERIFY, {"stamp": q.STAMP})
            conn.execute(q.HAND_UNVERIFY, {"stamp": q.STAMP})


class SizeBench:
    def __init__(self, args, server: db.Server, n: int, log: Callable[[str], None]):
        self.args, self.server, self.n, self.log = args, server, n, log
        self.repeat = args.large_repeat if n >= args.large_at else args.repeat
        # A price refresh is cheap and its target tight (1.1x), so below the large size it is
        # repeated more: one slow run moves a median of three by more than the margin.
        self.price_repeat = self.repeat if n >= args.large_at else max(self.repeat, args.price_repeat)
        # At 8 clients on two cores one pgbench run of the same code spreads by more than the
        # single-row target's margin, so where that target is judged the cells are repeated more.
        self.single_row_repeat = (max(self.repeat, args.single_row_repeat) if n == verdicts.REFERENCE_N
                                  else self.repeat)
        prefix = f"{args.db_prefix}_{n}"
        self.names = {role: f"{prefix}_{role}" for role in ("base", "triggers", "naive", "bare")}
        self.conns: dict[str, psycopg.Connection] = {}
        self.inspect: psycopg.Connection | None = None
        self.params = {"stamp": q.STAMP}

    # --- databases --------------------------------------------------------------------------

    def build(self) -> Size:
        started = time.perf_counter()
        db.create(self.server, self.names["base"])
        walinspect = db.load(self.server, self.names["base"], self.n, 3 * self.n,
                             db.SCHEMA_FILES[self.args.schema_variant], stage_import=True)
        load_s = time.perf_counter() - started
        for role in ("triggers", "naive", "bare"):
            db.create(self.server, self.names[role], template=self.names["base"])
        db.drop(self.server, self.names["base"])
        started = time.perf_counter()
        db.install_sync(self.server, self.names["triggers"])
        upgrade_s = time.perf_counter() - started
        db.install_naive(self.server, self.names["naive"])
        self.conns = {role: self.server.connect(self.names[role]) for role in ("triggers", "naive", "bare")}
        if walinspect:
            self.inspect = self.server.connect(self.names["triggers"])
        return Size(n=self.n, sheet_rows=3 * self.n, repeat=self.repeat, load_s=load_s, upgrade_s=upgrade_s,
                    functions_md5=db.functions_md5(self.conns["triggers"]),
                    revision=db.applied_revision(self.conns["triggers"]),
                    databases_mb={role: float(self.conns[role].execute(q.DATABASE_MB, {"name": self.names[role]})
                                              .fetchone()[0]) for role in SINGLE_ROW_DATABASES},
                    initial={role: measure.rule_state(conn) for role, conn in self.conns.items()})

    def drop(self, role: str | None = None) -> None:
        for name in [role] if role else list(self.conns):
            self.conns.pop(name).close()
            if not self.args.keep:
                db.drop(self.server, self.names[name])
        if role is None:
            if self.inspect:
                self.inspect.close()
            if not self.args.keep:
                db.drop(self.server, self.names["base"])

    def reset(self, role: str) -> None:
        measure.vacuum(self.conns[role], synced=role == "triggers")

    def set_share(self, role: str, pct: int) -> None:
        set_confirmed_share(self.conns[role], pct, by_hand=role == "bare")

    # --- bulk writes ----------------------------------------------------------------------------

    def settle(self) -> None:
        measure.checkpoint(next(iter(self.conns.values())))

    def case(self, name: str, pct: int, table: dict, setup=(), caps: dict | None = None,
             repeat: int | None = None) -> Case:
        before = {approach: measure.rule_state(self.conns[role]) for approach, (role, _) in table.items()}
        approaches = {
            approach: measure.capped(lambda role=role, steps=steps, cap=(caps or {}).get(approach): measure.rolled_back(
                self.conns[role], steps, self.params, setup, timeout_s=cap))
            for approach, (role, steps) in table.items()
        }
        runs = measure.interleaved(repeat or self.repeat, approaches, after=lambda a: self.reset(table[a][0]),
                                   before=self.settle)
        case = Case(name=name, confirmed_pct=pct, before=before,
                    approaches={a: measure.summarize(r) for a, r in runs.items()})
        self.log(f"   {name} at {pct}% confirmed: " + ", ".join(
            f"{a} {'>= ' if r.timed_out else ''}{r.median_s * 1000:,.1f} ms" for a, r in case.approaches.items())
            + f"; drift {[r.rule.drift if r.rule else None for r in case.approaches.values()]}")
        return case

    # --- the command line -------------------------------------------------------------------------

    def cli(self, size: Size) -> None:
        """``check`` on a clean database and on N drifted rows, and ``sync`` repairing them."""
        conn, command = self.conns["triggers"], db.console_script()
        env = self.server.env(self.names["triggers"])
        size.cli.append(measure.cli_run(command, "check", "clean", env, conn, self.repeat))
        with conn.transaction():  # N matches confirmed behind the sync's back
            conn.execute(q.REPLICA_ROLE)
            conn.execute(q.CONFIRM_ALL)
        conn.execute(q.ANALYZE_SP)
        size.cli.append(measure.cli_run(command, "check", "drifted", env, conn, self.repeat))

        def drift_again() -> None:
            with conn.transaction():
                conn.execute(q.REPLICA_ROLE)
                conn.execute(q.HAND_UNVERIFY_ALL_STAMPED, self.params)

        size.cli.append(measure.cli_run(command, "sync", "drifted", env, conn, self.repeat, between=drift_again))
        self.set_share("triggers", 0)  # back to nothing confirmed, through the sync
        conn.execute(q.VACUUM_ANALYZE)
        self.log("   cli: " + ", ".join(f"{r.verb} {r.state} {min(r.seconds):.2f} s" for r in size.cli))

    # --- one confirmed share: single-row cycles, price refresh, import, per-confirm costs ---------

    def at_share(self, size: Size, pct: int) -> None:
        roles = ("triggers", "bare")
        for role in roles:  # statistics taken while nothing is confirmed ...
            self.set_share(role, 0)
            self.conns[role].execute(q.VACUUM_ANALYZE)
        for role in roles:  # ... then pct% confirmed: stale statistics
            self.set_share(role, pct)
            self.reset(role)
        self.single_row(size, pct, "stale")
        for role in roles:
            self.conns[role].execute(q.ANALYZE)
        self.single_row(size, pct, "fresh")
        size.cases.append(self.case("price_sp", pct, PRICE_SP, repeat=self.price_repeat))
        size.cases.append(self.case("price_sheet", pct, PRICE_SHEET, repeat=self.price_repeat))
        size.cases.append(self.case("import", pct, IMPORT, setup=[q.IMPORT_CLEAR]))
        self.per_confirm(size, pct)

    def single_row(self, size: Size, pct: int, stats: str) -> None:
        if not self.args.pgbench:
            return
        env = self.server.env()
        for clients in CLIENTS:
            approaches = {
                name: (lambda role=role, script=script: measure.pgbench(
                    self.args.pgbench, self.server.libpq_args(), env, self.names[role], script, self.n, pct,
                    clients, self.args.pgbench_seconds, self.args.pgbench_transactions))
                for name, (role, script) in SINGLE_ROW.items()
            }
            runs = measure.interleaved(self.single_row_repeat, approaches,
                                       after=lambda a: self.reset(SINGLE_ROW[a][0]),
                                       before=self.settle)
            row = SingleRow(confirmed_pct=pct, statistics=stats, clients=clients,
                            approaches={a: measure.pgbench_summary(r) for a, r in runs.items()},
                            drift_after={role: measure.rule_state(self.conns[role]).drift
                                         for role in SINGLE_ROW_DATABASES})
            size.single_row.append(row)
            self.log(f"   single-row {pct}% confirmed, {stats} statistics, {clients} clients: "
                     + ", ".join(f"{a} {p.median_ms:.3f} ms" for a, p in row.approaches.items())
                     + f" -> triggers {row.ratio('triggers', 'bare_update'):.2f}x bare")

    def per_confirm(self, size: Size, pct: int) -> None:
        """WAL and round trips of one confirm of an unconfirmed match (id % 100 = 99)."""
        samples = min(PER_CONFIRM_SAMPLES, self.n // 100)
        ids = [(j * (self.n // 100) // samples) * 100 + 99 for j in range(samples)]
        for approach, (role, _) in SINGLE_ROW.items():
            size.per_confirm.append(measure.per_confirm(self.conns[role], self.inspect, approach, pct, ids))
            self.reset(role)

    def run(self) -> Size:
        self.log(f"== N = {self.n:,} matches, {3 * self.n:,} sheet rows, {self.repeat} repeat(s)")
        size = self.build()
        self.log(f"   built: load {size.load_s:.1f} s, verify-triggers upgrade {size.upgrade_s:.1f} s")
        buffers = shared_buffers_mb(self.args.settings)
        if buffers and sum(size.databases_mb.values()) > buffers:
            self.log(f"   note: the single-row rounds' two databases hold {sum(size.databases_mb.values()):,.0f} MB,"
                     f" more than shared_buffers ({buffers:,} MB): their ratios include reads from the OS cache")
        try:
            size.cases.append(self.case("bulk_confirm", 0, BULK_CONFIRM,
                                        caps={"naive_row_trigger": self.args.naive_timeout}))
            self.drop("naive")
            for pct in CONFIRMED_SHARES:
                self.at_share(size, pct)
            # Last: its committed drift and repair would leave the sync's clone alone with a
            # bigger table and indexes, and every later case measured against a leaner bare one.
            self.set_share("triggers", 0)
            self.conns["triggers"].execute(q.VACUUM_ANALYZE)
            self.cli(size)
        finally:
            self.drop()
        return size
