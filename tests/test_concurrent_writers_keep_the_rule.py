"""Eight concurrent writers; the rule holds when they are done.

Each writer is a thread with its own connection, retrying serialization failures (40001) and
deadlocks (40P01) as an application does; any other error is a finding.

- On a few hot pairs: a bounded, seeded sequence of transactions drawn from every write path
  (confirm/unconfirm, multi-row updates, rematch, supplier change, delete and insert of
  matches, sheet upserts and deletes, contradicting direct writes, product and supplier
  renames), at each isolation level and with the three mixed. Rows that alice verified by
  hand are never written directly, so they must still be hers at the end.
- Random histories: the operations of test_random_histories_keep_the_rule.py
  (helpers.apply) at one isolation level for a bounded time. At the end the independent rule
  finds no drift, the rows people verified are still theirs, and ``verify-triggers check``
  agrees (exit 0, ``ok: true``).

The races of two writers on one pair, played out deterministically, are in
test_races_between_two_writers_keep_the_rule.py.
"""

import random
import time

import pytest
from psycopg import errors

from helpers import RC, RR, SER, SYNC, Writer, apply, run_writers, start_history
from rule import assert_rule, people_verifications
from verify_triggers.check import check

WRITERS = 8

# --- the writers' retry policy -----------------------------------------------------------------


def always_conflicting(rng: random.Random):
    """A transaction that the server fails with 40001 every time."""
    def work(conn):
        conn.execute("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40001'; END $$")
    return "always", work


def test_a_writer_retries_past_its_attempts_until_its_deadline_has_settled_then_reports_it(db):
    writer = Writer(lambda: db.connect(autocommit=False), always_conflicting, seed=1,
                    deadline=time.monotonic() + 0.2, attempts=3, settle_s=0.3)
    writer.start()
    writer.join(60)
    assert not writer.is_alive()
    assert writer.committed == 0
    [failure] = writer.failures
    assert failure.startswith("always: still failing after ")
    # retried while the others could still be committing, far beyond its 3 attempts
    assert writer.retried[("SerializationFailure", "always")] > 3


def test_a_writer_retries_past_its_attempts_while_a_peer_runs_then_reports_it(db):
    def slow(rng):
        return "slow", lambda conn: conn.execute("SELECT pg_sleep(0.02)")

    failing = Writer(lambda: db.connect(autocommit=False), always_conflicting, seed=1,
                     transactions=1, attempts=3)
    peer = Writer(lambda: db.connect(autocommit=False), slow, seed=2, transactions=25)
    failing.peers = peer.peers = [failing, peer]
    for writer in (failing, peer):
        writer.start()
    for writer in (failing, peer):
        writer.join(60)
    assert peer.committed == 25 and peer.failures == []
    [failure] = failing.failures
    assert failure.startswith("always: still failing after ")
    assert failing.retried[("SerializationFailure", "always")] > 3


def test_a_writer_without_a_deadline_gives_up_after_its_attempts(db):
    writer = Writer(lambda: db.connect(autocommit=False), always_conflicting, seed=1,
                    transactions=1, attempts=3)
    writer.start()
    writer.join(60)
    assert writer.failures == ["always: still failing after 3 attempts"]
    assert writer.retried == {("SerializationFailure", "always"): 3}

# --- hot pairs ---------------------------------------------------------------------------------

TRANSACTIONS_PER_WRITER = 30
PRODUCTS = ["H1", "H2", "H3"]
SUPPLIERS = ["S1", "S2", "S3"]
ALICE_PAIRS = {("H1", "S3"), ("H3", "S1")}
OTHER_PAIRS = [(p, s) for p in PRODUCTS for s in SUPPLIERS if (p, s) not in ALICE_PAIRS]
MIXES = {
    "read_committed": [RC],
    "serializable": [SER],
    "mixed_read_committed_repeatable_read_serializable": [RC, RR, SER],
}


