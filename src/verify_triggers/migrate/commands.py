"""The migration verbs, thin functions over ``alembic.command`` with a configuration built in
code (alembic's own command.py is the model): no ``alembic.ini`` is needed at run time, the
script location is the migrations directory shipped with the package, and the resolved
:class:`~verify_triggers.target.Target` travels to the environment typed, under one key.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from .. import history as history_verbs
from .. import resources
from ..errors import UnhealthyInstall, VerifyTriggersError
from ..target import Target
from .steps import TARGET

# Set when the connection handed in was made for this run alone (see make_config).
OWNED = "verify_triggers.owned"


def make_config(target: Target, stdout=None, connection=None, owned: bool = False) -> Config:
    """An Alembic configuration for ``target``; ``connection`` (an Engine or Connection) is
    used instead of connecting, as Alembic's cookbook hands one in. ``owned``: the caller
    made that connection for this run alone, so the run may commit on it and take the
    migration lock."""
    config = Config(stdout=stdout or sys.stdout)
    config.set_main_option("script_location", str(resources.migrations_dir()))
    config.attributes[TARGET] = target
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes[OWNED] = owned
    return config


def script() -> ScriptDirectory:
    return ScriptDirectory(str(resources.migrations_dir()))


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except CommandError as exc:
        cause = exc.__cause__
        if isinstance(cause, VerifyTriggersError):
            raise cause from None
        raise VerifyTriggersError(str(exc)) from None


def upgrade(config: Config, revision: str = "head", sql: bool = False) -> None:
    _run(command.upgrade, config, revision, sql=sql)


def downgrade(config: Config, revision: str, sql: bool = False) -> None:
    _run(command.downgrade, config, revision, sql=sql)


def offline_script(config: Config, revision: str = "head", downgrade_from: str | None = None) -> str:
    """The SQL an ``upgrade --sql`` (or ``downgrade FROM:REV --sql``) would print."""
    buffer = io.StringIO()
    config.stdout = buffer
    config.output_buffer = buffer
    with redirect_stdout(buffer):
        if downgrade_from:
            downgrade(config, f"{downgrade_from}:{revision}", sql=True)
        else:
            upgrade(config, revision, sql=True)
    return buffer.getvalue()


def current(config: Config) -> history_verbs.Current:
    """The revision applied to the configuration's target, as data (what ``alembic current``
    prints): read on the connection handed in (an Engine or Connection), else on one opened
    from the target's URL."""
    target = config.attributes[TARGET]
    handed = config.attributes.get("connection")
    if handed is None:
        from ..connection import connect

        if target.url is None:
            raise VerifyTriggersError("no database URL: the target has none, and no connection "
                                      "was handed in")
        with connect(target) as conn:
            return history_verbs.current(conn, target.schema)
    from sqlalchemy.engine import Connection

    from .repair import read

    if isinstance(handed, Connection):
        return history_verbs.current_of(read(handed, target.schema))
    with handed.connect() as connection:
        return history_verbs.current_of(read(connection, target.schema))


def history(config: Config | None = None) -> history_verbs.History:
    """The revisions this release ships, newest first, as data (what ``alembic history``
    prints); ``config`` is accepted for symmetry with the other verbs and not needed."""
    return history_verbs.history()


__all__ = ["UnhealthyInstall", "current", "downgrade", "history", "make_config",
           "offline_script", "script", "upgrade"]
