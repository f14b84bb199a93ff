"""No setting a DML-only role can change switches the sync off or weakens its locking.

An application role with only SELECT/INSERT/UPDATE/DELETE on the four tables (USAGE on schema
app) applies one setting, one way, and then makes writes that contradict the rule. The matrix:

- settings: every custom setting the installed functions read -- verify_triggers.syncing
  (counts only while it holds verify_triggers_sync_token()) -- and those earlier revisions
  read: verify_triggers.sp_changed and verify_triggers.sheet_changed (0003's transaction
  marks, gone in 0004), verify_triggers.epoch_held (0002); each 'on' and 'off', syncing also
  a forged token (md5 of a guessed secret and the writing transaction's id) and a replayed one
  (the owner's real token of an earlier transaction). Besides these, settings that would
  weaken the sync if its functions did not pin them: search_path, enable_indexscan/enable_seqscan/enable_nestloop,
  plan_cache_mode, lock_timeout = 1ms, transform_null_equals, default_transaction_isolation,
  plpgsql.extra_errors. Those may make a write fail, never succeed unsynced;
- ways: SET and SET LOCAL in the writing transaction, set_config(..., false) and (..., true)
  before the write, set_config(..., true) in the write statement itself (its RETURNING list,
  evaluated for each row written, after the WHEN clauses of that row's AFTER ROW triggers),
  PGOPTIONS at connect, and ALTER ROLE <role> SET by the superuser followed by a new
  connection as the role;
- writes, each in its own transaction with the setting applied at its start: un-verify
  confirmed rows (one, and all), stamp 'verify-triggers' on unconfirmed rows, confirm and
  unconfirm a match, bulk unconfirm and bulk confirm, insert and delete a confirmed match,
  move a stamped sheet row to an unconfirmed pair and back, rename a supplier and back, and
  three sheet imports (delete and re-insert, upsert, COPY). After each, inside the
  transaction (corrected in the same statement) and after commit, the independent oracle of
  tests/rule.py finds no drift; each case ends with `verify-triggers check` exiting 0.

Then a rename racing a confirm, with the setting applied on both connections (SET LOCAL,
set_config in the statement, PGOPTIONS), in both orders; the later writer must be seen in
pg_locks waiting on the advisory lock of the epoch held by the other (exclusive for the
rename), and nothing drifts. Last, the bypasses that need
the owner or a superuser stay as they are and stay reported, and a control shows that the
owner's real token does switch the sheet trigger off, so the matrix would see a leaked one.

The matrix shares one database (seed loaded, sync at head, as the `installed` fixture builds
it) and puts it back in the seed's state after each case, so that the module stays fast.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from clirun import run
from conftest import FIXTURES, Database, load_sql
from rule import drift, sheet

SYNC = "verify-triggers"
TABLES = ["suppliers", "products", "supplier_products", "product_supplier_sheets"]
WAIT = 10.0  # seconds: the longest any wait in this module may take

# --- the matrix ------------------------------------------------------------------------------

CUSTOM = [
    ("verify_triggers.sp_changed", "on"),
    ("verify_triggers.sp_changed", "off"),
    ("verify_triggers.sheet_changed", "on"),
    ("verify_triggers.sheet_changed", "off"),
    ("verify_triggers.syncing", "on"),
    ("verify_triggers.syncing", "off"),
    ("verify_triggers.syncing", "forged"),
    ("verify_triggers.syncing", "replayed"),
    ("verify_triggers.epoch_held", "on"),
    ("verify_triggers.epoch_held", "off"),
]

# Not custom, but would weaken the sync if its functions did not pin or guard them.
BUILT_IN = [
    ("search_path", "pg_temp,public"),
    ("enable_indexscan", "off"),
    ("enable_seqscan", "off"),
    ("enable_nestloop", "off"),
    ("plan_cache_mode", "force_generic_plan"),
    ("plan_cache_mode", "force_custom_plan"),
    ("lock_timeout", "1ms"),
    ("transform_null_equals", "on"),
    ("default_transaction_isolation", "serializable"),
    ("plpgsql.extra_errors", "all"),
]

# A write under these may fail (that is acceptable), but never succeed unsynced.
MAY_FAIL = {"lock_timeout", "default_transaction_isolation", "plpgsql.extra_errors"}

# set_config-in-RETURNING: set_config(name, value, true) evaluated by the write statement
# itself, for each row it writes (after that row's AFTER ROW triggers' WHEN clauses).
# A mark set to 'off' this way was read by 0003's statement triggers after the WHEN clauses set
# it 'on': against an early cut of 0003 the sp_changed=off and sheet_changed=off cases failed
# (the write stayed unsynced; a confirm took no epoch).
IN_STATEMENT = "set_config-in-RETURNING"
METHODS = ["SET", "SET-LOCAL", "set_config-session", "set_config-local", IN_STATEMENT,
           "PGOPTIONS", "ALTER-ROLE"]
AT_CONNECT = {"PGOPTIONS", "ALTER-ROLE"}


def setting_id(setting) -> str:
    name, value = setting
    return f"{name}={value}"


# --- the shared database and the DML-only role ---------------------------------------------


class Shared:
    """The matrix's database, its DML-only role, and the seed's state to go back to."""

    def __init__(self, database: Database, role: str, server):
        self.db = database
        self.role = role
        self.server = server
        with database.connect() as admin:
            self.match = {  # (sku, supplier name) -> supplier_products id
                (r[0], r[1]): r[2] for r in admin.execute(
                    "SELECT p.sku, su.name, sp.id FROM app.supplier_products sp"
                    " JOIN app.products p ON p.id = sp.local_product_id"
                    " JOIN app.suppliers su ON su.id = sp.supplier_id")}
            self.confirmed_ids = [r[0] for r in admin.execute(
                "SELECT id FROM app.supplier_products WHERE manual_confirmed ORDER BY id")]
            self.suppliers = admin.execute("SELECT id, name FROM app.suppliers").fetchall()
            self.products = admin.execute("SELECT id, sku FROM app.products").fetchall()
            self.sp = admin.execute("SELECT id, supplier_id, local_product_id, manual_confirmed"
                                    " FROM app.supplier_products").fetchall()
            self.sheets = admin.execute("SELECT sku, supplier_name, supplier_id, price_cny"
                                        " FROM app.product_supplier_sheets").fetchall()

    def admin(self) -> psycopg.Connection:
        return self.db.connect()

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(host=self.server.host, port=self.server.port, user=self.role,
                               dbname=self.db.name, autocommit=True, connect_timeout=10,
                               **kwargs)

    def reset(self) -> None:
        """Back to the seed's state (as reconciled at install), whatever a case left."""
        with self.admin() as admin:
            admin.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(sql.Identifier(self.role)))
            for sid, name in self.suppliers:
                admin.execute("UPDATE app.suppliers SET name = %s WHERE id = %s"
                              " AND name IS DISTINCT FROM %s", (name, sid, name))
            for pid, sku in self.products:
                admin.execute("UPDATE app.products SET sku = %s WHERE id = %s"
                              " AND sku IS DISTINCT FROM %s", (sku, pid, sku))
            admin.execute("DELETE FROM app.supplier_products WHERE NOT id = ANY(%s)",
                          ([r[0] for r in self.sp],))
            for mid, sid, pid, confirmed in self.sp:
                admin.execute(
                    "UPDATE app.supplier_products SET supplier_id = %s, local_product_id = %s,"
                    " manual_confirmed = %s WHERE id = %s AND (supplier_id, local_product_id,"
                    " manual_confirmed) IS DISTINCT FROM (%s, %s, %s)",
                    (sid, pid, confirmed, mid, sid, pid, confirmed))
            admin.execute(
                "DELETE FROM app.product_supplier_sheets WHERE (sku, supplier_name) NOT IN"
                " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([r[0] for r in self.sheets], [r[1] for r in self.sheets]))
            for sku, name, sid, price in self.sheets:
                admin.execute(
                    "INSERT INTO app.product_supplier_sheets (sku, supplier_name, supplier_id,"
                    " price_cny) VALUES (%s, %s, %s, %s) ON CONFLICT (sku, supplier_name)"
                    " DO NOTHING", (sku, name, sid, price))
            admin.execute("SELECT app.verify_triggers_sync(NULL)")
            assert drift(admin) == []
            assert admin.execute(
                "SELECT count(*) FROM app.product_supplier_sheets WHERE is_verified"
            ).fetchone()[0] == 4


@pytest.fixture(scope="module")
def shared(pg_server, template_db):
    """One database built as the `installed` fixture builds it, and a role with DML rights only."""
    name = f"vt_{os.getpid()}_settings"
    janitor = DatabaseJanitor(user=pg_server.user, host=pg_server.host, port=pg_server.port,
                              dbname=name, template_dbname=template_db)
    janitor.init()
    database = Database(pg_server, name)
    role = f"vt_dml_{os.getpid()}_settings"
    ident = sql.Identifier(role)
    try:
        with database.connect() as conn:
            load_sql(conn, FIXTURES / "seed.sql")
        database.upgrade()
        with database.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier("app", t) for t in TABLES), ident))
            conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO {}").format(ident))
        state = Shared(database, role, pg_server)
        state.reset()
        yield state
    finally:
        with database.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE usename = %s", (role,))
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
                conn.execute(sql.SQL("DROP ROLE {}").format(ident))
        janitor.drop()


