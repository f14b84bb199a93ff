"""Errors: each one clear line on stderr, exit 2 (1 where it is a finding), never a
traceback. Run as real subprocesses of `python -m verify_triggers`."""

import os
import socket
import time

import psycopg
import pytest
from psycopg import sql

import pgserver
from clirun import assert_one_line_error, clean_env, subprocess_run
from verify_triggers import connection as connection_mod


def _url(server: pgserver.Server, dbname: str, user: str, password: str | None = None) -> str:
    auth = f"{user}:{password}" if password is not None else user
    if server.host.startswith("/"):
        return f"postgresql://{auth}@/{dbname}?host={server.host}&port={server.port}"
    return f"postgresql://{auth}@{server.host}:{server.port}/{dbname}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("verb", [["check"], ["status"], ["sync"], ["upgrade"],
                                  ["downgrade", "base"], ["current"]])
def test_unreachable_server(verb):
    port = _free_port()
    result = subprocess_run("--database-url", f"postgresql://postgres@127.0.0.1:{port}/shop", *verb)
    assert_one_line_error(result, 2, f"cannot connect to postgres@127.0.0.1:{port}/shop",
                          "connection refused")


def test_unknown_host():
    result = subprocess_run("--database-url", "postgresql://postgres@no-such-host.invalid/shop", "check")
    assert_one_line_error(result, 2, "cannot connect to postgres@no-such-host.invalid:5432/shop")


def test_database_that_does_not_exist(pg_server):
    result = subprocess_run("--database-url", _url(pg_server, "vt_no_such_db", pg_server.user), "check")
    assert_one_line_error(result, 2, 'database "vt_no_such_db" does not exist')


def test_role_that_does_not_exist_is_refused(seeded, pg_server):
    url = _url(pg_server, seeded.name, f"vt_nobody_{os.getpid()}")
    for verb in (["check"], ["upgrade"]):
        result = subprocess_run("--database-url", url, *verb)
        assert_one_line_error(result, 2, "the server refused authentication for",
                              f'role "vt_nobody_{os.getpid()}" does not exist')


@pytest.fixture(scope="module")
def password_server():
    """A server of its own whose role vt_secret must give its password (scram-sha-256)."""
    server = pgserver.start_embedded()
    try:
        with server.connect(autocommit=True) as conn:
            conn.execute("CREATE ROLE vt_secret LOGIN PASSWORD 'right-password'")
            hba = conn.execute("SHOW hba_file").fetchone()[0]
            with open(hba, encoding="utf-8") as f:
                rules = f.read()
            with open(hba, "w", encoding="utf-8") as f:
                f.write("local all vt_secret scram-sha-256\nhost all vt_secret all scram-sha-256\n" + rules)
            conn.execute("SELECT pg_reload_conf()")
        # wait (boundedly) until the reloaded rules are in force
        for _ in range(200):
            try:
                psycopg.connect(host=server.host, port=server.port, dbname="postgres",
                                user="vt_secret", password="wrong").close()
            except psycopg.OperationalError as exc:
                if "password authentication failed" in str(exc):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("pg_hba.conf reload never took effect")
        yield server
    finally:
        pgserver.stop(server)


def test_wrong_password_is_refused(password_server):
    url = _url(password_server, "postgres", "vt_secret", "wrong-password")
    result = subprocess_run("--database-url", url, "check")
    assert_one_line_error(result, 2, "the server refused authentication for vt_secret@",
                          'password authentication failed for user "vt_secret"')
    assert "wrong-password" not in result.err
    right = subprocess_run("--database-url", _url(password_server, "postgres", "vt_secret",
                                                  "right-password"), "check")
    # authenticated: now the schema is what is missing
    assert_one_line_error(right, 2, "schema 'app' does not exist")


@pytest.mark.parametrize("url, fragment", [
    ("garbage", "malformed database URL"),
    ("postgresql://u@h:notaport/db", "malformed database URL"),
    ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
    ("postgresql://u@h/db?frobnicate=1", "database URL option 'frobnicate' is not a libpq connection parameter"),
])
def test_malformed_url(url, fragment):
    for verb in (["check"], ["upgrade"], ["status"]):
        assert_one_line_error(subprocess_run("--database-url", url, *verb), 2, fragment)


def test_no_url_at_all():
    result = subprocess_run("check", env=clean_env())
    assert_one_line_error(result, 2, "no database URL: pass --database-url or set DATABASE_URL")


