"""``status``: is the sync installed, enabled and current? Judged from one read of the catalog.

Each object the applied revision created is compared with what the install recorded about it
(``verify_triggers_objects``): a fingerprint of the server's own rendering of its definition,
taken at install, so any change to a definition reads OUTDATED, and no SQL is parsed here. For
each key the sync looks up, the record names the index that serves it, the host's own or the
sync's. Revisions cut before the record existed (0001, 0002) are checked by name only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from psycopg import sql

from . import revisions
from .catalog import Catalog, read_from
from .constants import HOST_TABLES, LOCK_ROW_ROLES, LOCK_TABLE, RECORD_TABLE
from .errors import VerifyTriggersError

INSTALLED = "INSTALLED"
DISABLED = "DISABLED"
REPLICA_ONLY = "REPLICA-ONLY"
ALWAYS = "ALWAYS"
OUTDATED = "OUTDATED"
MISSING = "MISSING"
INVALID = "INVALID"
# The lock table with rows gone: writes in those buckets take no lock.
INCOMPLETE = "INCOMPLETE"
EXTRA = "EXTRA"
# A key the sync looks up whose index it did not build, because the host's own serves the key:
# healthy, and not INSTALLED, since no index of the sync's exists.
SERVED = "SERVED"
STANDS_IN = "not built: "
REPAIR = "run verify-triggers upgrade (it repairs the install)"

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
KIND_ORDER = {"trigger": 0, "function": 1, "table": 2, "index": 3}


@dataclass
class ObjectStatus:
    """One object of the sync and its state."""

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
    missing: list[str] = field(default_factory=list)  # tables and columns the sync needs
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong

    @property
    def installed(self) -> bool:
        """Some revision is applied and at least one of its triggers, functions or tables
        exists (an index of the host's that serves a key is not the sync's)."""
        return self.applied is not None and any(
            o.state not in (MISSING, EXTRA) and o.kind in ("trigger", "function", "table")
            for o in self.objects)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        if self.missing:
            return "UNHEALTHY: " + "; ".join(self.problems)
        if self.applied is None and not self.objects:
            return f"not installed in schema {self.schema!r}: run verify-triggers upgrade"
        if self.healthy:
            counts: dict[str, int] = {}
            for obj in self.objects:
                if obj.state != SERVED:
                    counts[obj.kind] = counts.get(obj.kind, 0) + 1
            what = ", ".join(_plural(n, kind) for kind, n in counts.items())
            served = sum(obj.state == SERVED for obj in self.objects)
            return (f"healthy: {what} installed, enabled and current at revision {self.applied} (head)"
                    + (f"; {_plural(served, 'lookup')} served by the application's own indexes"
                       if served else ""))
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
            "missing": list(self.missing),
            "notes": list(self.notes),
            "objects": [o.to_dict() for o in self.objects],
        }


def status(conn, schema: str) -> Status:
    """The sync's state in ``schema``, from one read of the catalog over ``conn``."""
    return assess(read_from(conn, schema))


