"""``status``: is the sync installed, enabled and current? Computed from the catalogs.

One line per object the applied revision installs (each trigger and function, the lock
table and the indexes), compared with what that revision's SQL files define (see
:mod:`verify_triggers.manifest`), plus the applied revision and the head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import psycopg
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from . import DEFAULT_SCHEMA, manifest, resources
from .database import query, require_tables

INSTALLED = "INSTALLED"
DISABLED = "DISABLED"
REPLICA_ONLY = "REPLICA-ONLY"
ALWAYS = "ALWAYS"
OUTDATED = "OUTDATED"
MISSING = "MISSING"
INVALID = "INVALID"
EXTRA = "EXTRA"
# The detail of an INSTALLED object that is the application's own (see _covering_index).
STANDS_IN = "not needed: "

# pg_trigger.tgenabled -> (state, what it means, healthy)
TRIGGER_MODES = {
    "O": (INSTALLED, "enabled: fires on every write", True),
    "D": (DISABLED, "never fires: writes go unsynced (ENABLE TRIGGER it, then run "
                    "verify-triggers sync)", False),
    "R": (REPLICA_ONLY, "fires only in sessions with session_replication_role = replica "
                        "(logical replication apply), never on the application's writes", False),
    "A": (ALWAYS, "fires on every write, also in session_replication_role = replica "
                  "sessions (logical replication apply)", True),
}


@dataclass
class ObjectStatus:
    """One installed object and its state."""

    kind: str  # trigger, function, table or index
    name: str
    state: str
    detail: str
    healthy: bool
    table: str | None = None
    args: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "function":
            return f"{self.name}({self.args or ''})"
        if self.kind == "trigger":
            return f"{self.name} on {self.table}"
        return self.name

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Status:
    """The sync's installation in one schema."""

    schema: str
    applied: str | None
    head: str
    objects: list[ObjectStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        """Some revision is applied and at least one of its objects exists."""
        return self.applied is not None and any(o.state != MISSING for o in self.objects)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        if self.applied is None:
            return f"not installed in schema {self.schema!r}: run verify-triggers upgrade"
        if not self.installed:
            return (f"revision {self.applied} is recorded in schema {self.schema!r} but none of "
                    "its objects exists: reinstall it (verify-triggers downgrade base, then "
                    "verify-triggers upgrade)")
        if self.healthy:
            counts = {}
            for obj in self.objects:
                counts[obj.kind] = counts.get(obj.kind, 0) + 1
            what = ", ".join(_plural(n, kind) for kind, n in counts.items())
            return f"healthy: {what} installed, enabled and current at revision {self.applied} (head)"
        return "UNHEALTHY: " + "; ".join(self.problems)

    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "applied": self.applied,
            "head": self.head,
            "installed": self.installed,
            "healthy": self.healthy,
            "summary": self.summary,
            "problems": list(self.problems),
            "objects": [o.to_dict() for o in self.objects],
        }


def applied_revision(conn: psycopg.Connection, schema: str) -> str | None:
    """The revision recorded in ``<schema>.verify_triggers_version``, None if none."""
    present = conn.execute(query("version_table.sql", schema)).fetchone()[0]
    if not present:
        return None
    rows = conn.execute(query("applied_revision.sql", schema)).fetchall()
    return ",".join(row[0] for row in rows) or None


