"""Run a revision's SQL on the migration connection Alembic has open: the sync's own, or the
host application's (``verify_triggers.alembic.upgrade_sync``).

Every step is one of three kinds, each chosen for a live database:

* ``execute``: in the migration's transaction;
* ``ddl``: in the migration's transaction under a short ``lock_timeout``, retried;
* ``autocommit``: outside any transaction (``CREATE INDEX CONCURRENTLY`` and batches that
  commit as they go), through Alembic's ``autocommit_block()``.

Offline (``--sql``) each step is written to the script instead. Scripts go to the driver
unparsed and whole (psycopg's and asyncpg's simple query protocol), so PL/pgSQL bodies arrive
byte for byte and nothing here splits SQL: a file holds one statement, or one script.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from alembic import op
from alembic.util import msg
from psycopg import sql
from sqlalchemy.exc import DBAPIError

from .. import resources, revisions
from ..catalog import lookup_values
from ..constants import HOST_TABLES, lock_rank
from ..errors import VerifyTriggersError
from ..revisions import Revision
from ..target import Target

LOCK_NOT_AVAILABLE = "55P03"
# A deadlock between the DDL and a writer: the server aborts one of them; if it is the DDL,
# its savepoint goes and the step is tried again, as after a lock timeout.
DEADLOCK = "40P01"
# Creating or dropping functions and triggers is instant once the locks are granted.
DDL_STATEMENT_TIMEOUT = "60s"
# A DDL step's own timeouts outlive it (set_config(..., true) survives the release of its
# savepoint, SET LOCAL the statement it precedes). In a host's migration, or a transaction the
# caller opened, they are put back to what was there, saved under these names in the same
# transaction (Runner.keeps_outer_timeouts).
_SAVE_OUTER_TIMEOUTS = (
    "SELECT pg_catalog.set_config('verify_triggers.outer_lock_timeout',"
    " pg_catalog.current_setting('lock_timeout'), true),"
    " pg_catalog.set_config('verify_triggers.outer_statement_timeout',"
    " pg_catalog.current_setting('statement_timeout'), true);")
_RESTORE_OUTER_TIMEOUTS = (
    "SELECT pg_catalog.set_config('lock_timeout',"
    " pg_catalog.current_setting('verify_triggers.outer_lock_timeout'), true),"
    " pg_catalog.set_config('statement_timeout',"
    " pg_catalog.current_setting('verify_triggers.outer_statement_timeout'), true);")
# A downgrade puts back released definitions, which were valid when released: an SQL function's
# body is not checked again (as pg_restore does not), so that a lock table a person altered by
# hand cannot stop its removal (0008's token function reads its key). Put back afterwards.
_BODIES_UNCHECKED = (
    "SELECT pg_catalog.set_config('verify_triggers.outer_check_function_bodies',"
    " pg_catalog.current_setting('check_function_bodies'), true),"
    " pg_catalog.set_config('check_function_bodies', 'off', true);")
_BODIES_CHECKED_AGAIN = (
    "SELECT pg_catalog.set_config('check_function_bodies',"
    " pg_catalog.current_setting('verify_triggers.outer_check_function_bodies'), true);")
# The key under which the Alembic configuration carries the Target to the steps.
TARGET = "verify_triggers.target"
# The target while the sync's revisions run inside a host's migration (verify_triggers.alembic).
_host_target: ContextVar[Target | None] = ContextVar("verify_triggers_host_target", default=None)


@contextmanager
def target_for(target: Target) -> Iterator[None]:
    """Run the sync's revision functions on the host's migration context, for ``target``."""
    token = _host_target.set(target)
    try:
        yield
    finally:
        _host_target.reset(token)


class Runner:
    """The steps of one migration run, on Alembic's migration context."""

    def __init__(self, context, target: Target, host: bool = False):
        self.context = context
        self.target = target
        # in a host application's migration, whose later statements must not inherit the
        # DDL steps' timeouts
        self.host = host
        self.notices: list[str] = []

    @classmethod
    def current(cls) -> Runner:
        """The runner for the migration context in progress (the one ``op`` is bound to):
        the sync's own, whose configuration carries the target, or a host's, running the
        sync's revisions inside :func:`target_for`."""
        context = op.get_context()
        host_target = _host_target.get()
        return cls(context, host_target or context.config.attributes[TARGET],
                   host=host_target is not None)

    @property
    def offline(self) -> bool:
        return self.context.as_sql

    @property
    def schema(self) -> str:
        return self.target.schema

    @property
    def in_outer_transaction(self) -> bool:
        """Migrating inside a transaction the caller opened: nothing can run outside it."""
        return bool(getattr(self.context, "_in_external_transaction", False))

    # --- the three kinds of step -------------------------------------------------------------

    def render(self, path: Path) -> str:
        return resources.render(path, self.schema)

    def execute(self, path: Path) -> None:
        """A script in the migration's transaction."""
        self._run(self.render(path))

    def ddl(self, *paths: Path, exclusive: tuple[str, ...] = (), check_bodies: bool = True) -> None:
        """Scripts in the migration's transaction under a short ``lock_timeout``, retried with
        back-off.

        ``CREATE TRIGGER`` needs a lock that conflicts with every open writing transaction, and
        while it waits every later write queues behind it. Waiting at most ``lock_timeout`` per
        attempt bounds how long any write can stall on the deploy; a long application
        transaction costs retries, not an outage. ``exclusive``: the host tables whose triggers
        the scripts drop (see :meth:`ddl_text`). ``check_bodies=False``: released definitions
        put back online, not checked again (offline scripts stay as released).
        """
        self.ddl_text("\n".join(self.render(path).strip() for path in paths),
                      ", ".join(path.name for path in paths), exclusive=exclusive,
                      check_bodies=check_bodies)

    @property
    def keeps_outer_timeouts(self) -> bool:
        """Whether statements after the sync's may follow in the same transaction: a host's
        migration, or a transaction the caller opened."""
        return self.host or self.in_outer_transaction

    def ddl_text(self, text: str, label: str = "the sync's triggers",
                 exclusive: tuple[str, ...] = (), check_bodies: bool = True) -> None:
        """:meth:`ddl` for a script already composed for the schema.

        ``DROP TRIGGER`` locks its table ACCESS EXCLUSIVE, and a released script may drop the
        sheets' trigger before the matches' (0004's does): holding the sheets, it then waits
        for a confirm that holds the matches and waits for the sheets, a deadlock on nearly
        every attempt under steady writes. Online, the tables in ``exclusive`` are therefore
        locked first, in the order a confirm takes them. Offline scripts of released revisions
        stay as they were released.
        """
        timeout, retries = self.target.lock_timeout, self.target.lock_retries
        if self.offline:
            # No retries in a script: psql (with ON_ERROR_STOP) stops at the first lock timeout,
            # and the rest is written again from the revision the database reached (README).
            settings = sql.SQL("SET LOCAL lock_timeout = {};\nSET LOCAL statement_timeout = {};").format(
                sql.Literal(timeout), sql.Literal(DDL_STATEMENT_TIMEOUT))
            if self.keeps_outer_timeouts:
                self._emit(_SAVE_OUTER_TIMEOUTS)
            self._emit(settings.as_string(None) + "\n" + text)
            if self.keeps_outer_timeouts:
                self._emit(_RESTORE_OUTER_TIMEOUTS)
            return
        bind = self.context.connection
        for attempt in range(1, retries + 1):
            try:
                with bind.begin_nested():
                    if self.keeps_outer_timeouts:
                        self._run(_SAVE_OUTER_TIMEOUTS)
                    self._run(sql.SQL(
                        "SELECT pg_catalog.set_config('lock_timeout', {}, true),"
                        " pg_catalog.set_config('statement_timeout', {}, true)").format(
                        sql.Literal(timeout), sql.Literal(DDL_STATEMENT_TIMEOUT)).as_string(None))
                    if exclusive:
                        self._run(_lock_in_a_confirms_order(self.schema, exclusive, timeout))
                    if not check_bodies:
                        self._run(_BODIES_UNCHECKED)
                    self._run(text)
                    if not check_bodies:
                        self._run(_BODIES_CHECKED_AGAIN)
                    if self.keeps_outer_timeouts:
                        self._run(_RESTORE_OUTER_TIMEOUTS)
                return
            except DBAPIError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate not in (LOCK_NOT_AVAILABLE, DEADLOCK):
                    raise
                if attempt == retries:
                    why = ("deadlocked with a writer that takes the tables in another order"
                           if sqlstate == DEADLOCK else "a long transaction holds them")
                    raise VerifyTriggersError(
                        f"gave up after {retries} attempts: could not lock the tables within "
                        f"lock_timeout={timeout} ({label}); {why}: "
                        "see pg_stat_activity, then run the upgrade again") from None
                msg(f"verify-triggers: tables busy (attempt {attempt}/{retries}), retrying")
                time.sleep(min(0.2 * 2 ** attempt, 5.0))

    def autocommit(self, *paths: Path) -> None:
        """One statement (or one block) per file, each outside any transaction."""
        if self.in_outer_transaction and not self.offline:
            # The caller's open transaction: no concurrent build can run inside it, and one
            # outside would wait for it forever. Build in the transaction instead (the caller
            # holds its tables anyway), and let a batch that would commit run whole.
            for path in paths:
                self._run(_without_concurrently(self.render(path)))
            return
        with self.context.autocommit_block():
            for path in paths:
                self._run(self.render(path).strip())

    # --- questions asked of the catalog (online only) ----------------------------------------

    def installed(self, rev: Revision | None = None) -> dict[tuple[str, str], dict]:
        """The sync's objects, and ``rev``'s keys, as the catalog holds them now."""
        lookups = rev.lookups if rev else ()
        query = resources.query("installed_objects.sql", self.schema, **lookup_values(lookups))
        return {(row["kind"], row["name"]): row for row in self.fetch(query)}

    def fetch(self, query: sql.Composable) -> list[dict]:
        """Rows of a catalog query whose values are composed in as literals, so that any
        driver runs it (they are names of the sync's own objects, never input)."""
        result = self.context.connection.execution_options(no_parameters=True).exec_driver_sql(
            query.as_string(None))
        return [dict(row) for row in result.mappings()]

    # --- running text ------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self.context.impl.static_output(text.strip() + "\n")

    def _run(self, text: str) -> None:
        if self.offline:
            self._emit(text)
            return
        bind = self.context.connection
        dbapi = bind.connection.dbapi_connection
        handler = getattr(dbapi, "add_notice_handler", None)
        if handler is None:  # not psycopg 3: a driver SQLAlchemy wraps
            _run_foreign(bind, text)
            return
        notices: list[str] = []

        def collect(diag) -> None:
            notices.append(diag.message_primary or "")

        dbapi.add_notice_handler(collect)
        try:
            bind.execution_options(no_parameters=True).exec_driver_sql(text)
        finally:
            dbapi.remove_notice_handler(collect)
        for notice in notices:
            if notice.startswith("verify-triggers:"):
                self.notices.append(notice)
                msg(notice)


