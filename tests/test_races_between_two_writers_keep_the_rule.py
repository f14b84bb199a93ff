"""Two writers racing on the same pair, played out deterministically with two connections.

Transaction A writes first and stays open; B's conflicting statement starts in a thread,
and A commits only once pg_locks shows B waiting (or B has already finished, which a
correct sync never needs but a broken one might do). Then the rule is checked.

- READ COMMITTED and SERIALIZABLE: zero drift once both have committed; B may get a
  serialization failure (40001) at SERIALIZABLE and then retries, as an application does.
- REPEATABLE READ: B gets psycopg.errors.SerializationFailure, never a silently wrong flag.

Then what REPEATABLE READ promises for writers of different pairs: a snapshot older than a
rename gets 40001 for any pair; a snapshot older than a sync of another pair in the same
bucket gets 40001 too (a false positive the application must retry); a pair in another
bucket does not; and two multi-statement transactions that confirm two pairs in opposite
orders may deadlock (40P01), like any PostgreSQL code. docs/operations.md states the
guarantee. Single statements over the same pairs never deadlock each other.
"""

from contextlib import ExitStack

import psycopg
import pytest
from psycopg import errors

from helpers import (
    RC,
    RR,
    SER,
    SYNC,
    Background,
    add_match,
    confirming,
    levels,
    match_id,
    match_ids,
    retry,
    session,
    set_confirmed,
    wait_until_waiting,
)
from rule import assert_rule, drift, people_verifications, sheet


def insert_sheet_row(sku, supplier_name):
    def work(conn):
        conn.execute(
            "INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny) VALUES (%s, %s, 7.90)",
            (sku, supplier_name),
        )

    return work


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


# --- A and B each unconfirm one of the pair's two matches ------------------------------


@levels(RC, RR, SER)
def test_two_writers_each_unconfirming_one_of_two_matches_leave_no_drift(race, people, level):
    with race.connect() as conn:
        m1, m2 = match_ids(conn, "BMX136", "PAREK")
    error = play(race, level, confirming(m1, False), confirming(m2, False))
    check_outcome(race, level, error, confirming(m2, False))
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn, people)


@levels(RC, RR, SER)
def test_a_writer_whose_snapshot_predates_a_committed_unconfirm_never_leaves_a_wrong_flag(race, people, level):
    with race.connect() as conn:
        m1, m2 = match_ids(conn, "BMX136", "PAREK")
    with ExitStack() as stack:
        a = stack.enter_context(race.connect())
        b = session(stack, race, level)
        b.execute("SELECT count(*) FROM app.supplier_products").fetchone()  # B's snapshot
        set_confirmed(a, m1, False)  # commits (autocommit)
        error = None
        try:
            set_confirmed(b, m2, False)
            b.commit()
        except psycopg.Error as exc:
            error = exc
            b.rollback()
    check_outcome(race, level, error, confirming(m2, False))
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn, people)


# --- a sheet row for the pair is inserted while a match is being confirmed -------------


