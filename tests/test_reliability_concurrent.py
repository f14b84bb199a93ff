"""Concurrent histories (issue 5, section 2).

Eight connections run the operations of the property-based histories
(test_reliability_histories.apply) at one isolation level for a bounded time, retrying
serialization failures (40001) and deadlocks (40P01) as an application does. At the end
the independent rule of tests/rule.py finds no drift, the rows people verified are still
theirs, and ``verify-triggers check`` agrees (exit 0, ``ok: true``).

Then what REPEATABLE READ promises here, played out deterministically with two
connections (the same-pair races themselves are in test_concurrency_races.py):
a snapshot older than a rename gets 40001 for any pair; a snapshot older than a sync of
another pair in the same bucket gets 40001 too (a false positive the application must
retry); a pair in another bucket does not; and two multi-statement transactions that
confirm two pairs in opposite orders may deadlock (40P01), like any PostgreSQL code.
docs/operations.md states the guarantee.
"""

import random
import threading
import time
from contextlib import ExitStack

import psycopg
import pytest
from psycopg import IsolationLevel, errors

import clirun
from rule import assert_rule, drift, people_verifications, sheet
from test_concurrency_races import Background, wait_until_waiting
from test_reliability_histories import NAMES, SKUS, apply, reset
from verify_triggers.check import check

WRITERS = 8
RUN_SECONDS = 5  # how long the writers run: a bound on work, not an assertion
HANG_GUARD_S = 120
PEOPLE = ["alice", "bob"]
LEVELS = {
    "read_committed": IsolationLevel.READ_COMMITTED,
    "repeatable_read": IsolationLevel.REPEATABLE_READ,
    "serializable": IsolationLevel.SERIALIZABLE,
}
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)


def random_operation(rng: random.Random):
    """One operation of test_reliability_histories, drawn with weights that keep the
    database populated (inserts outweigh deletes; truncates are rare)."""
    k = lambda: rng.randrange(16)  # noqa: E731
    table = [
        (8, lambda: ("confirm", k())), (8, lambda: ("unconfirm", k())),
        (4, lambda: ("set_many", rng.random() < 0.5, [k() for _ in range(4)])),
        (3, lambda: ("rematch", k(), k())), (1, lambda: ("unlink", k())),
        (3, lambda: ("change_supplier", k(), k())), (2, lambda: ("price",)),
        (2, lambda: ("delete_match", k())), (1, lambda: ("delete_many", [k(), k()])),
        (5, lambda: ("insert_matches", [(k(), k(), rng.random() < 0.6) for _ in range(3)])),
        (3, lambda: ("import_sheets", [(k(), k(), k()) for _ in range(3)])),
        (2, lambda: ("rename_sheet_sku", k(), k())), (2, lambda: ("rename_sheet_supplier", k(), k())),
        (1, lambda: ("rename_sheets_of_supplier", k(), k())),
        (2, lambda: ("deactivate_sheet", k())), (1, lambda: ("delete_sheet", k())),
        (2, lambda: ("person_verifies", k())), (2, lambda: ("person_unverifies", k())),
        (2, lambda: ("stamp_sync", k())), (2, lambda: ("rename_product", k(), k())),
        (1, lambda: ("swap_skus",)), (2, lambda: ("rename_supplier", k(), k())),
        (2, lambda: ("insert_product", k())), (1, lambda: ("insert_supplier", k())),
        (1, lambda: ("delete_product", k())), (1, lambda: ("delete_supplier", k())),
        (0.3, lambda: ("truncate_matches",)), (0.2, lambda: ("truncate_products",)),
    ]
    weights = [w for w, _ in table]
    return rng.choices([f for _, f in table], weights)[0]()


class Writer(threading.Thread):
    def __init__(self, database, level, seed, deadline):
        super().__init__(daemon=True)
        self.database, self.level, self.deadline = database, level, deadline
        self.rng = random.Random(seed)
        self.committed = 0
        self.retried: dict[str, int] = {}
        self.failures: list[str] = []
        self.single: dict = {}

    def run(self):
        try:
            # Deadlocks are expected and retried; find them in 50 ms instead of the default 1 s.
            with self.database.connect(autocommit=False, options="-c deadlock_timeout=50ms") as conn:
                conn.isolation_level = self.level
                while time.monotonic() < self.deadline:
                    ops = [random_operation(self.rng) for _ in range(self.rng.choice([1, 1, 2, 3]))]
                    for _attempt in range(200):
                        try:
                            for op in ops:
                                apply(conn, op, protected=PEOPLE)
                            conn.commit()
                            self.committed += 1
                            break
                        except RETRYABLE as exc:
                            conn.rollback()
                            name = type(exc).__name__
                            self.retried[name] = self.retried.get(name, 0) + 1
                            if len(ops) == 1:
                                key = (name, ops[0][0])
                                self.single[key] = self.single.get(key, 0) + 1
                        except (errors.UniqueViolation, errors.ForeignKeyViolation):
                            # a rename onto a taken name, a row picked by id deleted since:
                            # the application reports it and gives up this transaction
                            conn.rollback()
                            break
                    else:
                        self.failures.append(f"{ops}: still failing after 200 attempts")
        except psycopg.Error as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("level", LEVELS)
