"""``check``: does every sheet row agree with its matches, and are the triggers healthy?

The verdict comes from one set-based query (``sql/queries/check.sql``); the triggers' health
from the same read of the catalog ``status`` judges (:func:`verify_triggers.status.assess`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import psycopg

from .catalog import read_from
from .constants import DEFAULT_SCHEMA
from .errors import VerifyTriggersError
from .resources import query
from .status import Status, assess

DEFAULT_LIMIT = 50

NEEDS_SYNC = "NEEDS SYNC"
STALE = "STALE"


@dataclass
class Summary:
    checked: int = 0
    synced: int = 0
    needs_sync: int = 0
    stale: int = 0
    manual: int = 0

    @property
    def drift(self) -> int:
        return self.needs_sync + self.stale

    def to_dict(self) -> dict:
        return {**asdict(self), "drift": self.drift}


@dataclass
class DriftRow:
    """A sheet row that disagrees with the rule."""

    sku: str
    supplier_name: str
    is_verified: bool | None
    expected: bool
    state: str  # NEEDS SYNC or STALE
    verified_by: str | None
    match_ids: list[int] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.state == NEEDS_SYNC:
            ids = ", ".join(f"#{i}" for i in self.match_ids)
            return f"confirmed by match {ids}, row not verified"
        return "verified by the sync, but no match confirms the pair any more"

    def to_dict(self) -> dict:
        return {**asdict(self), "reason": self.reason}


@dataclass
class Diagnostic:
    """Why a confirmed match verifies no sheet row."""

    kind: str  # name_mismatch, no_sheet_row, no_local_product, no_supplier
    sku: str | None
    supplier_name: str | None
    match_ids: list[int]
    sheet_sku: str | None = None
    sheet_supplier_name: str | None = None
    product_id: int | None = None
    supplier_id: int | None = None

    @property
    def message(self) -> str:
        matches = ", ".join(f"#{i}" for i in self.match_ids)
        if self.kind == "name_mismatch":
            parts = []
            if self.sheet_sku != self.sku:
                parts.append(f"sku {self.sheet_sku!r}")
            if self.sheet_supplier_name != self.supplier_name:
                parts.append(f"supplier name {self.sheet_supplier_name!r}")
            return (f"{self.sku} / {self.supplier_name}: confirmed by match {matches}, but the "
                    f"sheet row has {' and '.join(parts)}, which differs only by case or spaces: "
                    "the names must be equal")
        if self.kind == "no_sheet_row":
            return (f"{self.sku} / {self.supplier_name}: confirmed by match {matches}, but no "
                    "sheet row exists for the pair")
        if self.kind == "no_local_product":
            if self.product_id is None:
                return (f"match {matches} (supplier {self.supplier_name}) is confirmed but has "
                        "no local product (local_product_id is NULL)")
            return (f"match {matches} (supplier {self.supplier_name}) is confirmed but its "
                    f"local product #{self.product_id} does not exist")
        return f"match {matches} is confirmed but its supplier #{self.supplier_id} does not exist"

    def to_dict(self) -> dict:
        return {**asdict(self), "message": self.message}


@dataclass
class CheckReport:
    schema: str
    skus: list[str] | None
    limit: int | None
    summary: Summary
    drift: list[DriftRow]
    drift_total: int
    diagnostics: list[Diagnostic]
    diagnostics_total: int
    triggers: Status
    unknown_skus: list[str] = field(default_factory=list)  # asked for, on no row or product

    @property
    def ok(self) -> bool:
        return self.summary.drift == 0 and self.triggers.healthy

    @property
    def problems(self) -> list[str]:
        """Why the check fails, one line each (empty when ok)."""
        out = []
        if self.summary.drift:
            fix = ": run verify-triggers sync" if self.triggers.installed else ""
            out.append(f"{self.summary.drift} drifted row(s) ({self.summary.needs_sync} "
                       f"NEEDS SYNC, {self.summary.stale} STALE){fix}")
        if self.triggers.missing:
            out.append("triggers " + self.triggers.summary)
        elif self.triggers.applied is None and not self.triggers.objects:
            out.append(f"the triggers are not installed in schema {self.schema!r}: "
                       "run verify-triggers upgrade (it also repairs existing rows)")
        elif not self.triggers.healthy:
            out.append("triggers " + self.triggers.summary)
        return out

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "schema": self.schema,
            "skus": self.skus,
            "unknown_skus": self.unknown_skus,
            "summary": self.summary.to_dict(),
            "drift": [row.to_dict() for row in self.drift],
            "drift_listed": len(self.drift),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "diagnostics_total": self.diagnostics_total,
            "triggers": self.triggers.to_dict(),
            "problems": self.problems,
        }


def check(
    conn: psycopg.Connection,
    schema: str = DEFAULT_SCHEMA,
    skus: Iterable[str] | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> CheckReport:
    """Compare every sheet row (or those of ``skus``) with the rule; list at most ``limit``."""
    triggers = assess(read_from(conn, schema))
    return compare(conn, schema, triggers, skus, limit)


def unknown_skus(conn: psycopg.Connection, schema: str, skus: list[str]) -> list[str]:
    """The SKUs asked for that no sheet row and no product has: a monitor watching a mistyped
    SKU would otherwise pass for ever, checking nothing. An empty SKU is refused outright."""
    if any(not sku.strip() for sku in skus):
        raise VerifyTriggersError("--sku must not be empty")
    return [row[0] for row in conn.execute(query("unknown_skus.sql", schema, "skus"), {"skus": skus})]


def unknown_skus_warning(unknown: list[str], schema: str) -> str:
    return (f"warning: no sheet row and no product has SKU{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(sku) for sku in unknown)} in schema {schema!r} "
            "(SKUs are matched exactly, case included)")


def compare(conn: psycopg.Connection, schema: str, triggers: Status,
            skus: Iterable[str] | None = None, limit: int | None = DEFAULT_LIMIT) -> CheckReport:
    """The rows that disagree with the rule, given the triggers' health already judged."""
    sku_list = list(dict.fromkeys(skus)) if skus else None
    unknown = unknown_skus(conn, schema, sku_list) if sku_list and not triggers.missing else []
    summary, drift, diagnostics, drift_total = Summary(), [], [], 0
    diagnostics_total: dict[str, int] = {}
    rows = [] if triggers.missing else conn.execute(
        query("check.sql", schema, "skus", "limit"), {"skus": sku_list, "limit": limit})
    for kind, detail in rows:
        if kind == "summary":
            summary = Summary(**{k: detail[k] for k in ("checked", "synced", "needs_sync", "stale", "manual")})
        elif kind == "drift":
            drift_total = detail["total"]
            drift.append(DriftRow(
                sku=detail["sku"], supplier_name=detail["supplier_name"],
                is_verified=detail["is_verified"], expected=detail["expected"],
                state=detail["state"], verified_by=detail["verified_by"],
                match_ids=detail["match_ids"] or [],
            ))
        else:
            group = "unmatched" if kind in ("name_mismatch", "no_sheet_row") else "dangling"
            diagnostics_total[group] = detail["total"]
            diagnostics.append(Diagnostic(
                kind=kind, sku=detail.get("sku"), supplier_name=detail.get("supplier_name"),
                match_ids=detail.get("match_ids") or [],
                sheet_sku=detail.get("sheet_sku"),
                sheet_supplier_name=detail.get("sheet_supplier_name"),
                product_id=detail.get("product_id"), supplier_id=detail.get("supplier_id"),
            ))
    order = {"name_mismatch": 0, "no_sheet_row": 1, "no_local_product": 2, "no_supplier": 3}
    diagnostics.sort(key=lambda d: (order[d.kind], d.sku or "", d.supplier_name or "", d.match_ids))
    drift.sort(key=lambda r: (r.sku, r.supplier_name))
    return CheckReport(
        schema=schema, skus=sku_list, limit=limit, summary=summary, drift=drift,
        drift_total=drift_total, diagnostics=diagnostics,
        diagnostics_total=sum(diagnostics_total.values()), triggers=triggers,
        unknown_skus=unknown,
    )