@pytest.fixture
def case(shared):
    """The shared database in the seed's state, put back after the case."""
    yield shared
    shared.reset()


def check_exits_0(capsys, database: Database) -> None:
    result = run(capsys, "--database-url", database.url(), "check")
    assert result.code == 0, result.out + result.err


# --- applying a setting ------------------------------------------------------------------------


@contextlib.contextmanager
def pgoptions(value: str | None):
    """PGOPTIONS in the environment while libpq connects."""
    before = os.environ.get("PGOPTIONS")
    if value is not None:
        os.environ["PGOPTIONS"] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = before


def value_sql(value: str) -> sql.Composable:
    """A value for SET / ALTER ROLE SET: a list of literals where it is a list."""
    return sql.SQL(", ").join(sql.Literal(v) for v in value.split(","))


class Setter:
    """One setting, applied one way, by the DML-only role (ALTER ROLE: by the superuser)."""

    def __init__(self, shared: Shared, name: str, value: str, method: str):
        self.shared = shared
        self.name = name
        self.value = value
        self.method = method
        self.replayed = None
        if value == "replayed":
            with shared.admin() as admin:  # the owner's real token, of this finished transaction
                with admin.transaction():
                    self.replayed = admin.execute(
                        "SELECT app.verify_triggers_sync_token()").fetchone()[0]
        self.fixed = None  # the value given at connect
        self.current = None  # the value set_config-in-RETURNING sets

    def _value(self, conn: psycopg.Connection | None, xid: int | None = None) -> str:
        if self.value == "replayed":
            return self.replayed
        if self.value == "forged":
            # the token's shape, md5(secret || ':' || xid), with a guessed secret; the writing
            # transaction's xid when it is known, else the one it is predicted to get
            if xid is None:
                xid = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
            return conn.execute("SELECT md5(%s)", (f"0:{xid}",)).fetchone()[0]
        return self.value

    def connect(self) -> psycopg.Connection:
        if self.method not in AT_CONNECT:
            return self.shared.connect()
        with self.shared.admin() as admin:
            # the next xid, for a forged token given before the transaction exists (best effort)
            next_xid = int(admin.execute("SELECT pg_current_xact_id()::text").fetchone()[0]) + 1
            if self.method == "ALTER-ROLE":
                next_xid += 1  # ALTER ROLE takes one
            self.fixed = self._value(admin, next_xid)
            if self.method == "ALTER-ROLE":
                admin.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    sql.Identifier(self.shared.role), sql.SQL(self.name),
                    value_sql(self.fixed)))
        if self.method == "PGOPTIONS":
            with pgoptions(f"-c {self.name}={self.fixed}"):
                return self.shared.connect()
        return self.shared.connect()

    def apply(self, conn: psycopg.Connection) -> str:
        """Apply at the start of a transaction; returns the value now in force (for
        set_config-in-RETURNING: the value each write statement will set)."""
        if self.method in AT_CONNECT:
            value = self.fixed
        else:
            value = self._value(conn)
            if self.method == IN_STATEMENT:
                self.current = value
                return value
            if self.method == "SET":
                conn.execute(sql.SQL("SET {} = {}").format(sql.SQL(self.name), value_sql(value)))
            elif self.method == "SET-LOCAL":
                conn.execute(sql.SQL("SET LOCAL {} = {}").format(
                    sql.SQL(self.name), value_sql(value)))
            else:
                conn.execute("SELECT set_config(%s, %s, %s)",
                             (self.name, value, self.method == "set_config-local"))
        self.assert_in_force(conn, value)
        return value

    def assert_in_force(self, conn: psycopg.Connection, value: str) -> None:
        shown = conn.execute("SELECT current_setting(%s, true)", (self.name,)).fetchone()[0]
        assert shown.replace(" ", "") == value, (self.name, shown, value)  # the setting took

    def execute(self, conn: psycopg.Connection, statement: str) -> None:
        """Run one write; set_config-in-RETURNING adds the setting to the statement."""
        if self.method != IN_STATEMENT:
            execute(conn, statement)
        elif statement == "COPY":  # COPY FROM evaluates no expression: set just before it
            conn.execute("SELECT set_config(%s, %s, true)", (self.name, self.current))
            execute(conn, statement)
        else:
            returned = conn.execute(sql.Composed([sql.SQL(statement), sql.SQL(
                " RETURNING pg_catalog.set_config({}, {}, true)").format(
                sql.Literal(self.name), sql.Literal(self.current))])).fetchall()
            # the setting took, once for each row written (the sync, running after, may
            # set verify_triggers.syncing again)
            assert returned and {r[0] for r in returned} == {self.current}, statement