def test_password_is_never_printed():
    port = _free_port()
    result = subprocess_run("--database-url", f"postgresql://app:s3cret@127.0.0.1:{port}/shop", "check")
    assert_one_line_error(result, 2, f"cannot connect to app@127.0.0.1:{port}/shop")
    assert "s3cret" not in result.err


@pytest.mark.parametrize("url, fragment", [
    ("postgresql://app:s3cret PW@127.0.0.1/shop", "percent-encode spaces as %20"),
    ("postgresql://app:s3cret%ZZ@127.0.0.1/shop", "a % must start a percent-encoded byte"),
    ("postgresql://app:s3cret%@127.0.0.1/shop", "a % must start a percent-encoded byte"),
    ("postgresql://app:s3cret%00x@127.0.0.1/shop", "other than %00"),
])
def test_a_password_libpq_cannot_parse_is_not_printed(url, fragment):
    for verb in (["check"], ["upgrade"], ["downgrade", "base"]):
        result = subprocess_run("--database-url", url, *verb)
        assert_one_line_error(result, 2, "malformed database URL: 'postgresql://app:***@127.0.0.1/shop'",
                              fragment)
        assert "s3cret" not in result.err


def test_missing_schema(seeded):
    for verb in (["check"], ["status"], ["sync"], ["sync", "--dry-run"], ["upgrade"], ["current"]):
        result = subprocess_run("--database-url", seeded.url(), "--schema", "nosuch", *verb)
        assert_one_line_error(result, 2, "schema 'nosuch' does not exist in this database")


def test_a_missing_table_or_column_is_a_finding_for_every_verb(db):
    """Not an error: an unhealthy install (exit 1) whose one line names what is missing and
    says to restore it, then run verify-triggers upgrade."""
    with db.connect() as conn:
        conn.execute("CREATE SCHEMA empty")
        conn.execute("ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_at")
    fix = ", which the sync needs: restore it (a migration dropped or renamed it), then run verify-triggers upgrade"
    result = subprocess_run("--database-url", db.url(), "--schema", "empty", "check")
    assert_one_line_error(result, 1, "schema 'empty' has none of the tables the sync needs"
                                     " (product_supplier_sheets, products, supplier_products,"
                                     " suppliers): is it the application's schema?")
    with db.connect() as conn:
        conn.execute("CREATE TABLE empty.products (id serial PRIMARY KEY, sku text)")
    result = subprocess_run("--database-url", db.url(), "--schema", "empty", "check")
    assert_one_line_error(result, 1, "schema 'empty' lacks table product_supplier_sheets,"
                                     " table supplier_products, table suppliers" + fix)
    for verb in (["check"], ["status"], ["sync"], ["sync", "--dry-run"], ["upgrade"]):
        result = subprocess_run("--database-url", db.url(), *verb)
        assert_one_line_error(result, 1, "schema 'app' lacks column product_supplier_sheets.verified_at" + fix)
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'verify\\_triggers%'"
                            ).fetchone()[0] == 0


def test_not_installed(seeded):
    url = seeded.url()
    check = subprocess_run("--database-url", url, "check")
    assert_one_line_error(check, 1, "not installed in schema 'app': run verify-triggers upgrade")
    assert "NEEDS SYNC    4" in check.out  # the finding is reported on stdout
    status = subprocess_run("--database-url", url, "status")
    assert_one_line_error(status, 1, "run verify-triggers upgrade")
    sync = subprocess_run("--database-url", url, "sync")
    assert_one_line_error(sync, 2, "not installed in schema 'app': run verify-triggers upgrade")


@pytest.mark.parametrize("args", [
    ["frobnicate"], ["check", "--format", "xml"], ["check", "--limit", "-1"],
    ["check", "--limit", "ten"], ["downgrade"], [],
])
def test_usage_errors(args):
    result = subprocess_run(*args, env=clean_env(DATABASE_URL="postgresql://u@127.0.0.1:1/x"))
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "usage: verify-triggers" in result.err


@pytest.mark.parametrize("args, fragment", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    (["check", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["check", "--limit", "-1"], "argument --limit: must be 0 or more"),
    (["check", "--limit", "ten"], "argument --limit: not a number: 'ten'"),
    (["check", "--limit", "99999999999999999999"], "argument --limit: must be at most 9223372036854775807"),
    (["sync", "--dry-run", "--limit", "9223372036854775808"],
     "argument --limit: must be at most 9223372036854775807"),
    (["downgrade"], "the following arguments are required: revision"),
    ([], "the following arguments are required: COMMAND"),
    (["--schema", "shop"], "the following arguments are required: COMMAND"),
])
def test_a_usage_error_is_one_line_with_the_usage_in_it(args, fragment):
    result = subprocess_run(*args, env=clean_env(DATABASE_URL="postgresql://u@127.0.0.1:1/x"))
    assert_one_line_error(result, 2, fragment, "(usage: verify-triggers", "--help)")


