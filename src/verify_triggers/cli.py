"""The ``verify-triggers`` command: parses arguments, calls a verb, prints its result.

Each verb is a function in the package that returns data (``status.status``, ``check.check``,
``sync.sync``, ``history.current``, ``history.history``, ``demo.run``, ``migrate.commands.*``);
this module only parses, resolves the target once (:mod:`verify_triggers.target`), prints,
and picks the exit status: 0 ok, 1 a finding (drift, an unhealthy or missing install), 2 a
usage, connection or database error.
Errors are one line on stderr, never a traceback (``VERIFY_TRIGGERS_DEBUG=1`` shows one).

Start-up matters to a monitor that runs ``check`` every minute: this module imports only the
standard library; a verb imports the driver when it connects, and only the migration verbs
import Alembic and SQLAlchemy.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import target as targets
from .constants import DEFAULT_SCHEMA
from .errors import VerifyTriggersError

PROG = "verify-triggers"
BIGINT_MAX = 2**63 - 1

EXAMPLES = """\
examples:
  verify-triggers demo                              try it all on a throwaway PostgreSQL
  export DATABASE_URL=postgresql+asyncpg://app:secret@db.internal/magflow
  verify-triggers upgrade                           install the triggers (or update, or repair them)
  verify-triggers status                            installed, enabled and current?
  verify-triggers check                             does any sheet row disagree?
  verify-triggers check --sku BMX136 --format json  one SKU, for a script or a monitor
  verify-triggers sync --dry-run                    what a repair would change
  verify-triggers sync                              repair drift (safe while the app writes)
  verify-triggers upgrade --sql > install.sql       the DDL, without connecting
  verify-triggers downgrade base                    remove everything installed (data kept)

exit status: 0 ok; 1 drift, an unhealthy or missing install (a finding);
             2 usage, connection or database error
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error, with the usage folded into it."""

    def error(self, message: str):
        usage = " ".join(self.format_usage().split())
        self.exit(2, f"{PROG}: {message} ({usage}; see {self.prog} --help)\n")


class _Version(argparse.Action):
    """``--version``, with the version looked up only when asked for."""

    def __call__(self, parser, namespace, values, option_string=None):
        from . import __version__

        print(f"{PROG} {__version__}")
        parser.exit()


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--database-url", metavar="URL", default=default,
        help="postgresql://, postgresql+psycopg:// or postgresql+asyncpg:// URL "
             "(default: $DATABASE_URL)")
    parser.add_argument(
        "--schema", metavar="NAME", default=default,
        help="the application's schema (default: $VERIFY_TRIGGERS_SCHEMA, else app)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Install, inspect and repair the PostgreSQL triggers that keep "
                    "product_supplier_sheets.is_verified in step with confirmed matches.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show program's version number and exit")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    # required: with no command, a one-line usage error like any other (not the whole help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str | None = None):
        return sub.add_parser(name, parents=[common], help=help_text,
                              description=description or help_text[0].upper() + help_text[1:] + ".",
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
                "One line per object of the sync (INSTALLED, DISABLED, REPLICA-ONLY, ALWAYS, "
                "OUTDATED, MISSING,\nINVALID, EXTRA, or SERVED: an index not built because one of "
                "the application's serves its key),\ncompared with what the install recorded, "
                "the applied revision and the head.\nExit 0 only when everything is installed, "
                "enabled and current.")
    fmt(p)
    p.set_defaults(handler=_status)

    p = command("check", "does any sheet row disagree with its matches?",
                "Counts (rows checked, SYNCED, NEEDS SYNC, STALE, MANUAL), the drifted rows, "
                "why confirmed\nmatches verify nothing, and the trigger health. Exit 0 when "
                "consistent and healthy,\n1 on drift or an unhealthy install.")
    skus(p)
    fmt(p)
    limit(p)
    p.set_defaults(handler=_check)

    p = command("sync", "repair drifted rows under the triggers' locking",
                "Repair drift by the rule (a person's verification is never taken away), "
                "in committed\nbatches, under the same locks as the triggers: safe while "
                "the application writes.\n--adopt STAMP first takes over the rows an "
                "application's own sync code verified\n(stamped STAMP in verified_by), so "
                "that un-confirming their match un-verifies them.")
    skus(p)
    p.add_argument("--adopt", action="append", metavar="STAMP", default=[],
                   help="take over the verified rows stamped STAMP (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
    fmt(p)
    limit(p)
    p.set_defaults(handler=_sync)

    p = command("upgrade", "install, update or repair the triggers (alembic upgrade)",
                "Install the sync, or bring it to this release's head; at head, reinstall "
                "whatever is\nmissing or changed and reconcile the rows. Exit 1 when the "
                "install cannot be made whole.")
    p.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    p.add_argument("--sql", action="store_true", help="print the SQL script instead of running it")
    p.set_defaults(handler=_upgrade)

    p = command("downgrade", "remove the triggers down to a revision (alembic downgrade); data is kept")
    p.add_argument("revision", help="target revision, e.g. base; with --sql also FROM:TO")
    p.add_argument("--sql", action="store_true",
                   help="print the SQL script instead of running it (from head unless FROM:TO)")
    p.set_defaults(handler=_downgrade)

    p = command("current", "the revision applied to the database")
    fmt(p)
    p.set_defaults(handler=_current)

    p = command("history", "the revisions this release ships")
    fmt(p)
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
    if value > BIGINT_MAX:  # the listing's LIMIT is a bigint
        raise argparse.ArgumentTypeError(f"must be at most {BIGINT_MAX}")
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


def _target(args, need_url: bool = True) -> targets.Target:
    return targets.resolve(args.database_url, args.schema, need_url=need_url)


# --- verbs that read ------------------------------------------------------------------

def _status(args) -> int:
    from . import report, status
    from .connection import connect

    target = _target(args)
    with connect(target) as conn:
        st = status.status(conn, target.schema)
        shown = target.connected_display(conn.info.host, conn.info.port)
    if args.format == "json":
        _out(report.to_json(st.to_dict()))
    else:
        _out(report.status_lines(st, shown))
    if not st.installed or st.missing:
        _err(st.problems[0] if st.missing else st.summary)
    return 0 if st.healthy else 1


def _check(args) -> int:
    from . import check, report
    from .connection import connect

    target = _target(args)
    with connect(target) as conn:
        result = check.check(conn, target.schema, args.skus, args.limit)
        shown = target.connected_display(conn.info.host, conn.info.port)
    if args.format == "json":
        _out(report.to_json(result.to_dict()))
    else:
        _out(report.check_lines(result, shown))
    if result.triggers.missing:
        _err(result.triggers.problems[0])
    elif not result.triggers.installed:
        _err(result.triggers.summary)
    _warn_unknown_skus(result.unknown_skus, target.schema)
    return 0 if result.ok else 1


def _warn_unknown_skus(unknown: list[str], schema: str) -> None:
    if unknown:
        from .check import unknown_skus_warning

        _err(unknown_skus_warning(unknown, schema))


def _sync(args) -> int:
    from . import report, sync
    from .connection import connect

    target = _target(args)
    with connect(target) as conn:
        result = sync.sync(conn, target.schema, args.skus, dry_run=args.dry_run,
                           limit=args.limit, adopt=args.adopt)
        shown = target.connected_display(conn.info.host, conn.info.port)
    if args.format == "json":
        _out(report.to_json(result.to_dict()))
    else:
        _out(report.sync_lines(result, shown))
    _warn_unknown_skus(result.unknown_skus, target.schema)
    return 0


# --- migration verbs ------------------------------------------------------------------

def _migrate(args, fn, revision: str) -> int:
    """Run a migration verb on one connection, then report the revision it left."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from .connection import connect
    from .logs import migration_output
    from .migrate import commands, repair

    target = _target(args)
    raw = connect(target, autocommit=False)
    engine = create_engine("postgresql+psycopg://", creator=lambda: raw, poolclass=StaticPool)
    try:
        with engine.connect() as connection, migration_output(_out):
            config = commands.make_config(target, connection=connection, owned=True)
            fn(config, revision)
            applied = repair.read(connection, target.schema).applied
            connection.rollback()
            where = target.connected_where(raw.info.host, raw.info.port)
    finally:
        engine.dispose()
        raw.close()
    head = commands.script().get_current_head()
    if applied is None:
        _out(f"{where}: no revision applied (verify-triggers is not installed)")
    else:
        _out(f"{where}: at revision {applied}{' (head)' if applied == head else ''}")
    return 0