# --- the contradicting writes ----------------------------------------------------------------
# Each: (id, statements, {(sku, supplier_name): (is_verified, verified_by)} after it).

UNVERIFIED = (False, None)
VERIFIED = (True, SYNC)


def writes(shared: Shared):
    aur_wanke = shared.match[("AUR516", "WANKE")]
    return [
        ("un-verify a confirmed pair's row",
         ["UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
          " verified_at = NULL WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'"],
         {("BMX136", "XINRUI"): VERIFIED}),
        ("stamp the sync's verified_by on unconfirmed pairs' rows",
         ["UPDATE app.product_supplier_sheets SET is_verified = true,"
          " verified_by = 'verify-triggers', verified_at = now() WHERE supplier_name = 'WANKE'"],
         {("AUR516", "WANKE"): UNVERIFIED, ("EMG411", "WANKE"): UNVERIFIED}),
        ("un-verify every row",
         ["UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
          " verified_at = NULL"],
         {("BMX136", "XINRUI"): VERIFIED, ("BMX136", "PAREK"): VERIFIED,
          ("BMX136", "KEMEISING"): VERIFIED, ("AUR516", "KEMEISING"): VERIFIED}),
        ("confirm a match",
         [f"UPDATE app.supplier_products SET manual_confirmed = true WHERE id = {aur_wanke}"],
         {("AUR516", "WANKE"): VERIFIED}),
        ("unconfirm the match",
         [f"UPDATE app.supplier_products SET manual_confirmed = false WHERE id = {aur_wanke}"],
         {("AUR516", "WANKE"): UNVERIFIED}),
        ("bulk unconfirm",
         ["UPDATE app.supplier_products SET manual_confirmed = false WHERE manual_confirmed"],
         {("BMX136", "XINRUI"): UNVERIFIED, ("BMX136", "PAREK"): UNVERIFIED,
          ("BMX136", "KEMEISING"): UNVERIFIED, ("AUR516", "KEMEISING"): UNVERIFIED}),
        ("bulk confirm",
         ["UPDATE app.supplier_products SET manual_confirmed = true WHERE id IN ("
          + ", ".join(map(str, shared.confirmed_ids)) + ")"],
         {("BMX136", "XINRUI"): VERIFIED, ("BMX136", "PAREK"): VERIFIED,
          ("BMX136", "KEMEISING"): VERIFIED, ("AUR516", "KEMEISING"): VERIFIED}),
        ("insert a confirmed match",
         ["INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
          " SELECT su.id, p.id, true FROM app.products p, app.suppliers su"
          " WHERE p.sku = 'EMG411' AND su.name = 'WANKE'"],
         {("EMG411", "WANKE"): VERIFIED}),
        ("delete the match",
         ["DELETE FROM app.supplier_products WHERE supplier_id ="
          " (SELECT id FROM app.suppliers WHERE name = 'WANKE') AND local_product_id ="
          " (SELECT id FROM app.products WHERE sku = 'EMG411')"],
         {("EMG411", "WANKE"): UNVERIFIED}),
        ("move a stamped row to an unconfirmed pair",
         ["UPDATE app.product_supplier_sheets SET sku = 'EMG411'"
          " WHERE sku = 'BMX136' AND supplier_name = 'KEMEISING'"],
         {("EMG411", "KEMEISING"): UNVERIFIED}),
        ("move it back to its confirmed pair",
         ["UPDATE app.product_supplier_sheets SET sku = 'BMX136'"
          " WHERE sku = 'EMG411' AND supplier_name = 'KEMEISING'"],
         {("BMX136", "KEMEISING"): VERIFIED}),
        ("rename a supplier",
         ["UPDATE app.suppliers SET name = 'PAREK-2' WHERE name = 'PAREK'"],
         {("BMX136", "PAREK"): UNVERIFIED}),
        ("rename it back",
         ["UPDATE app.suppliers SET name = 'PAREK' WHERE name = 'PAREK-2'"],
         {("BMX136", "PAREK"): VERIFIED}),
        ("sheet import: delete and re-insert, contradicting",
         ["DELETE FROM app.product_supplier_sheets WHERE sku = 'BMX136'",
          "INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified,"
          " verified_by, verified_at) VALUES ('BMX136', 'XINRUI', false, NULL, NULL),"
          " ('BMX136', 'PAREK', false, NULL, NULL), ('BMX136', 'KEMEISING', false, NULL, NULL),"
          " ('EMG411', 'PAREK', true, 'verify-triggers', now())"],
         {("BMX136", "XINRUI"): VERIFIED, ("BMX136", "PAREK"): VERIFIED,
          ("BMX136", "KEMEISING"): VERIFIED, ("EMG411", "PAREK"): UNVERIFIED}),
        ("sheet import: upsert, contradicting",
         ["INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified,"
          " verified_by, verified_at) VALUES ('BMX136', 'XINRUI', false, NULL, NULL),"
          " ('AUR516', 'WANKE', true, 'verify-triggers', now()),"
          " ('EMG411', 'XINRUI', true, 'verify-triggers', now())"
          " ON CONFLICT (sku, supplier_name) DO UPDATE SET is_verified = excluded.is_verified,"
          " verified_by = excluded.verified_by, verified_at = excluded.verified_at"],
         {("BMX136", "XINRUI"): VERIFIED, ("AUR516", "WANKE"): UNVERIFIED,
          ("EMG411", "XINRUI"): UNVERIFIED}),
        ("sheet import: COPY, contradicting",
         ["DELETE FROM app.product_supplier_sheets WHERE sku = 'AUR516'"
          " AND supplier_name = 'KEMEISING'",
          "COPY"],
         {("AUR516", "KEMEISING"): VERIFIED, ("EMG411", "KEMEISING"): UNVERIFIED}),
    ]


