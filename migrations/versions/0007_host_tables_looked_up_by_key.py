"""Every host table reached by a lookup by key: no plain join for the statistics to turn over.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0007/). Up to 0006 the
supplier_products triggers read the names of the written matches with a plain join of the
written rows (or their ids) to products and suppliers. With statistics of an emptied products
table (0 rows over its pages, as a re-import leaves it until autovacuum counts the rows again)
the planner put products outside and rescanned the written rows once per product: a bulk
confirm of 8,000 matches took 21 s instead of 0.4 s, and grew with the square of its size.
0007 reads the names through verify_triggers_names, a LATERAL lookup of each written row's
product and supplier by id; the renames read the other side the same way; and
verify_triggers_sync_pairs, like the import since 0006, collects the ids to change, then
updates the sheets by id alone, instead of joining them to its target. For a live database:
one function added and four replaced under a short lock_timeout with retries, and the install
recorded. No trigger, index or row changes. The downgrade puts 0006's definitions back and
drops the new function.
"""

from verify_triggers.migrate import steps

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
