"""Keep supplier sheet rows verified from inside PostgreSQL, installed by Alembic."""

from .constants import DEFAULT_SCHEMA, SYNC_STAMP

# The one place the release number is written: pyproject.toml reads it from here (hatch),
# and `verify-triggers --version` prints it without a metadata lookup at start-up.
__version__ = "0.2.0"

__all__ = ["DEFAULT_SCHEMA", "SYNC_STAMP", "__version__"]
