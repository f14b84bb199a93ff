"""``docs/benchmarks.md`` from a run's results: tables filled into ``report_template.md``.

The prose lives in the template; this module only turns results into tables and lines, so
every figure on the page comes from ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from string import Template

from benchmarks.results import Case, Results, Size, median, shared_buffers_mb
from benchmarks.verdicts import PRICE_COLUMNS, REFERENCE_N, Verdict

TEMPLATE = Path(__file__).resolve().parent / "report_template.md"
LABELS = {"triggers": "verify-triggers", "hand_written": "hand-written", "naive_row_trigger": "naive",
          "no_trigger": "no trigger", "bare_update": "bare UPDATE", "app_sync": "application"}


def table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(not measured in this run)"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def per_row(reads: int, rows: int) -> str:
    return f"{reads / rows:,.1f}" if rows > 0 else "-"


def load(results: Results) -> str:
    ones = [sample[0] for sample in results.meta.load_averages]
    if not ones:
        return "?"
    return f"{min(ones):.2f} to {max(ones):.2f}, mean {statistics.mean(ones):.2f} (1-minute, {len(ones)} samples)"


def _verified(case: Case, approach: str) -> int:
    run = case.approaches[approach]
    return run.rule.verified - case.before[approach].verified if run.rule else 0


def _same_end(case: Case) -> str:
    judged = [run for run in case.approaches.values() if run.rule]
    same = len({run.rule.state_hash for run in judged}) == 1 and all(r.same_state_every_repeat for r in judged)
    return ("yes" if same else "NO") + (" (of those that finished)" if len(judged) < len(case.approaches) else "")


def _drift(case: Case) -> str:
    return "/".join(str(run.rule.drift) if run.rule else "-" for run in case.approaches.values())


def _time(case: Case, approach: str) -> str:
    run = case.approaches[approach]
    return (">= " if run.timed_out else "") + ms(run.median_s)


def _ratio(case: Case, approach: str, baseline: str) -> str:
    value = case.ratio(approach, baseline)
    if not case.approaches[approach].timed_out:
        return ratio(value)
    # Cut off before the baseline finished: a lower bound under 1x says nothing.
    return f">= {ratio(value)}" if value is not None and value >= 1 else "cut off first"


def targets_table(verdicts: list[Verdict]) -> str:
    return table(["target", "limit", "measured", "verdict"],
                 [[v.target, f"<= {v.value(v.limit)}", f"**{v.value()}**", v.status] for v in verdicts])


def bulk_table(sizes: list[Size]) -> str:
    rows = []
    for size in sizes:
        case = size.case("bulk_confirm", 0)
        if not case:
            continue
        t, h = case.approaches["triggers"], case.approaches["hand_written"]
        rows.append([f"{size.n:,}", _time(case, "hand_written"), _time(case, "triggers"),
                     _time(case, "naive_row_trigger"), f"**{_ratio(case, 'triggers', 'hand_written')}**",
                     _ratio(case, "naive_row_trigger", "hand_written"),
                     per_row(t.reads, _verified(case, "triggers")) + " / "
                     + per_row(h.reads, _verified(case, "hand_written")),
                     str(t.locks_held), _drift(case), _same_end(case)])
    return table(["N", "hand-written ms", "verify-triggers ms", "naive ms", "verify-triggers / hand-written",
                  "naive / hand-written", "reads per verified row (verify-triggers / hand-written)",
                  "locks held", "drift (t/h/n)", "same end state"], rows)


def import_table(sizes: list[Size]) -> str:
    rows = []
    for size in sizes:
        for case in (c for c in size.cases if c.name == "import"):
            rows.append([f"{size.n:,}", f"{case.confirmed_pct}%", _time(case, "hand_written"),
                         _time(case, "triggers"), f"**{_ratio(case, 'triggers', 'hand_written')}**",
                         _drift(case), _same_end(case)])
    return table(["N rows imported", "confirmed", "hand-written ms", "verify-triggers ms",
                  "verify-triggers / hand-written", "drift (t/h)", "same end state"], rows)


def price_table(sizes: list[Size]) -> str:
    rows = []
    for size in sizes:
        for case in (c for c in size.cases if c.name in PRICE_COLUMNS):
            t, b = case.approaches["triggers"], case.approaches["no_trigger"]
            rows.append([f"{size.n:,}", PRICE_COLUMNS[case.name], f"{case.confirmed_pct}%", f"{t.rows:,}",
                         ms(b.median_s), ms(t.median_s), f"**{_ratio(case, 'triggers', 'no_trigger')}**",
                         _drift(case)])
    return table(["N", "column", "confirmed", "rows updated", "no trigger ms", "verify-triggers ms",
                  "verify-triggers / no trigger", "drift (t/n)"], rows)


def single_row_table(sizes: list[Size]) -> str:
    rows = []
    for size in sizes:
        for r in size.single_row:
            a = r.approaches
            rows.append([f"{size.n:,}", f"{r.confirmed_pct}%", r.statistics, str(r.clients),
                         f"{a['bare_update'].median_ms:.3f}", f"{a['app_sync'].median_ms:.3f}",
                         f"{a['triggers'].median_ms:.3f}", f"**{ratio(r.ratio('triggers', 'bare_update'))}**",
                         _round_range(r), ratio(r.ratio("app_sync", "bare_update")),
                         str(sum(p.failed for p in a.values())),
                         "/".join(str(d) for d in r.drift_after.values())])
    return table(["N", "confirmed", "statistics", "clients", "bare UPDATE ms", "application ms",
                  "verify-triggers ms", "verify-triggers / bare", "same, round by round (runs)",
                  "application / bare", "failed",
                  "drift after (t/bare)"], rows)


def _round_range(row) -> str:
    """The lowest and highest of the per-round ratios: how far one run of the same code can land."""
    rounds = row.round_ratios("triggers", "bare_update")
    if len(rounds) < 2:
        return f"{ratio(rounds[0])} (1)" if rounds else "-"
    return f"{ratio(min(rounds))} to {ratio(max(rounds))} ({len(rounds)})"


def single_row_buffers(results: Results) -> str:
    """How the single-row rounds' databases compare with shared_buffers, at each size."""
    buffers = shared_buffers_mb(results.meta.settings)
    held = [(size.n, sum(size.databases_mb.values())) for size in results.sizes if size.databases_mb]
    if not held or buffers is None:
        return "(the databases' sizes were not recorded in this run)"
    sizes = ", ".join(f"{mb:,.0f} MB at N = {n:,}" for n, mb in held)
    over = [f"{n:,}" for n, mb in held if mb > buffers]
    verdict = (f"At N = {', '.join(over)} they outgrow it: part of the pages a cycle touches come from "
               "the operating system's cache, and the ratios there include those reads "
               "(docs/operations.md, \"What a single-row confirm costs\")." if over
               else "They fit at every size measured.")
    return (f"The rounds use two databases at once, the sync's and the bare one: {sizes}, against "
            f"`shared_buffers` of {buffers:,} MB. {verdict}")


