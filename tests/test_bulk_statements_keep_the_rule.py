"""Bulk statements finish and keep the rule.

A 200k-row update of matches and a 100k-row sheet import are single statements that must
succeed, leave zero drift and keep people's verifications, and neither may take one
heavyweight lock per pair: the shared lock table holds max_locks_per_transaction x
(max_connections + max_prepared_transactions) entries, far fewer than the pairs these
statements touch. The `slow` marker is a label only: these tests run by default.

A pooled application connection runs single-row writes, then a bulk statement: PL/pgSQL
caches a query's plan in the session, and a plan made for a 1-row transition table (nested
loops) reused for a bulk statement compares every row with every other and never finishes.
The sync plans its multi-row statements for the rows at hand.
"""

import pytest

from helpers import SYNC
from rule import assert_rule, drift, people_verifications

MATCHES = 200_000  # 100k products x 2 suppliers
IMPORT_ROWS = 100_000
# Locks one backend may hold during a bulk statement: its relations and indexes, its own
# transaction ids, a handful for the sync. Nowhere near one per pair.
FEW_LOCKS = 200

LOCKS_HELD = "SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid()"
LOCK_TABLE_SIZE = """
SELECT current_setting('max_locks_per_transaction')::int
       * (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int)
"""


@pytest.fixture
def many_matches(db):
    """100k products, each matched (unconfirmed) to two suppliers, a sheet row per pair;
    alice verified 500 of the rows by hand. Loaded before the sync is installed."""
    with db.connect() as conn:
        conn.execute(
            """
            INSERT INTO app.suppliers (name) VALUES ('BULK1'), ('BULK2');
            INSERT INTO app.products (sku, stock_quantity)
            SELECT 'BK' || lpad(g::text, 6, '0'), g % 7 FROM generate_series(1, 100000) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id, supplier_price, manual_confirmed)
            SELECT su.id, p.id, 9.99, false FROM app.products AS p CROSS JOIN app.suppliers AS su;
            INSERT INTO app.product_supplier_sheets (sku, supplier_name, supplier_id, price_cny,
                                                     is_verified, verified_by, verified_at)
            SELECT p.sku, su.name, su.id, 12.5, alice, CASE WHEN alice THEN 'alice' END,
                   CASE WHEN alice THEN timestamptz '2025-10-15 01:35+03' END
            FROM app.products AS p CROSS JOIN app.suppliers AS su
            CROSS JOIN LATERAL (SELECT su.name = 'BULK2' AND p.id % 200 = 0) AS a (alice);
            ANALYZE;
            """
        )
    db.upgrade()
    return db


@pytest.fixture
def import_ready(db):
    """100k products matched to supplier IMPORT, every other match confirmed; no sheet rows."""
    with db.connect() as conn:
        conn.execute(
            """
            INSERT INTO app.suppliers (name) VALUES ('IMPORT');
            INSERT INTO app.products (sku) SELECT 'IM' || lpad(g::text, 6, '0') FROM generate_series(1, 100000) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)
            SELECT su.id, p.id, p.id % 2 = 0 FROM app.products AS p CROSS JOIN app.suppliers AS su;
            ANALYZE;
            """
        )
    db.upgrade()
    return db


@pytest.mark.slow
def test_confirming_then_unconfirming_200k_matches_in_one_statement_keeps_the_rule(many_matches):
    with many_matches.connect() as conn:
        lock_table_size = conn.execute(LOCK_TABLE_SIZE).fetchone()[0]
        people = people_verifications(conn)
    assert len(people) == 500
    assert MATCHES > lock_table_size, "the point: a lock per pair would not fit in the lock table"

    with many_matches.connect(autocommit=False) as conn:
        confirmed = conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now()"
        ).rowcount
        held = conn.execute(LOCKS_HELD).fetchone()[0]
        conn.commit()
    assert confirmed == MATCHES
    assert held < FEW_LOCKS
    with many_matches.connect() as conn:
        verified = conn.execute(
            "SELECT count(*) FILTER (WHERE verified_by = %s), count(*) FILTER (WHERE is_verified)"
            " FROM app.product_supplier_sheets", (SYNC,)
        ).fetchone()
        assert verified == (MATCHES - 500, MATCHES)
        assert_rule(conn, people)

    with many_matches.connect(autocommit=False) as conn:
        unconfirmed = conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = false, confirmed_at = NULL"
        ).rowcount
        held = conn.execute(LOCKS_HELD).fetchone()[0]
        conn.commit()
    assert unconfirmed == MATCHES
    assert held < FEW_LOCKS
    with many_matches.connect() as conn:
        verified = conn.execute(
            "SELECT count(*) FILTER (WHERE is_verified) FROM app.product_supplier_sheets"
        ).fetchone()[0]
        assert verified == 500
        assert_rule(conn, people)


