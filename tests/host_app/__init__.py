"""A host application for the tests: the back office's four tables as SQLAlchemy models, with
the application's indexes, and an Alembic project of its own (``migrations/``) that installs
the sync from one of its revisions, as a host application would.

Written for these tests from the facts of the real application (its models, indexes and
``alembic/env.py``); no code is copied. See ``settings`` for what the env can be switched to.
"""