def assess(cat: Catalog) -> Status:
    """Judge one read of the catalog: each object's state and what is wrong, with the fix."""
    if not cat.schema_exists:
        raise VerifyTriggersError(
            f"schema {cat.schema!r} does not exist in this database "
            "(pass --schema or set VERIFY_TRIGGERS_SCHEMA to the application's schema)")
    head = revisions.head()
    result = Status(schema=cat.schema, applied=cat.applied, head=head.revision)
    if cat.missing:
        result.missing = list(cat.missing)
        tables = [name.removeprefix("table ") for name in cat.missing if name.startswith("table ")]
        if len(tables) == len(HOST_TABLES):
            # none of them: more likely the wrong schema than four tables dropped
            result.problems.append(
                f"schema {cat.schema!r} has none of the tables the sync needs "
                f"({', '.join(tables)}): is it the application's schema? (pass --schema or set "
                "VERIFY_TRIGGERS_SCHEMA to it)")
        else:
            result.problems.append(
                f"schema {cat.schema!r} lacks {', '.join(cat.missing)}, which the sync needs: "
                "restore it (a migration dropped or renamed it), then run verify-triggers upgrade")
    if cat.applied is None:
        if cat.has_sync_objects:
            what = "is empty" if cat.version_table else "is missing"
            result.problems.append(
                f"the sync's objects are in schema {cat.schema!r} but its version table "
                f"(verify_triggers_version) {what}: run verify-triggers upgrade to take them over")
            _extras(result, cat, expected=set(), leftover="no revision is applied")
        elif not cat.missing:
            result.problems.append("no revision applied: run verify-triggers upgrade")
        return result

    rev = revisions.get(cat.applied)
    if rev is None:
        result.problems.append(
            f"revision {cat.applied} is applied but unknown to this verify-triggers: "
            "install the release that made it")
        return result
    recorded = cat.record if rev.cut and cat.record else None
    if rev.cut and not recorded:
        result.problems.append(
            f"the record of what revision {rev.revision} installed (verify_triggers_objects) is "
            f"missing: {REPAIR}")
    expected = _judge(result, cat, rev, recorded)
    _extras(result, cat, expected, leftover=f"not installed by revision {rev.revision}")
    if not rev.cut:
        result.notes.append(
            f"revision {rev.revision}'s triggers name the columns they read: a host migration "
            "that alters one fails with \"cannot alter type of a column used in a trigger "
            "definition\"; upgrade first (head pins no column), or run it inside "
            "verify_triggers.alembic.triggers_lifted()")
    if rev.revision != head.revision:
        result.problems.insert(0, f"revision {rev.revision} applied, head is {head.revision}: "
                                  "run verify-triggers upgrade")
    _replica_sessions(result, cat)
    _exposed(result, cat)
    _collect_problems(result)
    result.objects.sort(key=lambda o: KIND_ORDER[o.kind])
    return result


def _judge(result: Status, cat: Catalog, rev, recorded) -> set[tuple[str, str]]:
    """Add a line per object ``rev`` installed; returns the catalog keys accounted for."""
    functions = {name.split("(", 1)[0]: key for key in cat.installed
                 for kind, name in [key] if kind == "function"}
    seen: set[tuple[str, str]] = set()
    defined = [(o["kind"], o["signature"] if o["kind"] == "function" else o["name"], o.get("table"),
                None, None) for o in rev.objects]
    defined += [("index", name, None, None, None) for name in rev.indexes]
    defined += [("lookup", lk.index, lk.table, None, None) for lk in rev.lookups]
    if recorded is not None:
        wanted = [(row["kind"], row["name"], row["table_name"], row["fingerprint"], row["served_by"])
                  for row in recorded.values()]
        # The record holds what the catalog held when the revision was installed: an object
        # that was already gone then (dropped before an upgrade that did not create it again)
        # is not in it. What the revision defines is expected all the same.
        known = {_identity(kind, name, table) for kind, name, table, *_ in wanted}
        wanted += [entry for entry in defined if _identity(*entry[:3]) not in known]
    else:
        wanted = defined
    fix = REPAIR if rev.revision == revisions.head().revision else "run verify-triggers upgrade"
    lookups = {name for kind, name, *_ in wanted if kind == "lookup"}
    own_fingerprints = {name: fingerprint for kind, name, _, fingerprint, _ in wanted if kind == "index"}
    for kind, name, table, fingerprint, _ in wanted:
        if kind == "lookup":
            _judge_lookup(result, cat, name, table, seen, fix, own_fingerprints.get(name))
            continue
        if kind == "index" and name in lookups:
            continue  # judged with its key, above or below
        key = functions.get(name.split("(", 1)[0]) if kind == "function" else (kind, name)
        found = cat.installed.get(key) if key else None
        short, args = _split_function(name) if kind == "function" else (name, None)
        if found is not None and kind == "trigger" and table and found["table_name"] != table:
            found = None  # a trigger of that name on another table is not this one
        if found is None:
            result.objects.append(ObjectStatus(kind, short, MISSING, f"not in the database: {fix}",
                                               False, table, args))
            continue
        seen.add(key)
        if kind == "function":
            args = _split_function(key[1])[1]
        state, detail, healthy = INSTALLED, "current", True
        if kind == "trigger":
            state, detail, healthy = TRIGGER_MODES.get(found["enabled"], (found["enabled"], "unknown mode", False))
        if kind == "index" and not found["valid"]:
            state, detail, healthy = INVALID, ("its concurrent build failed, so the sync's lookups "
                                               f"scan the table: {fix}"), False
        elif fingerprint is not None and found["fingerprint"] != fingerprint:
            state, detail, healthy = OUTDATED, (f"differs from what revision {rev.revision} "
                                                f"installed ({detail}): {fix}"), False
        elif recorded is None and rev.cut is False and kind in ("function", "trigger", "table"):
            detail = f"{detail}; no fingerprint recorded (revision {rev.revision} predates them)"
        if kind == "table" and name == LOCK_TABLE and healthy:
            state, detail, healthy = _lock_rows(cat, state, detail, fix)
        result.objects.append(ObjectStatus(kind, short, state, detail, healthy,
                                           table or found.get("table_name"), args))
    return seen


