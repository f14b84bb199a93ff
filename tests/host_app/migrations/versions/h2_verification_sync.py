"""Install the verification sync (verify-triggers) from the host's own chain.

Revision ID: h2
Revises: h1
Create Date: 2026-12-02

upgrade_sync() installs this release's head of the sync on the host's migration connection
(or brings an older install to it); downgrade_sync() removes it all, sheet data kept.
"""
from verify_triggers.alembic import downgrade_sync, upgrade_sync

revision = "h2"
down_revision = "h1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_sync()


def downgrade() -> None:
    downgrade_sync()
