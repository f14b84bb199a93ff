"""Install the is_verified sync: triggers, functions, lock table, indexes; reconcile rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Cut by hand before scripts/cut_revision.py existed; its files (sql/revisions/0001/) are frozen.
The steps are ordered for a live database: indexes are built concurrently before the triggers
(writes go on), the triggers go in under a short lock_timeout with retries, and existing rows
are reconciled afterwards in committed batches while the triggers keep new writes right.
"""

from verify_triggers.migrate.steps import execute_autocommit, execute_ddl, execute_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INDEXES = ("verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx")


def upgrade() -> None:
    execute_file("revisions/0001/precheck.sql")
    execute_autocommit(*(f"revisions/0001/indexes/{name}.sql" for name in INDEXES),
                       drop_invalid_indexes=INDEXES)
    execute_ddl("revisions/0001/install.sql")
    execute_autocommit("revisions/0001/reconcile.sql")


def downgrade() -> None:
    execute_ddl("revisions/0001/uninstall.sql")
    execute_autocommit(*(f"revisions/0001/drop_indexes/{name}.sql" for name in INDEXES))