@pytest.fixture
def hot(installed):
    """Three products x three suppliers, two matches per pair, a sheet row per pair
    (alice verified two of them by hand)."""
    rng = random.Random(2)
    with installed.connect() as conn:
        conn.execute("INSERT INTO app.suppliers (name) SELECT unnest(%s::text[])", (SUPPLIERS,))
        conn.execute("INSERT INTO app.products (sku) SELECT unnest(%s::text[])", (PRODUCTS,))
        for sku in PRODUCTS:
            for name in SUPPLIERS:
                for _ in range(2):
                    conn.execute(
                        "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                        " SELECT su.id, p.id, %s FROM app.products p, app.suppliers su"
                        " WHERE p.sku = %s AND su.name = %s",
                        (rng.random() < 0.5, sku, name),
                    )
                alice = (sku, name) in ALICE_PAIRS
                conn.execute(
                    "INSERT INTO app.product_supplier_sheets"
                    " (sku, supplier_name, is_verified, verified_by, verified_at)"
                    " VALUES (%s, %s, %s, %s, CASE WHEN %s THEN now() END)",
                    (sku, name, alice, "alice" if alice else None, alice),
                )
        assert_rule(conn)
    return installed


def _hot_match_ids(conn):
    return [r[0] for r in conn.execute("SELECT id FROM app.supplier_products WHERE supplier_id IN"
                                       " (SELECT id FROM app.suppliers WHERE name LIKE 'S%')")]


def _pick(conn, rng, table, column, names):
    base = rng.choice(names)
    row = conn.execute(
        f"SELECT id FROM app.{table} WHERE {column} IN (%s, %s || '-X') LIMIT 1", (base, base)
    ).fetchone()
    return row[0]


def hot_transaction(rng: random.Random):
    """One transaction on the hot pairs: (kind, work). Its choices are drawn once, so a retry
    makes the same ones."""
    kind = rng.choice([
        "toggle", "toggle", "toggle", "two_toggles", "set_many", "rematch", "move_supplier",
        "replace_match", "upsert_sheet", "delete_sheet", "contradict", "stamp",
        "rename_product", "rename_supplier",
    ])
    choice_seed = rng.random()
    value = rng.random() < 0.5
    pair = rng.choice(OTHER_PAIRS)

    def work(conn):
        local = random.Random(choice_seed)  # same choices on every retry
        ids = sorted(_hot_match_ids(conn))
        if kind == "toggle":
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed"
                         " WHERE id = %s", (local.choice(ids),))
        elif kind == "two_toggles":
            for match in local.sample(ids, 2):
                conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed"
                             " WHERE id = %s", (match,))
        elif kind == "set_many":
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s WHERE id = ANY(%s)",
                         (value, local.sample(ids, 4)))
        elif kind == "rematch":
            conn.execute("UPDATE app.supplier_products SET local_product_id = %s WHERE id = %s",
                         (_pick(conn, local, "products", "sku", PRODUCTS), local.choice(ids)))
        elif kind == "move_supplier":
            conn.execute("UPDATE app.supplier_products SET supplier_id = %s WHERE id = %s",
                         (_pick(conn, local, "suppliers", "name", SUPPLIERS), local.choice(ids)))
        elif kind == "replace_match":
            conn.execute("DELETE FROM app.supplier_products WHERE id = %s", (local.choice(ids),))
            conn.execute(
                "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                " VALUES (%s, %s, %s)",
                (_pick(conn, local, "suppliers", "name", SUPPLIERS),
                 _pick(conn, local, "products", "sku", PRODUCTS), value),
            )
        elif kind == "upsert_sheet":
            conn.execute(
                "INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny, is_verified)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (sku, supplier_name) DO UPDATE"
                " SET price_cny = EXCLUDED.price_cny, is_verified = EXCLUDED.is_verified",
                (*pair, local.randint(1, 99), value),
            )
        elif kind == "delete_sheet":
            conn.execute("DELETE FROM app.product_supplier_sheets WHERE sku = %s AND supplier_name = %s", pair)
        elif kind == "contradict":
            conn.execute("UPDATE app.product_supplier_sheets SET is_verified = NOT is_verified"
                         " WHERE sku = %s AND supplier_name = %s", pair)
        elif kind == "stamp":
            conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true,"
                         " verified_by = %s, verified_at = now()"
                         " WHERE sku = %s AND supplier_name = %s", (SYNC, *pair))
        elif kind == "rename_product":
            base = local.choice(PRODUCTS)
            conn.execute("UPDATE app.products SET sku = CASE WHEN sku = %s THEN %s || '-X' ELSE %s END"
                         " WHERE sku IN (%s, %s || '-X')", (base, base, base, base, base))
        elif kind == "rename_supplier":
            base = local.choice(SUPPLIERS)
            conn.execute("UPDATE app.suppliers SET name = CASE WHEN name = %s THEN %s || '-X' ELSE %s END"
                         " WHERE name IN (%s, %s || '-X')", (base, base, base, base, base))

    return kind, work


