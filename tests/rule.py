"""The rule, written independently of the triggers, to judge what they leave behind.

A pair (sku, supplier_name) is confirmed when a supplier_products row with
manual_confirmed joins to it through products.sku and suppliers.name. Drift is a
confirmed pair's row that is not verified, or a row stamped 'verify-triggers' whose
pair is not confirmed.
"""

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
        if (r[5] and not r[3]) or (not r[5] and r[4] == "verify-triggers")
    ]


def sheet(conn, sku: str, supplier_name: str, schema: str = "app") -> tuple | None:
    """(is_verified, verified_by, verified_at) of one sheet row."""
    return conn.execute(
        f"SELECT is_verified, verified_by, verified_at FROM {schema}.product_supplier_sheets"
        " WHERE sku = %s AND supplier_name = %s",
        (sku, supplier_name),
    ).fetchone()
