"""Property-based histories (issue 5, section 1).

Hypothesis draws histories: lists of steps, each one write (or a few writes in one
transaction) from every path the sync must follow: confirm, unconfirm, multi-row
confirm, rematch, change supplier, delete and insert matches (one or many), insert /
import / rename / deactivate / delete sheet rows, people verifying and un-verifying rows
by hand, renaming and deleting products and suppliers, and TRUNCATE. They run against a
small database (4 SKUs x 4 supplier names, two suppliers sharing a name) with the sync
installed. After every step the independent query of tests/rule.py must find no drift,
and every verification a person made must still be in place unless that step wrote the
row itself.

The operations are plain data (a name and small integers that pick rows by position), so
a failing history prints as a readable list and shrinks to a minimal one. ``derandomize``
makes the run the same in every CI run; each example starts from the same seed state,
restored by one TRUNCATE ... RESTART IDENTITY and re-insert in one transaction.

The operations are also used by test_reliability_concurrent.py.
"""

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors

from rule import drift, people_verifications

SKUS = ["P1", "P2", "P3", "P4"]  # P4 starts with no product: sheet rows wait for it
NAMES = ["S1", "S2", "S3", "S4"]  # S4 starts with no supplier
SYNC = "verify-triggers"

RESET = """
TRUNCATE app.supplier_products, app.product_supplier_sheets, app.products, app.suppliers
    RESTART IDENTITY CASCADE;
INSERT INTO app.products (sku, name) VALUES ('P1', 'one'), ('P2', 'two'), ('P3', 'three');
-- two suppliers share the name S2: a pair may be confirmed through either
INSERT INTO app.suppliers (name) VALUES ('S1'), ('S2'), ('S3'), ('S2');
INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed) VALUES
    (1, 1, true), (1, 1, true), (2, 1, false), (4, 2, true), (3, 2, false), (3, 3, true),
    (1, 3, false), (2, NULL, true);
INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified, verified_by, verified_at)
VALUES
    ('P1', 'S1', false, NULL, NULL),
    ('P1', 'S2', true, 'alice', '2025-10-15 01:35+03'),
    ('P2', 'S2', false, NULL, NULL),
    ('P2', 'S3', true, NULL, NULL),
    ('P3', 'S3', false, NULL, NULL),
    ('P3', 'S1', true, 'verify-triggers', now()),
    ('P4', 'S1', false, NULL, NULL),
    ('P2', 'S4', true, 'bob', '2025-11-01 09:00+00');
"""


def reset(conn) -> None:
    """The seed state of every example, written through the triggers."""
    with conn.transaction():
        conn.execute(RESET)


# --- the operations: (name, *small ints) -> SQL on the connection ----------------------


def _ids(conn, table: str, protected=()) -> list[int]:
    query = {
        "supplier_products": "SELECT id FROM app.supplier_products ORDER BY id",
        "product_supplier_sheets": "SELECT id FROM app.product_supplier_sheets"
                                   " WHERE verified_by IS NULL OR verified_by <> ALL(%(protected)s::text[])"
                                   " ORDER BY id",
        "products": "SELECT id FROM app.products ORDER BY id",
        "suppliers": "SELECT id FROM app.suppliers ORDER BY id",
    }[table]
    return [r[0] for r in conn.execute(query, {"protected": list(protected)})]


def _pick(conn, table: str, k: int, protected=()) -> int | None:
    ids = _ids(conn, table, protected)
    return ids[k % len(ids)] if ids else None


def _pick_many(conn, table: str, ks) -> list[int]:
    ids = _ids(conn, table)
    return sorted({ids[k % len(ids)] for k in ks}) if ids else []


def _sheets_returning(conn, statement, params) -> set[int]:
    return {r[0] for r in conn.execute(statement, params).fetchall()}


