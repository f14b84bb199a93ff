"""The races of issue 2, played out deterministically with two connections.

Transaction A writes first and stays open; B's conflicting statement starts in a thread,
and A commits only once pg_locks shows B waiting (or B has already finished, which a
correct sync never needs but a broken one might do). Then the rule is checked.

- READ COMMITTED and SERIALIZABLE: zero drift once both have committed; B may get a
  serialization failure (40001) at SERIALIZABLE and then retries, as an application does.
- REPEATABLE READ: B gets psycopg.errors.SerializationFailure, never a silently wrong flag.
"""

import threading
import time
from contextlib import ExitStack

import psycopg
import pytest
from psycopg import IsolationLevel, errors

from rule import assert_rule, drift, people_verifications, sheet

SYNC = "verify-triggers"
RC = IsolationLevel.READ_COMMITTED
RR = IsolationLevel.REPEATABLE_READ
SER = IsolationLevel.SERIALIZABLE
LEVEL_IDS = {RC: "read_committed", RR: "repeatable_read", SER: "serializable"}
# A guard against a hang, not a timing assertion: B must block or finish long before.
HANG_GUARD_S = 60


def level_param(*levels):
    return pytest.mark.parametrize("level", levels, ids=[LEVEL_IDS[lv] for lv in levels])


def match_ids(conn, sku, supplier_name):
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


def add_match(conn, sku, supplier_name, confirmed):
    conn.execute(
        "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
        " SELECT su.id, p.id, %s FROM app.products p, app.suppliers su WHERE p.sku = %s AND su.name = %s",
        (confirmed, sku, supplier_name),
    )


def set_confirmed(match_id, value):
    def work(conn):
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s WHERE id = %s", (value, match_id))

    return work


def insert_sheet_row(sku, supplier_name):
    def work(conn):
        conn.execute(
            "INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny) VALUES (%s, %s, 7.90)",
            (sku, supplier_name),
        )

    return work


class Background:
    """B's transaction in a thread: run its work, then commit; keep what it raised."""

    def __init__(self, conn, work):
        self.conn = conn
        self.pid = conn.info.backend_pid
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)

    def _run(self, work):
        try:
            work(self.conn)
            self.conn.commit()
        except psycopg.Error as exc:
            self.error = exc

    def start_and_wait_until_blocked(self, observer):
        """Start B; return once B waits on a lock (True) or has finished (False)."""
        self.thread.start()
        return wait_until_waiting(observer, [self.pid], threads=[self.thread])

    def finish(self):
        self.thread.join(HANG_GUARD_S)
        assert not self.thread.is_alive(), "B never finished"
        return self.error


def wait_until_waiting(observer, pids, threads=(), locktype=None):
    """Until every pid waits on a heavyweight lock (True), or a thread is done (False)."""
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


def retry(conn, work, attempts=20):
    """Run work and commit, retrying serialization failures and deadlocks like an app."""
    for _ in range(attempts):
        try:
            work(conn)
            conn.commit()
            return
        except (errors.SerializationFailure, errors.DeadlockDetected):
            conn.rollback()
    raise AssertionError(f"still failing after {attempts} attempts")


def session(stack, database, level, name="verify-triggers-test"):
    conn = stack.enter_context(database.connect(autocommit=False, application_name=name))
    conn.isolation_level = level
    return conn


def play(database, level, first, second):
    """A runs `first` and stays open; B runs `second` and blocks; A commits; B finishes.

    Returns B's error (None when B committed). B is left rolled back after an error.
    """
    with ExitStack() as stack:
        observer = stack.enter_context(database.connect())
        a = session(stack, database, level)
        b = session(stack, database, level)
        first(a)
        background = Background(b, second)
        background.start_and_wait_until_blocked(observer)
        a.commit()
        error = background.finish()
        if error is not None:
            b.rollback()
        return error


def check_outcome(database, level, error, second):
    """The isolation level's promise about B, then B's retry (if it failed)."""
    if level == RC:
        assert error is None, f"READ COMMITTED writer failed: {error!r}"
    elif level == RR:
        if error is None:
            with database.connect() as observer:
                wrong = drift(observer)
            pytest.fail(
                "the REPEATABLE READ writer, whose snapshot predates A's commit, committed"
                f" without a serialization failure; drifted rows now: {wrong}"
            )
        assert isinstance(error, errors.SerializationFailure), (
            f"REPEATABLE READ writer got {error!r} instead of a serialization failure"
        )
    else:
        assert error is None or isinstance(error, errors.SerializationFailure), repr(error)
    if error is not None:
        with database.connect() as observer:
            assert_rule(observer)  # B's failure left a consistent state behind
        with database.connect(autocommit=False) as b:
            b.isolation_level = level
            retry(b, second)


