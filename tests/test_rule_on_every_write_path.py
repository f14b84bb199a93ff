"""Every write path keeps the rule.

Each test starts from the seed with the sync installed (so reconciled), plus a few rows
that make the paths interesting: a pair with two confirmed matches, verifications made by
people, and sheet rows waiting for a match. After each write the independent drift query
of tests/rule.py must find nothing, and no verification made by a person may be gone.
"""

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from helpers import (
    SYNC,
    add_match,
    add_sheet,
    assert_took_no_sync_lock,
    match_ids,
    product_id,
    set_confirmed,
    supplier_id,
)
from helpers import verification as state
from rule import assert_rule, people_verifications, sheet

ALICE_AT = dt.datetime(2025, 10, 15, 1, 35, tzinfo=dt.timezone(dt.timedelta(hours=3)))


def sync_stamped(conn) -> int:
    """How many sheet rows carry the sync's stamp."""
    return conn.execute(
        "SELECT count(*) FROM app.product_supplier_sheets WHERE verified_by = %s", (SYNC,)
    ).fetchone()[0]


@pytest.fixture
def world(conn):
    """The seed, reconciled, plus the rows the write paths below need.

    - (BMX136, PAREK) has two confirmed matches;
    - MAN001's sheet rows were verified by people: (MAN001, XINRUI) by alice,
      (MAN001, PAREK) with no stamp; both have an unconfirmed match;
    - (EMG411, XINRUI) and (BMX136, WANKE) have sheet rows but no match yet.
    Everything is written through the triggers, as the application would.
    """
    add_match(conn, "BMX136", "PAREK", confirmed=True)
    conn.execute("INSERT INTO app.products (sku, name) VALUES ('MAN001', 'Hand-checked part')")
    add_match(conn, "MAN001", "XINRUI", confirmed=False)
    add_match(conn, "MAN001", "PAREK", confirmed=False)
    add_sheet(conn, "MAN001", "XINRUI", is_verified=True, verified_by="alice", verified_at=ALICE_AT)
    add_sheet(conn, "MAN001", "PAREK", is_verified=True)
    add_sheet(conn, "EMG411", "XINRUI")
    add_sheet(conn, "BMX136", "WANKE")
    assert_rule(conn)
    assert state(conn, "MAN001", "XINRUI") == (True, "alice")
    assert state(conn, "MAN001", "PAREK") == (True, None)
    return conn


@pytest.fixture
def people(world):
    """The verifications people made, taken before the write under test."""
    return people_verifications(world)


# --- supplier_products ---------------------------------------------------------------


def test_confirming_a_match_verifies_its_row_with_the_sync_stamp(world, people):
    assert state(world, "AUR516", "WANKE") == (False, None)
    with world.transaction():
        set_confirmed(world, match_ids(world, "AUR516", "WANKE"), True)
        tx_now = world.execute("SELECT now()").fetchone()[0]
    assert sheet(world, "AUR516", "WANKE") == (True, SYNC, tx_now)
    assert_rule(world, people)


def test_unconfirming_the_only_match_unverifies_the_row_the_sync_verified(world, people):
    assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    set_confirmed(world, match_ids(world, "BMX136", "XINRUI"), False)
    assert sheet(world, "BMX136", "XINRUI") == (False, None, None)
    assert_rule(world, people)


