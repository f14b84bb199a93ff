"""The sync's token computed from a secret folded into the plan: no table read per write.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0009/). The token lets the
sheets' trigger tell the sync's own writes from anyone else's: md5 of the random value in lock
row -2 and the writing transaction's id. Up to 0008 every single-row confirm or unconfirm read
row -2 twice, once to set verify_triggers.syncing and once in the sheets' trigger to check it.
0009 reads the secret through verify_triggers_secret(), an IMMUTABLE SQL function (the row is
written once, at install): the planner evaluates it, as the owner, when it plans the owner's
statements, and the plans the owner's functions cache keep the value. verify_triggers_sync_token()
becomes the token's one definition again, an SQL expression the planner inlines: computing or
checking the token is a hash. The secret, its place, the token's value and who can compute it
are unchanged. For a live database: one function added, three replaced, one dropped
(verify_triggers_token(), 0008's set-returning form), under a short lock_timeout with retries,
and the install recorded. No trigger, index, table or row changes. The downgrade puts 0008's
definitions back and drops the new function.
"""

from verify_triggers.migrate import steps

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