def apply(conn, op, protected=()) -> set[int]:
    """Run one operation; return the ids of sheet rows it wrote directly (those a person
    may legitimately have changed). Picks are by position, modulo the rows there are.
    Sheet rows verified by the people named in ``protected`` are never written directly."""
    name, *args = op
    if name in ("confirm", "unconfirm"):
        match = _pick(conn, "supplier_products", args[0])
        if match is not None:
            conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s, confirmed_at = now()"
                         " WHERE id = %s", (name == "confirm", match))
    elif name == "set_many":
        value, ks = args
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = %s WHERE id = ANY(%s)",
                     (value, _pick_many(conn, "supplier_products", ks)))
    elif name == "toggle_all":
        conn.execute("UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed")
    elif name == "rematch":
        match, product = _pick(conn, "supplier_products", args[0]), _pick(conn, "products", args[1])
        if match is not None:
            # product None (no products left) unlinks the match
            conn.execute("UPDATE app.supplier_products SET local_product_id = %s WHERE id = %s",
                         (product, match))
    elif name == "unlink":
        match = _pick(conn, "supplier_products", args[0])
        if match is not None:
            conn.execute("UPDATE app.supplier_products SET local_product_id = NULL WHERE id = %s", (match,))
    elif name == "change_supplier":
        match, supplier = _pick(conn, "supplier_products", args[0]), _pick(conn, "suppliers", args[1])
        if match is not None and supplier is not None:
            conn.execute("UPDATE app.supplier_products SET supplier_id = %s WHERE id = %s", (supplier, match))
    elif name == "price":
        conn.execute("UPDATE app.supplier_products SET supplier_price = coalesce(supplier_price, 0) + 1")
    elif name == "delete_match":
        conn.execute("DELETE FROM app.supplier_products WHERE id = %s",
                     (_pick(conn, "supplier_products", args[0]),))
    elif name == "delete_many":
        conn.execute("DELETE FROM app.supplier_products WHERE id = ANY(%s)",
                     (_pick_many(conn, "supplier_products", args[0]),))
    elif name == "insert_matches":
        # rows of (product k, supplier k, confirmed), one statement
        rows = [(_pick(conn, "products", p), _pick(conn, "suppliers", s), c) for p, s, c in args[0]]
        rows = [r for r in rows if r[1] is not None]
        if rows:
            conn.execute(
                "INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                " SELECT * FROM unnest(%s::int[], %s::int[], %s::boolean[])",
                ([r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows]),
            )
    elif name == "import_sheets":
        # rows of (sku k, name k, how verified), one statement; existing pairs are skipped
        how = {0: (False, None), 1: (True, "carol"), 2: (True, SYNC), 3: (True, None)}
        rows = {(SKUS[s % 4], NAMES[n % 4]): how[v % 4] for s, n, v in args[0]}
        return _sheets_returning(
            conn,
            "INSERT INTO app.product_supplier_sheets (sku, supplier_name, is_verified, verified_by, verified_at)"
            " SELECT s, n, v, b, CASE WHEN v THEN now() END"
            " FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::text[]) AS r (s, n, v, b)"
            " ON CONFLICT (sku, supplier_name) DO NOTHING RETURNING id",
            ([k[0] for k in rows], [k[1] for k in rows], [v[0] for v in rows.values()],
             [v[1] for v in rows.values()]),
        )
    elif name in ("rename_sheet_sku", "rename_sheet_supplier"):
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        column = "sku" if name == "rename_sheet_sku" else "supplier_name"
        value = (SKUS if column == "sku" else NAMES)[args[1] % 4]
        if row is not None:
            statement = psycopg.sql.SQL(
                "UPDATE app.product_supplier_sheets SET {} = %s WHERE id = %s RETURNING id"
            ).format(psycopg.sql.Identifier(column))
            return _sheets_returning(conn, statement, (value, row))
    elif name == "rename_sheets_of_supplier":
        # every sheet row of one supplier name at once (a sheet re-import under a new name)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET supplier_name = %s WHERE supplier_name = %s"
            " AND (verified_by IS NULL OR verified_by <> ALL(%s::text[]))"
            " AND NOT EXISTS (SELECT 1 FROM app.product_supplier_sheets o"
            "  WHERE o.supplier_name = %s AND o.sku = product_supplier_sheets.sku) RETURNING id",
            (NAMES[args[1] % 4], NAMES[args[0] % 4], list(protected), NAMES[args[1] % 4]),
        )
    elif name == "deactivate_sheet":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        conn.execute("UPDATE app.product_supplier_sheets SET is_active = NOT is_active WHERE id = %s", (row,))
    elif name == "delete_sheet":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(conn, "DELETE FROM app.product_supplier_sheets WHERE id = %s RETURNING id",
                                 (row,))
    elif name == "person_verifies":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'dave',"
            " verified_at = now() WHERE id = %s RETURNING id", (row,))
    elif name == "person_unverifies":
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
            " verified_at = NULL WHERE id = %s RETURNING id", (row,))
    elif name == "stamp_sync":
        # a direct write of the sync's stamp, which the triggers must correct if unconfirmed
        row = _pick(conn, "product_supplier_sheets", args[0], protected)
        return _sheets_returning(
            conn,
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'verify-triggers',"
            " verified_at = now() WHERE id = %s RETURNING id", (row,))
    elif name == "rename_product":
        product = _pick(conn, "products", args[0])
        conn.execute("UPDATE app.products SET sku = %s WHERE id = %s", (SKUS[args[1] % 4], product))
    elif name == "swap_skus":
        # one statement renaming two products into each other's SKU via a detour
        conn.execute("UPDATE app.products SET sku = sku || '-old' WHERE sku IN ('P1', 'P2')")
        conn.execute("UPDATE app.products SET sku = CASE sku WHEN 'P1-old' THEN 'P2' ELSE 'P1' END"
                     " WHERE sku IN ('P1-old', 'P2-old')")
    elif name == "rename_supplier":
        supplier = _pick(conn, "suppliers", args[0])
        conn.execute("UPDATE app.suppliers SET name = %s WHERE id = %s", (NAMES[args[1] % 4], supplier))
    elif name == "insert_product":
        conn.execute("INSERT INTO app.products (sku) VALUES (%s) ON CONFLICT (sku) DO NOTHING",
                     (SKUS[args[0] % 4],))
    elif name == "insert_supplier":
        conn.execute("INSERT INTO app.suppliers (name) VALUES (%s)", (NAMES[args[0] % 4],))
    elif name == "delete_product":
        conn.execute("DELETE FROM app.products WHERE id = %s", (_pick(conn, "products", args[0]),))
    elif name == "delete_supplier":
        # cascades to its matches; its sheet rows keep their names (supplier_id SET NULL)
        conn.execute("DELETE FROM app.suppliers WHERE id = %s", (_pick(conn, "suppliers", args[0]),))
    elif name == "truncate_matches":
        conn.execute("TRUNCATE app.supplier_products")
    elif name == "truncate_products":
        conn.execute("TRUNCATE app.products CASCADE")  # and the matches referencing them
    else:  # pragma: no cover
        raise AssertionError(f"unknown operation {op!r}")
    return set()


