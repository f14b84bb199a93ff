"""Make the sync cheap per write: cached single-pair plans, no work for unrelated columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The rule and the locking are 0001's. In order, for a live database: an index on
supplier_products (local_product_id, supplier_id) is built concurrently, unless the
application already has one leading with local_product_id; the functions
are replaced (CREATE OR REPLACE) and two marking row triggers added under a short
lock_timeout with retries (CREATE TRIGGER waits for open writes on supplier_products and
product_supplier_sheets); then 0001's partial index, no longer read, is dropped
concurrently. No row changes, so nothing to reconcile. The downgrade mirrors it and
restores 0001's definitions.
"""

from verify_triggers.migration_sql import execute_autocommit, execute_ddl, existing_product_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An index of the application's on supplier_products (local_product_id) serves the
    # sync as well as a new one would, without a second index to maintain on every write.
    if existing_product_index() is None:
        execute_autocommit("triggers/0002_indexes.sql", drop_invalid_indexes=("verify_triggers_sp_match_idx",))
    execute_ddl("triggers/0002_install.sql")
    execute_autocommit("triggers/0002_drop_old_indexes.sql")


def downgrade() -> None:
    execute_autocommit("triggers/0001_indexes.sql", drop_invalid_indexes=("verify_triggers_sp_confirmed_idx",))
    execute_ddl("triggers/0002_uninstall.sql")
    execute_autocommit("triggers/0002_drop_indexes.sql")
