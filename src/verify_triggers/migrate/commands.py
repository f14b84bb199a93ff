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


def current(config: Config) -> None:
    _run(command.current, config)


def history(config: Config) -> None:
    _run(command.history, config)


__all__ = ["UnhealthyInstall", "current", "downgrade", "history", "make_config",
           "offline_script", "script", "upgrade"]
