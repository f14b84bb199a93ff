"""Run a revision's SQL file, online or into the offline ``--sql`` script."""

from alembic import op
from alembic.util import msg

from . import resources


def _schema() -> str:
    return op.get_context().config.attributes["schema"]


def execute_file(name: str) -> None:
    """Execute ``sql/<name>`` for the target schema.

    Online it goes to the driver unparsed (no bind-parameter or ``%`` handling, so
    PL/pgSQL bodies arrive byte for byte); offline it is written to the script as is.
    """
    text = resources.render(name, _schema())
    ctx = op.get_context()
    if ctx.as_sql:
        ctx.impl.static_output(text.strip() + "\n")
        return
    op.get_bind().execution_options(no_parameters=True).exec_driver_sql(text)


def execute_file_scalar(name: str, report: str) -> None:
    """Execute a one-value query file and report its value (online only)."""
    text = resources.render(name, _schema())
    ctx = op.get_context()
    if ctx.as_sql:
        ctx.impl.static_output(text.strip() + "\n")
        return
    value = op.get_bind().execution_options(no_parameters=True).exec_driver_sql(text).scalar()
    msg(report.format(value=value))
