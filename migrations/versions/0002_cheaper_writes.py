"""Make the sync cheap per write: cached single-pair plans, no work for unrelated columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Cut by hand before scripts/cut_revision.py existed; its files (sql/revisions/0002/) are frozen.
In order, for a live database: an index on supplier_products (local_product_id, supplier_id)
is built concurrently, unless the application already has one leading with local_product_id;
the functions are replaced (CREATE OR REPLACE) and two marking row triggers added under a
short lock_timeout with retries; then 0001's partial index, no longer read, is dropped
concurrently. No row changes, so nothing to reconcile. The downgrade mirrors it and restores
0001's definitions.
"""

from verify_triggers.migrate.steps import execute_autocommit, execute_ddl, existing_product_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An index of the application's on supplier_products (local_product_id) serves the
    # sync as well as a new one would, without a second index to maintain on every write.
    if existing_product_index() is None:
        execute_autocommit("revisions/0002/indexes/verify_triggers_sp_match_idx.sql",
                           drop_invalid_indexes=("verify_triggers_sp_match_idx",))
    execute_ddl("revisions/0002/install.sql")
    execute_autocommit("revisions/0002/drop_indexes/verify_triggers_sp_confirmed_idx.sql")


def downgrade() -> None:
    execute_autocommit("revisions/0001/indexes/verify_triggers_sp_confirmed_idx.sql",
                       "revisions/0001/indexes/verify_triggers_suppliers_name_idx.sql",
                       drop_invalid_indexes=("verify_triggers_sp_confirmed_idx",))
    execute_ddl("revisions/0002/uninstall.sql")
    execute_autocommit("revisions/0002/drop_indexes/verify_triggers_sp_match_idx.sql")
