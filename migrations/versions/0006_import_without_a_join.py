"""A sheet import that joins the sheets to nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0006/). 0005's import trigger
updated the sheets FROM the inserted rows joined by id. After a re-import's DELETE and an
ANALYZE of the emptied table (0 rows over its pages, until autovacuum counts them again), the
planner took the sheets for one row, put them outside the join and reread every inserted row
per sheet row: 30,000 rows took over 30 s instead of 1.5 s. verify_triggers_sheet_insert now
reads the ids to change from the inserted rows' side, each sheet row looked up by its id, then
updates them by primary key, one statement for the rows to verify and one for the rows to
un-verify. For a live database: one function replaced under a short lock_timeout with retries,
and the install recorded. No trigger, index or row changes. The downgrade puts 0005's
definition back.
"""

from verify_triggers.migrate import steps

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
