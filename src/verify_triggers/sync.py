"""``sync``: repair drifted rows through the installed ``verify_triggers_sync`` function.

The function takes the same locks as the triggers (the rename epoch, then the pairs'
buckets in order), so a repair is safe while the application writes. The drifted SKUs
are found with one set-based query and repaired in committed batches, so no transaction
holds many locks for long; a person's verification is never touched (the function only
un-verifies rows stamped ``verify-triggers``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import errors

from . import DEFAULT_SCHEMA
from .check import DEFAULT_LIMIT, CheckReport, check
from .database import query, require_tables
from .errors import VerifyTriggersError

BATCH_SIZE = 1000
RETRIES = 5


@dataclass
class SyncResult:
    schema: str
    skus: list[str] | None
    dry_run: bool
    changed: int = 0  # rows changed (or, in a dry run, rows that would change)
    batches: int = 0
    preview: CheckReport | None = None  # a dry run's listing of the rows that would change
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "schema": self.schema,
            "skus": self.skus,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "batches": self.batches,
        }
        if self.preview is not None:
            out["would_change"] = [row.to_dict() for row in self.preview.drift]
            out["summary"] = self.preview.summary.to_dict()
        return out


def is_installed(conn: psycopg.Connection, schema: str) -> bool:
    return bool(conn.execute(query("sync_installed.sql", schema)).fetchone()[0])


def sync(
    conn: psycopg.Connection,
    schema: str = DEFAULT_SCHEMA,
    skus: Iterable[str] | None = None,
    dry_run: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    batch_size: int = BATCH_SIZE,
) -> SyncResult:
    """Repair drift in ``schema`` (only the rows of ``skus`` when given).

    ``dry_run`` writes nothing and reports what would change (listing at most ``limit``
    rows). ``conn`` should be in autocommit mode: each batch commits on its own.
    """
    require_tables(conn, schema)
    sku_list = list(dict.fromkeys(skus)) if skus else None
    result = SyncResult(schema=schema, skus=sku_list, dry_run=dry_run)
    if dry_run:
        result.preview = check(conn, schema, sku_list, limit)
        result.changed = result.preview.summary.drift
        return result
    if not is_installed(conn, schema):
        raise VerifyTriggersError(
            f"verify-triggers is not installed in schema {schema!r}: run verify-triggers upgrade")

    drifted = [row[0] for row in conn.execute(query("drifted_skus.sql", schema, "skus"),
                                              {"skus": sku_list})]
    statement = query("sync.sql", schema, "skus")
    for start in range(0, len(drifted), batch_size):
        batch = drifted[start:start + batch_size]
        result.changed += _sync_batch(conn, statement, batch)
        result.batches += 1
    return result


def _sync_batch(conn: psycopg.Connection, statement, batch: list[str]) -> int:
    """One committed call of the function; retried on a serialization failure or deadlock."""
    for attempt in range(1, RETRIES + 1):
        try:
            with conn.transaction():
                return int(conn.execute(statement, {"skus": batch}).fetchone()[0] or 0)
        except (errors.SerializationFailure, errors.DeadlockDetected):
            if attempt == RETRIES:
                raise
    return 0  # not reached
