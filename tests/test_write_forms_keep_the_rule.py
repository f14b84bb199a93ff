"""The rule holds whatever form a write takes: transactions that mix price refreshes with
confirms, one statement doing both (a CTE), savepoints rolled back, upserts, MERGE, the
application's own BEFORE triggers changing a column the rule reads, and plans cached in a session
across bulk and single-row confirms.
"""

import psycopg
import pytest

from clirun import applied_versions
from helpers import match_id, set_confirmed, verification
from rule import SYNC, assert_rule, sheet


def test_a_transaction_that_refreshes_prices_then_confirms_a_match_verifies_its_row(conn):
    with conn.transaction():
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        conn.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1")
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_a_transaction_that_confirms_then_refreshes_prices_then_unconfirms_keeps_the_rule(conn):
    match = match_id(conn, "AUR516", "WANKE")
    with conn.transaction():
        set_confirmed(conn, match, True)
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
        set_confirmed(conn, match, False)
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
    assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
    assert_rule(conn)


@pytest.mark.parametrize("price_in", ["cte", "main"])
def test_one_statement_that_refreshes_a_price_and_confirms_another_match_keeps_the_rule(conn, price_in):
    priced, confirmed = match_id(conn, "BMX136", "PAREK"), match_id(conn, "AUR516", "WANKE")
    price = "UPDATE app.supplier_products SET supplier_price = supplier_price + 1 WHERE id = %(priced)s"
    conf = "UPDATE app.supplier_products SET manual_confirmed = true WHERE id = %(confirmed)s"
    first, second = (price, conf) if price_in == "cte" else (conf, price)
    conn.execute(f"WITH a AS ({first} RETURNING id) {second}", {"priced": priced, "confirmed": confirmed})
    assert conn.execute("SELECT manual_confirmed FROM app.supplier_products WHERE id = %s",
                        (confirmed,)).fetchone()[0] is True
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_one_statement_that_refreshes_a_sheet_price_and_unverifies_a_confirmed_row_is_corrected(conn):
    conn.execute(
        "WITH a AS (UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
        "           WHERE sku = 'BMX136' AND supplier_name = 'PAREK' RETURNING id)"
        " UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL"
        " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
    assert verification(conn, "BMX136", "XINRUI") == (True, SYNC)
    assert_rule(conn)


def test_a_confirm_rolled_back_to_a_savepoint_then_another_confirm_keeps_the_rule(conn):
    wanke, parek = match_id(conn, "AUR516", "WANKE"), match_id(conn, "BMX136", "PAREK")
    with conn.transaction():
        with conn.transaction() as savepoint:
            set_confirmed(conn, wanke, True)
            assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
            raise psycopg.Rollback(savepoint)
        assert verification(conn, "AUR516", "WANKE") == (False, None)
        # a price refresh after the rollback: the savepoint's mark is gone
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        set_confirmed(conn, parek, False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        with conn.transaction():
            set_confirmed(conn, wanke, True)
        assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
    assert_rule(conn)


def test_a_savepoint_rolled_back_after_a_confirm_then_a_new_confirm_keeps_the_rule_at_commit(installed):
    with installed.connect() as conn:
        wanke, parek = match_id(conn, "AUR516", "WANKE"), match_id(conn, "BMX136", "PAREK")
        set_confirmed(conn, parek, False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
    with installed.connect(autocommit=False) as conn:
        conn.execute("SAVEPOINT s")
        set_confirmed(conn, wanke, True)
        conn.execute("ROLLBACK TO SAVEPOINT s")
        set_confirmed(conn, parek, True)
        conn.commit()
    with installed.connect() as conn:
        assert conn.execute("SELECT id FROM app.supplier_products WHERE id IN (%s, %s)"
                            " AND manual_confirmed", (wanke, parek)).fetchall() == [(parek,)]
        assert verification(conn, "AUR516", "WANKE") == (False, None)
        assert verification(conn, "BMX136", "PAREK") == (True, SYNC)
        assert_rule(conn)


def test_an_upsert_that_confirms_a_match_verifies_its_row(conn):
    match = match_id(conn, "AUR516", "WANKE")
    conn.execute(
        "INSERT INTO app.supplier_products (id, supplier_id, local_product_id, manual_confirmed)"
        " SELECT id, supplier_id, local_product_id, true FROM app.supplier_products WHERE id = %s"
        " ON CONFLICT (id) DO UPDATE SET manual_confirmed = excluded.manual_confirmed", (match,))
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    conn.execute(
        "INSERT INTO app.supplier_products (id, supplier_id, local_product_id)"
        " SELECT id, supplier_id, local_product_id FROM app.supplier_products WHERE id = %s"
        " ON CONFLICT (id) DO UPDATE SET manual_confirmed = false", (match,))
    assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
    assert_rule(conn)


def test_a_merge_that_confirms_one_match_and_reprices_another_verifies_its_row(conn):
    wanke, parek = match_id(conn, "AUR516", "WANKE"), match_id(conn, "BMX136", "PAREK")
    conn.execute(
        "MERGE INTO app.supplier_products AS sp"
        " USING (VALUES (%s::integer, true), (%s::integer, false)) AS v (id, confirm) ON sp.id = v.id"
        " WHEN MATCHED AND v.confirm THEN UPDATE SET manual_confirmed = true"
        " WHEN MATCHED THEN UPDATE SET supplier_price = sp.supplier_price + 1", (wanke, parek))
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verification(conn, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(conn)


# A BEFORE UPDATE trigger of the application that changes a column the rule reads when
# another column is written. PostgreSQL fires an "UPDATE OF columns" trigger only when the
# UPDATE's SET list names one of them, not when a BEFORE trigger changes it.

AUTO_CONFIRM = """
CREATE FUNCTION app.auto_confirm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF new.confidence_score >= 0.99 THEN
        new.manual_confirmed := true;
    END IF;
    RETURN new;
END $$;
CREATE TRIGGER auto_confirm BEFORE UPDATE ON app.supplier_products
FOR EACH ROW EXECUTE FUNCTION app.auto_confirm();
"""

REVERIFY_ON_PRICE_CHANGE = """
CREATE FUNCTION app.reverify_on_price_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF new.price_cny IS DISTINCT FROM old.price_cny THEN
        new.is_verified := false;
        new.verified_by := NULL;
        new.verified_at := NULL;
    END IF;
    RETURN new;
END $$;
CREATE TRIGGER reverify_on_price_change BEFORE UPDATE ON app.product_supplier_sheets
FOR EACH ROW EXECUTE FUNCTION app.reverify_on_price_change();
"""


@pytest.fixture(params=["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"])
def at_revision(request, seeded):
    """The seed with the sync installed at each revision: 0001 as the reference."""
    seeded.upgrade(request.param)
    with seeded.connect() as connection:
        assert applied_versions(connection) == [request.param]
        yield connection


def test_a_match_confirmed_by_an_applications_before_trigger_verifies_its_row(at_revision):
    conn = at_revision
    conn.execute(AUTO_CONFIRM)
    match = match_id(conn, "AUR516", "WANKE")
    conn.execute("UPDATE app.supplier_products SET confidence_score = 1.0 WHERE id = %s", (match,))
    assert conn.execute("SELECT manual_confirmed FROM app.supplier_products WHERE id = %s",
                        (match,)).fetchone()[0] is True
    assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_a_confirmed_row_unverified_by_an_applications_before_trigger_is_corrected(at_revision):
    conn = at_revision
    conn.execute(REVERIFY_ON_PRICE_CHANGE)
    conn.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
                 " WHERE sku = 'BMX136' AND supplier_name = 'PAREK'")
    assert verification(conn, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(conn)


BULK = 10_000


# An AFTER INSERT row trigger of the application's that moves the row it inserted to another
# pair: it fires before the sync's statement trigger, and its own UPDATE syncs the new pair.

MOVE_ON_INSERT = """
CREATE FUNCTION app.move_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE app.product_supplier_sheets SET supplier_name = 'NOBODY' WHERE id = new.id;
    RETURN NULL;
END $$;
CREATE TRIGGER move_on_insert AFTER INSERT ON app.product_supplier_sheets
FOR EACH ROW EXECUTE FUNCTION app.move_on_insert();
"""


def test_a_row_moved_to_an_unconfirmed_pair_by_an_applications_insert_trigger_stays_unverified(at_revision):
    conn = at_revision
    assert verification(conn, "BMX136", "PAREK") == (True, SYNC)
    conn.execute("DELETE FROM app.product_supplier_sheets WHERE sku = 'BMX136' AND supplier_name = 'PAREK'")
    conn.execute(MOVE_ON_INSERT)
    conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('BMX136', 'PAREK')")
    # the inserted pair is confirmed, but the row is in (BMX136, NOBODY) now, which nothing confirms
    assert sheet(conn, "BMX136", "NOBODY") == (False, None, None)
    assert conn.execute("SELECT count(*) FROM app.product_supplier_sheets"
                        " WHERE sku = 'BMX136' AND supplier_name = 'PAREK'").fetchone()[0] == 0
    assert_rule(conn)


@pytest.fixture
def wide(db):
    with db.connect() as conn:
        conn.execute(
            f"""
            INSERT INTO app.suppliers (name) VALUES ('S1'), ('S2');
            INSERT INTO app.products (sku) SELECT 'P' || g FROM generate_series(1, {BULK // 2}) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)
            SELECT su.id, p.id, false FROM app.suppliers su CROSS JOIN app.products p;
            INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)
            SELECT p.sku, su.name, 1 FROM app.suppliers su CROSS JOIN app.products p;
            INSERT INTO app.products (sku) VALUES ('SOLO');
            INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)
            SELECT su.id, p.id, false FROM app.suppliers su, app.products p
            WHERE su.name = 'S1' AND p.sku = 'SOLO';
            INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('SOLO', 'S1');
            ANALYZE;
            """)
    db.upgrade()
    return db


def _bulk_confirm(conn, value: bool) -> None:
    changed = conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s"
                           " WHERE local_product_id <> (SELECT id FROM app.products WHERE sku = 'SOLO')",
                           (value,)).rowcount
    assert changed == BULK
    count = conn.execute("SELECT count(*) FROM app.product_supplier_sheets"
                         " WHERE is_verified AND sku <> 'SOLO'").fetchone()[0]
    assert count == (BULK if value else 0)


def _single_confirm(conn, value: bool) -> None:
    set_confirmed(conn, match_id(conn, "SOLO", "S1"), value)
    expected = (True, SYNC) if value else (False, None)
    assert verification(conn, "SOLO", "S1") == expected


def test_a_single_row_confirm_after_a_10k_bulk_confirm_on_the_same_connection(wide):
    with wide.connect() as conn:
        _bulk_confirm(conn, True)
        _single_confirm(conn, True)
        _bulk_confirm(conn, False)
        _single_confirm(conn, False)
        _single_confirm(conn, True)
        assert_rule(conn)


def test_a_10k_bulk_confirm_after_single_row_confirms_on_the_same_connection(wide):
    with wide.connect() as conn:
        for _ in range(6):  # enough calls for PostgreSQL to consider a generic plan
            _single_confirm(conn, True)
            _single_confirm(conn, False)
        _bulk_confirm(conn, True)
        _single_confirm(conn, True)
        _bulk_confirm(conn, False)
        assert_rule(conn)
