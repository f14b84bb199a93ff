"""Install the is_verified sync: triggers, functions, lock table, indexes; reconcile rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Released SQL never changes: a later definition is a new revision whose downgrade
reinstalls this one's. The steps are ordered for a live database: indexes are built
concurrently before the triggers (writes go on), the triggers go in under a short
lock_timeout with retries, and existing rows are reconciled afterwards in committed
batches while the triggers keep new writes right.
"""

from verify_triggers.migration_sql import execute_autocommit, execute_ddl, execute_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INDEXES = ("verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx")


def upgrade() -> None:
    execute_file("triggers/0001_precheck.sql")
    execute_autocommit("triggers/0001_indexes.sql", drop_invalid_indexes=INDEXES)
    execute_ddl("triggers/0001_install.sql")
    execute_autocommit("triggers/0001_reconcile.sql")


def downgrade() -> None:
    execute_ddl("triggers/0001_uninstall.sql")
    execute_autocommit("triggers/0001_drop_indexes.sql")
