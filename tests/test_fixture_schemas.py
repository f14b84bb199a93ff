"""The two fixture schemas carry the indexes they claim.

tests/fixtures/schema.sql is the application's schema: besides the primary keys, every
index its models declare (ioko18/magflow-erp, app/models/supplier.py, product.py,
product_supplier_sheet.py). tests/fixtures/schema_lean.sql keeps only what the sync needs.
The tests and the benchmark (benchmarks/run.py, --schema-variant) load these files.
"""

INDEXES = """
SELECT t.relname, i.relname, ix.indisunique,
       array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index AS ix
JOIN pg_class AS i ON i.oid = ix.indexrelid
JOIN pg_class AS t ON t.oid = ix.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'app' AND NOT ix.indisprimary
GROUP BY t.relname, i.relname, ix.indisunique
"""

UNIQUE_KEYS = {
    ("products", "products_sku_key", True, ("sku",)),
    ("product_supplier_sheets", "uq_sheet_sku_supplier", True, ("sku", "supplier_name")),
}

APPLICATION = UNIQUE_KEYS | {
    ("suppliers", "ix_suppliers_name", False, ("name",)),
    *{("supplier_products", f"ix_supplier_products_{c}", False, (c,))
      for c in ("supplier_id", "local_product_id", "manual_confirmed", "is_active", "import_source",
                "last_price_update")},
    *{("product_supplier_sheets", f"ix_product_supplier_sheets_{c}", False, (c,))
      for c in ("supplier_id", "sku", "supplier_name", "is_active")},
}

LEAN = UNIQUE_KEYS | {
    ("supplier_products", "ix_supplier_products_supplier", False, ("supplier_id",)),
    ("supplier_products", "ix_supplier_products_product", False, ("local_product_id",)),
}


def indexes(database) -> set:
    with database.connect() as conn:
        return {(t, i, u, tuple(cols)) for t, i, u, cols in conn.execute(INDEXES).fetchall()}


def test_the_fixture_schema_has_every_index_the_application_declares(db):
    assert indexes(db) == APPLICATION


def test_the_lean_schema_has_only_the_indexes_the_sync_needs(lean_db):
    assert indexes(lean_db) == LEAN


COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns AS c
WHERE c.table_schema = 'app' ORDER BY 1, 2
"""


def test_the_lean_schema_has_the_same_tables_and_columns_as_the_applications(db, lean_db):
    """Only the indexes differ: the benchmark loads the same rows into either
    (benchmarks/run.py --schema-variant lean)."""
    with db.connect() as app, lean_db.connect() as lean:
        assert lean.execute(COLUMNS).fetchall() == app.execute(COLUMNS).fetchall()
