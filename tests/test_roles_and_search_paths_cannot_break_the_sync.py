"""Least privilege and search_path safety: who writes cannot break the sync.

An application role that logs in with only SELECT/INSERT/UPDATE/DELETE on the four tables
(USAGE on the schema and its sequences) drives every write path and, with SELECT on the
version table, can run ``check``; a hostile role owning same-named functions, an operator and
tables on its search_path cannot hijack the trigger; every sync function pins its
search_path; and ``verify-triggers upgrade`` run by a role that does not own the tables
fails with one line naming the problem and installs nothing. (A session's own hostile
search_path and SET ROLE are in test_rule_on_every_write_path.py.)
"""

import os
import re

import psycopg
import pytest
from psycopg import sql

from clirun import assert_one_line_error, subprocess_run
from rule import SYNC, assert_rule, people_verifications, sheet


def test_an_application_role_with_only_dml_rights_drives_every_write_path(installed, app_role):
    with installed.connect() as admin:
        people = people_verifications(admin)
    with psycopg.connect(installed.url(user=app_role), autocommit=True) as app:
        assert app.execute("SELECT current_user").fetchone()[0] == app_role
        app.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE supplier_id ="
                    " (SELECT id FROM app.suppliers WHERE name = 'WANKE')")
        app.execute("INSERT INTO app.products (sku) VALUES ('NEW1')")
        app.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                    " SELECT su.id, p.id, true FROM app.products p, app.suppliers su"
                    " WHERE p.sku = 'NEW1' AND su.name = 'PAREK'")
        app.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('NEW1', 'PAREK')")
        assert sheet(app, "NEW1", "PAREK")[:2] == (True, SYNC)
        app.execute("UPDATE app.products SET sku = 'NEW2' WHERE sku = 'NEW1'")  # takes the epoch
        assert sheet(app, "NEW1", "PAREK") == (False, None, None)
        app.execute("UPDATE app.suppliers SET name = 'XINRUI-2' WHERE name = 'XINRUI'")
        assert sheet(app, "BMX136", "XINRUI") == (False, None, None)
        app.execute("DELETE FROM app.suppliers WHERE name = 'KEMEISING'")
        assert sheet(app, "AUR516", "KEMEISING") == (False, None, None)
        app.execute("UPDATE app.product_supplier_sheets SET is_verified = false WHERE sku = 'AUR516'")
        assert sheet(app, "AUR516", "WANKE")[:2] == (True, SYNC)
        # the sync's own objects stay out of its reach
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("UPDATE app.verify_triggers_lock SET generation = 0")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT app.verify_triggers_sync(NULL)")
        assert_rule(app, people)
    # check reads the applied revision: a monitor needs SELECT on verify_triggers_version too
    url = installed.url(user=app_role)
    assert_one_line_error(subprocess_run("--database-url", url, "check"), 2,
                          "permission denied for table verify_triggers_version")
    with installed.connect() as admin:
        admin.execute(sql.SQL("GRANT SELECT ON app.verify_triggers_version TO {}").format(sql.Identifier(app_role)))
    check = subprocess_run("--database-url", url, "check")
    assert check.code == 0, check.out + check.err


HOSTILE = """
CREATE SCHEMA {evil} AUTHORIZATION {role};
SET ROLE {role};
CREATE FUNCTION {evil}.hijacked() RETURNS void LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'hijacked by %', current_user; END $$;
CREATE FUNCTION {evil}.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); RETURN NULL; END $$;
CREATE FUNCTION {evil}.unnest(text[], text[]) RETURNS TABLE (a text, b text) LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); END $$;
CREATE FUNCTION {evil}.array_agg_sfunc(text[], varchar) RETURNS text[] LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); RETURN NULL; END $$;
CREATE AGGREGATE {evil}.array_agg(varchar) (SFUNC = {evil}.array_agg_sfunc, STYPE = text[]);
CREATE FUNCTION {evil}.hashtextextended(text, bigint) RETURNS bigint LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); RETURN 0; END $$;
CREATE FUNCTION {evil}.set_config(text, text, boolean) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); RETURN NULL; END $$;
CREATE FUNCTION {evil}.eq(varchar, varchar) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM {evil}.hijacked(); RETURN true; END $$;
CREATE OPERATOR {evil}.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = {evil}.eq);
CREATE TABLE {evil}.products (id int, sku text);
CREATE TABLE {evil}.suppliers (id int, name text);
CREATE TABLE {evil}.verify_triggers_lock (bucket int, generation bigint);
RESET ROLE;
"""


