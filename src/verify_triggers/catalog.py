"""One read of what the database holds of the sync, shared by every verb and by the repair.

``status`` judges it, ``check`` and ``sync`` use that judgement, and ``upgrade`` repairs from
it; none of them calls another verb or reads the catalog again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import sql

from . import resources, revisions
from .revisions import Revision

# Runs a query whose values are composed in, and returns its rows as dicts.
Fetch = Callable[[sql.Composable], list[dict]]


@dataclass
class Catalog:
    """The sync in one schema, as the server holds it."""

    schema: str
    schema_exists: bool
    missing: list[str] = field(default_factory=list)  # "table products", "column t.c"
    version_table: bool = False
    applied: str | None = None  # the revision(s) in verify_triggers_version
    record: dict[tuple[str, str], dict] | None = None  # None: no record table
    installed: dict[tuple[str, str], dict] = field(default_factory=dict)
    basis: Revision | None = None  # the revision whose keys `installed` looked up
    # what starts sessions with session_replication_role = replica ("ALTER ROLE app", ...)
    replica_settings: list[str] = field(default_factory=list)
    # privileges on the sync's own objects that let a non-owner get around it
    # ({"object_name", "object_kind", "grantee" (None: PUBLIC), "privileges"})
    exposed: list[dict] = field(default_factory=list)
    # the lock table's rows that are gone (its owner's TRUNCATE or DELETE); None: not checked,
    # since the reading role may not read them (only the owner may, by default)
    missing_lock_rows: list[int] | None = None

    @property
    def has_sync_objects(self) -> bool:
        return any(kind in ("function", "trigger", "table") for kind, _ in self.installed)


def read(fetch: Fetch, schema: str) -> Catalog:
    """The catalog of ``schema``: what the sync needs and lacks, the applied revision, the
    record the install kept, and every object of the sync with its fingerprint.

    Fingerprints hash the server's renderings, which name objects relative to the
    search_path: they are read with pg_catalog alone on it, as the install records them, and
    the caller's path is put back after (this may run inside a host's migration)."""
    saved = fetch(_SEARCH_PATH_PINNED)[0]["saved"]
    # Not in a `finally`: after an error the transaction is aborted, and a restore would only
    # replace the server's message with "current transaction is aborted".
    cat = _read(fetch, schema)
    fetch(sql.SQL("SELECT pg_catalog.set_config('search_path', {}, true)").format(
        sql.Literal(saved)))
    return cat


_SEARCH_PATH_PINNED = sql.SQL(
    "SELECT pg_catalog.current_setting('search_path') AS saved,"
    " pg_catalog.set_config('search_path', 'pg_catalog', true)")


def _read(fetch: Fetch, schema: str) -> Catalog:
    missing = [row["missing"] for row in fetch(resources.query("required.sql", schema))]
    if missing == ["schema"]:
        return Catalog(schema=schema, schema_exists=False)
    cat = Catalog(schema=schema, schema_exists=True, missing=missing)
    cat.replica_settings = [row["set_by"] for row in fetch(resources.query("replica_settings.sql", schema))]
    cat.exposed = fetch(resources.query("exposed_privileges.sql", schema))
    present = fetch(resources.query("sync_tables.sql", schema))[0]
    cat.version_table = present["version_table"]
    if cat.version_table:
        versions = [row["version_num"] for row in fetch(resources.query("applied_revision.sql", schema))]
        cat.applied = ",".join(versions) or None
    if present["record_table"]:
        cat.record = {(row["kind"], row["name"]): row
                      for row in fetch(resources.query("recorded_objects.sql", schema))}
    cat.basis = (revisions.get(cat.applied) if cat.applied else None) or revisions.head()
    cat.installed = {(row["kind"], row["name"]): row for row in fetch(resources.query(
        "installed_objects.sql", schema, **lookup_values(cat.basis.lookups)))}
    if present["lock_rows_readable"]:
        # row -2, the token's secret, came with revision 0003, the first cut one
        first_row = -2 if cat.basis.cut else -1
        cat.missing_lock_rows = [row["bucket"] for row in fetch(resources.query(
            "missing_lock_rows.sql", schema, first_row=first_row))]
    return cat


def lookup_values(lookups) -> dict[str, list[str]]:
    """A revision's keys as the array values ``installed_objects.sql`` takes."""
    return {
        "index_names": [lk.index for lk in lookups],
        "lookup_tables": [lk.table for lk in lookups],
        "lookup_columns": [lk.column for lk in lookups],
    }


def psycopg_fetch(conn) -> Fetch:
    """A :data:`Fetch` over a psycopg connection."""
    from psycopg.rows import dict_row

    def fetch(query: sql.Composable) -> list[dict]:
        with conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query).fetchall()

    return fetch


def read_from(conn, schema: str) -> Catalog:
    """:func:`read` over a psycopg connection, in one snapshot."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return read(psycopg_fetch(conn), schema)