@pytest.fixture
def race(installed):
    """Seed plus: (BMX136, PAREK) with two confirmed matches; a match (EMG411, KEMEISING)
    not yet confirmed and without a sheet row; sheet rows (EMG412, KEMEISING) and
    (EMG411, KEMEISING-CN) waiting for a product or supplier of that name; a row verified
    by alice."""
    with installed.connect() as conn:
        add_match(conn, "BMX136", "PAREK", confirmed=True)
        add_match(conn, "EMG411", "KEMEISING", confirmed=False)
        conn.execute(
            "INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
            " VALUES ('EMG412', 'KEMEISING'), ('EMG411', 'KEMEISING-CN')"
        )
        conn.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice'"
            " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'"
        )
        assert len(match_ids(conn, "BMX136", "PAREK")) == 2
        assert_rule(conn)
    return installed


@pytest.fixture
def people(race):
    with race.connect() as conn:
        return people_verifications(conn)


# --- race 1: A and B each unconfirm one of the pair's two matches ----------------------


@level_param(RC, RR, SER)
def test_two_writers_each_unconfirming_one_of_two_matches_leave_no_drift(race, people, level):
    with race.connect() as conn:
        m1, m2 = match_ids(conn, "BMX136", "PAREK")
    error = play(race, level, set_confirmed(m1, False), set_confirmed(m2, False))
    check_outcome(race, level, error, set_confirmed(m2, False))
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn, people)


@level_param(RC, RR, SER)
def test_a_writer_whose_snapshot_predates_a_committed_unconfirm_never_leaves_a_wrong_flag(race, people, level):
    with race.connect() as conn:
        m1, m2 = match_ids(conn, "BMX136", "PAREK")
    with ExitStack() as stack:
        a = stack.enter_context(race.connect())
        b = session(stack, race, level)
        b.execute("SELECT count(*) FROM app.supplier_products").fetchone()  # B's snapshot
        set_confirmed(m1, False)(a)  # commits (autocommit)
        error = None
        try:
            set_confirmed(m2, False)(b)
            b.commit()
        except psycopg.Error as exc:
            error = exc
            b.rollback()
    check_outcome(race, level, error, set_confirmed(m2, False))
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn, people)


# --- race 2: a sheet row for the pair is inserted while a match is being confirmed -------


