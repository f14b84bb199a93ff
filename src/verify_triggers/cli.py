"""The ``verify-triggers`` command: parses arguments, calls a verb, prints its result.

Each verb is a function in the package that returns data (``status.status``,
``check.check``, ``sync.sync``, ``demo.run``, ``migrations_api.*``); this module only
parses, prints and picks the exit status: 0 ok, 1 a finding (drift, unhealthy or
missing triggers), 2 a usage, connection or database error. Errors are one line on
stderr, never a traceback (``VERIFY_TRIGGERS_DEBUG=1`` shows one).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys

import psycopg

from . import DEFAULT_SCHEMA, __version__, database, migrations_api
from .errors import VerifyTriggersError

PROG = "verify-triggers"

EXAMPLES = """\
examples:
  verify-triggers demo                              try it all on a throwaway PostgreSQL
  export DATABASE_URL=postgresql+asyncpg://app:secret@db.internal/magflow
  verify-triggers upgrade                           install the triggers (or update them)
  verify-triggers status                            installed, enabled and current?
  verify-triggers check                             does any sheet row disagree?
  verify-triggers check --sku BMX136 --format json  one SKU, for a script or a monitor
  verify-triggers sync --dry-run                    what a repair would change
  verify-triggers sync                              repair drift (safe while the app writes)
  verify-triggers upgrade --sql > install.sql       the DDL, without connecting
  verify-triggers downgrade base                    remove everything installed (data kept)

exit status: 0 ok; 1 drift, unhealthy or missing triggers (a finding);
             2 usage, connection or database error
"""


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--database-url", metavar="URL", default=default,
        help="postgresql://, postgresql+psycopg:// or postgresql+asyncpg:// URL "
             "(default: $DATABASE_URL)")
    parser.add_argument(
        "--schema", metavar="NAME", default=default if suppress else os.environ.get(
            "VERIFY_TRIGGERS_SCHEMA") or DEFAULT_SCHEMA,
        help="the application's schema (default: $VERIFY_TRIGGERS_SCHEMA, else app)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Install, inspect and repair the PostgreSQL triggers that keep "
                    "product_supplier_sheets.is_verified in step with confirmed matches.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, description: str | None = None):
        return sub.add_parser(name, parents=[common], help=help_text,
                              description=description or help_text,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    def fmt(p):
        p.add_argument("--format", choices=("table", "json"), default="table",
                       help="output format (default: table)")

    def skus(p):
        p.add_argument("--sku", action="append", metavar="SKU", dest="skus",
                       help="only this SKU (repeatable)")

    def limit(p):
        p.add_argument("--limit", type=_non_negative, default=50, metavar="N",
                       help="list at most N rows (default: 50; counts are always complete)")

    p = command("status", "is every trigger and function installed, enabled and current?",
                "One line per installed object (INSTALLED, DISABLED, REPLICA-ONLY, ALWAYS, "
                "OUTDATED, MISSING), the applied revision and the head.\n"
                "Exit 0 only when everything is installed, enabled and current.")
    fmt(p)
    p.set_defaults(handler=_status)

    p = command("check", "does any sheet row disagree with its matches?",
                "Counts (rows checked, SYNCED, NEEDS SYNC, STALE, MANUAL), the drifted rows, "
                "why confirmed\nmatches verify nothing, and the trigger health. Exit 0 when "
                "consistent and healthy,\n1 on drift or unhealthy triggers.")
    skus(p)
    fmt(p)
    limit(p)
    p.set_defaults(handler=_check)

    p = command("sync", "repair drifted rows under the triggers' locking",
                "Repair drift by the rule (a person's verification is never taken away), "
                "in committed\nbatches, under the same locks as the triggers: safe while "
                "the application writes.")
    skus(p)
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    fmt(p)
    limit(p)
    p.set_defaults(handler=_sync)

    p = command("upgrade", "install or update the triggers (alembic upgrade)")
    p.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    p.add_argument("--sql", action="store_true", help="print the SQL script instead of running it")
    p.set_defaults(handler=_upgrade)

    p = command("downgrade", "remove the triggers down to a revision (alembic downgrade); data is kept")
    p.add_argument("revision", help="target revision, e.g. base; with --sql also FROM:TO")
    p.add_argument("--sql", action="store_true",
                   help="print the SQL script instead of running it (from head unless FROM:TO)")
    p.set_defaults(handler=_downgrade)

    p = command("current", "the revision applied to the database")
    p.set_defaults(handler=_current)

    p = command("history", "the revisions this release ships")
    p.set_defaults(handler=_history)

    p = command("demo", "try it on a throwaway PostgreSQL (needs the 'demo' extra)",
                "Start a throwaway PostgreSQL, load an example database as the original "
                "system was found,\nshow check failing, upgrade, show check passing, "
                "confirm a match with plain SQL and\nwatch its sheet row turn verified; "
                "then stop and delete the server.")
    p.add_argument("--keep", action="store_true",
                   help="leave the server running at the end and print its URL")
    p.add_argument("--pause", action="store_true", help="wait for Enter between the steps")
    p.add_argument("--stop", metavar="DIR",
                   help="stop and delete a server left running by --keep, then exit")
    p.set_defaults(handler=_demo)
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


# --- output ---------------------------------------------------------------------------

def _out(lines) -> None:
    if isinstance(lines, str):
        lines = [lines]
    for line in lines:
        print(line)
    sys.stdout.flush()


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.stderr.flush()


# --- verbs ----------------------------------------------------------------------------

def _target(args) -> database.Target:
    url = args.database_url or os.environ.get("DATABASE_URL")
    database.validated_url(url)  # a missing or malformed URL fails here, in one line
    if not args.schema:
        raise VerifyTriggersError("--schema must not be empty")
    return database.Target(url, args.schema)


def _status(args) -> int:
    from . import report, status

    target = _target(args)
    with database.connect(target.url) as conn:
        st = status.status(conn, target.schema)
    if args.format == "json":
        _out(report.to_json(st.to_dict()))
    else:
        _out(report.status_lines(st, target.display))
    if not st.installed:
        _err(st.summary)
    return 0 if st.healthy else 1


def _check(args) -> int:
    from . import check, report

    target = _target(args)
    with database.connect(target.url) as conn:
        result = check.check(conn, target.schema, args.skus, args.limit)
    if args.format == "json":
        _out(report.to_json(result.to_dict()))
    else:
        _out(report.check_lines(result, target.display))
    if not result.triggers.installed:
        _err(result.triggers.summary)
    return 0 if result.ok else 1


def _sync(args) -> int:
    from . import report, sync

    target = _target(args)
    with database.connect(target.url) as conn:
        result = sync.sync(conn, target.schema, args.skus, dry_run=args.dry_run, limit=args.limit)
    if args.format == "json":
        _out(report.to_json(result.to_dict()))
    else:
        _out(report.sync_lines(result, target.display))
    return 0


class _MigrationLog(logging.Filter):
    """Alembic's progress lines, without its connection chatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Context impl") or message.startswith("Will assume"))


