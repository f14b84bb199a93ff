"""Writes that change no pair cost the sync nothing: a bulk price refresh of confirmed matches
or of verified sheet rows, and setting manual_confirmed to the value it has, take no lock of the
sync's (neither the rename epoch nor a bucket), bump no generation and write no sheet row.
"""

from psycopg import sql

from clirun import sheet_versions
from helpers import assert_took_no_sync_lock, verification
from rule import assert_rule


def generations(conn, schema: str = "app") -> list[int]:
    """The generation of every lock bucket, in bucket order."""
    return conn.execute(
        sql.SQL("SELECT array_agg(generation ORDER BY bucket) FROM {}.verify_triggers_lock").format(
            sql.Identifier(schema))).fetchone()[0]


def test_a_bulk_price_refresh_of_confirmed_matches_takes_no_lock_and_writes_no_sheet_row(conn):
    confirmed = conn.execute("SELECT count(*) FROM app.supplier_products WHERE manual_confirmed").fetchone()[0]
    assert confirmed == 4
    gens = generations(conn)
    versions = sheet_versions(conn)
    with conn.transaction():
        refreshed = conn.execute(
            "UPDATE app.supplier_products SET supplier_price = supplier_price * 1.1"
            " WHERE manual_confirmed").rowcount
        assert refreshed == confirmed
        assert_took_no_sync_lock(conn, written="app.supplier_products")
        assert generations(conn) == gens
        assert sheet_versions(conn) == versions
    assert_rule(conn)


def test_a_bulk_price_refresh_of_verified_sheet_rows_takes_no_lock_and_keeps_every_stamp(conn):
    gens = generations(conn)
    with conn.transaction():
        stamps = conn.execute("SELECT id, is_verified, verified_by, verified_at"
                              " FROM app.product_supplier_sheets ORDER BY id").fetchall()
        assert sum(1 for s in stamps if s[1]) == 4
        refreshed = conn.execute(
            "UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1 WHERE is_verified").rowcount
        assert refreshed == 4
        assert_took_no_sync_lock(conn, written="app.product_supplier_sheets")
        assert generations(conn) == gens
        # one version per refreshed row (the refresh itself), no second write by the sync
        assert conn.execute("SELECT id, is_verified, verified_by, verified_at"
                            " FROM app.product_supplier_sheets ORDER BY id").fetchall() == stamps
        assert conn.execute("SELECT count(*) FROM app.product_supplier_sheets"
                            " WHERE xmin::text = pg_current_xact_id()::xid::text").fetchone()[0] == 4
    assert_rule(conn)


def test_setting_manual_confirmed_to_its_current_value_changes_nothing(conn):
    gens = generations(conn)
    versions = sheet_versions(conn)
    with conn.transaction():
        touched = conn.execute("UPDATE app.supplier_products SET manual_confirmed = manual_confirmed").rowcount
        assert touched == 5
        assert_took_no_sync_lock(conn, written="app.supplier_products")
        assert generations(conn) == gens
        assert sheet_versions(conn) == versions
    assert_rule(conn)
    assert verification(conn, "AUR516", "WANKE") == (False, None)
