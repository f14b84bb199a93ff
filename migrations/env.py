"""Alembic environment for verify-triggers; the logic lives in verify_triggers.migrate.env."""

from verify_triggers.migrate.env import run

run()
