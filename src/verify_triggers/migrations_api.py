"""Migration verbs over ``alembic.command`` with a configuration built in code.

No ``alembic.ini`` is needed at run time: the script location is the migrations
directory shipped with the package.
"""

import io
import sys
from contextlib import redirect_stdout

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from . import DEFAULT_SCHEMA, resources
from .errors import VerifyTriggersError


def make_config(database_url: str | None, schema: str = DEFAULT_SCHEMA, stdout=None) -> Config:
    config = Config(stdout=stdout or sys.stdout)
    config.set_main_option("script_location", str(resources.migrations_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(resources.migrations_dir()))
    return script.get_current_head()


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except CommandError as exc:
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
