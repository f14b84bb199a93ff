"""The SQL files, installed or in a source checkout, composed for a target schema.

The wheel ships them inside the package (``verify_triggers/migrations``, ``verify_triggers/sql``);
an editable install reads them from the repository root. Files name the target schema as
``{schema}`` (an identifier) and ``{schema_name}`` (a string literal); query files name bound
values as ``{placeholders}`` and the shared constants (``{stamp}``) by name. Everything goes
through ``psycopg.sql``: nothing is formatted into a string.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .constants import cut_values

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


def revision_path(revision: str, name: str = "") -> Path:
    return _root() / "sql" / "revisions" / revision / name


@cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _schema(schema: str) -> dict:
    from psycopg import sql  # here, not at import: `history` reads the revisions, no driver

    return {"schema": sql.Identifier(schema), "schema_name": sql.Literal(schema)}


def render(path: Path | str, schema: str) -> str:
    """A script (``sql/<name>``, or a path) with the target schema filled in, as text."""
    from psycopg import sql

    path = path if isinstance(path, Path) else sql_path(path)
    return sql.SQL(_text(path)).format(**_schema(schema)).as_string(None)


def query(name: str, schema: str, *placeholders: str, **literals) -> sql.Composed:
    """``sql/queries/<name>`` for ``schema``: the ``{placeholders}`` named become bind
    parameters, those given as ``literals`` literal values, the constants literals too."""
    from psycopg import sql

    constants = {key: sql.Literal(value) for key, value in cut_values().items()}
    return sql.SQL(_text(sql_path(f"queries/{name}"))).format(
        **constants, **_schema(schema), **{p: sql.Placeholder(p) for p in placeholders},
        **{k: sql.Literal(v) for k, v in literals.items()})


@cache
def revision_meta(revision: str) -> dict:
    """``sql/revisions/<revision>/revision.json``: what a revision installs."""
    return json.loads(_text(revision_path(revision, "revision.json")))
