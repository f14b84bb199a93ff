"""Every URL form libpq accepts works, in the CLI and under `alembic -x database_url=...`:
an empty authority (`postgresql:///db?host=...`), a list of hosts, no database name (libpq
connects to the database named after the user), and a driver URL carrying options of its own
SQLAlchemy dialect (`?prepared_statement_cache_size=0`). The display form names the host and
database actually used, never the password."""

import socket
from urllib.parse import quote

import psycopg
import pytest

from clirun import alembic, alembic_env, applied_versions, assert_one_line_error, clean_env, run, subprocess_run
from verify_triggers.errors import VerifyTriggersError
from verify_triggers.target import parse_url

HEAD = "0009"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _authority_host(host: str) -> str:
    """A host as the authority of a URL spells it (a socket directory percent-encoded)."""
    return quote(host, safe="") if host.startswith("/") else host


def _with_option(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


# --- the parsed form, without a server ------------------------------------------------------

NO_ENV: dict = {}


@pytest.mark.parametrize("url, display, conninfo", [
    ("postgresql:///shop?host=10.0.0.5&user=app",
     "app@10.0.0.5:5432/shop", "postgresql:///shop?host=10.0.0.5&user=app"),
    ("postgresql+psycopg:///shop?host=10.0.0.5&port=6432&user=app",
     "app@10.0.0.5:6432/shop", "postgresql:///shop?host=10.0.0.5&port=6432&user=app"),
    ("postgresql://app@10.0.0.5:5432,10.0.0.6:5433/shop",
     "app@10.0.0.5:5432,10.0.0.6:5433/shop", "postgresql://app@10.0.0.5:5432,10.0.0.6:5433/shop"),
    ("postgresql://app@h1,h2/shop?port=5432,5433",
     "app@h1:5432,h2:5433/shop", "postgresql://app@h1,h2/shop?port=5432%2C5433"),
    ("postgresql://app@10.0.0.5:5432", "app@10.0.0.5:5432/app", "postgresql://app@10.0.0.5:5432"),
    ("postgresql://app@10.0.0.5/", "app@10.0.0.5:5432/app", "postgresql://app@10.0.0.5/"),
    ("postgresql://app@[::1]:5433/shop", "app@[::1]:5433/shop", "postgresql://app@[::1]:5433/shop"),
])
def test_libpq_url_forms_parse_as_libpq_reads_them(url, display, conninfo):
    parsed = parse_url(url, NO_ENV)
    assert parsed.display == display
    assert parsed.conninfo == conninfo


def test_the_querys_user_and_database_win_over_the_authority_and_path_as_in_libpq():
    parsed = parse_url("postgresql://u@h/db?dbname=other&user=v", NO_ENV)
    assert parsed.display == "v@h:5432/other"


def test_pghost_fills_in_the_host_and_the_authoritys_port_still_holds():
    assert parse_url("postgresql://:5999/shop", {"PGHOST": "10.0.0.7"}).display.endswith("10.0.0.7:5999/shop")


def test_a_space_in_a_query_value_reaches_libpq_as_a_space():
    parsed = parse_url("postgresql://app@h/shop?application_name=my%20app&options=-c%20jit%3Doff", NO_ENV)
    assert parsed.conninfo == "postgresql://app@h/shop?application_name=my%20app&options=-c%20jit%3Doff"


def test_the_libpq_environment_fills_in_what_the_url_leaves_out():
    env = {"PGHOST": "10.0.0.7", "PGPORT": "6543", "PGUSER": "ops", "PGDATABASE": "shop"}
    assert parse_url("postgresql://", env).display == "ops@10.0.0.7:6543/shop"
    # without PGDATABASE the database is named after the user, as libpq does
    assert parse_url("postgresql://", {"PGUSER": "ops"}).display == "ops@[local]:5432/ops"


def test_no_host_at_all_reads_as_libpqs_default_socket_not_localhost():
    parsed = parse_url("postgresql://app@/shop", NO_ENV)
    assert parsed.display == "app@[local]:5432/shop"  # psql's name for it
    assert parsed.conninfo == "postgresql://app@/shop"  # still libpq's default: no host added
    assert parsed.connected_display("/var/run/postgresql") == "app@/var/run/postgresql:5432/shop"
    # a host that was given is shown as given, whatever libpq reports once connected
    assert parse_url("postgresql://app@db1/shop", NO_ENV).connected_display("10.0.0.5") == "app@db1:5432/shop"


def test_no_host_but_an_address_or_a_service_is_not_shown_as_the_default_socket():
    """libpq connects over TCP to a hostaddr given without a host, and a service file may name
    the host: neither is the default socket."""
    assert parse_url("postgresql:///db?hostaddr=127.0.0.1&user=app&port=5999", NO_ENV).display == (
        "app@127.0.0.1:5999/db")
    assert parse_url("postgresql://app@/db?port=5999", {"PGHOSTADDR": "10.0.0.9"}).display == (
        "app@10.0.0.9:5999/db")
    assert parse_url("postgresql://app@/db?service=prod", NO_ENV).display == "app@[service prod]/db"
    assert parse_url("postgresql://app@/db", {"PGSERVICE": "prod"}).display == "app@[service prod]/db"
    # once connected, the host and port libpq reports
    assert parse_url("postgresql://app@/db", {"PGSERVICE": "prod"}).connected_display("db7", 6432) == (
        "app@db7:6432/db")
    # a host given wins over both, as in libpq
    assert parse_url("postgresql://app@h1/db?service=prod&hostaddr=10.0.0.9", NO_ENV).display == "app@h1:5432/db"


def test_a_service_that_is_not_defined_is_named_in_one_line():
    result = subprocess_run("--database-url", "postgresql://app@/shop?service=vt_no_such_service", "check",
                            env=alembic_env())
    assert_one_line_error(result, 2, "cannot connect to app@[service vt_no_such_service]/shop: definition of"
                                     ' service "vt_no_such_service" not found')


def test_a_driver_urls_own_options_are_left_out_of_the_connection():
    parsed = parse_url("postgresql+asyncpg://app:s3cret@db.internal/shop"
                       "?prepared_statement_cache_size=0&ssl=require&command_timeout=60", NO_ENV)
    assert parsed.conninfo == "postgresql://app:s3cret@db.internal/shop?sslmode=require"
    parsed = parse_url("postgresql+psycopg://app@db.internal/shop?application_name=x&pool_pre_ping=1",
                       NO_ENV)
    assert parsed.conninfo == "postgresql://app@db.internal/shop?application_name=x"


def test_an_option_libpq_does_not_know_is_refused_in_a_libpq_url_without_the_password():
    with pytest.raises(VerifyTriggersError) as raised:
        parse_url("postgresql://app:s3cret@db.internal/shop?frobnicate=1&password=s3cret", NO_ENV)
    message = str(raised.value)
    assert message.startswith("database URL option 'frobnicate' is not a libpq connection parameter")
    assert "s3cret" not in message


# --- against the server ----------------------------------------------------------------------


def _forms(db) -> dict[str, str]:
    server = db.server
    host, port, user = server.host, server.port, server.user
    return {
        "empty_authority": f"postgresql:///{db.name}?host={quote(host, safe='')}&port={port}&user={user}",
        "empty_authority_psycopg":
            f"postgresql+psycopg:///{db.name}?host={quote(host, safe='')}&port={port}&user={user}",
        "two_hosts_the_first_down":
            f"postgresql://{user}@127.0.0.1:{_free_port()},{_authority_host(host)}:{port}/{db.name}",
        "asyncpg_with_dialect_options": _with_option(
            db.url("postgresql+asyncpg"), "prepared_statement_cache_size=0&command_timeout=60"),
    }


@pytest.mark.parametrize("form", ["empty_authority", "empty_authority_psycopg",
                                  "two_hosts_the_first_down", "asyncpg_with_dialect_options"])
def test_each_url_form_libpq_accepts_connects(installed, capsys, form):
    url = _forms(installed)[form]
    result = run(capsys, "--database-url", url, "current")
    assert (result.code, result.out.strip(), result.err) == (0, f"{HEAD} (head)", "")
    check = run(capsys, "--database-url", url, "check")
    assert check.code == 0, check.out + check.err
    assert f"/{installed.name} (all SKUs)" in check.out


def test_a_url_without_a_database_connects_to_the_database_named_after_the_user(pg_server, capsys):
    # the test server's user is postgres, whose database always exists
    url = f"postgresql://{pg_server.user}@{_authority_host(pg_server.host)}:{pg_server.port}"
    result = run(capsys, "--database-url", url, "--schema", "public", "current")
    assert (result.code, result.err) == (0, "")
    assert result.out.strip() == "none: nothing applied in schema public (run verify-triggers upgrade)"
    assert parse_url(url, NO_ENV).dbname == pg_server.user


def test_a_connection_failure_names_the_host_the_query_gave():
    port = _free_port()
    result = subprocess_run("--database-url", f"postgresql+psycopg:///shop?host=127.0.0.1&port={port}"
                            "&user=app", "check", env=clean_env())
    assert_one_line_error(result, 2, f"cannot connect to app@127.0.0.1:{port}/shop", "connection refused")


def test_a_connection_failure_on_the_default_socket_does_not_say_localhost():
    port = _free_port()
    result = subprocess_run("--database-url", f"postgresql://app@/shop?port={port}", "check",
                            env=alembic_env())  # no PG* variables: no host from PGHOST either
    assert_one_line_error(result, 2, f"cannot connect to app@[local]:{port}/shop: no server socket at ",
                          f"/.s.PGSQL.{port} (is the server running on this machine?)")
    assert "localhost" not in result.err


def test_with_no_host_the_output_names_what_libpqs_default_socket_reached(seeded, capsys):
    """The server under test, reached through libpq's default socket: where it listens there
    (a packaged server), every verb names the socket's directory; where it does not (a
    throwaway server with a socket of its own), the error says [local], never localhost."""
    server = seeded.server
    try:
        with psycopg.connect(port=server.port, user=server.user, dbname=seeded.name) as conn:
            directory = conn.info.host
    except psycopg.OperationalError:
        directory = None
    url = f"postgresql://{server.user}@/{seeded.name}?port={server.port}"
    for verb in (["upgrade"], ["status"], ["check"], ["sync", "--dry-run"]):
        result = run(capsys, "--database-url", url, *verb)
        assert "localhost" not in result.out + result.err, (verb, result.out, result.err)
        if directory is None:
            assert_one_line_error(result, 2, f"cannot connect to {server.user}@[local]:{server.port}/{seeded.name}: ")
        else:
            assert result.code == 0, (verb, result.out, result.err)
            assert f"on {server.user}@{directory}:{server.port}/{seeded.name}" in result.out, (verb, result.out)


@pytest.mark.parametrize("form", ["empty_authority_psycopg", "asyncpg_with_dialect_options"])
def test_alembic_x_database_url_takes_the_same_forms(seeded, form):
    result = alembic("-x", f"database_url={_forms(seeded)[form]}", "upgrade", "head")
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert applied_versions(conn) == [HEAD]
