"""Bulk statements: a 200k-row update of matches and a 100k-row sheet import.

Both are single statements that must succeed, leave zero drift and keep people's
verifications, and neither may take one heavyweight lock per pair: the shared lock table
holds max_locks_per_transaction x (max_connections + max_prepared_transactions) entries,
far fewer than the pairs these statements touch. The `slow` marker is a label only: these
tests run by default.
"""

import pytest

from rule import assert_rule, people_verifications

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
            "SELECT count(*) FILTER (WHERE verified_by = 'verify-triggers'), count(*) FILTER (WHERE is_verified)"
            " FROM app.product_supplier_sheets"
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
            "SELECT count(*) FILTER (WHERE is_verified), count(*) FILTER (WHERE verified_by = 'verify-triggers')"
            " FROM app.product_supplier_sheets"
        ).fetchone() == (IMPORT_ROWS // 2, IMPORT_ROWS // 2)
        assert_rule(conn)