@pytest.fixture
def hostile_role(app_role, installed):
    """The application role owns a schema of look-alikes and puts it first on its search_path."""
    evil = f"{app_role}_evil"
    with installed.connect() as conn:
        conn.execute(sql.SQL(HOSTILE).format(evil=sql.Identifier(evil), role=sql.Identifier(app_role)))
        conn.execute(sql.SQL("ALTER ROLE {} SET search_path = {}, pg_catalog, app, public").format(
            sql.Identifier(app_role), sql.Identifier(evil)))
        conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(installed.name), sql.Identifier(app_role)))
    return app_role, evil


def test_a_role_owning_look_alike_functions_operators_and_tables_cannot_hijack_the_trigger(
        installed, hostile_role):
    role, evil = hostile_role
    with installed.connect() as admin:
        people = people_verifications(admin)
    with psycopg.connect(installed.url(user=role), autocommit=True) as app:
        assert app.execute("SHOW search_path").fetchone()[0].startswith(evil)
        # the look-alikes are live in this session: unqualified calls reach them
        with pytest.raises(psycopg.errors.RaiseException, match="hijacked"):
            app.execute("SELECT now()")
        with pytest.raises(psycopg.errors.RaiseException, match="hijacked"):
            app.execute("SELECT 'a'::varchar = 'b'::varchar")
        # and temporary look-alikes too (pg_temp is searched first for tables)
        app.execute("CREATE TEMP TABLE product_supplier_sheets (id int, sku text, supplier_name text)")
        app.execute("CREATE TEMP TABLE supplier_products (id int)")
        app.execute("UPDATE app.supplier_products SET manual_confirmed = true")
        app.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name) VALUES ('EMG411', 'KEMEISING')")
        # (text comparisons: the role's own varchar = would call its look-alike operator)
        app.execute("INSERT INTO app.supplier_products (supplier_id, local_product_id, manual_confirmed)"
                    " SELECT su.id, p.id, true FROM app.products p, app.suppliers su"
                    " WHERE p.sku::text = 'EMG411' AND su.name::text = 'KEMEISING'")
        app.execute("UPDATE app.suppliers SET name = 'PAREK-2' WHERE name::text = 'PAREK'")
        app.execute("DELETE FROM app.products WHERE sku::text = 'AUR516'")
        assert app.execute("SELECT count(*) FROM pg_temp.product_supplier_sheets").fetchone()[0] == 0
    with installed.connect() as admin:
        assert sheet(admin, "AUR516", "WANKE") == (False, None, None)  # product deleted
        assert sheet(admin, "EMG411", "KEMEISING")[:2] == (True, SYNC)
        assert sheet(admin, "EMG411", "WANKE") == (False, None, None)  # no match
        assert sheet(admin, "BMX136", "PAREK") == (False, None, None)  # renamed away
        assert_rule(admin, people)


def test_every_sync_function_pins_its_search_path(conn):
    functions = conn.execute(
        "SELECT p.proname, p.proconfig, p.prosecdef, p.prosrc FROM pg_catalog.pg_proc p"
        " JOIN pg_catalog.pg_language l ON l.oid = p.prolang"
        " WHERE p.proname LIKE 'verify\\_triggers%' AND l.lanname = 'plpgsql'"
    ).fetchall()
    assert functions
    unpinned = {name for name, config, _, _ in functions
                if not any(setting.startswith("search_path=") for setting in config or [])}
    # the single-row sync runs with its caller's rights and settings (revision 0008)
    assert unpinned == {"verify_triggers_sync_one"}


