"""Revision 0002 (cheaper writes): same rule, same locking, less work per write.

0002 replaces the functions of 0001 (a single pair goes through verify_triggers_sync_one
with cached plans; a one-row write to supplier_products finds its changed confirmed match
before taking any lock), adds two "mark" row triggers whose WHEN clause records in a
transaction-local setting that a column the rule reads changed, turns the rename epoch
into a transaction-level advisory lock, and drops 0001's partial index (building one on
(local_product_id, supplier_id) unless the application has an index leading with
local_product_id). Its downgrade must give back exactly what 0001 installs.
"""

import threading
import time

import psycopg
import pytest
from psycopg import errors, sql

from clirun import isolated_env, run  # noqa: F401
from conftest import FIXTURES, load_sql
from rule import assert_rule, people_verifications, sheet
from verify_triggers import manifest

pytestmark = pytest.mark.usefixtures("isolated_env")

SYNC = "verify-triggers"


# --- helpers -------------------------------------------------------------------------


def catalog(conn, schema: str = "app") -> dict:
    """Everything a migration can leave in ``schema``, as the server prints it back."""
    functions = conn.execute(
        """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               p.proacl::text, obj_description(p.oid, 'pg_proc')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s
        ORDER BY 1, 2
        """,
        (schema,),
    ).fetchall()
    triggers = conn.execute(
        """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal
        ORDER BY 1, 2
        """,
        (schema,),
    ).fetchall()
    indexes = conn.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s
        ORDER BY 1
        """,
        (schema,),
    ).fetchall()
    relations = conn.execute(
        """
        SELECT c.relname, c.relkind, c.reloptions, c.relacl::text, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'S', 'v', 'm', 'p')
        ORDER BY 1
        """,
        (schema,),
    ).fetchall()
    return {"functions": functions, "triggers": triggers, "indexes": indexes, "relations": relations}


def applied(conn, schema: str = "app") -> list[str]:
    return [r[0] for r in conn.execute(
        sql.SQL("SELECT version_num FROM {}.verify_triggers_version").format(sql.Identifier(schema)))]


def status_json(capsys, database, schema: str = "app"):
    result = run(capsys, "--database-url", database.url(), "--schema", schema, "status", "--format", "json")
    return result.code, result.json()


def generations(conn, schema: str = "app") -> list[int]:
    return conn.execute(
        sql.SQL("SELECT array_agg(generation ORDER BY bucket) FROM {}.verify_triggers_lock").format(
            sql.Identifier(schema))).fetchone()[0]


def sheet_versions(conn) -> list[tuple]:
    """Each sheet row's id and tuple version: a row written in this transaction gets a new xmin."""
    return conn.execute(
        "SELECT id, xmin::text, ctid::text FROM app.product_supplier_sheets ORDER BY id").fetchall()


def my_locks(conn) -> list[tuple]:
    """The heavyweight locks this backend holds: (locktype, relation, mode)."""
    return conn.execute(
        "SELECT locktype, relation::regclass::text, mode FROM pg_locks"
        " WHERE pid = pg_backend_pid() AND locktype IN ('advisory', 'relation')"
        " ORDER BY 1, 2, 3").fetchall()


SYNC_TABLES = {"app.verify_triggers_lock", "app.supplier_products", "app.product_supplier_sheets",
               "app.products", "app.suppliers"}


def assert_sync_took_no_lock(conn, written: str) -> None:
    """No advisory lock (the epoch) and no lock on a table the sync reads or writes, other
    than the one the statement itself wrote."""
    locks = my_locks(conn)
    assert [lock for lock in locks if lock[0] == "advisory"] == []
    assert {lock[1] for lock in locks} & (SYNC_TABLES - {written}) == set(), locks


def match_id(conn, sku: str, supplier_name: str, schema: str = "app") -> int:
    return conn.execute(
        sql.SQL("SELECT sp.id FROM {s}.supplier_products sp"
                " JOIN {s}.products p ON p.id = sp.local_product_id"
                " JOIN {s}.suppliers su ON su.id = sp.supplier_id"
                " WHERE p.sku = %s AND su.name = %s ORDER BY sp.id LIMIT 1").format(s=sql.Identifier(schema)),
        (sku, supplier_name),
    ).fetchone()[0]


