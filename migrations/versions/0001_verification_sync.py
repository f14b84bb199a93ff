"""Install the is_verified sync: triggers, functions, lock table, indexes; reconcile rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Released SQL never changes: a later definition is a new revision whose downgrade
reinstalls this one's.
"""

from verify_triggers.migration_sql import execute_file, execute_file_scalar

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_file("triggers/0001_precheck.sql")
    execute_file("triggers/0001_install.sql")
    execute_file_scalar(
        "triggers/0001_reconcile.sql",
        "verify-triggers: reconciliation changed {value} sheet row(s)",
    )


def downgrade() -> None:
    execute_file("triggers/0001_uninstall.sql")
