"""What the tests share: databases, rows picked by name, writers in threads, the operations of
random histories. Fixtures live in conftest.py; the judge of the rows is tests/rule.py.

Every helper here writes through the application's tables as the application would, so the
triggers see each write; none of them reads the sync's own code to decide what is right.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
import pytest
from psycopg import IsolationLevel, errors, sql

import clirun
import pgserver
from rule import SYNC  # noqa: F401 (the sync's stamp, as the tests spell it)
from verify_triggers import target as targets
from verify_triggers.migrate import commands

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = "app"
TABLES = ["suppliers", "products", "supplier_products", "product_supplier_sheets"]

# A guard against a hang, never a timing assertion: whatever a test waits for (a session to
# block, a thread to finish, a replica to catch up) happens long before this.
HANG_GUARD_S = 120
SETTLE_S = 30  # a writer past its deadline: how long one transaction may keep failing
MAX_PAUSE_S = 0.5  # the longest pause of a writer before it retries a failed transaction
# Bounds on every statement a test's own session runs, so that nothing can wait forever.
BOUNDED_SESSION = "-c statement_timeout=60s -c lock_timeout=20s"

RC = IsolationLevel.READ_COMMITTED
RR = IsolationLevel.REPEATABLE_READ
SER = IsolationLevel.SERIALIZABLE
LEVEL_IDS = {RC: "read_committed", RR: "repeatable_read", SER: "serializable"}
# What an application retries: a serialization failure (40001) or a deadlock (40P01).
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


def levels(*chosen: IsolationLevel):
    """Parametrize a test's ``level`` over isolation levels, named readably."""
    return pytest.mark.parametrize("level", chosen, ids=[LEVEL_IDS[lv] for lv in chosen])


# --- databases ---------------------------------------------------------------------------------

def load_sql(conn: psycopg.Connection, path: Path, schema: str = SCHEMA) -> None:
    """Run a fixture file (``{schema}`` filled in as an identifier)."""
    conn.execute(sql.SQL(path.read_text()).format(schema=sql.Identifier(schema)))


