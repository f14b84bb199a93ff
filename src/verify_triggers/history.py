"""``history`` and ``current``: the revisions this release ships, and the one a schema is at.

Neither migrates, so neither imports Alembic or SQLAlchemy: the chain is the revisions' own
metadata (:mod:`verify_triggers.revisions`), and each description is the first paragraph of its
migration's docstring, read as text (the line ``alembic history`` prints). ``history`` needs
no database and loads no driver; ``current`` reads the version table with the one catalog read
the other verbs share.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from functools import cache

from . import resources, revisions
from .errors import VerifyTriggersError


@dataclass(frozen=True)
class HistoryEntry:
    revision: str
    previous: str | None  # None for the first revision (Alembic's <base>)
    description: str
    head: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class History:
    entries: tuple[HistoryEntry, ...]  # newest first, as ``alembic history`` lists them

    @property
    def head(self) -> str:
        return self.entries[0].revision

    def to_dict(self) -> dict:
        return {"head": self.head, "revisions": [entry.to_dict() for entry in self.entries]}


@dataclass(frozen=True)
class Current:
    schema: str
    applied: str | None  # None: nothing applied (or the version table is gone)
    head: str

    @property
    def at_head(self) -> bool:
        return self.applied == self.head

    def to_dict(self) -> dict:
        return {**asdict(self), "at_head": self.at_head}


def history() -> History:
    """Every revision this release ships, newest first, with its description."""
    chain = revisions.chain()
    head = chain[-1].revision
    described = _descriptions()
    return History(tuple(
        HistoryEntry(revision=rev.revision, previous=rev.previous,
                     description=described.get(rev.revision, ""), head=rev.revision == head)
        for rev in reversed(chain)))


def current(conn, schema: str) -> Current:
    """The revision applied in ``schema`` (a psycopg connection)."""
    from .catalog import read_from

    return current_of(read_from(conn, schema))


def current_of(cat) -> Current:
    """:class:`Current` from a :class:`~verify_triggers.catalog.Catalog` already read."""
    if not cat.schema_exists:
        raise VerifyTriggersError(
            f"schema {cat.schema!r} does not exist in this database "
            "(pass --schema or set VERIFY_TRIGGERS_SCHEMA to the application's schema)")
    return Current(schema=cat.schema, applied=cat.applied, head=revisions.head().revision)


@cache
def _descriptions() -> dict[str, str]:
    """revision -> the first paragraph of its migration's docstring, on one line."""
    found = {}
    for path in sorted((resources.migrations_dir() / "versions").glob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        revision = next((node.value.value for node in module.body
                         if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                         and any(getattr(t, "id", None) == "revision" for t in node.targets)), None)
        doc = ast.get_docstring(module) or ""
        if revision:
            found[revision] = " ".join(re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0].split())
    return found