def _run_foreign(bind, text: str) -> None:
    """A script on a connection of another driver (the host's asyncpg or psycopg2)."""
    dbapi = bind.connection.dbapi_connection
    raw = getattr(dbapi, "_connection", None)
    if bind.dialect.driver == "asyncpg" and raw is not None:
        from sqlalchemy.util import await_only

        # SQLAlchemy's adapter opens its transaction lazily; make it open one first, so the
        # script runs inside the migration's transaction (unless in an autocommit block).
        bind.exec_driver_sql("SELECT 1")
        await_only(raw.execute(text))  # asyncpg's simple query protocol: several statements
        return
    bind.execution_options(no_parameters=True).exec_driver_sql(text)


# How long a DDL step, holding one table, waits for the next: a writer that holds the next and
# then needs the first (a sheet import reads the matches inside its trigger) waits on the step,
# so the step lets go at once and tries again, rather than leaving the deadlock to the server's
# detector (a second of stalled writes, and sometimes the writer aborted).
NEXT_TABLE_LOCK_TIMEOUT = "50ms"


def _lock_in_a_confirms_order(schema: str, tables: tuple[str, ...], timeout: str) -> str:
    """The first table under the step's lock_timeout, each further one under a short one."""
    locks = [sql.SQL("LOCK TABLE {}.{} IN ACCESS EXCLUSIVE MODE;").format(
        sql.Identifier(schema), sql.Identifier(table)) for table in HOST_TABLES if table in tables]
    if len(locks) == 1:
        return locks[0].as_string(None)
    return sql.SQL("\n").join([
        locks[0],
        sql.SQL("SELECT pg_catalog.set_config('lock_timeout', {}, true);").format(
            sql.Literal(NEXT_TABLE_LOCK_TIMEOUT)),
        *locks[1:],
        sql.SQL("SELECT pg_catalog.set_config('lock_timeout', {}, true);").format(sql.Literal(timeout)),
    ]).as_string(None)