_log_handler: logging.Handler | None = None


def _migration_logging() -> None:
    """Alembic's "Running upgrade ..." lines on stdout: stderr is for the one error line."""
    global _log_handler
    logger = logging.getLogger("alembic.runtime.migration")
    if _log_handler is not None:
        logger.removeHandler(_log_handler)
    _log_handler = logging.StreamHandler(sys.stdout)
    _log_handler.setFormatter(logging.Formatter("%(message)s"))
    _log_handler.addFilter(_MigrationLog())
    logger.addHandler(_log_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _online_target(args, tables: bool = False) -> database.Target:
    """The target of a migration verb that connects: reachable (and, with ``tables``,
    holding what the sync needs), checked before Alembic starts."""
    target = _target(args)
    with database.connect(target.url) as conn:
        if tables:
            database.require_tables(conn, target.schema)
    return target


def _report_revision(target: database.Target) -> None:
    from . import status

    with database.connect(target.url) as conn:
        applied = status.applied_revision(conn, target.schema)
    head = migrations_api.head_revision()
    where = f"schema {target.schema} on {target.display}"
    if applied is None:
        _out(f"{where}: no revision applied (verify-triggers is not installed)")
    else:
        _out(f"{where}: at revision {applied}{' (head)' if applied == head else ''}")


def _upgrade(args) -> int:
    if args.sql:
        config = migrations_api.make_config(args.database_url, args.schema or DEFAULT_SCHEMA)
        migrations_api.upgrade(config, args.revision, sql=True)
        return 0
    target = _online_target(args, tables=True)
    _migration_logging()
    migrations_api.upgrade(migrations_api.make_config(target.url, target.schema), args.revision)
    _report_revision(target)
    return 0


def _downgrade(args) -> int:
    if args.sql:
        revision = args.revision
        if ":" not in revision:
            revision = f"{migrations_api.head_revision()}:{revision}"
        config = migrations_api.make_config(args.database_url, args.schema or DEFAULT_SCHEMA)
        migrations_api.downgrade(config, revision, sql=True)
        return 0
    target = _online_target(args)
    _migration_logging()
    migrations_api.downgrade(migrations_api.make_config(target.url, target.schema), args.revision)
    _report_revision(target)
    return 0


def _current(args) -> int:
    target = _online_target(args)
    buffer = io.StringIO()
    migrations_api.current(migrations_api.make_config(target.url, target.schema, stdout=buffer))
    text = buffer.getvalue().strip()
    _out(text or f"none: nothing applied in schema {target.schema} (run verify-triggers upgrade)")
    return 0


def _history(args) -> int:
    migrations_api.history(migrations_api.make_config(args.database_url, args.schema or DEFAULT_SCHEMA))
    return 0


def _demo(args) -> int:
    from . import demo

    if args.stop:
        demo.stop(args.stop)
        _out(f"stopped the demo server and deleted {args.stop}")
        return 0
    return demo.run(keep=args.keep, pause=args.pause)


# --- entry point ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except VerifyTriggersError as exc:
        _err(str(exc))
        return exc.exit_code
    except psycopg.Error as exc:
        _err(database.database_error_line(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `verify-triggers status | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # never a traceback for a user
        if os.environ.get("VERIFY_TRIGGERS_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        _err(f"unexpected error: {type(exc).__name__}: {first} "
             "(set VERIFY_TRIGGERS_DEBUG=1 to see the traceback)")
        return 2