def confirm(conn, match: int, value: bool = True, schema: str = "app") -> None:
    conn.execute(sql.SQL("UPDATE {}.supplier_products SET manual_confirmed = %s WHERE id = %s").format(
        sql.Identifier(schema)), (value, match))


def verified(conn, sku: str, supplier_name: str, schema: str = "app"):
    return sheet(conn, sku, supplier_name, schema)[:2]


# --- the migration itself ------------------------------------------------------------


@pytest.mark.parametrize("application_index", [True, False],
                         ids=["app-has-product-index", "app-has-no-product-index"])
def test_downgrade_from_0002_leaves_exactly_a_fresh_0001_install(seeded, make_db, application_index):
    """Functions, triggers, indexes, tables and their options, ACLs and comments after
    0001 -> 0002 -> 0001 are those of a database upgraded straight to 0001. 0002 builds
    its own index on supplier_products (local_product_id, supplier_id) only when the
    application has no index leading with local_product_id (the fixture schema has one)."""
    fresh = make_db()
    for database in (seeded, fresh):
        with database.connect() as conn:
            if database is fresh:
                load_sql(conn, FIXTURES / "seed.sql")
            if not application_index:
                conn.execute("DROP INDEX app.ix_supplier_products_local_product_id")
    fresh.upgrade("0001")

    seeded.upgrade("0001")
    with seeded.connect() as conn:
        at_0001 = catalog(conn)
    seeded.upgrade("0002")
    with seeded.connect() as conn:
        at_0002 = catalog(conn)
        assert applied(conn) == ["0002"]
    seeded.downgrade("0001")

    with seeded.connect() as conn, fresh.connect() as reference:
        after = catalog(conn)
        assert applied(conn) == ["0001"]
        expected = catalog(reference)
    # the upgrade did change things, so the comparison below compares something
    assert at_0002 != at_0001
    index_names = {r[0] for r in at_0002["indexes"]}
    assert ("verify_triggers_sp_match_idx" in index_names) is not application_index
    assert "verify_triggers_sp_confirmed_idx" not in index_names
    assert {"verify_triggers_sp_changed", "verify_triggers_sheet_changed"} <= {r[1] for r in at_0002["triggers"]}
    assert {"verify_triggers_sync_one", "verify_triggers_never_called"} <= {r[0] for r in at_0002["functions"]}

    for kind in ("functions", "triggers", "indexes", "relations"):
        assert after[kind] == expected[kind], kind
        assert after[kind] == at_0001[kind], kind
    index_names = {r[0] for r in after["indexes"]}
    assert "verify_triggers_sp_confirmed_idx" in index_names
    assert "verify_triggers_sp_match_idx" not in index_names
    assert all(r[2] and r[3] for r in after["indexes"])  # valid and ready


def test_status_is_current_at_0002_after_the_upgrade_and_at_0001_after_the_downgrade(installed, capsys):
    code, data = status_json(capsys, installed)
    assert code == 0, data
    assert data["applied"] == data["head"] == "0002"
    assert {o["state"] for o in data["objects"]} == {"INSTALLED"}
    head = manifest.expected("0002", "app")
    assert {o["name"] for o in data["objects"] if o["kind"] == "index"} == set(head.indexes)
    assert "verify_triggers_sp_match_idx" in head.indexes
    assert "verify_triggers_sp_confirmed_idx" not in head.indexes
    assert {"verify_triggers_sp_changed", "verify_triggers_sheet_changed"} <= set(head.triggers)

    installed.downgrade("0001")
    code, data = status_json(capsys, installed)
    # current at 0001: every object of 0001 installed, none left over from 0002; the only
    # finding is that 0001 is not the head
    assert code == 1
    assert data["applied"] == "0001" and data["head"] == "0002"
    assert data["problems"] == ["revision 0001 applied, head is 0002: run verify-triggers upgrade"]
    assert {o["state"] for o in data["objects"]} == {"INSTALLED"}
    old = manifest.expected("0001", "app")
    by_kind = {k: {o["name"] for o in data["objects"] if o["kind"] == k}
               for k in ("trigger", "function", "index", "table")}
    assert by_kind == {"trigger": set(old.triggers), "function": set(old.functions),
                       "index": set(old.indexes), "table": set(old.tables)}

    installed.upgrade()
    code, data = status_json(capsys, installed)
    assert code == 0 and data["applied"] == "0002"
    assert {o["state"] for o in data["objects"]} == {"INSTALLED"}


