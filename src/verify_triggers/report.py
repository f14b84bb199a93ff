"""Plain-text and JSON renderings of the verbs' results, for the CLI."""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .check import CheckReport
    from .history import Current, History
    from .status import Status
    from .sync import SyncResult


def table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return lines


def _bool(value) -> str:
    return "null" if value is None else str(value).lower()


def _scope(skus: list[str] | None) -> str:
    return "all SKUs" if not skus else "SKU " + ", ".join(skus)


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, default=str)


def status_lines(st: Status, where: str | None = None, verbose: bool = True) -> list[str]:
    from .status import INSTALLED  # here: `history` renders without the catalog

    lines = []
    if where:
        lines.append(f"verify-triggers status: schema {st.schema} on {where}")
    lines.append(f"revision: {st.applied or 'none'} applied, head {st.head}")
    rows = []
    if not st.installed and all(not o.healthy for o in st.objects):
        lines.append(st.summary)
        return lines
    for obj in st.objects:
        if not verbose and obj.healthy:
            continue
        # an INSTALLED object needs no comment; every other state says what it means
        detail = obj.detail if obj.state != INSTALLED else ""
        rows.append([obj.state, obj.kind, obj.label, detail])
    if rows:
        if any(row[3] for row in rows):
            lines += table(["STATE", "KIND", "OBJECT", "MEANING"], rows)
        else:
            lines += table(["STATE", "KIND", "OBJECT"], [row[:3] for row in rows])
    lines.append(st.summary)
    lines += [f"note: {note}" for note in st.notes]
    return lines


def check_lines(report: CheckReport, where: str) -> list[str]:
    s = report.summary
    lines = [f"verify-triggers check: schema {report.schema} on {where} ({_scope(report.skus)})", ""]
    lines += table(["", ""], [
        ["rows checked", str(s.checked)],
        ["SYNCED", str(s.synced)],
        ["NEEDS SYNC", str(s.needs_sync)],
        ["STALE", str(s.stale)],
        ["MANUAL", f"{s.manual}  (verified by a person, no confirmed match: not drift)"],
    ])[1:]
    if s.drift:
        lines += ["", f"drifted rows ({s.drift}):"]
        if report.drift:
            lines += table(
                ["SKU", "SUPPLIER", "IS_VERIFIED", "EXPECTED", "STATE", "CONFIRMING MATCHES"],
                [[r.sku, r.supplier_name, _bool(r.is_verified), _bool(r.expected), r.state,
                  ", ".join(f"#{i}" for i in r.match_ids) or "-"] for r in report.drift],
            )
        if len(report.drift) < s.drift:
            lines.append(f"  ... {len(report.drift)} of {s.drift} shown (--limit N to see more)")
    if report.diagnostics:
        lines += ["", f"confirmed matches that verify no sheet row ({report.diagnostics_total}):"]
        lines += [f"  {d.message}" for d in report.diagnostics]
        if len(report.diagnostics) < report.diagnostics_total:
            lines.append(f"  ... {len(report.diagnostics)} of {report.diagnostics_total} shown")
    lines += ["", "triggers: " + report.triggers.summary]
    if report.triggers.installed and not report.triggers.healthy:
        lines += status_lines(report.triggers, verbose=False)[1:-1 - len(report.triggers.notes)]
    lines.append("")
    if report.ok:
        lines.append(f"OK: {s.checked} row(s) agree with their matches; triggers healthy")
    else:
        lines.append("FAIL: " + "; ".join(report.problems))
    return lines


def sync_lines(result: SyncResult, where: str) -> list[str]:
    scope = _scope(result.skus)
    adopt = _adopt_line(result)
    if result.dry_run:
        preview = result.preview
        lines = [f"verify-triggers sync --dry-run: schema {result.schema} on {where} ({scope})"]
        lines += adopt
        drift = preview.summary.drift
        if not result.changed:
            lines.append("nothing to change: 0 rows would change")
            return lines
        parts = f"; {result.adopted} taken over, {drift} drifted" if result.adopt else ""
        lines.append(f"{result.changed} row(s) would change (nothing written{parts})"
                     + (":" if drift else ""))
        if not drift:
            return lines
        lines += table(
            ["SKU", "SUPPLIER", "IS_VERIFIED", "WOULD BECOME", "STATE"],
            [[r.sku, r.supplier_name, _bool(r.is_verified), _bool(r.expected), r.state]
             for r in preview.drift],
        )
        if len(preview.drift) < drift:
            lines.append(f"  ... {len(preview.drift)} of {drift} shown (--limit N to see more)")
        return lines
    repaired = result.changed - result.adopted
    parts = f" ({result.adopted} taken over, {repaired} drifted)" if result.adopt else ""
    listed = result.preview.drift if result.preview is not None else []
    lines = [f"verify-triggers sync: schema {result.schema} on {where} ({scope})", *adopt,
             f"{result.changed} row(s) changed{parts}" + (":" if listed else "")]
    if not listed:
        return lines
    lines += table(
        ["SKU", "SUPPLIER", "WAS VERIFIED", "NOW VERIFIED", "STATE"],
        [[r.sku, r.supplier_name, _bool(r.is_verified), _bool(r.expected), r.state] for r in listed],
    )
    found = result.preview.summary.drift
    if len(listed) < found:
        lines.append(f"  ... {len(listed)} of {found} shown (--limit N to see more)")
    if found != repaired:
        lines.append(f"  ({found} found drifted before the repair: writes made meanwhile "
                     "account for the difference)")
    return lines


def history_lines(history: History) -> list[str]:
    """As ``alembic history`` prints it: ``0004 -> 0005 (head), description``."""
    return [f"{entry.previous or '<base>'} -> {entry.revision}{' (head)' if entry.head else ''}, "
            f"{entry.description}" for entry in history.entries]


def current_lines(current: Current) -> list[str]:
    if current.applied is None:
        return [f"none: nothing applied in schema {current.schema} (run verify-triggers upgrade)"]
    return [f"{current.applied}{' (head)' if current.at_head else ''}"]


def _adopt_line(result: SyncResult) -> list[str]:
    if not result.adopt:
        return []
    stamps = ", ".join(repr(stamp) for stamp in result.adopt)
    verb = "would take" if result.dry_run else "took"
    return [f"{verb} over {result.adopted} verified row(s) stamped {stamps}; "
            f"{result.adopted_unverified} of them no confirmed match backs, so they "
            f"{'would be' if result.dry_run else 'were'} un-verified"]
