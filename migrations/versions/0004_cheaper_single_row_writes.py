"""Cheaper single-row writes: no marking row triggers; the statement triggers join old and new versions by id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0004/). 0003's marking row
triggers had WHEN clauses calling SQL functions, which PostgreSQL inlines, and so parses again,
for every statement that updates the table: about half of what the sync added to a single-row
confirm. 0004 drops them; the UPDATE triggers find the changed rows by joining the transition
tables' old and new versions by id (a FULL JOIN: hash or merge, linear in the rows written).
A sheet import checks the inserted rows themselves by id after the bucket locks, instead of
recomputing every sheet row of their pairs. For a live database: the changed functions are
replaced and the marking triggers and their
functions dropped under a short lock_timeout with retries, and the install is recorded. No
index and no row changes, so nothing to build or reconcile. The downgrade mirrors it.
"""

from verify_triggers.migrate import steps

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
