"""Keep supplier sheet rows verified from inside PostgreSQL, installed by Alembic."""

from .constants import DEFAULT_SCHEMA, SYNC_STAMP


def __getattr__(name: str):
    # The version is read from the installed distribution only when asked for: the metadata
    # lookup is a start-up cost every verb would pay otherwise.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("verify-triggers")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(name)


__all__ = ["DEFAULT_SCHEMA", "SYNC_STAMP", "__version__"]