@pytest.mark.parametrize("args, fragment", [
    (["--database-url", "postgresql://u@127.0.0.1:1/x", "demo"], "--database-url does not apply"),
    (["demo", "--schema", "shop"], "--schema does not apply"),
    (["--schema", "shop", "demo", "--database-url", "postgresql://u@h/x"],
     "--database-url and --schema do not apply"),
    (["demo", "--stop", ""], "--stop needs the directory that demo --keep printed"),
    (["demo", "--stop", "  "], "--stop needs the directory that demo --keep printed"),
])
def test_demo_refuses_options_that_do_not_apply_to_it(args, fragment):
    result = subprocess_run(*args, env=clean_env())
    assert_one_line_error(result, 2, fragment)
    assert result.out == ""  # no demo was started


def test_empty_schema_name(seeded):
    assert_one_line_error(subprocess_run("--database-url", seeded.url(), "--schema", "", "check"),
                          2, "--schema must not be empty")


@pytest.fixture
def limited_role(installed, pg_server):
    """A monitoring role that may read the tables but not run the repair function."""
    role = f"vt_monitor_{os.getpid()}"
    ident = sql.Identifier(role)
    with installed.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA app TO {}").format(ident))
    try:
        yield _url(pg_server, installed.name, role)
    finally:
        with installed.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_a_read_only_role_can_check_but_not_sync(limited_role):
    check = subprocess_run("--database-url", limited_role, "check")
    assert check.code == 0, check.out + check.err
    sync = subprocess_run("--database-url", limited_role, "sync", "--sku", "BMX136")
    assert sync.code == 0  # nothing drifted: nothing to call
    status = subprocess_run("--database-url", limited_role, "status")
    assert status.code == 0, status.out + status.err


def test_permission_denied_is_one_line(limited_role, installed):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER verify_triggers_sheet_update")
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = false WHERE sku = 'BMX136'")
    result = subprocess_run("--database-url", limited_role, "sync")
    assert_one_line_error(result, 2, "database error: permission denied for function verify_triggers_sync")


def test_connection_error_line_names_the_reason():
    exc = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.1", port 5432 failed: '
        'FATAL:  no pg_hba.conf entry for host "10.0.0.2", user "app", database "shop"')
    line = connection_mod.connection_error_line(exc, "app@10.0.0.1:5432/shop")
    assert line.startswith("the server refused authentication for app@10.0.0.1:5432/shop: no pg_hba.conf")


def test_a_hostile_schema_name_is_an_identifier(installed):
    hostile = 'app"; DROP TABLE app.products; --'
    for verb in (["check"], ["status"], ["sync"]):
        result = subprocess_run("--database-url", installed.url(), "--schema", hostile, *verb)
        assert_one_line_error(result, 2, "does not exist in this database")
    with installed.connect() as conn:
        assert conn.execute("SELECT count(*) FROM app.products").fetchone()[0] == 3


@pytest.fixture
def writer_role(seeded, pg_server):
    """A role that may read and write the tables but owns none of them."""
    role = f"vt_writer_{os.getpid()}"
    ident = sql.Identifier(role)
    with seeded.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA app TO {}").format(ident))
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA app TO {}").format(ident))
    try:
        yield role, _url(pg_server, seeded.name, role)
    finally:
        with seeded.connect() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_a_migration_without_the_privileges_it_needs_names_them_in_one_line(writer_role, seeded):
    role, url = writer_role
    result = subprocess_run("--database-url", url, "upgrade")
    assert_one_line_error(result, 2, f"role {role} lacks what installing, changing or removing the sync needs")
    assert "ownership of table supplier_products" in result.err_lines[0]
    with seeded.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify\\_triggers%'"
                            ).fetchone()[0] == 0


def test_a_role_without_usage_on_the_schema_is_told_the_servers_reason(writer_role, seeded):
    role, url = writer_role
    with seeded.connect() as conn:
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA app FROM {}").format(sql.Identifier(role)))
    for verb in (["check"], ["status"], ["sync"], ["upgrade"]):
        result = subprocess_run("--database-url", url, *verb)
        assert_one_line_error(result, 2, "database error: permission denied for schema app")