class Database:
    """One throwaway database on a test server."""

    def __init__(self, server: pgserver.Server, name: str):
        self.server = server
        self.name = name

    def url(self, driver: str = "postgresql", user: str | None = None) -> str:
        """Its URL, for the server's user or for ``user`` (a role a test made)."""
        url = self.server.url(self.name, driver)
        return url if user is None else url.replace(f"{self.server.user}@", f"{user}@", 1)

    def connect(self, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return self.server.connect(self.name, **kwargs)

    def target(self, schema: str = SCHEMA) -> targets.Target:
        return targets.resolve(self.url(), schema)

    def upgrade(self, revision: str = "head", schema: str = SCHEMA) -> None:
        commands.upgrade(commands.make_config(self.target(schema)), revision)

    def downgrade(self, revision: str = "base", schema: str = SCHEMA) -> None:
        commands.downgrade(commands.make_config(self.target(schema)), revision)

    def cli(self, capsys, *args: str) -> clirun.Result:
        """``verify-triggers --database-url URL ARGS`` in this process."""
        return clirun.run(capsys, "--database-url", self.url(), *args)


def create_database(server: pgserver.Server, name: str, *, seed: bool = False,
                    install: bool = False) -> Database:
    """A new database on a server of a test's own: the application's schema, the seed's rows
    if ``seed``, the sync if ``install``."""
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database = Database(server, name)
    with database.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql")
        if seed:
            load_sql(conn, FIXTURES / "seed.sql")
    if install:
        database.upgrade()
    return database


# Every object whose name starts with verify_triggers_, in any schema: relations (tables,
# indexes, sequences), functions, triggers, constraints, types (a table's row and array types).
LEFTOVERS = r"""
SELECT 'relation ' || c.relkind::text, n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT 'function', n.nspname || '.' || p.proname
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT 'trigger', t.tgname || ' on ' || t.tgrelid::regclass::text
FROM pg_catalog.pg_trigger t WHERE t.tgname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT 'constraint', c.conname FROM pg_catalog.pg_constraint c
WHERE c.conname LIKE 'verify\_triggers\_%'
UNION ALL
SELECT 'type', n.nspname || '.' || t.typname
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.typname LIKE 'verify\_triggers\_%' OR t.typname LIKE '\_verify\_triggers\_%'
ORDER BY 1, 2
"""


def leftovers(conn) -> list[tuple[str, str]]:
    """Every object of the sync's naming left in the database, as (kind, name)."""
    return conn.execute(LEFTOVERS).fetchall()


# --- rows, picked by name ----------------------------------------------------------------------

def product_id(conn, sku: str) -> int:
    return conn.execute("SELECT id FROM app.products WHERE sku = %s", (sku,)).fetchone()[0]


def supplier_id(conn, name: str) -> int:
    """The (first) supplier of that name: names are not unique."""
    return conn.execute("SELECT min(id) FROM app.suppliers WHERE name = %s", (name,)).fetchone()[0]


def match_ids(conn, sku: str, supplier_name: str) -> list[int]:
    """The supplier_products ids joined to the pair, oldest first."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT sp.id FROM app.supplier_products sp"
            " JOIN app.products p ON p.id = sp.local_product_id"
            " JOIN app.suppliers su ON su.id = sp.supplier_id"
            " WHERE p.sku = %s AND su.name = %s ORDER BY sp.id",
            (sku, supplier_name),
        )
    ]


def match_id(conn, sku: str, supplier_name: str) -> int:
    """The pair's one match (a pair with none or several is a mistake in the test)."""
    (match,) = match_ids(conn, sku, supplier_name)
    return match


def add_match(conn, sku: str, supplier_name: str, confirmed: bool) -> int:
    """A new supplier_products row for the pair; its id."""
    return conn.execute(
        "INSERT INTO app.supplier_products (supplier_id, local_product_id, supplier_product_name,"
        " supplier_price, manual_confirmed) VALUES (%s, %s, 'listing', 9.90, %s) RETURNING id",
        (supplier_id(conn, supplier_name), product_id(conn, sku), confirmed),
    ).fetchone()[0]


def set_confirmed(conn, matches: int | Iterable[int], value: bool) -> None:
    """Confirm (or unconfirm) matches by id, as the back office does."""
    ids = [matches] if isinstance(matches, int) else list(matches)
    conn.execute(
        "UPDATE app.supplier_products SET manual_confirmed = %s,"
        " confirmed_at = CASE WHEN %s THEN now() END WHERE id = ANY(%s)",
        (value, value, ids),
    )


def confirming(matches: int | Iterable[int], value: bool) -> Callable:
    """set_confirmed as the work of a transaction (for Background, retry, play)."""
    return lambda conn: set_confirmed(conn, matches, value)


def add_sheet(conn, sku: str, supplier_name: str, **columns) -> int:
    """A new product_supplier_sheets row (an import); its id."""
    columns = {"sku": sku, "supplier_name": supplier_name, "price_cny": 10, **columns}
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    marks = sql.SQL(", ").join([sql.Placeholder()] * len(columns))
    return conn.execute(
        sql.SQL("INSERT INTO app.product_supplier_sheets ({}) VALUES ({}) RETURNING id").format(
            names, marks),
        list(columns.values()),
    ).fetchone()[0]


def verification(conn, sku: str, supplier_name: str) -> tuple:
    """(is_verified, verified_by) of one sheet row."""
    row = conn.execute(
        "SELECT is_verified, verified_by FROM app.product_supplier_sheets"
        " WHERE sku = %s AND supplier_name = %s", (sku, supplier_name)).fetchone()
    assert row is not None, f"no sheet row for ({sku}, {supplier_name})"
    return tuple(row)


# --- locks ---------------------------------------------------------------------------------------

# The tables the sync reads or writes.
SYNC_TABLES = {"app.verify_triggers_lock", "app.supplier_products", "app.product_supplier_sheets",
               "app.products", "app.suppliers"}


def my_locks(conn) -> list[tuple]:
    """The heavyweight locks this backend holds: (locktype, relation, mode)."""
    return conn.execute(
        "SELECT locktype, relation::regclass::text, mode FROM pg_catalog.pg_locks"
        " WHERE pid = pg_catalog.pg_backend_pid() AND locktype IN ('advisory', 'relation')"
        " ORDER BY 1, 2, 3").fetchall()


def assert_took_no_sync_lock(conn, written: str) -> None:
    """Inside the writer's open transaction: no advisory lock (the epoch) and no lock on a
    table the sync reads or writes, other than ``written``, the one the statement wrote."""
    locks = my_locks(conn)
    assert [lock for lock in locks if lock[0] == "advisory"] == []
    assert {lock[1] for lock in locks} & (SYNC_TABLES - {written}) == set(), locks


def wait_until_waiting(observer, pids, threads=(), locktype=None) -> bool:
    """Until every pid waits on a heavyweight lock (True), or one of ``threads`` is done
    (False)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        if any(not t.is_alive() for t in threads):
            return False
        waiting = observer.execute(
            "SELECT count(DISTINCT pid) FROM pg_catalog.pg_locks"
            " WHERE NOT granted AND pid = ANY(%s) AND (%s::text IS NULL OR locktype = %s)",
            (list(pids), locktype, locktype),
        ).fetchone()[0]
        if waiting == len(pids):
            return True
        assert time.monotonic() < deadline, f"sessions {pids} neither blocked nor finished"
        time.sleep(0.005)


def wait_until_active(observer, pid: int, thread: threading.Thread, starts_with: str) -> bool:
    """Until the backend runs a statement starting with ``starts_with`` (True), or the thread
    has already finished (False)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while thread.is_alive():
        row = observer.execute(
            "SELECT state, query FROM pg_catalog.pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row[0] == "active" and row[1].startswith(starts_with):
            return True
        assert time.monotonic() < deadline, "the statement never started"
        time.sleep(0.002)
    return False


# --- transactions in threads -------------------------------------------------------------------

class Background(threading.Thread):
    """A transaction in a thread: run ``work`` on ``conn``, then commit; keep what it raised."""

    def __init__(self, conn: psycopg.Connection, work: Callable):
        super().__init__(daemon=True)
        self.conn = conn
        self.pid = conn.info.backend_pid
        self.work = work
        self.error: psycopg.Error | None = None

    def run(self) -> None:
        try:
            self.work(self.conn)
            self.conn.commit()
        except psycopg.Error as exc:
            self.error = exc

    def start_and_wait_until_blocked(self, observer) -> bool:
        """Start it; return once it waits on a lock (True) or has finished (False)."""
        self.start()
        return wait_until_waiting(observer, [self.pid], threads=[self])

    def finish(self) -> psycopg.Error | None:
        self.join(HANG_GUARD_S)
        assert not self.is_alive(), "the background transaction never finished"
        return self.error


def session(stack, database: Database, level: IsolationLevel,
            name: str = "verify-triggers-test") -> psycopg.Connection:
    """A connection in a transaction of its own at ``level``, closed with ``stack``."""
    conn = stack.enter_context(database.connect(autocommit=False, application_name=name))
    conn.isolation_level = level
    return conn


def retry(conn, work: Callable, attempts: int = 20) -> None:
    """Run work and commit, retrying serialization failures and deadlocks like an application."""
    for _ in range(attempts):
        try:
            work(conn)
            conn.commit()
            return
        except RETRYABLE:
            conn.rollback()
    raise AssertionError(f"still failing after {attempts} attempts")


class Writer(threading.Thread):
    """The application writing from a thread on a connection of its own: short transactions
    drawn by ``draw(rng)`` -> (label, work), each committed, with a seeded generator.

    It stops after ``transactions`` transactions, at ``deadline`` (time.monotonic()), or when
    stopped. A transaction that raises one of ``retry_on`` is rolled back and run again; one of
    ``give_up_on`` is rolled back and dropped, as an application reports it to its user; any
    other error ends the writer and is kept in ``failures``.

    How long a transaction may keep failing: until it has failed ``attempts`` times with no one
    else writing. Others may be writing before its deadline and for ``settle_s`` after it, or,
    without a deadline, while a peer started with it by run_writers runs. Under REPEATABLE READ
    a transaction with a rename, a whole-table update or several buckets can lose to the others
    for as long as they commit (CI saw 200 failures in a row under load); one that goes on
    failing when they are done fails against no one: that is a livelock, and a failure.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection], draw: Callable, *, seed: int,
                 levels: Iterable[IsolationLevel] = (), transactions: int | None = None,
                 deadline: float | None = None, retry_on=RETRYABLE, give_up_on=(),
                 attempts: int = 200, settle_s: float = SETTLE_S, pause_s: float = 0.0):
        super().__init__(daemon=True)
        self.connect, self.draw = connect, draw
        self.rng = random.Random(seed)
        self.levels = list(levels)
        self.transactions, self.deadline = transactions, deadline
        self.retry_on, self.give_up_on = retry_on, give_up_on
        self.attempts, self.settle_s, self.pause_s = attempts, settle_s, pause_s
        self.backoff = random.Random(seed + 1)  # its own generator: the histories stay as seeded
        self.stopped = threading.Event()
        self.done: list[float] = []  # time.monotonic() of each commit
        self.retried: dict[tuple[str, str], int] = {}  # (error, label) -> retries
        self.failures: list[str] = []
        self.peers: list[Writer] = []  # set by run_writers

    @property
    def committed(self) -> int:
        return len(self.done)

    def _more(self, drawn: int) -> bool:
        return not (self.stopped.is_set()
                    or (self.transactions is not None and drawn >= self.transactions)
                    or (self.deadline is not None and time.monotonic() >= self.deadline))

    def run(self) -> None:
        try:
            with self.connect() as conn:
                if len(self.levels) == 1:
                    conn.isolation_level = self.levels[0]
                drawn = 0
                while self._more(drawn):
                    label, work = self.draw(self.rng)
                    drawn += 1
                    if len(self.levels) > 1:
                        conn.isolation_level = self.rng.choice(self.levels)
                    self._commit(conn, label, work)
                    if self.pause_s:
                        time.sleep(self.pause_s)
        except Exception as exc:  # reported by the test
            self.failures.append(f"{type(exc).__name__}: {exc}")

    def _contended(self) -> bool:
        if self.deadline is not None:
            return time.monotonic() < self.deadline + self.settle_s
        return any(peer is not self and peer.is_alive() for peer in self.peers)

    def _commit(self, conn, label: str, work: Callable) -> None:
        failed = alone = 0
        while True:
            try:
                work(conn)
                conn.commit()
                self.done.append(time.monotonic())
                return
            except self.retry_on as exc:
                conn.rollback()
                key = (type(exc).__name__, label)
                self.retried[key] = self.retried.get(key, 0) + 1
                # As an application retries: after a jittered pause that doubles with each
                # failure, up to MAX_PAUSE_S. Retried at once, a transaction that locks several
                # buckets under REPEATABLE READ spent its 200 attempts in well under a second
                # while other writers kept committing to those buckets. With pauses capped at
                # 50 ms, three writers still retrying past the deadline kept failing one another
                # for more than 30 s (312 attempts each, one of them a sync followed by a
                # delete_product, whose epoch bump updates every bucket; seen in CI). Pauses
                # that keep growing leave one of them a window to run alone.
                time.sleep(self.backoff.uniform(0, min(MAX_PAUSE_S, 0.0005 * 2 ** min(failed, 10))))
                failed += 1
                alone += not self._contended()
                if alone >= self.attempts:
                    self.failures.append(f"{label}: still failing after {failed} attempts")
                    return
            except self.give_up_on:
                conn.rollback()
                return

    def stop(self) -> None:
        """End after the current transaction; assert it ended and failed nothing."""
        self.stopped.set()
        self.join(HANG_GUARD_S)
        assert not self.is_alive(), "the writer did not stop"
        assert self.failures == []

    def writes_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.done if start <= t <= end)


def run_writers(writers: list[Writer]) -> dict[tuple[str, str], int]:
    """Start the writers, wait for all of them; none may hang or fail. Returns the retries
    they made, by (error, label)."""
    for writer in writers:
        writer.peers = writers
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(HANG_GUARD_S)
    assert [w.name for w in writers if w.is_alive()] == [], "a writer hung"
    failures = [f for w in writers for f in w.failures]
    assert failures == [], failures
    retried: dict[tuple[str, str], int] = {}
    for writer in writers:
        for key, n in writer.retried.items():
            retried[key] = retried.get(key, 0) + n
    return retried


# --- random histories: operations on a small database -----------------------------------------

# A small world of 4 SKUs x 4 supplier names, two suppliers sharing a name. Operations are plain
# data, (name, *small ints), the ints picking rows by position modulo the rows there are, so a
# failing history prints as a readable list and shrinks to a minimal one.
SKUS = ["P1", "P2", "P3", "P4"]  # P4 starts with no product: sheet rows wait for it
NAMES = ["S1", "S2", "S3", "S4"]  # S4 starts with no supplier

HISTORY_START = """
TRUNCATE app.supplier_products, app.product_supplier_sheets, app.products, app.suppliers
    RESTART IDENTITY CASCADE;
INSERT INTO app.products (sku, name) VALUES ('P1', 'one'), ('P2', 'two'), ('P3', 'three');
-- two suppliers share the name S2: a pair may be confirmed through either
INSERT INTO app.suppliers (name) VALUES ('S1'), ('S2'), ('S3'), ('S2');
INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed) VALUES
    (1, 1, true), (1, 1, true), (2, 1, false), (4, 2, true), (3, 2, false), (3, 3, true),
    (1, 3, false), (2, NULL, true);
INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified, verified_by, verified_at)
VALUES
    ('P1', 'S1', false, NULL, NULL),
    ('P1', 'S2', true, 'alice', '2025-10-15 01:35+03'),
    ('P2', 'S2', false, NULL, NULL),
    ('P2', 'S3', true, NULL, NULL),
    ('P3', 'S3', false, NULL, NULL),
    ('P3', 'S1', true, 'verify-triggers', now()),
    ('P4', 'S1', false, NULL, NULL),
    ('P2', 'S4', true, 'bob', '2025-11-01 09:00+00');
