"""Where the migrations and SQL files are, installed or in a source checkout.

The wheel ships them inside the package (``verify_triggers/migrations``,
``verify_triggers/sql``); an editable install reads them from the repository root.
"""

from functools import cache
from pathlib import Path

from psycopg import sql

_PACKAGE = Path(__file__).resolve().parent


@cache
def _root() -> Path:
    if (_PACKAGE / "migrations").is_dir():
        return _PACKAGE
    checkout = _PACKAGE.parents[1]
    if (checkout / "migrations").is_dir():
        return checkout
    raise FileNotFoundError("verify-triggers is installed without its migrations")


def migrations_dir() -> Path:
    return _root() / "migrations"


def sql_path(name: str) -> Path:
    return _root() / "sql" / name


def render(name: str, schema: str) -> str:
    """The SQL file ``sql/<name>`` with the target schema filled in.

    ``{schema}`` becomes the quoted identifier and ``{schema_name}`` the string
    literal, through psycopg's composition, never by string formatting.
    """
    text = sql_path(name).read_text(encoding="utf-8")
    composed = sql.SQL(text).format(schema=sql.Identifier(schema), schema_name=sql.Literal(schema))
    return composed.as_string(None)


def query(name: str, schema: str) -> sql.Composed:
    """A query file from ``sql/queries`` composed for ``schema``, to run with bound values."""
    text = sql_path(f"queries/{name}").read_text(encoding="utf-8")
    return sql.SQL(text).format(schema=sql.Identifier(schema), schema_name=sql.Literal(schema))
