"""Alembic environment for verify-triggers; the logic lives in verify_triggers.migration_env."""

from verify_triggers.migration_env import run

run()