def test_the_rule_holds_across_the_upgrade_from_0001_with_data(seeded):
    seeded.upgrade("0001")
    with seeded.connect() as conn:
        assert_rule(conn)
        # writes at 0001: a confirm, and a verification made by a person
        confirm(conn, match_id(conn, "AUR516", "WANKE"))
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
                     " verified_at = '2025-10-15 01:35+03' WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")
        assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
        people = people_verifications(conn)
        assert people
        before = conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
        versions_before = sheet_versions(conn)
        assert_rule(conn, people)

    seeded.upgrade("0002")
    with seeded.connect() as conn:
        assert applied(conn) == ["0002"]
        # no row rewritten by the upgrade, every row still right
        assert conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall() == before
        assert sheet_versions(conn) == versions_before
        assert_rule(conn, people)
        # and the 0002 triggers keep it: unconfirm what 0001 confirmed, confirm again
        confirm(conn, match_id(conn, "AUR516", "WANKE"), False)
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
        confirm(conn, match_id(conn, "BMX136", "PAREK"), False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        confirm(conn, match_id(conn, "AUR516", "WANKE"))
        assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
        assert_rule(conn, people)

    seeded.downgrade("0001")
    with seeded.connect() as conn:  # and 0001's functions work again after the downgrade
        confirm(conn, match_id(conn, "BMX136", "PAREK"))
        assert verified(conn, "BMX136", "PAREK") == (True, SYNC)
        conn.execute("UPDATE app.products SET sku = 'AUR516-R' WHERE sku = 'AUR516'")
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
        assert_rule(conn, people)


# --- price refreshes cost nothing ----------------------------------------------------


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
        assert_sync_took_no_lock(conn, written="app.supplier_products")
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
        assert_sync_took_no_lock(conn, written="app.product_supplier_sheets")
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
        assert_sync_took_no_lock(conn, written="app.supplier_products")
        assert generations(conn) == gens
        assert sheet_versions(conn) == versions
    assert_rule(conn)
    assert verified(conn, "AUR516", "WANKE") == (False, None)


def test_a_transaction_that_refreshes_prices_then_confirms_a_match_verifies_its_row(conn):
    with conn.transaction():
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        conn.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1")
        confirm(conn, match_id(conn, "AUR516", "WANKE"))
        assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_a_transaction_that_confirms_then_refreshes_prices_then_unconfirms_keeps_the_rule(conn):
    match = match_id(conn, "AUR516", "WANKE")
    with conn.transaction():
        confirm(conn, match)
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
        confirm(conn, match, False)
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
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_one_statement_that_refreshes_a_sheet_price_and_unverifies_a_confirmed_row_is_corrected(conn):
    conn.execute(
        "WITH a AS (UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
        "           WHERE sku = 'BMX136' AND supplier_name = 'PAREK' RETURNING id)"
        " UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL"
        " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
    assert verified(conn, "BMX136", "XINRUI") == (True, SYNC)
    assert_rule(conn)


def test_a_confirm_rolled_back_to_a_savepoint_then_another_confirm_keeps_the_rule(conn):
    wanke, parek = match_id(conn, "AUR516", "WANKE"), match_id(conn, "BMX136", "PAREK")
    with conn.transaction():
        with conn.transaction() as savepoint:
            confirm(conn, wanke)
            assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
            raise psycopg.Rollback(savepoint)
        assert verified(conn, "AUR516", "WANKE") == (False, None)
        # a price refresh after the rollback: the savepoint's mark is gone
        conn.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1")
        confirm(conn, parek, False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        with conn.transaction():
            confirm(conn, wanke)
        assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
    assert_rule(conn)


def test_a_savepoint_rolled_back_after_a_confirm_then_a_new_confirm_keeps_the_rule_at_commit(installed):
    with installed.connect() as conn:
        wanke, parek = match_id(conn, "AUR516", "WANKE"), match_id(conn, "BMX136", "PAREK")
        confirm(conn, parek, False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
    with installed.connect(autocommit=False) as conn:
        conn.execute("SAVEPOINT s")
        confirm(conn, wanke)
        conn.execute("ROLLBACK TO SAVEPOINT s")
        confirm(conn, parek)
        conn.commit()
    with installed.connect() as conn:
        assert conn.execute("SELECT id FROM app.supplier_products WHERE id IN (%s, %s)"
                            " AND manual_confirmed", (wanke, parek)).fetchall() == [(parek,)]
        assert verified(conn, "AUR516", "WANKE") == (False, None)
        assert verified(conn, "BMX136", "PAREK") == (True, SYNC)
        assert_rule(conn)


# --- an application's own triggers ---------------------------------------------------

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


@pytest.fixture(params=["0001", "0002"])
def at_revision(request, seeded):
    """The seed with the sync installed at each revision: 0001 as the reference."""
    seeded.upgrade(request.param)
    with seeded.connect() as connection:
        assert applied(connection) == [request.param]
        yield connection


def test_a_match_confirmed_by_an_applications_before_trigger_verifies_its_row(at_revision):
    conn = at_revision
    conn.execute(AUTO_CONFIRM)
    match = match_id(conn, "AUR516", "WANKE")
    conn.execute("UPDATE app.supplier_products SET confidence_score = 1.0 WHERE id = %s", (match,))
    assert conn.execute("SELECT manual_confirmed FROM app.supplier_products WHERE id = %s",
                        (match,)).fetchone()[0] is True
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert_rule(conn)


def test_a_confirmed_row_unverified_by_an_applications_before_trigger_is_corrected(at_revision):
    conn = at_revision
    conn.execute(REVERIFY_ON_PRICE_CHANGE)
    conn.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
                 " WHERE sku = 'BMX136' AND supplier_name = 'PAREK'")
    assert verified(conn, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(conn)


# --- id types ------------------------------------------------------------------------

BIG = "big"
BIG_START = 5_000_000_000  # above 2^32: no integer can hold these ids


def bigint_schema_sql() -> str:
    text = (FIXTURES / "schema.sql").read_text()
    replacements = {
        "id serial PRIMARY KEY": f"id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH {BIG_START}) PRIMARY KEY",
        "supplier_id integer": "supplier_id bigint",
        "local_product_id integer": "local_product_id bigint",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def big(db):
    with db.connect() as conn:
        conn.execute(sql.SQL(bigint_schema_sql()).format(schema=sql.Identifier(BIG)))
        conn.execute(
            """
            INSERT INTO big.suppliers (name) SELECT 'SUP' || g FROM generate_series(1, 3) AS g;
            INSERT INTO big.products (sku) SELECT 'SKU' || g FROM generate_series(1, 20) AS g;
            INSERT INTO big.supplier_products (supplier_id, local_product_id, manual_confirmed)
            SELECT su.id, p.id, false FROM big.suppliers su CROSS JOIN big.products p;
            INSERT INTO big.product_supplier_sheets (sku, supplier_name, supplier_id, price_cny)
            SELECT p.sku, su.name, su.id, 10 FROM big.suppliers su CROSS JOIN big.products p;
            """)
    db.upgrade(schema=BIG)
    return db


def test_the_sync_keeps_the_rule_with_bigint_ids_above_2_to_the_32(big):
    with big.connect() as conn:
        types = dict(conn.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'big' AND (column_name = 'id' OR column_name LIKE '%_id')"
            " AND table_name <> 'verify_triggers_version'").fetchall())
        assert set(types.values()) == {"bigint"}, types
        assert {"suppliers.id", "products.id", "supplier_products.id", "supplier_products.supplier_id",
                "supplier_products.local_product_id"} <= set(types)
        assert conn.execute("SELECT min(id) FROM big.supplier_products").fetchone()[0] >= BIG_START
        assert applied(conn, BIG) == ["0002"]
        assert_rule(conn, schema=BIG)

        one = match_id(conn, "SKU1", "SUP1", BIG)
        confirm(conn, one, schema=BIG)  # one pair: verify_triggers_sync_one
        assert verified(conn, "SKU1", "SUP1", BIG) == (True, SYNC)

        # many pairs: the set-based path
        bulk = conn.execute("UPDATE big.supplier_products SET manual_confirmed = true"
                            " WHERE local_product_id IN (SELECT id FROM big.products"
                            " WHERE sku IN ('SKU2', 'SKU3', 'SKU4'))").rowcount
        assert bulk == 9
        assert conn.execute("SELECT count(*) FROM big.product_supplier_sheets WHERE is_verified"
                            ).fetchone()[0] == 10
        assert_rule(conn, schema=BIG)

        confirm(conn, one, False, schema=BIG)
        assert sheet(conn, "SKU1", "SUP1", BIG) == (False, None, None)
        conn.execute("UPDATE big.supplier_products SET manual_confirmed = false"
                     " WHERE local_product_id = (SELECT id FROM big.products WHERE sku = 'SKU2')")
        assert conn.execute("SELECT count(*) FROM big.product_supplier_sheets WHERE sku = 'SKU2'"
                            " AND is_verified").fetchone()[0] == 0
        assert_rule(conn, schema=BIG)

        # rematch a confirmed match to another product (old and new pair)
        moved = match_id(conn, "SKU3", "SUP1", BIG)
        conn.execute("UPDATE big.supplier_products SET local_product_id ="
                     " (SELECT id FROM big.products WHERE sku = 'SKU9') WHERE id = %s", (moved,))
        assert sheet(conn, "SKU3", "SUP1", BIG) == (False, None, None)
        assert verified(conn, "SKU9", "SUP1", BIG) == (True, SYNC)
        assert_rule(conn, schema=BIG)

        # delete: one confirmed match, then many
        conn.execute("DELETE FROM big.supplier_products WHERE id = %s", (moved,))
        assert sheet(conn, "SKU9", "SUP1", BIG) == (False, None, None)
        deleted = conn.execute("DELETE FROM big.supplier_products WHERE local_product_id IN"
                               " (SELECT id FROM big.products WHERE sku IN ('SKU3', 'SKU4'))").rowcount
        assert deleted == 5
        assert conn.execute("SELECT count(*) FROM big.product_supplier_sheets WHERE is_verified"
                            ).fetchone()[0] == 0
        assert_rule(conn, schema=BIG)

        # insert: one confirmed match, then many
        conn.execute("INSERT INTO big.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM big.suppliers su, big.products p"
                     " WHERE su.name = 'SUP2' AND p.sku = 'SKU20'")
        assert verified(conn, "SKU20", "SUP2", BIG) == (True, SYNC)
        conn.execute("INSERT INTO big.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                     " SELECT su.id, p.id, true FROM big.suppliers su, big.products p"
                     " WHERE p.sku IN ('SKU18', 'SKU19')")
        assert conn.execute("SELECT count(*) FROM big.product_supplier_sheets WHERE is_verified"
                            ).fetchone()[0] == 7
        assert_rule(conn, schema=BIG)

        # a rename and a product delete
        conn.execute("UPDATE big.products SET sku = 'SKU20-R' WHERE sku = 'SKU20'")
        assert sheet(conn, "SKU20", "SUP2", BIG) == (False, None, None)
        conn.execute("DELETE FROM big.products WHERE sku = 'SKU19'")
        assert conn.execute("SELECT count(*) FROM big.product_supplier_sheets WHERE is_verified"
                            ).fetchone()[0] == 3
        assert_rule(conn, schema=BIG)
        # the epoch is keyed by schema: app's triggers are not installed and need nothing
        assert conn.execute("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE n.nspname = 'app' AND t.tgname LIKE 'verify_triggers%'").fetchone()[0] == 0


# --- plans cached in a session -------------------------------------------------------

BULK = 10_000


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
    confirm(conn, match_id(conn, "SOLO", "S1"), value)
    expected = (True, SYNC) if value else (False, None)
    assert verified(conn, "SOLO", "S1") == expected


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


# --- the epoch -----------------------------------------------------------------------


@pytest.fixture
def renaming(installed):
    """BMX136 / XINRUI unconfirmed, and a sheet row waiting for the product's new name."""
    with installed.connect() as conn:
        confirm(conn, match_id(conn, "BMX136", "XINRUI"), False)
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)"
                     " VALUES ('BMX136-R', 'XINRUI', 1)")
        assert sheet(conn, "BMX136", "XINRUI") == (False, None, None)
    return installed


def test_a_confirm_waits_for_an_uncommitted_rename_of_its_product(renaming):
    with renaming.connect(autocommit=False) as renamer, renaming.connect() as writer:
        match = match_id(writer, "BMX136", "XINRUI")
        renamer.execute("UPDATE app.products SET sku = 'BMX136-R' WHERE sku = 'BMX136'")
        writer.execute("SET lock_timeout = '200ms'")
        with pytest.raises(errors.LockNotAvailable) as waited:
            confirm(writer, match)
        # it waited for the epoch, an advisory lock taken in the trigger
        assert "pg_advisory_xact_lock_shared" in (waited.value.diag.context or "")
        assert "verify_triggers_sp_update" in (waited.value.diag.context or "")
        renamer.commit()

        confirm(writer, match)
        assert verified(writer, "BMX136-R", "XINRUI") == (True, SYNC)
        assert sheet(writer, "BMX136", "XINRUI") == (False, None, None)
        assert_rule(writer)


def test_a_confirm_blocked_by_a_rename_reads_the_new_name_once_the_rename_commits(renaming):
    with renaming.connect(autocommit=False) as renamer, renaming.connect() as writer, \
            renaming.connect() as observer:
        match = match_id(writer, "BMX136", "XINRUI")
        writer_pid = writer.info.backend_pid
        renamer.execute("UPDATE app.products SET sku = 'BMX136-R' WHERE sku = 'BMX136'")
        failures = []

        def write():
            try:
                confirm(writer, match)
            except psycopg.Error as exc:
                failures.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            waiting = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and waiting != ("Lock", "advisory"):
                time.sleep(0.01)
                waiting = observer.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s",
                    (writer_pid,)).fetchone()
            # the confirm waits for the epoch, taken as an advisory lock, not for a row
            assert waiting == ("Lock", "advisory")
            assert thread.is_alive()
            renamer.commit()
        finally:
            renamer.rollback()  # whatever happened above, never leave the writer waiting
            thread.join(30)
        assert not thread.is_alive() and failures == []
        # the confirm derived its pair from the committed name
        assert verified(writer, "BMX136-R", "XINRUI") == (True, SYNC)
        assert sheet(writer, "BMX136", "XINRUI") == (False, None, None)
        assert_rule(writer)


# --- other ways to write manual_confirmed ----------------------------------------------


def test_an_upsert_that_confirms_a_match_verifies_its_row(conn):
    match = match_id(conn, "AUR516", "WANKE")
    conn.execute(
        "INSERT INTO app.supplier_products (id, supplier_id, local_product_id, manual_confirmed)"
        " SELECT id, supplier_id, local_product_id, true FROM app.supplier_products WHERE id = %s"
        " ON CONFLICT (id) DO UPDATE SET manual_confirmed = excluded.manual_confirmed", (match,))
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
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
    assert verified(conn, "AUR516", "WANKE") == (True, SYNC)
    assert verified(conn, "BMX136", "PAREK") == (True, SYNC)
    assert_rule(conn)