def _judge_lookup(result: Status, cat: Catalog, index: str, table: str | None,
                  seen: set, fix: str, fingerprint: str | None) -> None:
    """A key the sync looks up: served by the host's index, by the sync's own, or by none.
    One line, named after the sync's own index for the key."""
    row = cat.installed.get(("lookup", index))
    served_by = row["served_by"] if row else None
    own = cat.installed.get(("index", index))
    if served_by and served_by != index:
        if own is None:
            result.objects.append(ObjectStatus(
                "index", index, SERVED, f"{STANDS_IN}the application's {served_by} serves it",
                True, table))
        else:  # an offline install builds every index it might need
            result.objects.append(ObjectStatus(
                "index", index, INSTALLED, f"built, but the application's {served_by} serves the "
                "same key: redundant (see the note)", True, table))
            seen.add(("index", index))
            result.notes.append(
                f"the sync's own {index} is there too, which the application's {served_by} "
                "makes redundant: every write maintains both; verify-triggers upgrade drops it")
        return
    if own is None:
        result.objects.append(ObjectStatus(
            "index", index, MISSING, f"no index serves the sync's lookups on {table}, so they "
            f"scan the table: {fix}", False, table))
        return
    seen.add(("index", index))
    if not own["valid"]:
        state, detail, healthy = INVALID, ("its concurrent build failed, so the sync's lookups "
                                           f"scan the table: {fix}"), False
    elif fingerprint is not None and own["fingerprint"] != fingerprint:
        state, detail, healthy = OUTDATED, f"differs from the index the install built: {fix}", False
    else:
        state, detail, healthy = INSTALLED, "present", True
    result.objects.append(ObjectStatus("index", index, state, detail, healthy, table))


def _lock_rows(cat: Catalog, state: str, detail: str, fix: str) -> tuple[str, str, bool]:
    """The lock table is only as good as its rows: a write whose bucket row is gone (the
    owner's TRUNCATE or DELETE) takes no lock, and two writers of one pair can drift."""
    gone = cat.missing_lock_rows
    if gone is None:
        return state, f"{detail}; its rows not checked (this role may not read them)", True
    if not gone:
        return state, detail, True
    named = [f"row {row} ({LOCK_ROW_ROLES[row]})" for row in gone if row in LOCK_ROW_ROLES]
    buckets = [str(row) for row in gone if row not in LOCK_ROW_ROLES]
    if buckets:
        named.append(f"bucket{'s' if len(buckets) > 1 else ''} {first_of(buckets, 5)}")
    harm = ("writes in those buckets take no lock, so concurrent writers of a pair can drift"
            if buckets else "the sync relies on them")
    return INCOMPLETE, f"{len(gone)} of its rows are gone ({'; '.join(named)}): {harm}: {fix}", False


def first_of(items: list[str], shown: int, sep: str = ", ") -> str:
    """The first ``shown`` of ``items``, and how many more, for a one-line message."""
    more = len(items) - shown
    return sep.join(items[:shown]) + (f" and {more} more" if more > 0 else "")