# What verify_triggers_sync_one's statements are planned under, pinned by each of its callers
# since it pins nothing itself (0008): without them a session's own settings would choose them.
SYNC_ONE_SETTINGS = {"search_path=pg_catalog, pg_temp", "jit=off", "enable_seqscan=off",
                     "enable_hashjoin=off", "enable_mergejoin=off", "join_collapse_limit=1",
                     "from_collapse_limit=1"}


def test_the_single_row_sync_runs_only_inside_the_owners_functions_that_pin_its_settings(conn):
    [(secdef, public_may_call)] = conn.execute(
        "SELECT p.prosecdef, has_function_privilege('public', p.oid, 'EXECUTE') FROM pg_catalog.pg_proc p"
        " WHERE p.proname = 'verify_triggers_sync_one'").fetchall()
    assert (secdef, public_may_call) == (False, False)
    callers = conn.execute(
        "SELECT p.proname, p.proconfig, p.prosecdef FROM pg_catalog.pg_proc p"
        " WHERE p.proname LIKE 'verify\\_triggers%' AND p.prosrc LIKE '%verify\\_triggers\\_sync\\_one(%'"
        " AND p.proname <> 'verify_triggers_sync_one' ORDER BY 1").fetchall()
    assert [name for name, _, _ in callers] == [
        "verify_triggers_sp_rows", "verify_triggers_sp_update", "verify_triggers_sync_pairs"]
    for name, config, secdef in callers:
        assert secdef and SYNC_ONE_SETTINGS <= set(config), (name, config)
        # the triggers' single-row path caches one plan per statement; the multi-pair sync plans
        # each call for its values
        mode = "force_custom_plan" if name == "verify_triggers_sync_pairs" else "force_generic_plan"
        assert f"plan_cache_mode={mode}" in config, (name, config)


# --- the migration's own privileges ----------------------------------------------------------


def _login_role(database, prefix: str, *grants: str):
    """A login role given ``grants`` (statements with {} for the role), dropped afterwards with
    everything granted to it."""
    role = f"{prefix}_{os.getpid()}"
    ident = sql.Identifier(role)
    with database.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        for grant in grants:
            conn.execute(sql.SQL(grant).format(ident))
    yield role
    with database.connect() as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


@pytest.fixture
def migration_role(seeded):
    """A role that may create in the schema but owns none of the four tables."""
    yield from _login_role(seeded, "vt_deployer", "GRANT USAGE, CREATE ON SCHEMA app TO {}",
                           "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {}")


def test_upgrade_by_a_role_that_does_not_own_the_tables_fails_in_one_line_and_installs_nothing(
        seeded, migration_role):
    result = subprocess_run("--database-url", seeded.url(user=migration_role), "upgrade")
    assert_one_line_error(result, 2)
    line = result.err_lines[0]
    # checked before anything runs, in the words of the fix, rather than the server's
    # "must be owner of table supplier_products" half-way through the install
    assert line.startswith(f"verify-triggers: role {migration_role} lacks what installing, changing or "
                           "removing the sync needs: "), line
    for table in ("product_supplier_sheets", "products", "supplier_products", "suppliers"):
        assert f"ownership of table {table} (owned by " in line
    assert "CREATE on schema" not in line.split(": run the migration")[0]  # it has CREATE
    assert line.endswith("run the migration as the owner of the application's tables (or a member of "
                         "that role), with CREATE on the schema"), line
    with seeded.connect() as conn:
        # nothing ran, not even Alembic's version table
        assert conn.execute("SELECT to_regclass('app.verify_triggers_version')").fetchone()[0] is None
        leftovers = conn.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'app' AND c.relname LIKE 'verify\\_triggers%'"
            " AND c.relname NOT LIKE 'verify\\_triggers\\_version%'"
            " UNION ALL SELECT tgname FROM pg_catalog.pg_trigger WHERE tgname LIKE 'verify\\_triggers%'"
            " UNION ALL SELECT proname FROM pg_catalog.pg_proc WHERE proname LIKE 'verify\\_triggers%'"
        ).fetchall()
        assert leftovers == [], leftovers


# --- privileges handed out wholesale -------------------------------------------------------------

FORGE_TOKEN = ("SELECT set_config('verify_triggers.syncing', md5((SELECT generation FROM"
               " app.verify_triggers_lock WHERE bucket = -2)::text || ':' || pg_current_xact_id()::text),"
               " true)")