def per_confirm_table(sizes: list[Size]) -> str:
    rows = []
    order = ("bare_update", "app_sync", "triggers")
    for size in sizes:
        for pct in sorted({p.confirmed_pct for p in size.per_confirm}):
            by = {p.approach: p for p in size.per_confirm if p.confirmed_pct == pct}

            def cells(values) -> str:
                return " / ".join(f"{median(values(by[a])):,.0f}" if by[a].wal_bytes else "-" for a in order)

            rows.append([f"{size.n:,}", f"{pct}%", " / ".join(str(by[a].round_trips) for a in order),
                         f"**{cells(lambda p: [w - f for w, f in zip(p.wal_bytes, p.fpi_bytes)])}**",
                         cells(lambda p: p.fpi_bytes), str(len(by["triggers"].wal_bytes))])
    return table(["N", "confirmed", "round trips (bare / application / verify-triggers)",
                  "WAL bytes without full-page images (bare / application / verify-triggers)",
                  "full-page images, bytes", "samples"], rows)


def cli_table(sizes: list[Size]) -> str:
    rows = []
    for size in sizes:
        by = {(r.verb, r.state): r for r in size.cli}
        if not by:
            continue
        cells = [f"{size.n:,}", f"{size.sheet_rows:,}"]
        for key in (("check", "clean"), ("check", "drifted"), ("sync", "drifted")):
            r = by[key]
            cells.append(f"{median(r.seconds):.2f} (exit {'/'.join(map(str, sorted(set(r.exit_codes))))})")
        cells += [f"{by['check', 'drifted'].drift_before:,}", str(by["sync", "drifted"].drift_after)]
        rows.append(cells)
    return table(["N", "sheet rows", "check, clean: s", "check, drifted: s", "sync, drifted: s",
                  "drifted rows", "drift after sync"], rows)