def _dropped_trigger_tables(before: Revision, after: Revision) -> tuple[str, ...]:
    """The host tables on which a trigger of ``before`` is not one of ``after``'s."""
    return tuple({table for _, table in before.triggers - after.triggers})


def drop_triggers(schema: str, triggers) -> str:
    """DROP TRIGGER IF EXISTS for each (name, table), table by table in the order a confirm
    locks them (DROP TRIGGER locks its table ACCESS EXCLUSIVE)."""
    return "\n".join(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}.{};").format(
        sql.Identifier(name), sql.Identifier(schema), sql.Identifier(table)).as_string(None)
        for name, table in sorted(triggers, key=lambda t: (lock_rank(t[1]), t[0])))


def _without_concurrently(text: str) -> str:
    return text.replace(" CONCURRENTLY", "")


# --- revisions ----------------------------------------------------------------------------

def index_file(name: str, before: str | None = None) -> Path:
    """The latest released build statement of the sync's index ``name`` (up to ``before``)."""
    for rev in reversed(revisions.chain()):
        if before is not None and rev.revision > before:
            continue
        path = resources.revision_path(rev.revision, f"indexes/{name}.sql")
        if path.is_file():
            return path
    raise FileNotFoundError(name)


def drop_index(runner: Runner, *names: str) -> None:
    """The sync's indexes ``names``, each concurrently if it exists, in one autocommit block."""
    # squawk: a concurrent drop blocks neither reads nor writes; no timeout can help it.
    statements = [sql.SQL(
        "-- squawk-ignore require-statement-timeout, require-lock-timeout\n"
        "DROP INDEX CONCURRENTLY IF EXISTS {}.{};").format(
        sql.Identifier(runner.schema), sql.Identifier(name)).as_string(None) for name in names]
    if runner.in_outer_transaction and not runner.offline:
        for statement in statements:
            runner._run(_without_concurrently(statement))
        return
    with runner.context.autocommit_block():
        for statement in statements:
            runner._run(statement)


