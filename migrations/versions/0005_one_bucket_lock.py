"""One bucket lock, and a hashed join for sheet updates.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0005/). The ordered lock of a
statement's buckets was written twice in 0004, in the multi-pair sync and in the import; it is
now one function, verify_triggers_lock_buckets(text[], text[]), that both call. The sheets'
UPDATE trigger joins old and new versions with a hash join instead of a merge join, which
sorted both versions of every row written. For a live database: one function created, three
replaced under a short lock_timeout with retries, and the install recorded. No trigger, index
or row changes. The downgrade puts 0004's three definitions back and drops the new function.
"""

from verify_triggers.migrate import steps

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
