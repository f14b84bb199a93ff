"""The revisions this release ships and what each installs, read from ``sql/revisions``.

Verbs that only read (status, check, sync) learn the head and a revision's objects here without
importing Alembic; a test holds this chain equal to Alembic's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import resources


@dataclass(frozen=True)
class Lookup:
    """A key the sync looks up, and the index it builds when the host has none that serves it."""

    index: str
    table: str
    column: str


@dataclass(frozen=True)
class Revision:
    revision: str
    previous: str | None
    objects: tuple[dict, ...]  # {"kind", "name", "signature", "table"?}
    lookups: tuple[Lookup, ...]
    indexes: tuple[str, ...]  # indexes it always builds (the hand-cut revisions' way)
    retired_indexes: tuple[str, ...]  # the sync's indexes of earlier revisions it never needs
    cut: bool  # cut by scripts/cut_revision.py: carries a record of what it installed

    @property
    def triggers(self) -> frozenset[tuple[str, str]]:
        """(name, table) of each trigger it installs."""
        return frozenset((o["name"], o["table"]) for o in self.objects if o["kind"] == "trigger")

    @property
    def own_indexes(self) -> tuple[str, ...]:
        return self.indexes + tuple(lookup.index for lookup in self.lookups)


def _load(revision: str) -> Revision:
    meta = resources.revision_meta(revision)
    return Revision(
        revision=meta["revision"],
        previous=meta["previous"],
        objects=tuple(meta["objects"]),
        lookups=tuple(Lookup(**lookup) for lookup in meta["lookups"]),
        indexes=tuple(meta.get("indexes", ())),
        retired_indexes=tuple(meta.get("retired_indexes", ())),
        cut=resources.revision_path(revision, "record.sql").is_file(),
    )


@cache
def chain() -> tuple[Revision, ...]:
    """Every shipped revision, oldest first."""
    found = {}
    for path in resources.sql_path("revisions").glob("*/revision.json"):
        rev = _load(path.parent.name)
        found[rev.revision] = rev
    ordered, previous = [], None
    while True:
        following = [r for r in found.values() if r.previous == previous]
        if not following:
            break
        ordered.append(following[0])
        previous = following[0].revision
    return tuple(ordered)


def head() -> Revision:
    return chain()[-1]


def get(revision: str) -> Revision | None:
    return next((r for r in chain() if r.revision == revision), None)