def _exposed(result: Status, cat: Catalog) -> None:
    """Privileges on the sync's own objects that a role with DML rights could use to get
    around it (GRANT ... ON ALL TABLES IN SCHEMA, ALTER DEFAULT PRIVILEGES)."""
    if not cat.exposed:
        return
    held = "; ".join(
        f"{row['grantee'] or 'PUBLIC'} holds {row['privileges']} on {row['object_name']}"
        + ("()" if row["object_kind"] == "function" else "") for row in cat.exposed)
    result.problems.append(
        f"{held}: a role with these could forge the sync's token, drop its bucket locks or "
        "rewrite its record, and so write around it; run verify-triggers upgrade (it revokes "
        "them)")
    # an offline deploy's script cannot know who holds what: the statements, for its DBA
    result.notes.append("to revoke them by hand (an offline deploy): " + " ".join(
        revoke_statement(cat.schema, row).as_string(None) + ";" for row in cat.exposed))


# What an exposed privilege is taken back with, by object: every privilege on the lock table,
# the writes on the record (anyone may read it), EXECUTE on the token function.
_REVOKE = {
    LOCK_TABLE: sql.SQL("REVOKE ALL ON TABLE {}.{} FROM {}"),
    RECORD_TABLE: sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE {}.{} FROM {}"),
    "verify_triggers_sync_token": sql.SQL("REVOKE EXECUTE ON FUNCTION {}.{}() FROM {}"),
}


def revoke_statement(schema: str, row: dict) -> sql.Composed:
    """The REVOKE that takes back one row of ``Catalog.exposed``."""
    grantee = sql.Identifier(row["grantee"]) if row["grantee"] else sql.SQL("PUBLIC")
    return _REVOKE[row["object_name"]].format(
        sql.Identifier(schema), sql.Identifier(row["object_name"]), grantee)


def _replica_sessions(result: Status, cat: Catalog) -> None:
    """A standing bypass: sessions that start in replica mode never fire the triggers that
    are enabled for ORIGIN (the default), so their writes go unsynced until a sync."""
    if cat.replica_settings and any(o.kind == "trigger" and o.state == INSTALLED for o in result.objects):
        result.problems.append(
            "sessions start with session_replication_role = replica, set by "
            f"{', '.join(cat.replica_settings)}: their writes never fire the sync's triggers and "
            "go unsynced; RESET it (unless those sessions only apply rows already synced "
            "upstream), then run verify-triggers sync")


def _extras(result: Status, cat: Catalog, expected: set, leftover: str) -> None:
    for key, row in cat.installed.items():
        kind, name = key
        if kind == "lookup" or key in expected:
            continue
        if any(o.kind == kind and o.name == _split_function(name)[0]
               and (kind != "trigger" or o.table == row["table_name"]) for o in result.objects):
            continue
        short, args = _split_function(name) if kind == "function" else (name, None)
        if kind == "trigger":
            _, meaning, _ = TRIGGER_MODES.get(row["enabled"], (row["enabled"], "", False))
            result.objects.append(ObjectStatus(
                "trigger", short, EXTRA, f"{leftover} ({meaning}); drop it if nothing needs it",
                row["enabled"] == "D", row["table_name"]))
        else:
            result.objects.append(ObjectStatus(
                kind, short, EXTRA, f"{leftover}; harmless unless a trigger calls it", True,
                row.get("table_name"), args))


def _identity(kind: str, name: str, table: str | None) -> tuple:
    """An object as the record and a revision's definition both name it: a function by its
    name alone (the record adds its arguments), a trigger by name and table."""
    if kind == "function":
        return kind, _split_function(name)[0]
    return kind, name, table if kind == "trigger" else None


def _split_function(name: str) -> tuple[str, str | None]:
    if "(" not in name:
        return name, None
    short, args = name.split("(", 1)
    return short, args[:-1]


def _plural(n: int, kind: str) -> str:
    return f"{n} {kind}" if n == 1 else f"{n} {'indexes' if kind == 'index' else kind + 's'}"


def _collect_problems(result: Status) -> None:
    by_state: dict[str, list[str]] = {}
    for obj in result.objects:
        if not obj.healthy:
            by_state.setdefault(obj.state, []).append(obj.name)
    for state, names in by_state.items():
        result.problems.append(f"{len(names)} {state.lower()}: {first_of(names, 3)}")
