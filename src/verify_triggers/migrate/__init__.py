"""The sync's Alembic migrations: the environment, the steps a revision runs, the repair.

Only the migration verbs import this package (it loads Alembic and SQLAlchemy).
"""
