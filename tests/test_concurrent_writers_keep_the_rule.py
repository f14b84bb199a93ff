"""Eight concurrent writers hammer a few hot pairs; the rule holds when they are done.

Each writer is a thread with its own connection running a bounded, seeded sequence of
transactions drawn from every write path (confirm/unconfirm, multi-row updates, rematch,
supplier change, delete and insert of matches, sheet upserts and deletes, contradicting
direct writes, product and supplier renames). Serialization failures and deadlocks are
rolled back and retried as an application does; any other error is a finding. Rows that
alice verified by hand are never written directly, so they must still be hers at the end.
"""

import random
import threading

import psycopg
import pytest
from psycopg import IsolationLevel, errors

from rule import assert_rule, people_verifications

WRITERS = 8
TRANSACTIONS_PER_WRITER = 30
MAX_ATTEMPTS = 200
PRODUCTS = ["H1", "H2", "H3"]
SUPPLIERS = ["S1", "S2", "S3"]
ALICE_PAIRS = {("H1", "S3"), ("H3", "S1")}
OTHER_PAIRS = [(p, s) for p in PRODUCTS for s in SUPPLIERS if (p, s) not in ALICE_PAIRS]

RC = IsolationLevel.READ_COMMITTED
RR = IsolationLevel.REPEATABLE_READ
SER = IsolationLevel.SERIALIZABLE
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


class Writer(threading.Thread):
    def __init__(self, database, seed, levels):
        super().__init__(daemon=True)
        self.database = database
        self.rng = random.Random(seed)
        self.levels = levels
        self.retries = 0
        self.committed = 0
        self.retried: dict[tuple[str, str], int] = {}
        self.failures: list[str] = []

    # --- the transactions ----------------------------------------------------------------

    def _match_ids(self, conn):
        return [r[0] for r in conn.execute("SELECT id FROM app.supplier_products WHERE supplier_id IN"
                                           " (SELECT id FROM app.suppliers WHERE name LIKE 'S%')")]

    def _pick(self, conn, table, column, names):
        base = self.rng.choice(names)
        row = conn.execute(
            f"SELECT id FROM app.{table} WHERE {column} IN (%s, %s || '-X') LIMIT 1", (base, base)
        ).fetchone()
        return row[0]

    def transaction(self):
        rng = self.rng
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
            ids = sorted(self._match_ids(conn))
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
                             (self._pick(conn, "products", "sku", PRODUCTS), local.choice(ids)))
            elif kind == "move_supplier":
                conn.execute("UPDATE app.supplier_products SET supplier_id = %s WHERE id = %s",
                             (self._pick(conn, "suppliers", "name", SUPPLIERS), local.choice(ids)))
            elif kind == "replace_match":
                conn.execute("DELETE FROM app.supplier_products WHERE id = %s", (local.choice(ids),))
                conn.execute(
                    "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                    " VALUES (%s, %s, %s)",
                    (self._pick(conn, "suppliers", "name", SUPPLIERS),
                     self._pick(conn, "products", "sku", PRODUCTS), value),
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
                             " verified_by = 'verify-triggers', verified_at = now()"
                             " WHERE sku = %s AND supplier_name = %s", pair)
            elif kind == "rename_product":
                base = local.choice(PRODUCTS)
                conn.execute("UPDATE app.products SET sku = CASE WHEN sku = %s THEN %s || '-X' ELSE %s END"
                             " WHERE sku IN (%s, %s || '-X')", (base, base, base, base, base))
            elif kind == "rename_supplier":
                base = local.choice(SUPPLIERS)
                conn.execute("UPDATE app.suppliers SET name = CASE WHEN name = %s THEN %s || '-X' ELSE %s END"
                             " WHERE name IN (%s, %s || '-X')", (base, base, base, base, base))

        return kind, work

    # --- the loop --------------------------------------------------------------------------

    def run(self):
        try:
            with self.database.connect(autocommit=False) as conn:
                for _ in range(TRANSACTIONS_PER_WRITER):
                    kind, work = self.transaction()
                    conn.isolation_level = self.rng.choice(self.levels)
                    for attempt in range(MAX_ATTEMPTS):
                        try:
                            work(conn)
                            conn.commit()
                            self.committed += 1
                            break
                        except (errors.SerializationFailure, errors.DeadlockDetected) as exc:
                            conn.rollback()
                            self.retries += 1
                            self.retried[type(exc).__name__, kind] = self.retried.get((type(exc).__name__, kind), 0) + 1
                    else:
                        self.failures.append(f"{kind}: still failing after {MAX_ATTEMPTS} attempts")
        except psycopg.Error as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("mix", MIXES)
def test_eight_concurrent_writers_on_hot_pairs_end_with_zero_drift(hot, mix):
    with hot.connect() as conn:
        alice = people_verifications(conn)
    assert {v[:3] for v in alice.values()} == {(s, n, "alice") for s, n in ALICE_PAIRS}
    writers = [Writer(hot, seed=1000 * i + len(mix), levels=MIXES[mix]) for i in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(300)
    assert [w for w in writers if w.is_alive()] == [], "a writer hung"
    assert [f for w in writers for f in w.failures] == []
    with hot.connect() as conn:
        assert_rule(conn, alice)
    retried: dict = {}
    for w in writers:
        for key, n in w.retried.items():
            retried[key] = retried.get(key, 0) + n
    print(f"retried (error, transaction): {sorted(retried.items())}")
    assert sum(w.committed for w in writers) == WRITERS * TRANSACTIONS_PER_WRITER