COPY_ROWS = [("AUR516", "KEMEISING", False, None), ("EMG411", "KEMEISING", True, SYNC)]


def execute(conn: psycopg.Connection, statement: str) -> None:
    if statement == "COPY":
        with conn.cursor().copy("COPY app.product_supplier_sheets (sku, supplier_name,"
                                " is_verified, verified_by) FROM STDIN") as copy:
            for row in COPY_ROWS:
                copy.write_row(row)
    else:
        conn.execute(statement)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("setting", CUSTOM + BUILT_IN, ids=setting_id)
def test_a_dml_only_role_cannot_make_the_sync_skip_a_contradicting_write(case, capsys, setting,
                                                                         method):
    name, value = setting
    setter = Setter(case, name, value, method)
    failed = []
    with setter.connect() as conn, case.admin() as admin:
        assert conn.execute("SELECT current_user").fetchone()[0] == case.role
        # (the sync pins jit = off itself; off here too, so that enable_seqscan = off does not
        # make this role's own statements and the oracle compile every time)
        conn.execute("SET jit = off")
        for label, statements, expected in writes(case):
            try:
                with conn.transaction():
                    setter.apply(conn)
                    for statement in statements:
                        setter.execute(conn, statement)
                    # corrected in the same statement: seen inside the writing transaction
                    assert drift(conn) == [], label
                    if not failed:
                        got = {pair: sheet(conn, *pair)[:2] for pair in expected}
                        assert got == expected, label
            except psycopg.errors.DatabaseError as error:
                if name not in MAY_FAIL:
                    raise
                failed.append((label, type(error).__name__))  # rolled back: acceptable
            assert drift(admin) == [], f"after commit: {label}"
    check_exits_0(capsys, case.db)
    if name not in MAY_FAIL:
        assert failed == []