def test_unconfirming_one_of_two_matches_keeps_the_row_verified(world, people):
    first, second = match_ids(world, "BMX136", "PAREK")
    set_confirmed(world, [first], False)
    assert state(world, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(world, people)
    set_confirmed(world, [second], False)
    assert sheet(world, "BMX136", "PAREK") == (False, None, None)
    assert_rule(world, people)


def test_one_statement_confirming_and_unconfirming_many_matches_keeps_the_rule(world, people):
    world.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed")
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert state(world, "AUR516", "WANKE") == (True, SYNC)
    assert state(world, "BMX136", "PAREK") == (False, None)
    assert_rule(world, people)


def test_rematching_a_confirmed_match_moves_the_verification_to_the_new_product(world, people):
    (match,) = match_ids(world, "BMX136", "XINRUI")
    world.execute(
        "UPDATE app.supplier_products SET local_product_id = %s WHERE id = %s",
        (product_id(world, "EMG411"), match),
    )
    assert sheet(world, "BMX136", "XINRUI") == (False, None, None)
    assert state(world, "EMG411", "XINRUI") == (True, SYNC)
    assert_rule(world, people)


def test_unlinking_a_confirmed_match_from_its_product_unverifies_the_row(world, people):
    (match,) = match_ids(world, "BMX136", "XINRUI")
    world.execute("UPDATE app.supplier_products SET local_product_id = NULL WHERE id = %s", (match,))
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_moving_a_confirmed_match_to_another_supplier_moves_the_verification(world, people):
    (match,) = match_ids(world, "BMX136", "XINRUI")
    world.execute(
        "UPDATE app.supplier_products SET supplier_id = %s WHERE id = %s",
        (supplier_id(world, "WANKE"), match),
    )
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert state(world, "BMX136", "WANKE") == (True, SYNC)
    assert_rule(world, people)


def test_deleting_the_only_confirmed_match_unverifies_the_row(world, people):
    world.execute("DELETE FROM app.supplier_products WHERE id = ANY(%s)", (match_ids(world, "BMX136", "XINRUI"),))
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_deleting_one_of_two_confirmed_matches_keeps_the_row_verified(world, people):
    first, _ = match_ids(world, "BMX136", "PAREK")
    world.execute("DELETE FROM app.supplier_products WHERE id = %s", (first,))
    assert state(world, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(world, people)


def test_inserting_a_confirmed_match_verifies_the_row(world, people):
    add_match(world, "EMG411", "WANKE", confirmed=True)
    assert state(world, "EMG411", "WANKE") == (True, SYNC)
    assert_rule(world, people)


def test_inserting_an_unconfirmed_match_leaves_the_row_unverified(world, people):
    add_match(world, "EMG411", "WANKE", confirmed=False)
    assert state(world, "EMG411", "WANKE") == (False, None)
    assert_rule(world, people)


def test_inserting_many_matches_in_one_statement_verifies_the_confirmed_pairs(world, people):
    world.execute(
        """
        INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)
        SELECT su.id, p.id, m.confirmed
        FROM (VALUES ('EMG411', 'WANKE', true), ('EMG411', 'XINRUI', false),
                     ('BMX136', 'WANKE', true)) AS m (sku, supplier, confirmed)
        JOIN app.products p ON p.sku = m.sku
        JOIN app.suppliers su ON su.name = m.supplier
        """
    )
    assert state(world, "EMG411", "WANKE") == (True, SYNC)
    assert state(world, "EMG411", "XINRUI") == (False, None)
    assert state(world, "BMX136", "WANKE") == (True, SYNC)
    assert_rule(world, people)


def test_truncating_supplier_products_unverifies_only_the_rows_the_sync_verified(world, people):
    world.execute("TRUNCATE app.supplier_products")
    verified = world.execute(
        "SELECT sku, supplier_name, verified_by FROM app.product_supplier_sheets"
        " WHERE is_verified ORDER BY sku, supplier_name"
    ).fetchall()
    assert verified == [("MAN001", "PAREK", None), ("MAN001", "XINRUI", "alice")]
    assert_rule(world, people)


UNRELATED_WRITES = [
    ("app.supplier_products",
     "UPDATE app.supplier_products SET supplier_price = supplier_price + 1, updated_at = now()"),
    ("app.products", "UPDATE app.products SET stock_quantity = stock_quantity + 1, updated_at = now()"),
    ("app.suppliers", "UPDATE app.suppliers SET contact_email = 'sales@example.com'"),
]


def test_updating_unrelated_match_columns_changes_no_verification_and_takes_no_sync_lock(world, people):
    before = world.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
    for table, statement in UNRELATED_WRITES:
        with world.transaction():
            world.execute(statement)
            assert_took_no_sync_lock(world, written=table)
    after = world.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
    assert after == before
    assert_rule(world, people)


# --- product_supplier_sheets ---------------------------------------------------------


def test_inserting_a_sheet_row_for_a_confirmed_pair_verifies_it(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    add_sheet(world, "EMG411", "KEMEISING")
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_inserting_a_sheet_row_for_an_unconfirmed_pair_leaves_it_unverified(world, people):
    add_sheet(world, "AUR516", "XINRUI")
    assert state(world, "AUR516", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_importing_many_sheet_rows_in_one_statement_verifies_the_confirmed_pairs(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    add_match(world, "EMG411", "PAREK", confirmed=False)
    world.execute(
        """
        INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny, is_active)
        VALUES ('EMG411', 'KEMEISING', 7.10, true), ('EMG411', 'PAREK', 7.20, true),
               ('AUR516', 'XINRUI', 40.00, false), ('AUR516', 'PAREK', 41.00, true)
        """
    )
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert state(world, "EMG411", "PAREK") == (False, None)
    assert state(world, "AUR516", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_a_sheet_row_inserted_unverified_for_a_confirmed_pair_is_verified(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    add_sheet(world, "EMG411", "KEMEISING", is_verified=False, verified_by=None)
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_a_sheet_row_inserted_with_the_sync_stamp_for_an_unconfirmed_pair_is_corrected(world, people):
    add_sheet(world, "AUR516", "XINRUI", is_verified=True, verified_by=SYNC, verified_at=ALICE_AT)
    assert sheet(world, "AUR516", "XINRUI") == (False, None, None)
    assert_rule(world, people)


def test_a_sheet_row_inserted_verified_by_a_person_stays_verified(world, people):
    add_sheet(world, "AUR516", "XINRUI", is_verified=True, verified_by="bob", verified_at=ALICE_AT)
    assert sheet(world, "AUR516", "XINRUI") == (True, "bob", ALICE_AT)
    assert_rule(world, people)


def test_renaming_a_verified_sheet_rows_sku_away_from_its_confirmed_pair_unverifies_it(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET sku = 'AUR516'"
        " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'"
    )
    assert state(world, "AUR516", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_renaming_a_sheet_rows_sku_onto_a_confirmed_pair_verifies_it(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    row = add_sheet(world, "ZZZ999", "KEMEISING")
    world.execute("UPDATE app.product_supplier_sheets SET sku = 'EMG411' WHERE id = %s", (row,))
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    world.execute("UPDATE app.product_supplier_sheets SET sku = 'ZZZ999' WHERE id = %s", (row,))
    assert state(world, "ZZZ999", "KEMEISING") == (False, None)
    assert_rule(world, people)


def test_renaming_a_sheet_rows_supplier_name_follows_the_new_pair(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    world.execute(
        "UPDATE app.product_supplier_sheets SET supplier_name = 'KEMEISING'"
        " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'"
    )
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)
    world.execute(
        "UPDATE app.product_supplier_sheets SET supplier_name = 'WANKE'"
        " WHERE sku = 'EMG411' AND supplier_name = 'KEMEISING'"
    )
    assert state(world, "EMG411", "WANKE") == (False, None)
    assert_rule(world, people)


def test_renaming_a_supplier_across_many_sheet_rows_in_one_statement_keeps_the_rule(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET supplier_name = 'KEMEISING-OLD' WHERE supplier_name = 'KEMEISING'"
    )
    assert state(world, "BMX136", "KEMEISING-OLD") == (False, None)
    assert state(world, "AUR516", "KEMEISING-OLD") == (False, None)
    world.execute(
        "UPDATE app.product_supplier_sheets SET supplier_name = 'KEMEISING' WHERE supplier_name = 'KEMEISING-OLD'"
    )
    assert state(world, "BMX136", "KEMEISING") == (True, SYNC)
    assert state(world, "AUR516", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_un_verifying_a_confirmed_pairs_row_directly_is_corrected(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL, verified_at = NULL"
        " WHERE sku = 'BMX136'"
    )
    for supplier_name in ("XINRUI", "PAREK", "KEMEISING"):
        assert state(world, "BMX136", supplier_name) == (True, SYNC)
    assert_rule(world, people)


def test_un_verifying_a_confirmed_pairs_row_verified_by_a_person_is_corrected(world, people):
    set_confirmed(world, match_ids(world, "MAN001", "XINRUI"), True)
    world.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = false"
        " WHERE sku = 'MAN001' AND supplier_name = 'XINRUI'"
    )
    assert sheet(world, "MAN001", "XINRUI")[0] is True
    people.pop(next(k for k, v in people.items() if v[:2] == ("MAN001", "XINRUI")))  # alice's own write
    assert_rule(world, people)


def test_stamping_the_sync_on_an_unconfirmed_pairs_row_is_corrected(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = %s, verified_at = now()"
        " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'",
        (SYNC,),
    )
    assert sheet(world, "EMG411", "WANKE") == (False, None, None)
    assert_rule(world, people)


def test_stamping_the_sync_on_an_unverified_unconfirmed_row_is_corrected(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET verified_by = %s WHERE sku = 'AUR516' AND supplier_name = 'WANKE'",
        (SYNC,),
    )
    assert sheet(world, "AUR516", "WANKE") == (False, None, None)
    assert_rule(world, people)


def test_a_person_verifying_an_unconfirmed_pairs_row_by_hand_is_kept(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'carol', verified_at = now()"
        " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'"
    )
    assert state(world, "EMG411", "WANKE") == (True, "carol")
    assert_rule(world, people_verifications(world))


def test_upsert_that_rewrites_verification_from_a_sheet_file_keeps_the_rule(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    world.execute(
        """
        INSERT INTO app.product_supplier_sheets AS sh (sku, supplier_name, price_cny, is_verified, verified_by)
        VALUES ('BMX136', 'XINRUI', 12.40, false, NULL),
               ('EMG411', 'KEMEISING', 8.00, false, NULL),
               ('AUR516', 'XINRUI', 46.00, true, 'verify-triggers')
        ON CONFLICT (sku, supplier_name) DO UPDATE
        SET price_cny = EXCLUDED.price_cny, is_verified = EXCLUDED.is_verified,
            verified_by = EXCLUDED.verified_by, updated_at = now()
        """
    )
    assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert sheet(world, "AUR516", "XINRUI") == (False, None, None)
    assert world.execute(
        "SELECT price_cny FROM app.product_supplier_sheets WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'"
    ).fetchone()[0] == Decimal("12.40")
    assert_rule(world, people)


def test_upsert_of_prices_only_keeps_every_verification_stamp(world, people):
    before = world.execute(
        "SELECT id, is_verified, verified_by, verified_at FROM app.product_supplier_sheets ORDER BY id"
    ).fetchall()
    world.execute(
        """
        INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)
        SELECT sku, supplier_name, price_cny + 1 FROM app.product_supplier_sheets
        ON CONFLICT (sku, supplier_name) DO UPDATE SET price_cny = EXCLUDED.price_cny
        """
    )
    after = world.execute(
        "SELECT id, is_verified, verified_by, verified_at FROM app.product_supplier_sheets ORDER BY id"
    ).fetchall()
    assert after == before
    assert_rule(world, people)


def test_upsert_do_nothing_inserting_a_confirmed_pairs_row_verifies_it(world, people):
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    world.execute(
        "INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('EMG411', 'KEMEISING'),"
        " ('BMX136', 'XINRUI') ON CONFLICT DO NOTHING"
    )
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_inactive_sheet_rows_follow_the_rule_too(world, people):
    world.execute(
        "UPDATE app.product_supplier_sheets SET is_active = false WHERE sku = 'AUR516' AND supplier_name = 'WANKE'"
    )
    set_confirmed(world, match_ids(world, "AUR516", "WANKE"), True)
    assert state(world, "AUR516", "WANKE") == (True, SYNC)
    set_confirmed(world, match_ids(world, "AUR516", "WANKE"), False)
    assert state(world, "AUR516", "WANKE") == (False, None)
    add_match(world, "EMG411", "KEMEISING", confirmed=True)
    add_sheet(world, "EMG411", "KEMEISING", is_active=False)
    assert state(world, "EMG411", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


# --- stamps that belong to someone ---------------------------------------------------


def test_a_verified_row_keeps_its_own_stamp_when_a_second_match_confirms(world, people):
    stamp = sheet(world, "BMX136", "XINRUI")
    assert stamp[:2] == (True, SYNC)
    add_match(world, "BMX136", "XINRUI", confirmed=True)
    assert sheet(world, "BMX136", "XINRUI") == stamp
    first, _ = match_ids(world, "BMX136", "XINRUI")
    set_confirmed(world, [first], False)
    assert sheet(world, "BMX136", "XINRUI") == stamp
    assert_rule(world, people)


def test_a_row_verified_by_a_person_keeps_their_stamp_when_its_pair_is_confirmed(world, people):
    set_confirmed(world, match_ids(world, "MAN001", "XINRUI"), True)
    set_confirmed(world, match_ids(world, "MAN001", "PAREK"), True)
    assert sheet(world, "MAN001", "XINRUI") == (True, "alice", ALICE_AT)
    assert sheet(world, "MAN001", "PAREK") == (True, None, None)
    assert_rule(world, people)


def test_verifications_made_by_people_survive_their_pair_being_unconfirmed(world, people):
    for supplier_name in ("XINRUI", "PAREK"):
        set_confirmed(world, match_ids(world, "MAN001", supplier_name), True)
        set_confirmed(world, match_ids(world, "MAN001", supplier_name), False)
    world.execute("DELETE FROM app.supplier_products WHERE local_product_id = %s", (product_id(world, "MAN001"),))
    assert sheet(world, "MAN001", "XINRUI") == (True, "alice", ALICE_AT)
    assert sheet(world, "MAN001", "PAREK") == (True, None, None)
    assert_rule(world, people)


def test_verifications_made_by_people_survive_a_truncate_of_matches(world, people):
    set_confirmed(world, match_ids(world, "MAN001", "XINRUI"), True)
    world.execute("TRUNCATE app.supplier_products")
    assert sheet(world, "MAN001", "XINRUI") == (True, "alice", ALICE_AT)
    assert_rule(world, people)


def test_verifications_made_by_people_survive_a_reinstall_and_its_reconciliation(world, people, installed):
    set_confirmed(world, match_ids(world, "MAN001", "XINRUI"), True)
    installed.downgrade()
    # Written while the sync is not installed: drift of both kinds.
    world.execute("UPDATE app.supplier_products SET manual_confirmed = false")
    world.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE id = ANY(%s)",
                  (match_ids(world, "AUR516", "WANKE"),))
    installed.upgrade()
    assert state(world, "AUR516", "WANKE") == (True, SYNC)
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert sheet(world, "MAN001", "XINRUI") == (True, "alice", ALICE_AT)
    assert sheet(world, "MAN001", "PAREK") == (True, None, None)
    assert_rule(world, people)


# --- products and suppliers ------------------------------------------------------------


def test_renaming_a_products_sku_moves_verification_to_the_rows_of_the_new_sku(world, people):
    add_sheet(world, "BMX137", "XINRUI")
    world.execute("UPDATE app.products SET sku = 'BMX137' WHERE sku = 'BMX136'")
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert state(world, "BMX136", "PAREK") == (False, None)
    assert state(world, "BMX137", "XINRUI") == (True, SYNC)
    assert_rule(world, people)
    world.execute("UPDATE app.products SET sku = 'BMX136' WHERE sku = 'BMX137'")
    assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    assert state(world, "BMX137", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_renaming_many_products_in_one_statement_keeps_the_rule(world, people):
    world.execute("UPDATE app.products SET sku = sku || '-V2'")
    assert sync_stamped(world) == 0
    assert_rule(world, people)
    world.execute("UPDATE app.products SET sku = left(sku, -3)")
    assert state(world, "AUR516", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_renaming_a_supplier_moves_verification_to_the_rows_of_the_new_name(world, people):
    add_sheet(world, "BMX136", "PAREK-CN")
    world.execute("UPDATE app.suppliers SET name = 'PAREK-CN' WHERE name = 'PAREK'")
    assert state(world, "BMX136", "PAREK") == (False, None)
    assert state(world, "BMX136", "PAREK-CN") == (True, SYNC)
    assert sheet(world, "MAN001", "PAREK") == (True, None, None)
    assert_rule(world, people)


def test_renaming_one_of_two_suppliers_sharing_a_name_keeps_the_pair_confirmed(world, people):
    twin = world.execute("INSERT INTO app.suppliers (name) VALUES ('XINRUI') RETURNING id").fetchone()[0]
    world.execute(
        "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed) VALUES (%s, %s, true)",
        (twin, product_id(world, "BMX136")),
    )
    world.execute("UPDATE app.suppliers SET name = 'XINRUI-OLD' WHERE name = 'XINRUI' AND id <> %s", (twin,))
    assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    world.execute("UPDATE app.suppliers SET name = 'XINRUI-TWIN' WHERE id = %s", (twin,))
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert_rule(world, people)


def test_deleting_a_product_unverifies_the_rows_its_matches_confirmed(world, people):
    world.execute("DELETE FROM app.products WHERE sku = 'BMX136'")
    for supplier_name in ("XINRUI", "PAREK", "KEMEISING"):
        assert state(world, "BMX136", supplier_name) == (False, None)
    assert state(world, "AUR516", "KEMEISING") == (True, SYNC)
    assert_rule(world, people)


def test_deleting_a_supplier_unverifies_the_rows_its_matches_confirmed(world, people):
    world.execute("DELETE FROM app.suppliers WHERE name = 'KEMEISING'")
    assert state(world, "BMX136", "KEMEISING") == (False, None)
    assert state(world, "AUR516", "KEMEISING") == (False, None)
    assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    assert_rule(world, people)


def test_truncating_products_with_their_matches_unverifies_only_the_syncs_rows(world, people):
    world.execute("TRUNCATE app.products CASCADE")
    assert sync_stamped(world) == 0
    assert_rule(world, people)


# --- who writes --------------------------------------------------------------------------


def test_a_session_with_a_hostile_search_path_still_syncs_correctly(world, people):
    # Look-alike tables that an unqualified name in a trigger would pick up instead.
    world.execute(
        """
        CREATE SCHEMA decoy;
        CREATE TABLE decoy.products (id int, sku text);
        CREATE TABLE decoy.suppliers (id int, name text);
        CREATE TABLE decoy.supplier_products (id int, supplier_id int, local_product_id int,
                                              manual_confirmed boolean);
        CREATE TABLE decoy.product_supplier_sheets (id int, sku text, supplier_name text,
            is_verified boolean, verified_by text, verified_at timestamptz);
        SET search_path = decoy, app, public;
        """
    )
    world.execute("UPDATE app.supplier_products SET manual_confirmed = true")
    world.execute("SET search_path = ''")
    add_match(world, "EMG411", "WANKE", confirmed=True)
    world.execute("RESET search_path")
    assert state(world, "AUR516", "WANKE") == (True, SYNC)
    assert state(world, "EMG411", "WANKE") == (True, SYNC)
    assert_rule(world, people)


def test_an_application_role_without_rights_on_the_syncs_objects_can_confirm(world, people, app_role):
    world.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(app_role)))
    try:
        set_confirmed(world, match_ids(world, "AUR516", "WANKE"), True)
        set_confirmed(world, match_ids(world, "BMX136", "XINRUI"), False)
        add_sheet(world, "AUR516", "PAREK")
    finally:
        world.execute("RESET ROLE")
    assert state(world, "AUR516", "WANKE") == (True, SYNC)
    assert state(world, "BMX136", "XINRUI") == (False, None)
    assert_rule(world, people)


# --- transactions ----------------------------------------------------------------------------


def test_a_rolled_back_confirm_leaves_nothing_behind(world, people):
    with pytest.raises(psycopg.errors.RaiseException):
        with world.transaction():
            set_confirmed(world, match_ids(world, "AUR516", "WANKE"), True)
            assert state(world, "AUR516", "WANKE") == (True, SYNC)
            world.execute("DO $$ BEGIN RAISE EXCEPTION 'the request failed'; END $$")
    assert state(world, "AUR516", "WANKE") == (False, None)
    assert_rule(world, people)


def test_a_confirm_inside_a_rolled_back_savepoint_is_undone_and_later_writes_still_sync(world, people):
    with world.transaction():
        with pytest.raises(psycopg.errors.RaiseException):
            with world.transaction():
                set_confirmed(world, match_ids(world, "AUR516", "WANKE"), True)
                world.execute("DO $$ BEGIN RAISE EXCEPTION 'nested failure'; END $$")
        assert state(world, "AUR516", "WANKE") == (False, None)
        world.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = false"
            " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'"
        )
        assert state(world, "BMX136", "XINRUI") == (True, SYNC)
    assert_rule(world, people)
