"""The targets, and each one's measured value from a run's results.

A target is a limit on a ratio of two approaches measured side by side in the same run (or,
for ``check``, on seconds of wall time), so that load from other work on the machine cancels
out. A target the run did not reach (a size not run, pgbench missing) reads "not measured".
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.results import Results, median

REFERENCE_N = 100_000
LARGE_N = 1_000_000
BULK_CONFIRM = {REFERENCE_N: 1.3, LARGE_N: 1.4}  # triggers / hand-written
IMPORT = 1.3  # triggers / the same INSERT plus a hand-written sync
PRICE_REFRESH = 1.1  # triggers / no trigger
SINGLE_ROW = {2: 2.0, 8: 2.5}  # triggers / bare UPDATE, by pgbench clients
CHECK_S = 2.0  # verify-triggers check wall time at CHECK_SHEET_ROWS
CHECK_SHEET_ROWS = 1_000_000
VERSION_STARTUP = 0.75  # verify-triggers --version / python -c 'import psycopg'
CHECK_STARTUP = 2.0  # verify-triggers check on the seed database / the same floor

PRICE_COLUMNS = {"price_sp": "supplier_products.supplier_price", "price_sheet": "product_supplier_sheets.price_cny"}


@dataclass
class Verdict:
    target: str
    limit: float
    measured: float | None
    unit: str = "x"  # x: a ratio; s: seconds

    @property
    def ok(self) -> bool | None:
        return None if self.measured is None else self.measured <= self.limit

    @property
    def status(self) -> str:
        return {None: "not measured", True: "met", False: "MISSED"}[self.ok]

    def value(self, measured: float | None = None) -> str:
        value = self.measured if measured is None else measured
        if value is None:
            return "-"
        # the measured value (not the limit) that rounds to its limit gets a third decimal, so
        # that "1.10x MISSED" reads as 1.103x
        is_measure = measured is None
        close = is_measure and f"{value:.2f}" == f"{self.limit:.2f}" and value != self.limit
        return f"{value:.{3 if close else 2}f}{'x' if self.unit == 'x' else ' s'}"


def targets(results: Results) -> list[Verdict]:
    out = []
    for n, limit in BULK_CONFIRM.items():
        case = results.size(n).case("bulk_confirm", 0) if results.size(n) else None
        out.append(Verdict(f"bulk confirm of {n:,} matches / hand-written SQL", limit,
                           case.ratio("triggers", "hand_written") if case else None))
    ref = results.size(REFERENCE_N)
    for pct in (1, 90):
        case = ref.case("import", pct) if ref else None
        out.append(Verdict(f"sheet import of {REFERENCE_N:,} rows, {pct}% of matches confirmed / "
                           "the same INSERT plus a hand-written sync", IMPORT,
                           case.ratio("triggers", "hand_written") if case else None))
    for name, column in PRICE_COLUMNS.items():
        for pct in (1, 90):
            case = ref.case(name, pct) if ref else None
            out.append(Verdict(f"price refresh ({column}) at N = {REFERENCE_N:,}, {pct}% confirmed / "
                               "no trigger", PRICE_REFRESH, case.ratio("triggers", "no_trigger") if case else None))
    for pct in (1, 90):
        for stats in ("fresh", "stale"):
            for clients, limit in SINGLE_ROW.items():
                row = next((r for r in (ref.single_row if ref else []) if r.confirmed_pct == pct
                            and r.statistics == stats and r.clients == clients), None)
                out.append(Verdict(f"single-row confirm (pgbench) at N = {REFERENCE_N:,}, {pct}% confirmed, "
                                   f"{stats} statistics, {clients} clients / bare UPDATE", limit,
                                   row.ratio("triggers", "bare_update") if row else None))
    check = results.check if results.check and results.check.sheet_rows >= CHECK_SHEET_ROWS else None
    for run in (check.runs if check else []):
        out.append(Verdict(f"verify-triggers check at {check.sheet_rows:,} sheet rows, {run.state} (wall time)",
                           CHECK_S, median(run.seconds), unit="s"))
    if not check:
        out.append(Verdict(f"verify-triggers check at {CHECK_SHEET_ROWS:,} sheet rows (wall time)", CHECK_S,
                           None, unit="s"))
    floor = median(results.startup.floor_s) if results.startup else None
    out.append(Verdict("verify-triggers --version / python -c 'import psycopg'", VERSION_STARTUP,
                       median(results.startup.version_s) / floor if floor else None))
    out.append(Verdict("verify-triggers check on the seed database / python -c 'import psycopg'", CHECK_STARTUP,
                       median(results.startup.check_s) / floor if floor else None))
    return out
