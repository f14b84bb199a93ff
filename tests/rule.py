"""The rule, written independently of the triggers, to judge what they leave behind.

A pair (sku, supplier_name) is confirmed when a supplier_products row with
manual_confirmed joins to it through products.sku and suppliers.name. Drift is a
confirmed pair's row that is not verified, or a row stamped with the sync's stamp whose
pair is not confirmed.
"""

# The stamp the sync writes into verified_by, spelled here rather than read from the package.
SYNC = "verify-triggers"

DRIFT = """
SELECT sh.id, sh.sku, sh.supplier_name, sh.is_verified, sh.verified_by,
       EXISTS (
           SELECT 1 FROM {s}.supplier_products sp
           JOIN {s}.products p ON p.id = sp.local_product_id
           JOIN {s}.suppliers su ON su.id = sp.supplier_id
           WHERE sp.manual_confirmed AND p.sku = sh.sku AND su.name = sh.supplier_name
       ) AS confirmed
FROM {s}.product_supplier_sheets sh
"""


def drift(conn, schema: str = "app") -> list[tuple]:
    rows = conn.execute(DRIFT.replace("{s}", schema)).fetchall()
    return [
        r for r in rows
        if (r[5] and not r[3]) or (not r[5] and r[4] == SYNC)
    ]


def sheet(conn, sku: str, supplier_name: str, schema: str = "app") -> tuple | None:
    """(is_verified, verified_by, verified_at) of one sheet row."""
    return conn.execute(
        f"SELECT is_verified, verified_by, verified_at FROM {schema}.product_supplier_sheets"
        " WHERE sku = %s AND supplier_name = %s",
        (sku, supplier_name),
    ).fetchone()


PEOPLE = """
SELECT id, sku, supplier_name, verified_by, verified_at
FROM {s}.product_supplier_sheets
WHERE is_verified AND verified_by IS DISTINCT FROM %s
"""


def people_verifications(conn, schema: str = "app") -> dict[int, tuple]:
    """Verifications made by people (any stamp but the sync's, or none), by sheet row id."""
    rows = conn.execute(PEOPLE.replace("{s}", schema), (SYNC,)).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def assert_rule(conn, people_before: dict[int, tuple] | None = None, schema: str = "app") -> None:
    """Zero drift, and every verification a person made (given as taken earlier) still in place.

    A person's verification is kept when its row is still verified with the same
    verified_by and verified_at.
    """
    assert drift(conn, schema) == []
    if people_before is not None:
        now = people_verifications(conn, schema)
        taken_away = {row_id: v for row_id, v in people_before.items() if now.get(row_id) != v}
        assert taken_away == {}, f"verifications made by people were taken away: {taken_away}"
