"""``sync``: repair drifted rows through the installed ``verify_triggers_sync`` function.

The function takes the same locks as the triggers (the rename epoch, then the pairs' buckets
in order), so a repair is safe while the application writes. The drifted SKUs are found with
one set-based query and repaired in committed batches, so no transaction holds many locks for
long; a person's verification is never touched (the function only un-verifies rows stamped
with the sync's stamp).

``adopt`` takes over rows an application's own sync code verified before the triggers
existed: rows stamped with its stamp (the application's sync wrote a user id) get the sync's
stamp, so that un-confirming their match un-verifies them. The sheet triggers then un-verify at
once those whose pair is not confirmed any more: the rows the old code left verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import errors

from .catalog import read_from
from .check import DEFAULT_LIMIT, CheckReport, compare
from .constants import DEFAULT_SCHEMA
from .errors import UnhealthyInstall, VerifyTriggersError
from .resources import query
from .status import assess

BATCH_SIZE = 1000
RETRIES = 5


@dataclass
class SyncResult:
    schema: str
    skus: list[str] | None
    dry_run: bool
    changed: int = 0  # rows changed, taken over ones included (in a dry run: would change)
    batches: int = 0
    adopt: list[str] = field(default_factory=list)  # stamps taken over
    adopted: int = 0  # rows that carried one of them (would, in a dry run)
    adopted_unverified: int = 0  # of those, rows un-verified as their pair is not confirmed
    # the drifted rows, listed up to the limit: in a dry run those that would change; in a
    # run those found just before the repair, which it changed (None: not looked at)
    preview: CheckReport | None = None
    unknown_skus: list[str] = field(default_factory=list)  # asked for, on no row or product

    def to_dict(self) -> dict:
        out = {
            "schema": self.schema,
            "skus": self.skus,
            "unknown_skus": self.unknown_skus,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "batches": self.batches,
        }
        if self.adopt:
            out.update(adopt=self.adopt, adopted=self.adopted,
                       adopted_unverified=self.adopted_unverified)
        if self.preview is not None:
            rows = [row.to_dict() for row in self.preview.drift]
            out["would_change" if self.dry_run else "repaired"] = rows
            # a run's counts are those it found, before its repair
            out["summary" if self.dry_run else "summary_before"] = self.preview.summary.to_dict()
        return out


def sync(
    conn: psycopg.Connection,
    schema: str = DEFAULT_SCHEMA,
    skus: Iterable[str] | None = None,
    dry_run: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    batch_size: int = BATCH_SIZE,
    adopt: Iterable[str] = (),
) -> SyncResult:
    """Repair drift in ``schema`` (only the rows of ``skus`` when given), after taking over
    the rows stamped with any of ``adopt``.

    ``dry_run`` writes nothing and reports what would change (listing at most ``limit`` rows).
    ``conn`` should be in autocommit mode: each batch commits on its own.
    """
    sku_list = list(dict.fromkeys(skus)) if skus else None
    stamps = list(dict.fromkeys(adopt))
    triggers = assess(read_from(conn, schema))
    if triggers.missing:
        raise UnhealthyInstall(triggers.problems[0])
    result = SyncResult(schema=schema, skus=sku_list, dry_run=dry_run, adopt=stamps)
    installed = any(o.kind == "function" and o.name == "verify_triggers_sync" and o.state != "MISSING"
                    for o in triggers.objects)
    if (stamps or not dry_run) and not installed:
        raise VerifyTriggersError(
            f"the triggers are not installed in schema {schema!r}: run verify-triggers upgrade")
    if stamps:
        counts = conn.execute(query("adoptable.sql", schema, "skus", "stamps"),
                              {"skus": sku_list, "stamps": stamps}).fetchone()
        result.adopted, result.adopted_unverified = counts[0] or 0, counts[1] or 0
    if dry_run:
        result.preview = compare(conn, schema, triggers, sku_list, limit)
        result.unknown_skus = result.preview.unknown_skus
        # the rows taken over change too (re-stamped or un-verified); no drifted row is one
        # of them: they are verified under a stamp other than the sync's
        result.changed = result.preview.summary.drift + result.adopted
        return result
    if stamps:
        adopting = [row[0] for row in conn.execute(
            query("adoptable_skus.sql", schema, "skus", "stamps"), {"skus": sku_list, "stamps": stamps})]
        statement = query("adopt.sql", schema, "skus", "stamps")
        taken_over = 0
        for start in range(0, len(adopting), batch_size):
            taken_over += _batch(conn, statement,
                                 {"skus": adopting[start:start + batch_size], "stamps": stamps})
            result.batches += 1
        result.adopted = result.changed = taken_over

    # the rows about to be repaired, listed (after the adoption, whose rows are not drift)
    result.preview = compare(conn, schema, triggers, sku_list, limit)
    result.unknown_skus = result.preview.unknown_skus
    if not result.preview.summary.drift:
        return result
    drifted = [row[0] for row in conn.execute(query("drifted_skus.sql", schema, "skus"),
                                              {"skus": sku_list})]
    statement = query("sync.sql", schema, "skus")
    for start in range(0, len(drifted), batch_size):
        result.changed += _batch(conn, statement, {"skus": drifted[start:start + batch_size]})
        result.batches += 1
    return result


def _batch(conn: psycopg.Connection, statement, values: dict) -> int:
    """One committed statement; retried on a serialization failure or deadlock."""
    for attempt in range(1, RETRIES + 1):
        try:
            with conn.transaction():
                row = conn.execute(statement, values).fetchone()
                return int(row[0] or 0) if row else 0
        except (errors.SerializationFailure, errors.DeadlockDetected):
            if attempt == RETRIES:
                raise
    return 0  # not reached
