"""Keep supplier sheet rows verified from inside PostgreSQL, installed by Alembic."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("verify-triggers")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

DEFAULT_SCHEMA = "app"
SYNC_STAMP = "verify-triggers"

__all__ = ["DEFAULT_SCHEMA", "SYNC_STAMP", "__version__"]