# --- a rename racing a confirm ---------------------------------------------------------------

EPOCH_WAIT = """
SELECT w.mode, h.pid, h.mode
FROM pg_catalog.pg_locks AS w
JOIN pg_catalog.pg_locks AS h
  ON h.locktype = 'advisory' AND h.granted AND h.pid <> w.pid AND h.database = w.database
 AND h.classid = w.classid AND h.objid = w.objid AND h.objsubid = w.objsubid
WHERE w.pid = %s AND w.locktype = 'advisory' AND NOT w.granted
  AND w.classid = (app.verify_triggers_epoch_key())::oid AND w.objid = (-1)::oid
  AND w.objsubid = 2
"""


class Waiter:
    """One transaction run in a thread: apply the setting, the statement, commit."""

    def __init__(self, conn: psycopg.Connection, setter: Setter, statement: str):
        self.conn = conn
        self.pid = conn.info.backend_pid
        self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(setter, statement), daemon=True)
        self.thread.start()

    def _run(self, setter, statement):
        try:
            with self.conn.transaction():
                setter.apply(self.conn)
                setter.execute(self.conn, statement)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error
        finally:
            self.done.set()

    def join(self, admin) -> None:
        if not self.done.wait(WAIT):
            admin.execute("SELECT pg_cancel_backend(%s)", (self.pid,))
            self.done.wait(WAIT)
            pytest.fail("the waiting transaction did not finish")


