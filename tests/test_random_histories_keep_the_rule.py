"""Property-based histories keep the rule after every step.

Hypothesis draws histories: lists of steps, each one write (or a few writes in one
transaction) from every path the sync must follow: confirm, unconfirm, multi-row
confirm, rematch, change supplier, delete and insert matches (one or many), insert /
import / rename / deactivate / delete sheet rows, people verifying and un-verifying rows
by hand, renaming and deleting products and suppliers, and TRUNCATE. They run against a
small database (4 SKUs x 4 supplier names, two suppliers sharing a name) with the sync
installed. After every step the independent query of tests/rule.py must find no drift,
and every verification a person made must still be in place unless that step wrote the
row itself.

The operations (helpers.apply) are plain data (a name and small integers that pick rows by
position), so a failing history prints as a readable list and shrinks to a minimal one.
``derandomize`` makes the run the same in every CI run; each example starts from the same
state (helpers.start_history), restored by one TRUNCATE ... RESTART IDENTITY and re-insert
in one transaction. test_concurrent_writers_keep_the_rule.py runs the same operations from
eight connections at once.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors

from helpers import SYNC, apply, start_history
from rule import drift, people_verifications


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
    start_history(conn)
    people = check_after(conn, people_verifications(conn), set(), [("start",)])
    for i, step in enumerate(history):
        touched = run_step(conn, step)
        people = check_after(conn, people, touched, history[: i + 1])


def test_the_seed_state_of_every_example_is_synced_with_people_in_place(conn):
    start_history(conn)
    assert drift(conn) == []
    people = people_verifications(conn)
    assert {v[2] for v in people.values()} == {"alice", "bob", None}
    # (P1, S1) confirmed twice, (P2, S2) through the second supplier named S2,
    # (P3, S3) once: all three verified by the sync; (P3, S1) lost its stale stamp
    stamped = conn.execute(
        "SELECT sku, supplier_name FROM app.product_supplier_sheets"
        " WHERE verified_by = %s ORDER BY 1, 2", (SYNC,)).fetchall()
    assert stamped == [("P1", "S1"), ("P2", "S2"), ("P3", "S3")]


def test_a_known_tricky_history_keeps_the_rule(conn):
    """A fixed history through renames, deletes and truncates, kept as a regression."""
    start_history(conn)
    history = [
        ("txn", ("rename_supplier", 1, 0)),  # the first S2 becomes S1
        ("txn", ("rename_product", 0, 3), ("insert_product", 0)),  # P1 -> P4, new P1
        ("txn", ("rename_sheets_of_supplier", 1, 3)),
        ("txn", ("delete_supplier", 3), ("set_many", True, [0, 1, 2, 3, 4])),
        ("txn", ("truncate_products",)),
        ("txn", ("insert_product", 1), ("insert_matches", [(0, 0, True), (0, 2, True)])),
        ("txn", ("swap_skus",)),
    ]
    people = check_after(conn, people_verifications(conn), set(), [("start",)])
    for i, step in enumerate(history):
        touched = run_step(conn, step)
        people = check_after(conn, people, touched, history[: i + 1])
