"""What capturing the changed rows costs, before any sync: ``python -m benchmarks.capture_cost``.

The installed UPDATE trigger on supplier_products is statement-level with transition
tables, so every updated row is copied (old and new) even when only a price changed. This
experiment measures that floor against the alternative the report recommends (a row
trigger restricted by ``UPDATE OF`` and ``WHEN``, queueing changed rows in a temporary
table), both with no-op sync functions, on the benchmark's data, interleaved, medians:

    python -m benchmarks.capture_cost --n 100000 --repeat 5

It prints a table and writes benchmarks/results/capture_cost.json; docs/benchmarks.md
is not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from psycopg import sql

from benchmarks import queries as q
from benchmarks import run

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "no_trigger": None,
    "transition_tables_noop": HERE / "prototypes" / "capture_transition_noop.sql",
    "row_queue_noop": HERE / "prototypes" / "capture_rowqueue.sql",
}
QUEUE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS verify_triggers_queue "
    "(old_product_id integer, old_supplier_id integer, old_confirmed boolean, "
    "new_product_id integer, new_supplier_id integer, new_confirmed boolean) ON COMMIT DELETE ROWS"
)
STATEMENTS = {"confirm every unconfirmed match": q.CONFIRM_ALL, "supplier_price of all N": q.SP_PRICE}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capture_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dsn", default=os.environ.get("VERIFY_TRIGGERS_BENCH_DSN", run.DEFAULT_DSN))
    parser.add_argument("--json", default=str(HERE / "results" / "capture_cost.json"))
    args = parser.parse_args(argv)
    server = run.Server(args.dsn)
    prefix = f"vt_bench_capture_{os.getpid()}"
    names = {v: f"{prefix}_{v}" for v in VARIANTS}
    base = f"{prefix}_base"
    conns = {}
    try:
        run.create_database(server, base)
        run.load_base(server, base, args.n)
        for variant, path in VARIANTS.items():
            run.create_database(server, names[variant], template=base)
            if path:
                run.apply_sql_file(server, names[variant], path)
        run.drop_database(server, base)
        for variant in VARIANTS:
            conns[variant] = server.connect(names[variant])
            conns[variant].execute(QUEUE)
        results = {}
        for pct in (0, 90):
            if pct:
                for conn in conns.values():
                    with conn.transaction():
                        conn.execute(q.SET_CONFIRMED_SHARE, {"pct": pct})
                    conn.execute(q.VACUUM_ANALYZE)
            for label, statement in STATEMENTS.items():
                approaches = {v: (lambda c=conns[v], s=statement: run.run_rolled_back(c, [s]))
                              for v in VARIANTS}
                results[f"{label}, {pct}% confirmed before"] = run.interleaved(
                    args.repeat, approaches, after=lambda v: run.vacuum(conns[v], with_lock_table=False))
        print(f"capture cost at N = {args.n:,} ({args.repeat} interleaved runs, medians; ratio to no trigger)")
        for label, by_variant in results.items():
            base_s = by_variant["no_trigger"]["median_s"]
            cells = ", ".join(f"{v} {r['median_s'] * 1000:,.0f} ms ({r['median_s'] / base_s:.2f}x)"
                              for v, r in by_variant.items())
            print(f"  {label}: {cells}")
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"n": args.n, "repeat": args.repeat, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
                                   "load_average": os.getloadavg(), "results": results}, indent=1) + "\n")
        print(f"wrote {out}")
    finally:
        for conn in conns.values():
            conn.close()
        for name in list(names.values()) + [base]:
            run.drop_database(server, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