UNVERIFY = ("UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
            " verified_at = NULL WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")


@pytest.fixture
def wholesale_role(seeded):
    """An application role given its rights the usual way: default privileges on the schema
    (which the sync's objects, created later, inherit), then GRANT ... ON ALL TABLES."""
    yield from _login_role(
        seeded, "vt_wholesale", "GRANT USAGE ON SCHEMA app TO {}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT EXECUTE ON FUNCTIONS TO {}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO {}")


def _confirmed_row_stays_verified(seeded, role) -> None:
    """As ``role``: the lock table's secret is out of reach, so no forged token lets a write that
    contradicts the rule pass, and the row is put right in the same statement."""
    with psycopg.connect(seeded.url(user=role), autocommit=False) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(FORGE_TOKEN)
        app.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("DELETE FROM app.verify_triggers_lock WHERE bucket >= 0")
        app.rollback()
        app.execute(UNVERIFY)
        app.commit()
    with seeded.connect() as conn:
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)
        assert_rule(conn)


def test_default_privileges_do_not_hand_an_application_role_the_syncs_own_objects(seeded, wholesale_role, capsys):
    result = subprocess_run("--database-url", seeded.url(), "upgrade")
    assert result.code == 0, result.out + result.err
    assert f"revoked DELETE, INSERT, SELECT, UPDATE on verify_triggers_lock from {wholesale_role}" in (
        result.out + result.err)
    assert subprocess_run("--database-url", seeded.url(), "status").code == 0
    _confirmed_row_stays_verified(seeded, wholesale_role)


def _installed_then_granted_everything(seeded, role):
    """The sync installed, then ``role`` granted everything in the schema wholesale; returns
    ``status --format json``'s result."""
    seeded.upgrade()
    with seeded.connect() as conn:
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA app TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO {}").format(sql.Identifier(role)))
    return subprocess_run("--database-url", seeded.url(), "status", "--format", "json")


def test_privileges_granted_after_install_are_reported_then_revoked_by_upgrade(seeded, wholesale_role):
    status = _installed_then_granted_everything(seeded, wholesale_role)
    assert status.code == 1, status.out
    [problem] = status.json()["problems"]
    # every privilege on the table (PostgreSQL 17 and later add MAINTAIN to ALL)
    held = re.search(rf"{wholesale_role} holds ([A-Z, ]+) on verify_triggers_lock;", problem)
    assert held, problem
    assert {"DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"} <= set(
        held.group(1).split(", "))
    # EXECUTE on the token function is no way in: it reads the secret with its caller's rights
    # (0009), and the role may not read the lock table once that grant is revoked
    assert "verify_triggers_sync_token" not in problem and "verify_triggers_secret" not in problem
    assert problem.endswith("run verify-triggers upgrade (it revokes them)")
    check = subprocess_run("--database-url", seeded.url(), "check")
    assert check.code == 1 and "could forge the sync's token" in check.out

    assert subprocess_run("--database-url", seeded.url(), "upgrade").code == 0
    assert subprocess_run("--database-url", seeded.url(), "status").code == 0
    _confirmed_row_stays_verified(seeded, wholesale_role)


def test_the_revokes_status_names_for_an_offline_deploy_take_the_privileges_back(seeded, wholesale_role):
    """An offline deploy's script cannot ask the catalog who holds what: status's note gives
    the statements, and running them by hand is enough."""
    status = _installed_then_granted_everything(seeded, wholesale_role)
    assert status.code == 1, status.out
    [note] = [n for n in status.json()["notes"] if n.startswith("to revoke them by hand")]
    statements = note.split(": ", 1)[1]
    assert f'REVOKE ALL ON TABLE "app"."verify_triggers_lock" FROM "{wholesale_role}";' in statements
    assert "REVOKE EXECUTE" not in statements
    with seeded.connect() as conn:
        conn.execute(statements)
    assert subprocess_run("--database-url", seeded.url(), "status").code == 0
    _confirmed_row_stays_verified(seeded, wholesale_role)
