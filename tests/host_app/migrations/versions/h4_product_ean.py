"""An ordinary host change: products.ean, indexed.

Revision ID: h4
Revises: h3
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "h4"
down_revision = "h3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("ean", sa.String(32)), schema="app")
    op.create_index("ix_products_ean", "products", ["ean"], schema="app")


def downgrade() -> None:
    op.drop_index("ix_products_ean", table_name="products", schema="app")
    op.drop_column("products", "ean", schema="app")
