"""Widen product_supplier_sheets.supplier_name to 500 characters, the supported way.

Revision ID: h3
Revises: h2
Create Date: 2026-12-03

triggers_lifted() drops the sync's triggers on the table around the ALTER and puts them back in
the same transaction (a revision of the sync that pins the column in a WHEN clause would
otherwise make the ALTER fail).
"""
import sqlalchemy as sa
from alembic import op

from verify_triggers.alembic import triggers_lifted

revision = "h3"
down_revision = "h2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with triggers_lifted(["product_supplier_sheets"]):
        op.alter_column("product_supplier_sheets", "supplier_name", schema="app",
                        type_=sa.String(500), existing_type=sa.String(255),
                        existing_nullable=False)


def downgrade() -> None:
    with triggers_lifted(["product_supplier_sheets"]):
        op.alter_column("product_supplier_sheets", "supplier_name", schema="app",
                        type_=sa.String(255), existing_type=sa.String(500),
                        existing_nullable=False)