def build_indexes(runner: Runner, rev: Revision) -> None:
    """Before the functions that read them: the indexes ``rev`` needs and the host lacks.

    An own index whose concurrent build failed (INVALID) is dropped and built again. Offline
    there is no catalog to ask: the script builds every index of ``rev``'s keys.
    """
    if runner.offline:
        runner.autocommit(*(index_file(name, rev.revision) for name in rev.own_indexes))
        return
    installed = runner.installed(rev)
    for name in rev.own_indexes:
        own = installed.get(("index", name))
        lookup = installed.get(("lookup", name))
        if own is not None and own["valid"]:
            continue
        if own is not None:
            drop_index(runner, name)  # a failed concurrent build
        elif lookup is not None and lookup["served_by"]:
            continue  # the host's own index serves this key
        runner.autocommit(index_file(name, rev.revision))


def drop_indexes(runner: Runner, rev: Revision, candidates: tuple[str, ...] = ()) -> None:
    """After the functions no longer read them: the sync's indexes ``rev`` does not need —
    those of earlier revisions it retired (``candidates``), and its own where a host index
    now serves the same key."""
    unneeded = [name for name in candidates if name not in rev.own_indexes]
    if not runner.offline:
        installed = runner.installed(rev)
        unneeded = [name for name in unneeded if ("index", name) in installed]
        for lookup in rev.lookups:
            row = installed.get(("lookup", lookup.index))
            if row and row["served_by"] not in (None, lookup.index) and ("index", lookup.index) in installed:
                unneeded.append(lookup.index)
    for name in unneeded:
        drop_index(runner, name)


def upgrade(revision: str) -> None:
    """Upgrade from the previous revision to ``revision`` (one cut by scripts/cut_revision.py)."""
    runner = Runner.current()
    rev = revisions.get(revision)
    previous = revisions.get(rev.previous)
    build_indexes(runner, rev)
    runner.ddl(resources.revision_path(revision, "upgrade.sql"),
               exclusive=_dropped_trigger_tables(previous, rev))
    drop_indexes(runner, rev, previous.own_indexes + rev.retired_indexes)