@levels(RC, RR, SER)
def test_a_sheet_row_inserted_while_its_match_is_being_confirmed_ends_verified(race, people, level):
    with race.connect() as conn:
        match = match_id(conn, "EMG411", "KEMEISING")
    second = insert_sheet_row("EMG411", "KEMEISING")
    error = play(race, level, confirming(match, True), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, "EMG411", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


@levels(RC, RR, SER)
def test_a_match_confirmed_while_its_sheet_row_is_being_inserted_ends_verified(race, people, level):
    with race.connect() as conn:
        match = match_id(conn, "EMG411", "KEMEISING")
    second = confirming(match, True)
    error = play(race, level, insert_sheet_row("EMG411", "KEMEISING"), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, "EMG411", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


@levels(RC, RR, SER)
def test_a_match_unconfirmed_while_a_sheet_row_for_its_pair_is_inserted_ends_unverified(race, people, level):
    with race.connect() as conn:
        match = match_id(conn, "EMG411", "KEMEISING")
        set_confirmed(conn, match, True)
    second = insert_sheet_row("EMG411", "KEMEISING")
    error = play(race, level, confirming(match, False), second)
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
@levels(RC, RR, SER)
def test_a_match_confirmed_while_its_product_or_supplier_is_renamed_verifies_the_row_of_the_new_name(
    race, people, level, what
):
    with race.connect() as conn:
        match = match_id(conn, "EMG411", "KEMEISING")
    second = confirming(match, True)
    error = play(race, level, rename(what), second)
    check_outcome(race, level, error, second)
    with race.connect() as conn:
        assert sheet(conn, *RENAMES[what][1])[:2] == (True, SYNC)
        assert_rule(conn, people)


@pytest.mark.parametrize("what", RENAMES)
@levels(RC, RR, SER)
def test_a_product_or_supplier_renamed_while_its_match_is_being_confirmed_verifies_the_row_of_the_new_name(
    race, people, level, what
):
    with race.connect() as conn:
        match = match_id(conn, "EMG411", "KEMEISING")
    second = rename(what)
    error = play(race, level, confirming(match, True), second)
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
        a.start()
        b.start()
        assert wait_until_waiting(gate, [a.pid, b.pid], [a, b], locktype="advisory")
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
        match = match_id(conn, "BMX136", "XINRUI")
        install_gate(conn, "product_supplier_sheets")

    def rename_in_sheets(c):
        c.execute(
            "UPDATE app.product_supplier_sheets SET supplier_name = 'XINRUI-CN' WHERE supplier_name = 'XINRUI'"
        )

    with ExitStack() as stack:
        gate = stack.enter_context(race.connect())
        gate.execute("SELECT pg_catalog.pg_advisory_lock(%s)", (GATE_KEY,))
        renamer = Background(session(stack, race, RC, "vt-gated"), rename_in_sheets)
        renamer.start()
        assert wait_until_waiting(gate, [renamer.pid], [renamer], locktype="advisory")
        confirmer = Background(session(stack, race, RC), confirming(match, False))
        confirmer.start_and_wait_until_blocked(gate)
        gate.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (GATE_KEY,))
        errors_seen = [renamer.finish(), confirmer.finish()]
    assert [type(e).__name__ for e in errors_seen if e is not None] == []
    with race.connect() as conn:
        assert sheet(conn, "BMX136", "XINRUI-CN")[:2] == (False, None)
        assert_rule(conn, people)


# --- what REPEATABLE READ can and cannot guarantee --------------------------------------

def two_pairs(conn, same_bucket: bool):
    """Two pairs of new SKUs with supplier XINRUI whose buckets are equal (or differ)."""
    row = conn.execute(
        "SELECT a.sku, b.sku FROM generate_series(1, 2000) AS i"
        " CROSS JOIN LATERAL (SELECT 'RRA' || i AS sku) AS a"
        " CROSS JOIN LATERAL (SELECT 'RRB' || j AS sku FROM generate_series(1, 2000) AS j) AS b"
        " WHERE (app.verify_triggers_bucket(a.sku, 'XINRUI') = app.verify_triggers_bucket(b.sku, 'XINRUI'))"
        " = %s LIMIT 1",
        (same_bucket,),
    ).fetchone()
    pairs = []
    for sku in row:
        conn.execute("INSERT INTO app.products (sku) VALUES (%s)", (sku,))
        match = add_match(conn, sku, "XINRUI", confirmed=False)
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES (%s, 'XINRUI')", (sku,))
        pairs.append((sku, match))
    return pairs


def rr_session(stack, database):
    """A REPEATABLE READ transaction whose snapshot is taken now."""
    conn = session(stack, database, RR)
    conn.execute("SELECT count(*) FROM app.supplier_products").fetchone()  # the snapshot
    return conn


def test_repeatable_read_snapshot_older_than_a_sync_of_another_pair_in_its_bucket_gets_40001(conn, installed):
    (sku_a, match_a), (sku_b, match_b) = two_pairs(conn, same_bucket=True)
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        set_confirmed(conn, match_a, True)  # commits: a sync of bucket k after B's snapshot
        with pytest.raises(errors.SerializationFailure):
            set_confirmed(b, match_b, True)  # an unrelated pair, same bucket
        b.rollback()
        set_confirmed(b, match_b, True)  # the application's retry, with a fresh snapshot
        b.commit()
    assert sheet(conn, sku_a, "XINRUI")[:2] == sheet(conn, sku_b, "XINRUI")[:2] == (True, SYNC)
    assert_rule(conn)


def test_repeatable_read_snapshot_older_than_a_sync_of_another_bucket_commits(conn, installed):
    (sku_a, match_a), (sku_b, match_b) = two_pairs(conn, same_bucket=False)
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        set_confirmed(conn, match_a, True)
        set_confirmed(b, match_b, True)
        b.commit()
    assert sheet(conn, sku_b, "XINRUI")[:2] == (True, SYNC)
    assert_rule(conn)


@pytest.mark.parametrize("rename", [
    "UPDATE app.suppliers SET name = 'WANKE-CN' WHERE name = 'WANKE'",
    "UPDATE app.products SET sku = 'EMG411-B' WHERE sku = 'EMG411'",
    "DELETE FROM app.products WHERE sku = 'EMG411'",
], ids=["supplier_rename", "product_rename", "product_delete"])
def test_repeatable_read_snapshot_older_than_any_rename_or_delete_gets_40001_for_every_pair(
        conn, installed, rename):
    (sku_a, match_a), _ = two_pairs(conn, same_bucket=False)
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        conn.execute(rename)  # unrelated to sku_a, but it re-derives every pair
        with pytest.raises(errors.SerializationFailure):
            set_confirmed(b, match_a, True)
        b.rollback()
        set_confirmed(b, match_a, True)
        b.commit()
    assert sheet(conn, sku_a, "XINRUI")[:2] == (True, SYNC)
    assert_rule(conn)


def test_repeatable_read_conflicting_writer_is_refused_not_wrong_for_a_sheet_import(conn, installed):
    """B imports a sheet row for a pair A confirms after B's snapshot: B's sync would see
    the pair unconfirmed; it must fail rather than leave the row unverified."""
    (sku_a, match_a), _ = two_pairs(conn, same_bucket=False)
    conn.execute("DELETE FROM app.product_supplier_sheets WHERE sku = %s", (sku_a,))
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        set_confirmed(conn, match_a, True)
        with pytest.raises(errors.SerializationFailure):
            b.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES (%s, 'XINRUI')",
                      (sku_a,))
        b.rollback()
    assert drift(conn) == []


