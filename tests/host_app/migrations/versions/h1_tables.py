"""The back office's four tables, with the application's indexes.

Revision ID: h1
Revises:
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "h1"
down_revision = None
branch_labels = None
depends_on = None

S = "app"


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("country", sa.String(2)),
        sa.Column("contact_email", sa.String(255)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        schema=S,
    )
    op.create_index("ix_suppliers_name", "suppliers", ["name"], schema=S)

    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("name", sa.String(500)),
        sa.Column("stock_quantity", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("base_price", sa.Numeric(12, 2)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        schema=S,
    )
    op.create_index("ix_products_sku", "products", ["sku"], unique=True, schema=S)

    op.create_table(
        "supplier_products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("supplier_id", sa.Integer,
                  sa.ForeignKey(f"{S}.suppliers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("local_product_id", sa.Integer,
                  sa.ForeignKey(f"{S}.products.id", ondelete="SET NULL")),
        sa.Column("supplier_product_name", sa.Text),
        sa.Column("supplier_product_url", sa.Text),
        sa.Column("supplier_price", sa.Numeric(12, 2)),
        sa.Column("supplier_currency", sa.String(3), server_default=sa.text("'CNY'")),
        sa.Column("confidence_score", sa.Float),
        sa.Column("manual_confirmed", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("confirmed_by", sa.Integer),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("import_source", sa.String(50), server_default=sa.text("'manual'")),
        sa.Column("last_price_update", sa.DateTime),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        schema=S,
    )
    for column in ("supplier_id", "local_product_id", "manual_confirmed", "is_active",
                   "import_source", "last_price_update"):
        op.create_index(f"ix_supplier_products_{column}", "supplier_products", [column], schema=S)

    op.create_table(
        "product_supplier_sheets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("supplier_name", sa.String(255), nullable=False),
        sa.Column("supplier_id", sa.Integer,
                  sa.ForeignKey(f"{S}.suppliers.id", ondelete="SET NULL")),
        sa.Column("price_cny", sa.Numeric(12, 2)),
        sa.Column("supplier_url", sa.Text),
        sa.Column("supplier_contact", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("is_preferred", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("is_verified", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("verified_by", sa.String(100)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("notes", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.UniqueConstraint("sku", "supplier_name", name="uq_product_supplier_sku_name"),
        schema=S,
    )
    for column in ("supplier_id", "sku", "supplier_name", "is_active"):
        op.create_index(f"ix_product_supplier_sheets_{column}", "product_supplier_sheets",
                        [column], schema=S)


def downgrade() -> None:
    for table in ("product_supplier_sheets", "supplier_products", "products", "suppliers"):
        op.drop_table(table, schema=S)
