"""The sync's token read inside the statements that need it, not by a function call.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0008/). The token lets the
sheets' trigger tell the sync's own writes from anyone else's. Up to 0007 every single-row
confirm or unconfirm called verify_triggers_sync_token(), a SECURITY DEFINER PL/pgSQL function
reading lock row -2, twice: once to set verify_triggers.syncing, once in the sheets' trigger to
check it; counted in instructions, a tenth of the write. 0008 defines the token once, in
verify_triggers_token(), a SQL function returning one row that the planner inlines: the
single-row sync reads it in the RETURNING clause of the bucket row's UPDATE it runs anyway, and
the sheets' trigger in one query instead of a call. The secret, its place (row -2) and the
token's value are unchanged, and so is who can compute it. For a live database: one function
added and three replaced under a short lock_timeout with retries, and the install recorded. No
trigger, index, table or row changes. The downgrade puts 0007's definitions back and drops the
new function.
"""

from verify_triggers.migrate import steps

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