K = st.integers(0, 15)
BOOL = st.booleans()

OPERATIONS = st.one_of(
    st.tuples(st.just("confirm"), K),
    st.tuples(st.just("unconfirm"), K),
    st.tuples(st.just("set_many"), BOOL, st.lists(K, min_size=2, max_size=5)),
    st.tuples(st.just("toggle_all")),
    st.tuples(st.just("rematch"), K, K),
    st.tuples(st.just("unlink"), K),
    st.tuples(st.just("change_supplier"), K, K),
    st.tuples(st.just("price")),
    st.tuples(st.just("delete_match"), K),
    st.tuples(st.just("delete_many"), st.lists(K, min_size=2, max_size=4)),
    st.tuples(st.just("insert_matches"), st.lists(st.tuples(K, K, BOOL), min_size=1, max_size=4)),
    st.tuples(st.just("import_sheets"), st.lists(st.tuples(K, K, K), min_size=1, max_size=5)),
    st.tuples(st.just("rename_sheet_sku"), K, K),
    st.tuples(st.just("rename_sheet_supplier"), K, K),
    st.tuples(st.just("rename_sheets_of_supplier"), K, K),
    st.tuples(st.just("deactivate_sheet"), K),
    st.tuples(st.just("delete_sheet"), K),
    st.tuples(st.just("person_verifies"), K),
    st.tuples(st.just("person_unverifies"), K),
    st.tuples(st.just("stamp_sync"), K),
    st.tuples(st.just("rename_product"), K, K),
    st.tuples(st.just("swap_skus")),
    st.tuples(st.just("rename_supplier"), K, K),
    st.tuples(st.just("insert_product"), K),
    st.tuples(st.just("insert_supplier"), K),
    st.tuples(st.just("delete_product"), K),
    st.tuples(st.just("delete_supplier"), K),
    st.tuples(st.just("truncate_matches")),
    st.tuples(st.just("truncate_products")),
)