@pytest.mark.slow
def test_a_100k_row_sheet_import_in_one_statement_verifies_the_confirmed_pairs(import_ready):
    with import_ready.connect(autocommit=False) as conn:
        inserted = conn.execute(
            """
            INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny, supplier_url)
            SELECT p.sku, 'IMPORT', 3.5, 'https://example.com/' || p.sku
            FROM app.products AS p WHERE p.sku LIKE 'IM%'
            """
        ).rowcount
        held = conn.execute(LOCKS_HELD).fetchone()[0]
        conn.commit()
    assert inserted == IMPORT_ROWS
    assert held < FEW_LOCKS
    with import_ready.connect() as conn:
        assert conn.execute(
            "SELECT count(*) FILTER (WHERE is_verified), count(*) FILTER (WHERE verified_by = %s)"
            " FROM app.product_supplier_sheets", (SYNC,)
        ).fetchone() == (IMPORT_ROWS // 2, IMPORT_ROWS // 2)
        assert_rule(conn)


# --- a pooled connection: single-row writes, then a bulk statement -----------------------------

POOLED_MATCHES = 30_000


@pytest.fixture
def pooled(db):
    with db.connect() as conn:
        conn.execute(
            """
            INSERT INTO app.suppliers (name) VALUES ('BULK');
            INSERT INTO app.products (sku) SELECT 'P' || g FROM generate_series(1, %(n)s) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id)
            SELECT 1, g FROM generate_series(1, %(n)s) AS g;
            INSERT INTO app.product_supplier_sheets (sku, supplier_name)
            SELECT 'P' || g, 'BULK' FROM generate_series(1, %(n)s) AS g;
            ANALYZE;
            """.replace("%(n)s", str(POOLED_MATCHES))
        )
    db.upgrade()
    return db


@pytest.mark.parametrize("table", ["supplier_products", "product_supplier_sheets"])
def test_a_bulk_statement_after_single_row_writes_on_the_same_connection_finishes(pooled, table):
    with pooled.connect() as conn:
        # A hang guard, not a speed target: the cached 1-row plan ran for many minutes.
        conn.execute("SET statement_timeout = '120s'")
        for _ in range(6):  # past PL/pgSQL's five custom plans, as a pool would be
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = 1")
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = false WHERE id = 1")
            conn.execute("UPDATE app.product_supplier_sheets SET is_verified = false WHERE id = 2")
        if table == "supplier_products":
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = true")
        else:
            conn.execute("UPDATE app.product_supplier_sheets SET supplier_name = supplier_name || ''"
                         ", verified_by = %s", (SYNC,))
        assert drift(conn) == []
        expected = POOLED_MATCHES if table == "supplier_products" else 0
        verified = conn.execute(
            "SELECT count(*) FROM app.product_supplier_sheets WHERE is_verified"
        ).fetchone()[0]
        assert verified == expected


# The insert and delete paths too (one trigger function for both, over the written rows): what
# the bulk statement writes, what it must leave verified, and what is set up first.
BULK_WRITES = {
    "supplier_products_insert": (
        "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
        " SELECT 1, p.id, true FROM app.products p WHERE p.sku LIKE 'P%'",
        POOLED_MATCHES, []),
    "supplier_products_delete": (
        "DELETE FROM app.supplier_products",
        0, ["UPDATE app.supplier_products SET manual_confirmed = true"]),
    "product_supplier_sheets_insert": (
        "INSERT INTO app.product_supplier_sheets (sku, supplier_name)"
        " SELECT p.sku, 'BULK' FROM app.products p WHERE p.sku LIKE 'P%'",
        POOLED_MATCHES, ["UPDATE app.supplier_products SET manual_confirmed = true",
                         "DELETE FROM app.product_supplier_sheets"]),
}
W1_MATCH = ("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
            " SELECT 1, id, true FROM app.products WHERE sku = 'W1'")


@pytest.mark.parametrize("kind", BULK_WRITES)
def test_a_bulk_insert_or_delete_after_single_row_ones_on_the_same_connection_finishes(pooled, kind):
    statement, expected, setup = BULK_WRITES[kind]
    with pooled.connect() as conn:
        conn.execute("INSERT INTO app.products (sku) VALUES ('W1')")
        for step in setup:
            conn.execute(step)
    with pooled.connect() as conn:
        conn.execute("SET statement_timeout = '120s'")  # a hang guard, as above
        for _ in range(6):  # one-row inserts and deletes of a confirmed match and of a sheet row
            conn.execute(W1_MATCH)
            conn.execute("DELETE FROM app.supplier_products WHERE local_product_id ="
                         " (SELECT id FROM app.products WHERE sku = 'W1')")
            conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('W1', 'BULK')")
            conn.execute("DELETE FROM app.product_supplier_sheets WHERE sku = 'W1'")
        conn.execute(statement)
        assert drift(conn) == []
        verified = conn.execute(
            "SELECT count(*) FROM app.product_supplier_sheets WHERE is_verified"
        ).fetchone()[0]
        assert verified == expected