def status(conn: psycopg.Connection, schema: str = DEFAULT_SCHEMA) -> Status:
    """The sync's state in ``schema``: applied revision, head, and each object's state."""
    require_tables(conn, schema)
    script = ScriptDirectory(str(resources.migrations_dir()))
    head = script.get_current_head()
    with conn.transaction():
        applied = applied_revision(conn, schema)
        functions = {r["name"]: r for r in _rows(conn, "status_functions.sql", schema)}
        # trigger names are per table: key them by both
        triggers = {(r["name"], r["table_name"]): r for r in _rows(conn, "status_triggers.sql", schema)}
        relations = {r["name"]: r for r in _rows(conn, "status_relations.sql", schema)}

    result = Status(schema=schema, applied=applied, head=head)
    basis = applied
    if applied is not None:
        try:
            script.get_revision(applied)
        except CommandError:
            result.problems.append(
                f"revision {applied} is applied but unknown to this verify-triggers: "
                "install the release that made it")
            basis = head
    expected = manifest.expected(basis or head, schema)
    # An application index stands in for one of ours only where the sync is installed.
    sync_present = applied is not None and (bool(functions) or bool(triggers) or bool(relations))
    fix = "run verify-triggers upgrade" if applied != head else (
        "reinstall it: verify-triggers downgrade base, then verify-triggers upgrade")

    for name, want in expected.triggers.items():
        found = triggers.pop((name, want.table), None)
        if found is None:
            result.objects.append(ObjectStatus("trigger", name, MISSING,
                                               f"not in the database: {_missing_fix(applied)}",
                                               False, want.table))
            continue
        state, meaning, healthy = TRIGGER_MODES.get(found["enabled"], (found["enabled"], "unknown mode", False))
        if manifest.trigger_differs(want, found["definition"], schema):
            meaning = f"differs from what revision {basis} installs (definition; {meaning}): {fix}"
            state, healthy = OUTDATED, False
        result.objects.append(ObjectStatus("trigger", name, state, meaning, healthy, want.table))

    for name, want in expected.functions.items():
        found = functions.pop(name, None)
        if found is None:
            result.objects.append(ObjectStatus("function", name, MISSING,
                                               f"not in the database: {_missing_fix(applied)}", False,
                                               args=want.args))
            continue
        diffs = manifest.function_differences(want, found, schema)
        if diffs:
            result.objects.append(ObjectStatus(
                "function", name, OUTDATED,
                f"differs from what revision {basis} installs ({', '.join(diffs)}): {fix}", False,
                args=found["args"]))
        else:
            result.objects.append(ObjectStatus("function", name, INSTALLED, "current", True,
                                               args=found["args"]))

    for kind, names in (("table", expected.tables), ("index", expected.indexes)):
        for name in names:
            found = relations.pop(name, None)
            cover = _covering_index(conn, schema, name) if found is None and sync_present else None
            if cover:
                result.objects.append(ObjectStatus(kind, name, INSTALLED,
                                                   f"{STANDS_IN}the application's {cover} serves it", True))
            elif found is None or found["kind"] != kind:
                result.objects.append(ObjectStatus(kind, name, MISSING,
                                                   f"not in the database: {_missing_fix(applied)}", False))
            elif not found["valid"]:
                result.objects.append(ObjectStatus(
                    kind, name, INVALID,
                    "its concurrent build failed, so the sync's lookups scan the table: "
                    "rebuild it with REINDEX INDEX CONCURRENTLY", False))
            else:
                result.objects.append(ObjectStatus(kind, name, INSTALLED, "present", True))

    leftover = (f"not installed by revision {basis}" if basis else "no revision is applied")
    for found in triggers.values():
        state, meaning, _ = TRIGGER_MODES.get(found["enabled"], (found["enabled"], "", False))
        result.objects.append(ObjectStatus(
            "trigger", found["name"], EXTRA, f"{leftover} ({meaning}); drop it if nothing needs it",
            found["enabled"] == "D", found["table_name"]))
    for found in functions.values():
        result.objects.append(ObjectStatus(
            "function", found["name"], EXTRA, f"{leftover}; harmless unless a trigger calls it", True,
            args=found["args"]))

    _collect_problems(result)
    return result


def _covering_index(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """The application's index that makes ``name`` unnecessary, if it has one."""
    if name not in manifest.COVERED_BY:
        return None
    row = conn.execute(resources.render(manifest.COVERED_BY[name], schema)).fetchone()
    return row[0] if row else None


def _plural(n: int, kind: str) -> str:
    return f"{n} {kind}" if n == 1 else f"{n} {'indexes' if kind == 'index' else kind + 's'}"


def _missing_fix(applied: str | None) -> str:
    return "run verify-triggers upgrade" if applied is None else (
        "reinstall it: verify-triggers downgrade base, then verify-triggers upgrade")


def _collect_problems(result: Status) -> None:
    if result.applied is None:
        result.problems.append("no revision applied: run verify-triggers upgrade")
    elif result.applied != result.head and not result.problems:
        result.problems.append(
            f"revision {result.applied} applied, head is {result.head}: run verify-triggers upgrade")
    by_state: dict[str, list[str]] = {}
    for obj in result.objects:
        if not obj.healthy:
            by_state.setdefault(obj.state, []).append(obj.name)
    if result.applied is None and set(by_state) <= {MISSING}:
        return  # nothing installed: one problem says it
    for state, names in by_state.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        result.problems.append(f"{len(names)} {state.lower()}: {shown}")


def _rows(conn: psycopg.Connection, name: str, schema: str) -> list[dict]:
    cursor = conn.execute(query(name, schema))
    columns = [c.name for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]