"""


def start_history(conn) -> None:
    """The state every history starts from, written through the triggers in one transaction."""
    with conn.transaction():
        conn.execute(HISTORY_START)


def _ids(conn, table: str, protected=()) -> list[int]:
    query = {
        "supplier_products": "SELECT id FROM app.supplier_products ORDER BY id",
        "product_supplier_sheets": "SELECT id FROM app.product_supplier_sheets"
                                   " WHERE verified_by IS NULL OR verified_by <> ALL(%(protected)s::text[])"
                                   " ORDER BY id",
        "products": "SELECT id FROM app.products ORDER BY id",
        "suppliers": "SELECT id FROM app.suppliers ORDER BY id",
    }[table]
    return [r[0] for r in conn.execute(query, {"protected": list(protected)})]


def _pick(conn, table: str, k: int, protected=()) -> int | None:
    ids = _ids(conn, table, protected)
    return ids[k % len(ids)] if ids else None


def _pick_many(conn, table: str, ks) -> list[int]:
    ids = _ids(conn, table)
    return sorted({ids[k % len(ids)] for k in ks}) if ids else []


def _sheets_returning(conn, statement, params) -> set[int]:
    return {r[0] for r in conn.execute(statement, params).fetchall()}


def apply(conn, op, protected=()) -> set[int]:
    """Run one operation; return the ids of sheet rows it wrote directly (those a person
    may legitimately have changed). Sheet rows verified by the people named in ``protected``
    are never written directly."""
    name, *args = op
    if name in ("confirm", "unconfirm"):
        match = _pick(conn, "supplier_products", args[0])
        if match is not None:
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s, confirmed_at = now()"
                         " WHERE id = %s", (name == "confirm", match))
    elif name == "set_many":
        value, ks = args
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s WHERE id = ANY(%s)",
                     (value, _pick_many(conn, "supplier_products", ks)))
    elif name == "toggle_all":
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed")
    elif name == "rematch":
        match, product = _pick(conn, "supplier_products", args[0]), _pick(conn, "products", args[1])
        if match is not None:
            # product None (no products left) unlinks the match
            conn.execute("UPDATE app.supplier_products SET local_product_id = %s WHERE id = %s",
                         (product, match))
    elif name == "unlink":
        match = _pick(conn, "supplier_products", args[0])
        if match is not None:
            conn.execute("UPDATE app.supplier_products SET local_product_id = NULL WHERE id = %s", (match,))
    elif name == "change_supplier":
        match, supplier = _pick(conn, "supplier_products", args[0]), _pick(conn, "suppliers", args[1])
        if match is not None and supplier is not None:
            conn.execute("UPDATE app.supplier_products SET supplier_id = %s WHERE id = %s", (supplier, match))
    elif name == "price":
        conn.execute("UPDATE app.supplier_products SET supplier_price = coalesce(supplier_price, 0) + 1")
    elif name == "delete_match":
        conn.execute("DELETE FROM app.supplier_products WHERE id = %s",
                     (_pick(conn, "supplier_products", args[0]),))
    elif name == "delete_many":
        conn.execute("DELETE FROM app.supplier_products WHERE id = ANY(%s)",
                     (_pick_many(conn, "supplier_products", args[0]),))
    elif name == "insert_matches":
        # rows of (product k, supplier k, confirmed), one statement
        rows = [(_pick(conn, "products", p), _pick(conn, "suppliers", s), c) for p, s, c in args[0]]
        rows = [r for r in rows if r[1] is not None]
        if rows:
            conn.execute(
                "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                " SELECT * FROM unnest(%s::int[], %s::int[], %s::boolean[])",
                ([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows]),
            )
    elif name == "import_sheets":
        # rows of (sku k, name k, how verified), one statement; existing pairs are skipped
        how = {0: (False, None), 1: (True, "carol"), 2: (True, SYNC), 3: (True, None)}
        rows = {(SKUS[s % 4], NAMES[n % 4]): how[v % 4] for s, n, v in args[0]}
        return _sheets_returning(
            conn,
            "INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified, verified_by, verified_at)"
            " SELECT s, n, v, b, CASE WHEN v THEN now() END"
            " FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::text[]) AS r (s, n, v, b)"
            " ON CONFLICT (sku, supplier_name) DO NOTHING RETURNING id",
            ([k[0] for k in rows], [k[1] for k in rows], [v[0] for v in rows.values()],
             [v[1] for v in rows.values()]),
        )
    elif name in ("rename_sheet_sku", "rename_sheet_supplier"):
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        column = "sku" if name == "rename_sheet_sku" else "supplier_name"
        value = (SKUS if column == "sku" else NAMES)[args[1] % 4]
        if row is not None:
            statement = sql.SQL(
                "UPDATE app.product_supplier_sheets SET {} = %s WHERE id = %s RETURNING id"
            ).format(sql.Identifier(column))
            return _sheets_returning(conn, statement, (value, row))
    elif name == "rename_sheets_of_supplier":
        # every sheet row of one supplier name at once (a sheet re-import under a new name)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET supplier_name = %s WHERE supplier_name = %s"
            " AND (verified_by IS NULL OR verified_by <> ALL(%s::text[]))"
            " AND NOT EXISTS (SELECT 1 FROM app.product_supplier_sheets o"
            "  WHERE o.supplier_name = %s AND o.sku = product_supplier_sheets.sku) RETURNING id",
            (NAMES[args[1] % 4], NAMES[args[0] % 4], list(protected), NAMES[args[1] % 4]),
        )
    elif name == "deactivate_sheet":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        conn.execute("UPDATE app.product_supplier_sheets SET is_active = NOT is_active WHERE id = %s", (row,))
    elif name == "delete_sheet":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(conn, "DELETE FROM app.product_supplier_sheets WHERE id = %s RETURNING id",
                                 (row,))
    elif name == "person_verifies":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'dave',"
            " verified_at = now() WHERE id = %s RETURNING id", (row,))
    elif name == "person_unverifies":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
            " verified_at = NULL WHERE id = %s RETURNING id", (row,))
    elif name == "stamp_sync":
        # a direct write of the sync's stamp, which the triggers must correct if unconfirmed
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'verify-triggers',"
            " verified_at = now() WHERE id = %s RETURNING id", (row,))
    elif name == "rename_product":
        product = _pick(conn, "products", args[0])
        conn.execute("UPDATE app.products SET sku = %s WHERE id = %s", (SKUS[args[1] % 4], product))
    elif name == "swap_skus":
        # one statement renaming two products into each other's SKU via a detour
        conn.execute("UPDATE app.products SET sku = sku || '-old' WHERE sku IN ('P1', 'P2')")
        conn.execute("UPDATE app.products SET sku = CASE sku WHEN 'P1-old' THEN 'P2' ELSE 'P1' END"
                     " WHERE sku IN ('P1-old', 'P2-old')")
    elif name == "rename_supplier":
        supplier = _pick(conn, "suppliers", args[0])
        conn.execute("UPDATE app.suppliers SET name = %s WHERE id = %s", (NAMES[args[1] % 4], supplier))
    elif name == "insert_product":
        conn.execute("INSERT INTO app.products (sku) VALUES (%s) ON CONFLICT (sku) DO NOTHING",
                     (SKUS[args[0] % 4],))
    elif name == "insert_supplier":
        conn.execute("INSERT INTO app.suppliers (name) VALUES (%s)", (NAMES[args[0] % 4],))
    elif name == "delete_product":
        conn.execute("DELETE FROM app.products WHERE id = %s", (_pick(conn, "products", args[0]),))
    elif name == "delete_supplier":
        # cascades to its matches; its sheet rows keep their names (supplier_id SET NULL)
        conn.execute("DELETE FROM app.suppliers WHERE id = %s", (_pick(conn, "suppliers", args[0]),))
    elif name == "truncate_matches":
        conn.execute("TRUNCATE app.supplier_products")
    elif name == "truncate_products":
        conn.execute("TRUNCATE app.products CASCADE")  # and the matches referencing them
    else:  # pragma: no cover
        raise AssertionError(f"unknown operation {op!r}")
    return set()