# A step: one operation in its own transaction, or a few in one transaction.
STEPS = st.one_of(
    OPERATIONS.map(lambda op: ("txn", op)),
    st.lists(OPERATIONS, min_size=2, max_size=3).map(lambda ops: ("txn", *ops)),
)


def run_step(conn, step) -> set[int]:
    """Run a step's operations in one transaction; a unique violation (a rename onto a
    taken SKU or pair) rolls the whole step back, as it would in an application."""
    touched: set[int] = set()
    try:
        with conn.transaction():
            for op in step[1:]:
                touched |= apply(conn, op)
    except errors.UniqueViolation:
        return set()
    return touched


def check_after(conn, people_before: dict, touched: set[int], history) -> dict:
    wrong = drift(conn)
    assert wrong == [], f"drift after {history[-1]!r}: {wrong}"
    now = people_verifications(conn)
    taken = {i: v for i, v in people_before.items() if i not in touched and now.get(i) != v}
    assert taken == {}, f"people's verifications taken away by {history[-1]!r}: {taken}"
    return now


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=st.lists(STEPS, min_size=1, max_size=12))
def test_random_histories_keep_the_rule_after_every_step(conn, history):
    reset(conn)
    people = check_after(conn, people_verifications(conn), set(), [("reset",)])
    for i, step in enumerate(history):
        touched = run_step(conn, step)
        people = check_after(conn, people, touched, history[: i + 1])


def test_the_seed_state_of_every_example_is_synced_with_people_in_place(conn):
    reset(conn)
    assert drift(conn) == []
    people = people_verifications(conn)
    assert {v[2] for v in people.values()} == {"alice", "bob", None}
    # (P1, S1) confirmed twice, (P2, S2) through the second supplier named S2,
    # (P3, S3) once: all three verified by the sync; (P3, S1) lost its stale stamp
    stamped = conn.execute(
        "SELECT sku, supplier_name FROM app.product_supplier_sheets"
        " WHERE verified_by = 'verify-triggers' ORDER BY 1, 2").fetchall()
    assert stamped == [("P1", "S1"), ("P2", "S2"), ("P3", "S3")]


def test_a_known_tricky_history_keeps_the_rule(conn):
    """A fixed history through renames, deletes and truncates, kept as a regression."""
    reset(conn)
    history = [
        ("txn", ("rename_supplier", 1, 0)),  # the first S2 becomes S1
        ("txn", ("rename_product", 0, 3), ("insert_product", 0)),  # P1 -> P4, new P1
        ("txn", ("rename_sheets_of_supplier", 1, 3)),
        ("txn", ("delete_supplier", 3), ("set_many", True, [0, 1, 2, 3, 4])),
        ("txn", ("truncate_products",)),
        ("txn", ("insert_product", 1), ("insert_matches", [(0, 0, True), (0, 2, True)])),
        ("txn", ("swap_skus",)),
    ]
    people = check_after(conn, people_verifications(conn), set(), [("reset",)])
    for i, step in enumerate(history):
        touched = run_step(conn, step)
        people = check_after(conn, people, touched, history[: i + 1])
