"""Bounded work per synced row whatever the host's indexes and statistics; no setting a session can change turns the sync off.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Cut by scripts/cut_revision.py from sql/triggers/ (sql/revisions/0003/). For a live
database: the indexes the host lacks for the keys the sync looks up are built concurrently;
the changed functions and triggers are replaced under a short lock_timeout with retries, and
the install is recorded; then the sync's own indexes that a host index now serves are dropped
concurrently. No row changes, so nothing to reconcile. The downgrade mirrors it.
"""

from verify_triggers.migrate import steps

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    steps.upgrade(revision)


def downgrade() -> None:
    steps.downgrade(revision)
