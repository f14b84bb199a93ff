"""Run a revision's SQL files, online or into the offline ``--sql`` script.

Online, SQL goes to the driver unparsed (no bind-parameter or ``%`` handling), so
PL/pgSQL bodies arrive byte for byte; offline it is written to the script as is.
"""

import re
import time

from alembic import op
from alembic.util import msg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from . import resources
from .errors import VerifyTriggersError

LOCK_NOT_AVAILABLE = "55P03"
# Creating or dropping functions and triggers is instant once the locks are granted.
DDL_STATEMENT_TIMEOUT = "60s"


def _context():
    return op.get_context()


def _settings() -> dict:
    return _context().config.attributes


def _render(name: str) -> str:
    return resources.render(name, _settings()["schema"])


def _raw(statement: str):
    return op.get_bind().execution_options(no_parameters=True).exec_driver_sql(statement)


def execute_file(name: str) -> None:
    """Execute ``sql/<name>`` in the migration's transaction."""
    statement = _render(name)
    if _context().as_sql:
        _context().impl.static_output(statement.strip() + "\n")
    else:
        _raw(statement)


def existing_product_index() -> str | None:
    """The application's index that finds matches by product, if any (online only).

    Offline there is no catalog to ask: the script builds 0002's own index.
    """
    if _context().as_sql:
        return None
    return _raw(_render("triggers/0002_product_index.sql")).scalar()


def execute_ddl(name: str) -> None:
    """Execute ``sql/<name>`` under a short ``lock_timeout``, retried with back-off.

    ``CREATE TRIGGER`` needs a lock that conflicts with every open writing transaction,
    and while it waits every later write queues behind it. Waiting at most
    ``lock_timeout`` per attempt bounds how long any write can stall on the deploy; a
    long application transaction costs retries, not an outage.
    """
    settings = _settings()
    timeout, retries = settings["lock_timeout"], settings["lock_retries"]
    statement = _render(name)
    if _context().as_sql:
        # No retries in a script: psql stops at the first lock timeout, and re-running
        # the script is the retry.
        timeouts = sql.SQL("SET LOCAL lock_timeout = {};\nSET LOCAL statement_timeout = {};").format(
            sql.Literal(timeout), sql.Literal(DDL_STATEMENT_TIMEOUT)
        )
        _context().impl.static_output(timeouts.as_string(None) + "\n" + statement.strip() + "\n")
        return
    bind = op.get_bind()
    for attempt in range(1, retries + 1):
        try:
            with bind.begin_nested():
                bind.execute(
                    text(
                        "SELECT pg_catalog.set_config('lock_timeout', :timeout, true),"
                        " pg_catalog.set_config('statement_timeout', :statement_timeout, true)"
                    ),
                    {"timeout": timeout, "statement_timeout": DDL_STATEMENT_TIMEOUT},
                )
                _raw(statement)
            return
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == retries:
                raise VerifyTriggersError(
                    f"gave up after {retries} attempts: could not lock the tables within "
                    f"lock_timeout={timeout} ({name}); a long transaction holds them: "
                    "see pg_stat_activity, then run the upgrade again"
                ) from None
            msg(f"verify-triggers: tables busy (attempt {attempt}/{retries}), retrying")
            time.sleep(min(0.2 * 2 ** attempt, 5.0))


def _statements(script: str) -> list[str]:
    """Split a file of plain statements (no dollar quoting) at each ``;`` ending a line."""
    return [s.strip() + ";" for s in re.split(r";\s*$", script, flags=re.MULTILINE) if _has_sql(s)]


def _has_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def execute_autocommit(name: str, drop_invalid_indexes: tuple[str, ...] = ()) -> None:
    """Execute ``sql/<name>`` outside a transaction, one statement at a time.

    For ``CREATE INDEX CONCURRENTLY``, ``DROP INDEX CONCURRENTLY`` and batches that
    commit as they go. A ``CONCURRENTLY`` build that failed leaves an INVALID index
    that ``IF NOT EXISTS`` would keep; the indexes named in ``drop_invalid_indexes`` are
    dropped first when invalid (online only).
    """
    ctx = _context()
    statements = _statements(_render(name)) if not _is_block(name) else [_render(name).strip()]
    with ctx.autocommit_block():
        if ctx.as_sql:
            for statement in statements:
                ctx.impl.static_output(statement + "\n")
            return
        for index in drop_invalid_indexes:
            _drop_if_invalid(index)
        dbapi = op.get_bind().connection.dbapi_connection
        notices: list[str] = []
        handler = lambda diag: notices.append(diag.message_primary or "")  # noqa: E731
        dbapi.add_notice_handler(handler)
        try:
            for statement in statements:
                _raw(statement)
        finally:
            dbapi.remove_notice_handler(handler)
        for notice in notices:
            if notice.startswith("verify-triggers:"):
                msg(notice)


def _is_block(name: str) -> bool:
    """A file holding one dollar-quoted block is executed whole."""
    return "$" in resources.sql_path(name).read_text(encoding="utf-8")


def _drop_if_invalid(index: str) -> None:
    schema = _settings()["schema"]
    invalid = op.get_bind().execute(
        text(
            "SELECT NOT i.indisvalid FROM pg_catalog.pg_index AS i"
            " JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid"
            " JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relname = :index"
        ),
        {"schema": schema, "index": index},
    ).scalar()
    if invalid:
        statement = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(
            sql.Identifier(schema), sql.Identifier(index)
        )
        _raw(statement.as_string(None))