def wait_for_epoch_wait(admin, waiter: Waiter, holder_pid: int, may_fail: bool):
    """The waiter seen in pg_locks waiting for the epoch's advisory lock, held by holder_pid;
    or (only where the setting may make a write fail) finished with an error. Never finished
    successfully while the holder's transaction is open."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        rows = admin.execute(EPOCH_WAIT, (waiter.pid,)).fetchall()
        blocking = admin.execute("SELECT pg_blocking_pids(%s)", (waiter.pid,)).fetchone()[0]
        if waiter.done.is_set():
            if waiter.error is None:
                pytest.fail("the second writer proceeded while the first held the epoch")
            if may_fail and isinstance(waiter.error, psycopg.errors.LockNotAvailable):
                return None  # it waited, and its lock_timeout ended the wait: acceptable
            raise waiter.error
        if rows:
            if blocking == [holder_pid]:
                return rows
            # only a lock_timeout ending the wait between the two reads explains this
            assert may_fail, (rows, blocking)
        time.sleep(0.005)
    pytest.fail("the second writer was never seen waiting on the epoch")


RACE_SETTINGS = CUSTOM + [("lock_timeout", "1ms"), ("search_path", "pg_temp,public")]


@pytest.mark.parametrize("order", ["confirm-waits-for-rename", "rename-waits-for-confirm"])
@pytest.mark.parametrize("method", ["SET-LOCAL", IN_STATEMENT, "PGOPTIONS"])
@pytest.mark.parametrize("setting", RACE_SETTINGS, ids=setting_id)
def test_a_rename_racing_a_confirm_is_serialised_by_the_epoch_whatever_the_role_sets(
        case, capsys, setting, method, order):
    name, value = setting
    may_fail = name in MAY_FAIL
    match = case.match[("AUR516", "WANKE")]
    wanke = next(sid for sid, n in case.suppliers if n == "WANKE")
    rename = f"UPDATE app.suppliers SET name = 'WANKE-2' WHERE id = {wanke}"
    confirm = f"UPDATE app.supplier_products SET manual_confirmed = true WHERE id = {match}"
    with case.admin() as admin:
        admin.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
                      " VALUES ('AUR516', 'WANKE-2')")
        first_sql, second_sql = (rename, confirm) if order.startswith("confirm") \
            else (confirm, rename)
        first_setter = Setter(case, name, value, method)
        second_setter = Setter(case, name, value, method)
        with first_setter.connect() as first, second_setter.connect() as second:
            second.execute("SET statement_timeout = '20s'")  # a backstop: nothing hangs
            first.execute("BEGIN")
            waiter = None
            try:
                first_setter.apply(first)
                first_setter.execute(first, first_sql)
                held = "ExclusiveLock" if first_sql == rename else "ShareLock"
                assert admin.execute(
                    "SELECT mode FROM pg_catalog.pg_locks WHERE pid = %s AND locktype ="
                    " 'advisory' AND granted AND classid = (app.verify_triggers_epoch_key())::oid"
                    " AND objid = (-1)::oid", (first.info.backend_pid,)).fetchall() == [(held,)]
                waiter = Waiter(second, second_setter, second_sql)
                seen = wait_for_epoch_wait(admin, waiter, first.info.backend_pid, may_fail)
                if seen is not None:
                    wanted = "ShareLock" if second_sql == confirm else "ExclusiveLock"
                    assert seen == [(wanted, first.info.backend_pid, held)]
                    # still waiting, or (lock_timeout) given up: never done unblocked
                    assert not waiter.done.is_set() or (may_fail and isinstance(
                        waiter.error, psycopg.errors.LockNotAvailable))
                first.execute("COMMIT")
            finally:
                if first.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    first.execute("ROLLBACK")  # a failed test: let the waiter go
                if waiter is not None:
                    waiter.join(admin)
            if waiter.error is not None and not (
                    may_fail and isinstance(waiter.error, psycopg.errors.LockNotAvailable)):
                raise waiter.error
        assert drift(admin) == []
        if waiter.error is None:  # both committed: the confirm counts under the new name
            assert sheet(admin, "AUR516", "WANKE-2")[:2] == VERIFIED
            assert sheet(admin, "AUR516", "WANKE")[:2] == UNVERIFIED
    check_exits_0(capsys, case.db)


# --- controls and the bypasses that need the owner or a superuser ----------------------------


def test_control_the_owners_real_token_does_switch_the_sheet_trigger_off_so_a_leak_would_show(
        case):
    """The oracle sees a skipped write: only the token, which no DML role can compute, skips."""
    with case.admin() as admin:
        with admin.transaction():
            admin.execute("SELECT set_config('verify_triggers.syncing',"
                          " app.verify_triggers_sync_token(), true)")
            admin.execute("UPDATE app.product_supplier_sheets SET is_verified = false,"
                          " verified_by = NULL WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
            assert [(d[1], d[2]) for d in drift(admin)] == [("BMX136", "XINRUI")]
            raise psycopg.Rollback()
        assert drift(admin) == []


def test_the_dml_role_can_neither_compute_the_token_nor_switch_the_triggers_off(case):
    with case.connect() as conn:
        for statement in ("SELECT app.verify_triggers_sync_token()",
                          "SELECT generation FROM app.verify_triggers_lock WHERE bucket = -2",
                          "SET session_replication_role = replica",
                          "SELECT set_config('session_replication_role', 'replica', true)",
                          "ALTER TABLE app.product_supplier_sheets"
                          " DISABLE TRIGGER verify_triggers_sheet_update",
                          sql.SQL("ALTER ROLE {} SET session_replication_role = replica").format(
                              sql.Identifier(case.role))):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with pgoptions("-c session_replication_role=replica"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            case.connect()


@pytest.fixture
def owner_role(installed):
    """A role that owns product_supplier_sheets (not a superuser)."""
    role = f"vt_owner_{os.getpid()}_{installed.name}"
    ident = sql.Identifier(role)
    with installed.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident))
        conn.execute(sql.SQL("ALTER TABLE app.product_supplier_sheets OWNER TO {}").format(ident))
    yield role
    with installed.connect() as conn:
        conn.execute(sql.SQL("ALTER TABLE app.product_supplier_sheets OWNER TO {}").format(
            sql.Identifier(installed.server.user)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_the_owner_disabling_a_trigger_stays_a_bypass_that_status_reports_as_disabled(
        installed, owner_role, capsys):
    url = installed.url()
    with psycopg.connect(url.replace(f"{installed.server.user}@", f"{owner_role}@", 1),
                         autocommit=True) as owner:
        owner.execute("ALTER TABLE app.product_supplier_sheets"
                      " DISABLE TRIGGER verify_triggers_sheet_update")
        owner.execute("UPDATE app.product_supplier_sheets SET is_verified = false,"
                      " verified_by = NULL WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
    status = run(capsys, "--database-url", url, "status")
    assert status.code == 1, status.out
    disabled = [line.split() for line in status.out.splitlines()
                if line.split()[:1] == ["DISABLED"]]
    assert [line[2] for line in disabled] == ["verify_triggers_sheet_update"], status.out
    check = run(capsys, "--database-url", url, "check")
    assert check.code == 1, check.out
    with installed.connect() as admin:
        admin.execute("ALTER TABLE app.product_supplier_sheets"
                      " ENABLE TRIGGER verify_triggers_sheet_update")
    assert run(capsys, "--database-url", url, "sync").code == 0
    assert run(capsys, "--database-url", url, "status").code == 0
    check_exits_0(capsys, installed)
    with installed.connect() as admin:
        assert drift(admin) == []


@pytest.mark.parametrize("how", ["superuser-session", "ALTER-ROLE-by-superuser"])
def test_session_replication_role_replica_set_by_a_superuser_stays_a_bypass_check_reports(
        installed, pg_server, capsys, how):
    """The write goes unsynced, `check` exits 1 naming the row, `sync` repairs it."""
    unverify = ("UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL"
                " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
    if how == "superuser-session":
        with installed.connect() as admin:
            admin.execute("SET session_replication_role = replica")
            admin.execute(unverify)
    else:
        role = f"vt_dml_{os.getpid()}_{installed.name}"
        ident = sql.Identifier(role)
        with installed.connect() as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            admin.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident))
            admin.execute(sql.SQL("GRANT SELECT, UPDATE ON app.product_supplier_sheets TO {}")
                          .format(ident))
            admin.execute(sql.SQL("ALTER ROLE {} SET session_replication_role = replica")
                          .format(ident))
        try:
            with psycopg.connect(host=pg_server.host, port=pg_server.port, user=role,
                                 dbname=installed.name, autocommit=True) as conn:
                assert conn.execute("SHOW session_replication_role").fetchone()[0] == "replica"
                conn.execute(unverify)
        finally:
            with installed.connect() as admin:
                admin.execute(sql.SQL("DROP OWNED BY {}").format(ident))
                admin.execute(sql.SQL("DROP ROLE {}").format(ident))
    with installed.connect() as admin:
        assert [(d[1], d[2]) for d in drift(admin)] == [("BMX136", "XINRUI")]
    check = run(capsys, "--database-url", installed.url(), "check", "--format", "json")
    assert check.code == 1, check.out
    assert [(d["sku"], d["supplier_name"], d["expected"]) for d in check.json()["drift"]] \
        == [("BMX136", "XINRUI", True)]
    assert run(capsys, "--database-url", installed.url(), "sync").code == 0
    check_exits_0(capsys, installed)
    with installed.connect() as admin:
        assert drift(admin) == []
        assert sheet(admin, "BMX136", "XINRUI")[:2] == VERIFIED
