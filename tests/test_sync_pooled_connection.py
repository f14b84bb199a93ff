"""A pooled application connection runs single-row writes, then a bulk statement.

PL/pgSQL caches a parameterless query's plan at its first call in the session: a plan
made for a 1-row transition table (nested loops) reused for a bulk statement compares
every row with every other and never finishes. The trigger queries are planned per call.
"""

import pytest

from rule import drift

MATCHES = 30_000


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
            """.replace("%(n)s", str(MATCHES))
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
                         ", verified_by = 'verify-triggers'")
        assert drift(conn) == []
        expected = MATCHES if table == "supplier_products" else 0
        verified = conn.execute(
            "SELECT count(*) FROM app.product_supplier_sheets WHERE is_verified"
        ).fetchone()[0]
        assert verified == expected