def check_table(results: Results) -> str:
    check = results.check
    if not check:
        return table([], [])
    return table(["sheet rows", "matches", "confirmed", "wall time s (median)", "runs s", "exit codes", "drift"],
                 [[f"{check.sheet_rows:,}", f"{check.matches:,}", r.state.split()[0], f"**{median(r.seconds):.2f}**",
                   ", ".join(f"{s:.2f}" for s in r.seconds), "/".join(map(str, r.exit_codes)), str(r.drift_after)]
                  for r in check.runs])


def startup_table(results: Results) -> str:
    s = results.startup
    if not s:
        return table([], [])
    floor = median(s.floor_s)
    rows = [[label, f"{median(runs):.3f}", f"{min(runs):.3f}", f"**{median(runs) / floor:.2f}x**", str(len(runs))]
            for label, runs in (("python -c 'import psycopg' (the floor)", s.floor_s),
                                ("verify-triggers --version", s.version_s),
                                ("verify-triggers check", s.check_s))]
    return table(["command", "median s", "min s", "/ floor", "runs"], rows) + (
        f"\n\n`check` exit codes: {'/'.join(map(str, sorted(set(s.check_exit_codes))))}.")


def setup_table(results: Results) -> str:
    return table(["N", "load data s", "`verify-triggers upgrade` s", "repeats", "installed functions (md5)"],
                 [[f"{s.n:,}", f"{s.load_s:.1f}", f"{s.upgrade_s:.1f}", str(s.repeat), s.functions_md5]
                  for s in results.sizes])


def machine_table(results: Results) -> str:
    m = results.meta
    return table(["", ""], [
        ["CPU", f"{m.machine.get('cpu', '?')}, {m.machine.get('nproc', '?')} CPU(s)"],
        ["memory", f"{m.machine.get('memory_gib', '?')} GiB"],
        ["PostgreSQL", m.machine.get("postgres", "?")],
        ["settings", ", ".join(f"{k}={v}" for k, v in m.settings.items())],
        ["load average", load(results)],
        ["git", f"{m.git_commit}; sql/queries/check.sql md5 {m.check_sql_md5}"],
        ["command", f"`{m.command}`" + ("" if m.complete else " (stopped early: only the sizes above)")],
    ])


def markdown(results: Results, verdicts: list[Verdict], chart: Path | None) -> str:
    m = results.meta
    sizes = results.sizes
    repeats = f"{m.repeat} repeat{'s' if m.repeat > 1 else ''}" + (f" ({m.large_repeat} at N >= 1,000,000)"
                                       if any(s.n >= 1_000_000 for s in sizes) else "")
    if m.price_repeat > m.repeat:
        repeats += f", {m.price_repeat} for each price refresh below N = 1,000,000"
    if m.single_row_repeat > m.repeat and any(s.n == REFERENCE_N for s in sizes):
        repeats += f", {m.single_row_repeat} for each single-row cell at N = {REFERENCE_N:,}"
    duration = (f"{m.pgbench_seconds} s per run" if m.pgbench_seconds
                else f"{m.pgbench_transactions} cycles per client per run")
    values = {
        "started": m.started, "finished": m.finished, "revision": m.migration_head, "repeats": repeats,
        "schema_file": f"tests/fixtures/{'schema' if m.schema_variant == 'app' else 'schema_lean'}.sql",
        "load": load(results), "pgbench_duration": duration, "targets": targets_table(verdicts),
        "bulk_confirm": bulk_table(sizes), "import": import_table(sizes), "price": price_table(sizes),
        "single_row": single_row_table(sizes), "single_row_buffers": single_row_buffers(results),
        "per_confirm": per_confirm_table(sizes), "cli": cli_table(sizes),
        "check": check_table(results), "startup": startup_table(results),
        "chart": f"![cost against N]({chart.name})" if chart else "(no chart drawn in this run)",
        "setup": setup_table(results), "machine": machine_table(results),
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def print_verdicts(verdicts: list[Verdict]) -> None:
    print("targets:")
    for v in verdicts:
        print(f"  [{v.status:>12}] {v.target}: {v.value()} (limit {v.value(v.limit)})", flush=True)