@pytest.mark.parametrize("verb", [["check"], ["check", "--format", "json"], ["sync"],
                                  ["sync", "--dry-run"], ["sync", "--format", "json"]])
def test_a_sku_that_no_sheet_row_or_product_has_is_warned_about(installed, verb):
    url = installed.url()
    result = subprocess_run("--database-url", url, *verb, "--sku", "NOPE", "--sku", "BMX136",
                            "--sku", "bmx136")
    assert result.code == 0, result.out + result.err  # a value, as a hostile SKU is
    assert result.err_lines == [
        "verify-triggers: warning: no sheet row and no product has SKUs 'NOPE', 'bmx136' in "
        "schema 'app' (SKUs are matched exactly, case included)"]
    if "json" in verb:
        assert result.json()["unknown_skus"] == ["NOPE", "bmx136"]
    known = subprocess_run("--database-url", url, *verb, "--sku", "BMX136")
    assert known.code == 0 and known.err == "", known.out + known.err
    if "json" in verb:
        assert known.json()["unknown_skus"] == []
    for blank in ("", "  "):
        empty = subprocess_run("--database-url", url, *verb, "--sku", blank)
        assert_one_line_error(empty, 2, "--sku must not be empty")


def test_a_sku_with_a_product_but_no_sheet_row_yet_is_not_warned_about(installed):
    with installed.connect() as conn:
        conn.execute("INSERT INTO app.products (sku, name) VALUES ('NEW001', 'not on a sheet yet')")
    result = subprocess_run("--database-url", installed.url(), "check", "--sku", "NEW001")
    assert result.code == 0 and result.err == "", result.out + result.err
    assert "OK: 0 row(s) agree with their matches" in result.out


@pytest.mark.parametrize("retries", ["0", "-1", "many"])
def test_lock_retries_that_are_not_a_count_are_refused(seeded, retries):
    env = clean_env(DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_LOCK_RETRIES=retries)
    result = subprocess_run("upgrade", env=env)
    assert_one_line_error(result, 2, f"lock retries must be a whole number of 1 or more, not {retries!r}")
    with seeded.connect() as conn:
        installed = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify%'").fetchone()[0]
    assert installed == 0


def test_lock_retries_given_in_python_must_be_a_count_too():
    from verify_triggers import target as targets
    from verify_triggers.errors import VerifyTriggersError

    for retries in (0, -1):
        with pytest.raises(VerifyTriggersError, match="lock retries must be a whole number of 1 or more"):
            targets.resolve(None, "app", lock_retries=retries, need_url=False)
    assert targets.resolve(None, "app", lock_retries=3, need_url=False).lock_retries == 3


@pytest.mark.parametrize("timeout", ["0", "0s", "-1s", "soon", "500us"])
def test_a_lock_timeout_that_would_not_bound_the_wait_is_refused(seeded, timeout):
    """0 is PostgreSQL's "no limit": every write would queue behind the deploy for as long as a
    transaction holds a table. The deploy refuses it, and any value that is not a duration."""
    env = clean_env(DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_LOCK_TIMEOUT=timeout)
    result = subprocess_run("upgrade", env=env)
    assert_one_line_error(result, 2, f"lock timeout must be a duration of 1ms or more, such as 2s or 500ms"
                                     f" (0 would mean no limit, and writes would queue behind the deploy),"
                                     f" not {timeout!r}")
    with seeded.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify%'").fetchone()[0] == 0
    offline = subprocess_run("upgrade", "--sql", env=clean_env(VERIFY_TRIGGERS_LOCK_TIMEOUT=timeout))
    assert offline.code == 2 and "lock_timeout = '" not in offline.out


def test_lock_timeouts_postgresql_reads_as_a_bound_are_taken():
    from verify_triggers import target as targets
    from verify_triggers.errors import VerifyTriggersError

    for refused in (0, "0", "30d", "2147483648"):  # 0 from Python too; past PostgreSQL's largest
        with pytest.raises(VerifyTriggersError, match="lock timeout must be a duration of 1ms or more"):
            targets.resolve(None, "app", lock_timeout=refused, need_url=False)

    for timeout in ("2s", "500ms", "1500", "1.5s", "1min"):
        assert targets.resolve(None, "app", lock_timeout=timeout, need_url=False).lock_timeout == timeout