def _upgrade(args) -> int:
    from .migrate import commands

    if args.sql:
        commands.upgrade(commands.make_config(_target(args, need_url=False)), args.revision, sql=True)
        return 0
    return _migrate(args, commands.upgrade, args.revision)


def _downgrade(args) -> int:
    from .migrate import commands

    if args.sql:
        revision = args.revision
        if ":" not in revision:
            revision = f"{commands.script().get_current_head()}:{revision}"
        commands.downgrade(commands.make_config(_target(args, need_url=False)), revision, sql=True)
        return 0
    return _migrate(args, commands.downgrade, args.revision)


def _current(args) -> int:
    from . import history, report
    from .connection import connect

    target = _target(args)
    with connect(target) as conn:
        current = history.current(conn, target.schema)
    if args.format == "json":
        _out(report.to_json(current.to_dict()))
    else:
        _out(report.current_lines(current))
    return 0


def _history(args) -> int:
    from . import history, report

    shipped = history.history()  # needs no database: no target resolved
    if args.format == "json":
        _out(report.to_json(shipped.to_dict()))
    else:
        _out(report.history_lines(shipped))
    return 0


def _demo(args) -> int:
    from . import demo

    given = [option for option, value in (("--database-url", args.database_url),
                                          ("--schema", args.schema)) if value is not None]
    if given:
        raise VerifyTriggersError(
            f"demo runs on a throwaway PostgreSQL of its own: {' and '.join(given)} "
            f"do{'es' if len(given) == 1 else ''} not apply to it")
    if args.stop is not None and not args.stop.strip():
        raise VerifyTriggersError("--stop needs the directory that demo --keep printed")
    if args.stop:
        demo.stop(args.stop)
        _out(f"stopped the demo server and deleted {args.stop}")
        return 0
    return demo.run(keep=args.keep, pause=args.pause)


# --- entry point ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except VerifyTriggersError as exc:
        _err(str(exc))
        return exc.exit_code
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
        line = _database_error(exc)
        if line is None:
            first = (str(exc).strip().splitlines() or [""])[0]
            line = (f"unexpected error: {type(exc).__name__}: {first} "
                    "(set VERIFY_TRIGGERS_DEBUG=1 to see the traceback)")
        _err(line)
        return 2


def _database_error(exc: Exception) -> str | None:
    """The one line for an error the server raised, if it is one (psycopg's, possibly wrapped
    by SQLAlchemy)."""
    module = type(getattr(exc, "orig", None) or exc).__module__ or ""
    if not module.startswith("psycopg"):
        return None
    from .connection import error_line

    return error_line(exc)


__all__ = ["DEFAULT_SCHEMA", "build_parser", "main"]