@level_param(RC, RR, SER)
def test_a_sheet_row_inserted_while_its_match_is_being_confirmed_ends_verified(race, people, level):
    with race.connect() as conn:
        (match,) = match_ids(conn, "EMG411", "KEMEISING")
    second = insert_sheet_row("EMG411", "KEMEISING")
    error = play(race, level, set_confirmed(match, True), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, "EMG411", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


@level_param(RC, RR, SER)
def test_a_match_confirmed_while_its_sheet_row_is_being_inserted_ends_verified(race, people, level):
    with race.connect() as conn:
        (match,) = match_ids(conn, "EMG411", "KEMEISING")
    second = set_confirmed(match, True)
    error = play(race, level, insert_sheet_row("EMG411", "KEMEISING"), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, "EMG411", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


@level_param(RC, RR, SER)
def test_a_match_unconfirmed_while_a_sheet_row_for_its_pair_is_inserted_ends_unverified(race, people, level):
    with race.connect() as conn:
        (match,) = match_ids(conn, "EMG411", "KEMEISING")
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s", (match,))
    second = insert_sheet_row("EMG411", "KEMEISING")
    error = play(race, level, set_confirmed(match, False), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, "EMG411", "KEMEISING") == (False, None, None)
        assert_rule(conn, people)


# --- a rename racing a confirm ----------------------------------------------------------

# What is renamed, and the sheet row that the rename joins to the match (EMG411, KEMEISING).
RENAMES = {
    "product_sku": (("EMG411", "EMG412"), ("EMG412", "KEMEISING")),
    "supplier_name": (("KEMEISING", "KEMEISING-CN"), ("EMG411", "KEMEISING-CN")),
}


def rename(what):
    (old, new), _ = RENAMES[what]
    table, column = ("products", "sku") if what == "product_sku" else ("suppliers", "name")

    def work(conn):
        conn.execute(f"UPDATE app.{table} SET {column} = %s WHERE {column} = %s", (new, old))

    return work


@pytest.mark.parametrize("what", RENAMES)
@level_param(RC, RR, SER)
def test_a_match_confirmed_while_its_product_or_supplier_is_renamed_verifies_the_row_of_the_new_name(
    race, people, level, what
):
    with race.connect() as conn:
        (match,) = match_ids(conn, "EMG411", "KEMEISING")
    second = set_confirmed(match, True)
    error = play(race, level, rename(what), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, *RENAMES[what][1])[:2] == (True, SYNC)
        assert_rule(conn, people)


@pytest.mark.parametrize("what", RENAMES)
@level_param(RC, RR, SER)
def test_a_product_or_supplier_renamed_while_its_match_is_being_confirmed_verifies_the_row_of_the_new_name(
    race, people, level, what
):
    with race.connect() as conn:
        (match,) = match_ids(conn, "EMG411", "KEMEISING")
    second = rename(what)
    error = play(race, level, set_confirmed(match, True), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, *RENAMES[what][1])[:2] == (True, SYNC)
        assert_rule(conn, people)


# --- lock order: concurrent statements must not deadlock each other ---------------------

GATE_KEY = 7_406_211


def install_gate(conn, table):
    """A test-only statement trigger that fires before the sync's own (names sort first)
    and parks sessions named 'vt-gated' until the test releases them, so two statements
    reach the sync's locking at the same moment."""
    conn.execute(
        f"""
        CREATE OR REPLACE FUNCTION public.vt_test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF pg_catalog.current_setting('application_name') = 'vt-gated' THEN
                PERFORM pg_catalog.pg_advisory_xact_lock_shared({GATE_KEY});
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER a_vt_test_gate AFTER UPDATE ON app.{table}
        FOR EACH STATEMENT EXECUTE FUNCTION public.vt_test_gate();
        """
    )


def test_two_multi_row_unconfirms_over_the_same_pairs_in_opposite_orders_do_not_deadlock(race, people):
    with race.connect() as conn:
        add_match(conn, "BMX136", "XINRUI", confirmed=True)
        add_match(conn, "AUR516", "KEMEISING", confirmed=True)
        a1, b1 = match_ids(conn, "BMX136", "XINRUI")
        a2, b2 = match_ids(conn, "AUR516", "KEMEISING")
        install_gate(conn, "supplier_products")

    def unconfirm(ids):
        def work(c):
            c.execute(
                "UPDATE app.supplier_products SET manual_confirmed = false"
                " WHERE id = ANY(%s)",
                (ids,),
            )

        return work

    with ExitStack() as stack:
        gate = stack.enter_context(race.connect())
        gate.execute("SELECT pg_catalog.pg_advisory_lock(%s)", (GATE_KEY,))
        a = Background(session(stack, race, RC, "vt-gated"), unconfirm([a1, a2]))
        b = Background(session(stack, race, RC, "vt-gated"), unconfirm([b2, b1]))
        a.thread.start()
        b.thread.start()
        assert wait_until_waiting(gate, [a.pid, b.pid], [a.thread, b.thread], locktype="advisory")
        gate.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (GATE_KEY,))
        errors_seen = [a.finish(), b.finish()]
    assert errors_seen == [None, None]
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (False, None)
        assert sheet(conn, "AUR516", "KEMEISING")[:2] == (False, None)
        assert_rule(conn, people)


def test_a_sheet_rename_and_an_unconfirm_of_the_same_pair_do_not_deadlock(race, people):
    """A statement renaming a supplier across sheet rows holds those rows when its sync
    starts; an unconfirm of one of their pairs holds the pair's lock and then needs one
    of the rows. Neither may fail with a deadlock."""
    with race.connect() as conn:
        (match,) = match_ids(conn, "BMX136", "XINRUI")
        install_gate(conn, "product_supplier_sheets")

    def rename_in_sheets(c):
        c.execute(
            "UPDATE app.product_supplier_sheets SET supplier_name = 'XINRUI-CN' WHERE supplier_name = 'XINRUI'"
        )

    with ExitStack() as stack:
        gate = stack.enter_context(race.connect())
        gate.execute("SELECT pg_catalog.pg_advisory_lock(%s)", (GATE_KEY,))
        renamer = Background(session(stack, race, RC, "vt-gated"), rename_in_sheets)
        renamer.thread.start()
        assert wait_until_waiting(gate, [renamer.pid], [renamer.thread], locktype="advisory")
        confirmer = Background(session(stack, race, RC), set_confirmed(match, False))
        confirmer.start_and_wait_until_blocked(gate)
        gate.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (GATE_KEY,))
        errors_seen = [renamer.finish(), confirmer.finish()]
    assert [type(e).__name__ for e in errors_seen if e is not None] == []
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "XINRUI-CN")[:2] == (False, None)
        assert_rule(conn, people)