def test_two_multi_statement_transactions_confirming_two_pairs_in_opposite_orders_may_deadlock(conn, installed):
    """Each statement locks its pair's bucket until commit, so A: X then Y and B: Y then X
    is a lock cycle: PostgreSQL aborts one with 40P01, the other commits, the retry
    succeeds, and the rule holds throughout."""
    (sku_x, match_x), (sku_y, match_y) = two_pairs(conn, same_bucket=False)

    with ExitStack() as stack:
        a, b = session(stack, installed, RR), session(stack, installed, RR)
        set_confirmed(a, match_x, True)  # A holds bucket(X)
        set_confirmed(b, match_y, True)  # B holds bucket(Y)
        background = Background(a, confirming(match_y, True))
        assert background.start_and_wait_until_blocked(conn)  # A waits for bucket(Y)
        error_b = None
        try:
            set_confirmed(b, match_x, True)  # B waits for bucket(X): a cycle
            b.commit()
        except psycopg.Error as exc:
            error_b = exc
            b.rollback()
        error_a = background.finish()
        outcomes = sorted(type(e).__name__ for e in (error_a, error_b) if e is not None)
        assert outcomes == ["DeadlockDetected"], (error_a, error_b)
        if error_a is not None:
            a.rollback()
    assert_rule(conn)