def test_eight_writers_running_random_histories_end_with_zero_drift_and_check_agrees(
        installed, capsys, level):
    with installed.connect() as conn:
        reset(conn)
        # more matches and sheet rows, so that writers collide on pairs and buckets
        for _ in range(2):
            apply(conn, ("insert_matches", [(p, s, (p + s) % 2 == 0) for p in range(4) for s in range(4)]))
        apply(conn, ("import_sheets", [(p, s, 0) for p in range(4) for s in range(4)]))
        assert_rule(conn)
        people = {i: v for i, v in people_verifications(conn).items() if v[2] in PEOPLE}
    assert len(people) == 2
    deadline = time.monotonic() + RUN_SECONDS
    writers = [Writer(installed, LEVELS[level], seed=100 * i + 7, deadline=deadline)
               for i in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(HANG_GUARD_S)
    assert [w.name for w in writers if w.is_alive()] == [], "a writer hung"
    assert [f for w in writers for f in w.failures] == []
    assert all(w.committed > 0 for w in writers)

    with installed.connect() as conn:
        assert_rule(conn, people)
        report = check(conn, "app", limit=None)
        assert report.ok, report.problems
        assert report.summary.drift == 0
        retried = {}
        for w in writers:
            for name, n in w.retried.items():
                retried[name] = retried.get(name, 0) + n
        single = {}
        for w in writers:
            for key, n in w.single.items():
                single[key] = single.get(key, 0) + n
        with capsys.disabled():
            print(sorted(single.items(), key=lambda kv: -kv[1])[:12])
            print(f"\n{level}: {sum(w.committed for w in writers)} transactions committed, retried {retried}")
    result = clirun.run(capsys, "--database-url", installed.url(), "check", "--format", "json")
    assert result.code == 0, result.out
    data = result.json()
    assert data["ok"] is True and data["drift"] == []
    assert data["summary"]["checked"] > 0


# --- what REPEATABLE READ can and cannot guarantee --------------------------------------

RR = IsolationLevel.REPEATABLE_READ


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
        match = conn.execute(
            "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
            " SELECT su.id, p.id, false FROM app.products p, app.suppliers su"
            " WHERE p.sku = %s AND su.name = 'XINRUI' RETURNING id", (sku,)).fetchone()[0]
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES (%s, 'XINRUI')", (sku,))
        pairs.append((sku, match))
    return pairs


def confirm(conn, match):
    conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %s", (match,))


def rr_session(stack, database):
    conn = stack.enter_context(database.connect(autocommit=False))
    conn.isolation_level = RR
    conn.execute("SELECT count(*) FROM app.supplier_products").fetchone()  # the snapshot
    return conn


def test_repeatable_read_snapshot_older_than_a_sync_of_another_pair_in_its_bucket_gets_40001(conn, installed):
    (sku_a, match_a), (sku_b, match_b) = two_pairs(conn, same_bucket=True)
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        confirm(conn, match_a)  # commits: a sync of bucket k after B's snapshot
        with pytest.raises(errors.SerializationFailure):
            confirm(b, match_b)  # an unrelated pair, same bucket
        b.rollback()
        confirm(b, match_b)  # the application's retry, with a fresh snapshot
        b.commit()
    assert sheet(conn, sku_a, "XINRUI")[:2] == sheet(conn, sku_b, "XINRUI")[:2] == (True, "verify-triggers")
    assert_rule(conn)


def test_repeatable_read_snapshot_older_than_a_sync_of_another_bucket_commits(conn, installed):
    (sku_a, match_a), (sku_b, match_b) = two_pairs(conn, same_bucket=False)
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        confirm(conn, match_a)
        confirm(b, match_b)
        b.commit()
    assert sheet(conn, sku_b, "XINRUI")[:2] == (True, "verify-triggers")
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
            confirm(b, match_a)
        b.rollback()
        confirm(b, match_a)
        b.commit()
    assert sheet(conn, sku_a, "XINRUI")[:2] == (True, "verify-triggers")
    assert_rule(conn)


def test_repeatable_read_conflicting_writer_is_refused_not_wrong_for_a_sheet_import(conn, installed):
    """B imports a sheet row for a pair A confirms after B's snapshot: B's sync would see
    the pair unconfirmed; it must fail rather than leave the row unverified."""
    (sku_a, match_a), _ = two_pairs(conn, same_bucket=False)
    conn.execute("DELETE FROM app.product_supplier_sheets WHERE sku = %s", (sku_a,))
    with ExitStack() as stack:
        b = rr_session(stack, installed)
        confirm(conn, match_a)
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
        a = stack.enter_context(installed.connect(autocommit=False))
        b = stack.enter_context(installed.connect(autocommit=False))
        a.isolation_level = b.isolation_level = RR
        confirm(a, match_x)  # A holds bucket(X)
        confirm(b, match_y)  # B holds bucket(Y)
        background = Background(a, lambda c: confirm(c, match_y))
        assert background.start_and_wait_until_blocked(conn)  # A waits for bucket(Y)
        error_b = None
        try:
            confirm(b, match_x)  # B waits for bucket(X): a cycle
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