@pytest.mark.parametrize("mix", MIXES)
def test_eight_concurrent_writers_on_hot_pairs_end_with_zero_drift(hot, mix):
    with hot.connect() as conn:
        alice = people_verifications(conn)
    assert {v[:3] for v in alice.values()} == {(s, n, "alice") for s, n in ALICE_PAIRS}
    writers = [Writer(lambda: hot.connect(autocommit=False), hot_transaction,
                      seed=1000 * i + len(mix), levels=MIXES[mix],
                      transactions=TRANSACTIONS_PER_WRITER)
               for i in range(WRITERS)]
    retried = run_writers(writers)
    with hot.connect() as conn:
        assert_rule(conn, alice)
    print(f"retried (error, transaction): {sorted(retried.items())}")
    assert sum(w.committed for w in writers) == WRITERS * TRANSACTIONS_PER_WRITER


# --- random histories --------------------------------------------------------------------------

RUN_SECONDS = 5  # how long the writers run: a bound on work, not an assertion
PEOPLE = ["alice", "bob"]
LEVELS = {"read_committed": RC, "repeatable_read": RR, "serializable": SER}


def random_operation(rng: random.Random):
    """One operation of the random histories, drawn with weights that keep the database
    populated (inserts outweigh deletes; truncates are rare)."""
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


def history_transaction(rng: random.Random):
    """One to three random operations in one transaction: (label, work)."""
    ops = [random_operation(rng) for _ in range(rng.choice([1, 1, 2, 3]))]

    def work(conn):
        for op in ops:
            apply(conn, op, protected=PEOPLE)

    return "+".join(op[0] for op in ops), work


@pytest.mark.parametrize("level", LEVELS)
def test_eight_writers_running_random_histories_end_with_zero_drift_and_check_agrees(
        installed, capsys, level):
    with installed.connect() as conn:
        start_history(conn)
        # more matches and sheet rows, so that writers collide on pairs and buckets
        for _ in range(2):
            apply(conn, ("insert_matches", [(p, s, (p + s) % 2 == 0) for p in range(4) for s in range(4)]))
        apply(conn, ("import_sheets", [(p, s, 0) for p in range(4) for s in range(4)]))
        assert_rule(conn)
        people = {i: v for i, v in people_verifications(conn).items() if v[2] in PEOPLE}
    assert len(people) == 2
    deadline = time.monotonic() + RUN_SECONDS

    def connect():
        # Deadlocks are expected and retried; find them in 50 ms instead of the default 1 s.
        return installed.connect(autocommit=False, options="-c deadlock_timeout=50ms")

    # A rename onto a taken name, or a row picked by id deleted since: the application reports
    # it and gives up that transaction.
    writers = [Writer(connect, history_transaction, seed=100 * i + 7, levels=[LEVELS[level]],
                      deadline=deadline,
                      give_up_on=(errors.UniqueViolation, errors.ForeignKeyViolation))
               for i in range(WRITERS)]
    retried = run_writers(writers)
    assert all(w.committed > 0 for w in writers)

    with installed.connect() as conn:
        assert_rule(conn, people)
        report = check(conn, "app", limit=None)
        assert report.ok, report.problems
        assert report.summary.drift == 0
        with capsys.disabled():
            print(sorted(retried.items(), key=lambda kv: -kv[1])[:12])
            print(f"\n{level}: {sum(w.committed for w in writers)} transactions committed")
    result = installed.cli(capsys, "check", "--format", "json")
    assert result.code == 0, result.out
    data = result.json()
    assert data["ok"] is True and data["drift"] == []
    assert data["summary"]["checked"] > 0
