"""``docs/benchmarks.png``: how each approach's cost grows with N, one panel per write."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import LABELS
from benchmarks.results import Results

STYLES = {"triggers": "s-", "hand_written": "o-", "naive_row_trigger": "^--", "no_trigger": "o-",
          "bare_update": "o-", "app_sync": "^-"}


def draw(results: Results, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results.sizes
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    panels = [
        ("bulk confirm of N matches", "seconds (median)",
         lambda s: s.case("bulk_confirm", 0), ("hand_written", "triggers", "naive_row_trigger")),
        ("sheet import of N rows, 90% confirmed", "seconds (median)",
         lambda s: s.case("import", 90), ("hand_written", "triggers")),
        ("price refresh of 3N sheet rows, 90% confirmed", "seconds (median)",
         lambda s: s.case("price_sheet", 90), ("no_trigger", "triggers")),
    ]
    for ax, (title, ylabel, pick, approaches) in zip(axes.flat, panels):
        shown = [s for s in sizes if pick(s)]
        for approach in approaches:
            runs = [(s.n, pick(s).approaches[approach]) for s in shown]
            done = [(n, r.median_s) for n, r in runs if not r.timed_out]
            capped = [(n, r.median_s) for n, r in runs if r.timed_out]
            line = ax.plot([d[0] for d in done], [d[1] for d in done], STYLES[approach], label=LABELS[approach])
            if capped:  # cancelled at the cap: at least this long
                ax.plot([c[0] for c in capped], [c[1] for c in capped], "^", mfc="none", ms=10,
                        color=line[0].get_color(), label=f"{LABELS[approach]}: cancelled at the cap (longer)")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
    ax = axes.flat[3]
    for approach in ("bare_update", "app_sync", "triggers"):
        points = [(s.n, r.approaches[approach].median_ms) for s in sizes for r in s.single_row
                  if r.confirmed_pct == 90 and r.statistics == "fresh" and r.clients == 2]
        ax.plot([p[0] for p in points], [p[1] for p in points], STYLES[approach], label=LABELS[approach])
    ax.set_title("single-row confirm + unconfirm, 2 clients, 90% confirmed")
    ax.set_ylabel("ms per cycle (median)")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (matches; sheet rows = 3N)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