def downgrade(revision: str) -> None:
    """Back from ``revision`` to the revision before it."""
    runner = Runner.current()
    rev = revisions.get(revision)
    previous = revisions.get(rev.previous)
    build_indexes(runner, previous)
    runner.ddl(resources.revision_path(revision, "downgrade.sql"),
               exclusive=_dropped_trigger_tables(rev, previous), check_bodies=False)
    drop_indexes(runner, previous, rev.own_indexes)


def install_head(runner: Runner, *, reconcile: bool = True) -> None:
    """Head, whatever is there now: a fresh install, a repair, or an adoption.

    Every object of head is re-runnable and the retired ones are dropped if they exist, so this
    converges from nothing, from any earlier revision, or from a damaged install; then the rows
    are reconciled, since writes may have gone unsynced while objects were missing.
    """
    head = revisions.head()
    build_indexes(runner, head)
    # the triggers of earlier revisions that head does not define are dropped: their tables are
    # locked first, in a confirm's order (online; offline there is no catalog to ask)
    retiring = () if runner.offline else tuple({
        row["table_name"] for (kind, name), row in runner.installed().items()
        if kind == "trigger" and (name, row["table_name"]) not in head.triggers})
    path = functools.partial(resources.revision_path, head.revision)
    runner.ddl_text("\n".join([
        runner.render(path("objects.sql")).strip(),
        # retire.sql drops the functions before the triggers, and an earlier revision's trigger
        # that head does not define still calls its function (0002's and 0003's marking
        # triggers): they go first
        retired_triggers(runner.schema, head),
        runner.render(path("retire.sql")).strip(),
        runner.render(path("record.sql")).strip(),
    ]), "objects.sql, retire.sql, record.sql", exclusive=retiring)
    drop_indexes(runner, head, tuple(_every_own_index()))
    if reconcile:
        run_reconcile(runner, head)


def retired_triggers(schema: str, rev: Revision) -> str:
    """Drops of the triggers earlier revisions installed and ``rev`` does not define."""
    return drop_triggers(schema, set().union(*(
        earlier.triggers for earlier in revisions.chain() if earlier.revision < rev.revision))
        - rev.triggers)


def run_reconcile(runner: Runner, rev: Revision | None = None, path: Path | None = None) -> None:
    """The one-time repair of existing rows: batches that commit as they go, or, inside a
    transaction the caller holds open, one call that repairs every row."""
    path = path or resources.revision_path(rev.revision, "reconcile.sql")
    if runner.in_outer_transaction and not runner.offline:
        # no batch can commit inside the caller's transaction: one call does it all
        runner._run(sql.SQL("SELECT {}.verify_triggers_sync(NULL)").format(
            sql.Identifier(runner.schema)).as_string(None))
        return
    runner.autocommit(path)


def _every_own_index() -> Iterator[str]:
    for rev in revisions.chain():
        yield from rev.own_indexes
        yield from rev.retired_indexes


# --- the hand-cut revisions' steps, kept as they ran -----------------------------------------

def execute_file(name: str) -> None:
    Runner.current().execute(resources.sql_path(name))


def execute_ddl(name: str) -> None:
    Runner.current().ddl(resources.sql_path(name))


def execute_autocommit(*names: str, drop_invalid_indexes: tuple[str, ...] = ()) -> None:
    runner = Runner.current()
    if not runner.offline:
        installed = runner.installed()
        for index in drop_invalid_indexes:
            row = installed.get(("index", index))
            if row is not None and not row["valid"]:
                drop_index(runner, index)
    batches = [name for name in names if name.endswith("/reconcile.sql")]
    if batches:
        for name in batches:
            run_reconcile(runner, path=resources.sql_path(name))
    else:
        runner.autocommit(*(resources.sql_path(name) for name in names))


def existing_product_index() -> str | None:
    """Revision 0002's question: the application's index that finds matches by product."""
    runner = Runner.current()
    if runner.offline:
        return None
    rows = runner.fetch(sql.SQL(runner.render(resources.revision_path("0002", "product_index.sql"))))
    return rows[0]["index_name"] if rows else None
