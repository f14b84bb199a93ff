"""`verify-triggers status`: each object's state from the catalogs, against a real server."""

import pytest
from psycopg import sql

from clirun import isolated_env, run  # noqa: F401
from conftest import FIXTURES, load_sql
from verify_triggers import manifest, migrations_api, resources
from verify_triggers import status as status_mod

pytestmark = pytest.mark.usefixtures("isolated_env")


def _states(result, kind="trigger") -> dict:
    """name -> state of the objects of one kind (a trigger and its function share a name)."""
    return {o["name"]: o["state"] for o in result.json()["objects"] if o["kind"] == kind}


def _objects(data, kind) -> dict:
    return {o["name"]: o for o in data["objects"] if o["kind"] == kind}


def _expected_counts(schema="app") -> dict:
    exp = manifest.expected(migrations_api.head_revision(), schema)
    return {"trigger": len(exp.triggers), "function": len(exp.functions),
            "table": len(exp.tables), "index": len(exp.indexes)}


def test_installed_is_healthy_and_lists_every_object(installed, capsys):
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 0, result.out + result.err
    assert result.err == ""
    assert "revision: 0002 applied, head 0002" in result.out
    assert "healthy: " in result.out
    assert "verify_triggers_sp_update on supplier_products" in result.out
    assert "verify_triggers_sync(p_skus text[])" in result.out

    data = run(capsys, "--database-url", installed.url(), "status", "--format", "json").json()
    assert data["healthy"] is True and data["installed"] is True
    assert data["applied"] == data["head"] == migrations_api.head_revision()
    counts = {}
    for obj in data["objects"]:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
        assert obj["state"] == "INSTALLED", obj
    assert counts == _expected_counts()
    assert counts["trigger"] >= 12 and counts["function"] >= 10


def test_the_expected_objects_come_from_the_revisions_sql_files():
    exp = manifest.expected("0001", "app")
    install = resources.sql_path("triggers/0001_install.sql").read_text()
    for name in exp.triggers:
        assert f"CREATE TRIGGER {name}" in install
    for name in exp.functions:
        assert f".{name}(" in install
    assert "verify_triggers_sync" in exp.functions
    assert exp.triggers["verify_triggers_sp_update"].table == "supplier_products"
    assert exp.functions["verify_triggers_sync"].security_definer
    assert any(c.startswith("search_path=") for c in exp.functions["verify_triggers_sync"].config)


def test_the_expected_objects_at_0002_fold_its_files_over_0001():
    old, new = manifest.expected("0001", "app"), manifest.expected("0002", "app")
    install = resources.sql_path("triggers/0002_install.sql").read_text()
    assert set(new.triggers) == set(old.triggers) | {"verify_triggers_sp_changed",
                                                     "verify_triggers_sheet_changed"}
    assert new.triggers["verify_triggers_sp_changed"].table == "supplier_products"
    assert new.triggers["verify_triggers_sheet_changed"].table == "product_supplier_sheets"
    assert set(new.functions) == set(old.functions) | {"verify_triggers_sync_one",
                                                       "verify_triggers_never_called"}
    # a function 0002 replaces is expected with 0002's body and settings, one it keeps with 0001's
    for name in ("verify_triggers_sp_update", "verify_triggers_lock_epoch", "verify_triggers_sync_pairs"):
        assert f".{name}(" in install
        assert new.functions[name] != old.functions[name], name
    assert "pg_advisory_xact_lock_shared" in new.functions["verify_triggers_lock_epoch"].body
    assert new.functions["verify_triggers_truncate"] == old.functions["verify_triggers_truncate"]
    assert new.tables == old.tables
    assert set(old.indexes) == {"verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx"}
    assert set(new.indexes) == {"verify_triggers_sp_match_idx", "verify_triggers_suppliers_name_idx"}


def test_a_later_revision_overrides_and_drops_definitions():
    exp = manifest.expected("0001", "app")
    later = """
    CREATE OR REPLACE FUNCTION app.verify_triggers_sync(p_skus text[] DEFAULT NULL)
    RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
    AS $fn$ BEGIN RETURN 0; END $fn$;
    DROP TRIGGER IF EXISTS verify_triggers_sp_truncate ON app.supplier_products;
    CREATE TRIGGER verify_triggers_sp_truncate2 AFTER TRUNCATE ON app.supplier_products
    FOR EACH STATEMENT EXECUTE FUNCTION app.verify_triggers_truncate();
    """
    for statement in manifest.split_statements(later):
        manifest._apply(exp, statement)
    assert exp.functions["verify_triggers_sync"].body.strip() == "BEGIN RETURN 0; END"
    assert "verify_triggers_sp_truncate" not in exp.triggers
    assert exp.triggers["verify_triggers_sp_truncate2"].table == "supplier_products"


def test_not_installed_is_a_finding_with_one_line_on_stderr(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "status")
    assert result.code == 1
    assert result.err_lines == ["verify-triggers: not installed in schema 'app': run verify-triggers upgrade"]
    assert "revision: none applied, head 0002" in result.out


def test_after_downgrade_nothing_is_installed(installed, capsys):
    installed.downgrade("base")
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 1
    data = result.json()
    assert data["installed"] is False and data["applied"] is None
    assert {o["state"] for o in result.json()["objects"]} == {"MISSING"}


@pytest.mark.parametrize("alter, state, code", [
    ("ALTER TABLE app.supplier_products DISABLE TRIGGER verify_triggers_sp_update", "DISABLED", 1),
    ("ALTER TABLE app.supplier_products ENABLE REPLICA TRIGGER verify_triggers_sp_update",
     "REPLICA-ONLY", 1),
    ("ALTER TABLE app.supplier_products ENABLE ALWAYS TRIGGER verify_triggers_sp_update", "ALWAYS", 0),
])
def test_trigger_firing_modes(installed, capsys, alter, state, code):
    with installed.connect() as conn:
        conn.execute(alter)
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == code, result.out
    line = next(l for l in result.out.splitlines() if "verify_triggers_sp_update on" in l)
    assert line.split()[0] == state
    meaning = status_mod.TRIGGER_MODES[{"DISABLED": "D", "REPLICA-ONLY": "R", "ALWAYS": "A"}[state]][1]
    assert meaning in line
    others = [s for n, s in _states(run(capsys, "--database-url", installed.url(), "status",
                                        "--format", "json")).items() if n != "verify_triggers_sp_update"]
    assert set(others) == {"INSTALLED"}
    if code:
        assert "UNHEALTHY" in result.out and state.lower() in result.out


def test_disable_trigger_all_shows_every_trigger_of_the_table_disabled(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER ALL")
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 1
    states = _states(result)
    assert states["verify_triggers_sheet_insert"] == states["verify_triggers_sheet_update"] == "DISABLED"


def test_a_function_changed_by_hand_is_outdated(installed, capsys):
    with installed.connect() as conn:
        definition = conn.execute(
            "SELECT pg_get_functiondef('app.verify_triggers_bump_epoch()'::regprocedure)").fetchone()[0]
        assert "generation + 1" in definition
        conn.execute(definition.replace("generation + 1", "generation + 2"))
        conn.execute("ALTER FUNCTION app.verify_triggers_lock_epoch() RESET search_path")
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 1
    objects = _objects(result.json(), "function")
    assert objects["verify_triggers_bump_epoch"]["state"] == "OUTDATED"
    assert "body" in objects["verify_triggers_bump_epoch"]["detail"]
    assert objects["verify_triggers_lock_epoch"]["state"] == "OUTDATED"
    assert "SET options" in objects["verify_triggers_lock_epoch"]["detail"]
    assert objects["verify_triggers_sync"]["state"] == "INSTALLED"


def test_security_invoker_and_sql_standard_body_changes_are_outdated(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER FUNCTION app.verify_triggers_sync(text[]) SECURITY INVOKER")
        definition = conn.execute(
            "SELECT pg_get_functiondef('app.verify_triggers_bucket(text, text)'::regprocedure)").fetchone()[0]
        assert "1023" in definition
        conn.execute(definition.replace("1023", "511"))
    objects = _objects(run(capsys, "--database-url", installed.url(), "status",
                           "--format", "json").json(), "function")
    assert objects["verify_triggers_sync"]["state"] == "OUTDATED"
    assert "SECURITY DEFINER" in objects["verify_triggers_sync"]["detail"]
    assert objects["verify_triggers_bucket"]["state"] == "OUTDATED"


def test_a_redefined_trigger_is_outdated_and_a_dropped_one_missing(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TRIGGER verify_triggers_sp_insert ON app.supplier_products")
        conn.execute("CREATE TRIGGER verify_triggers_sp_insert AFTER INSERT ON app.supplier_products"
                     " FOR EACH ROW EXECUTE FUNCTION app.verify_triggers_sheet_insert()")
        conn.execute("DROP TRIGGER verify_triggers_supplier_renamed ON app.suppliers")
        conn.execute("DROP INDEX app.verify_triggers_suppliers_name_idx")
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 1
    data = run(capsys, "--database-url", installed.url(), "status", "--format", "json").json()
    triggers = _objects(data, "trigger")
    assert triggers["verify_triggers_sp_insert"]["state"] == "OUTDATED"
    assert triggers["verify_triggers_supplier_renamed"]["state"] == "MISSING"
    assert _objects(data, "index")["verify_triggers_suppliers_name_idx"]["state"] == "MISSING"
    assert _objects(data, "function")["verify_triggers_sp_insert"]["state"] == "INSTALLED"
    assert data["healthy"] is False
    assert any("missing" in p for p in data["problems"])


def test_an_unknown_verify_triggers_trigger_is_reported_extra(installed, capsys):
    with installed.connect() as conn:
        conn.execute("CREATE TRIGGER verify_triggers_leftover AFTER INSERT ON app.products"
                     " FOR EACH STATEMENT EXECUTE FUNCTION app.verify_triggers_truncate()")
    data = run(capsys, "--database-url", installed.url(), "status", "--format", "json").json()
    leftover = next(o for o in data["objects"] if o["name"] == "verify_triggers_leftover")
    assert leftover["state"] == "EXTRA" and leftover["table"] == "products"
    assert data["healthy"] is False


def test_a_schema_whose_name_needs_quoting(db, capsys):
    schema = 'Shop "Data"'
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema)
        load_sql(conn, FIXTURES / "seed.sql", schema)
    db.upgrade(schema=schema)
    result = run(capsys, "--database-url", db.url(), "--schema", schema, "status", "--format", "json")
    assert result.code == 0, result.out
    assert {o["state"] for o in result.json()["objects"]} == {"INSTALLED"}
    # the default schema of the same database has the tables but nothing installed
    assert run(capsys, "--database-url", db.url(), "status").code == 1


def test_python_api_returns_data(installed):
    with installed.connect() as conn:
        st = status_mod.status(conn, "app")
    assert st.healthy and st.installed and st.applied == st.head
    assert all(o.state == status_mod.INSTALLED for o in st.objects)
    assert st.to_dict()["summary"].startswith("healthy")


def test_definitions_compare_equal_whatever_the_search_path(installed, capsys):
    """The server qualifies names only when search_path does not find them: a session
    whose search_path holds the schema still sees every object current."""
    with installed.connect() as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = app, public").format(
            sql.Identifier(installed.name)))
    with installed.connect() as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "app, public"
        definition = conn.execute("SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                                  " WHERE tgname = 'verify_triggers_product_renamed'").fetchone()[0]
        assert "EXECUTE FUNCTION verify_triggers_product_renamed()" in definition  # unqualified
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 0, result.out
    assert {o["state"] for o in result.json()["objects"]} == {"INSTALLED"}


def test_an_invalid_index_is_reported(installed, capsys):
    with installed.connect() as conn:  # what a failed CREATE INDEX CONCURRENTLY leaves
        conn.execute("UPDATE pg_index SET indisvalid = false"
                     " WHERE indexrelid = 'app.verify_triggers_suppliers_name_idx'::regclass")
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 1
    index = _objects(result.json(), "index")["verify_triggers_suppliers_name_idx"]
    assert index["state"] == "INVALID" and "REINDEX INDEX CONCURRENTLY" in index["detail"]


def test_a_trigger_on_the_wrong_table_is_missing_there_and_extra_elsewhere(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TRIGGER verify_triggers_sp_delete ON app.supplier_products")
        conn.execute("CREATE TRIGGER verify_triggers_sp_delete AFTER DELETE ON app.products"
                     " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
                     " EXECUTE FUNCTION app.verify_triggers_sp_delete()")
    data = run(capsys, "--database-url", installed.url(), "status", "--format", "json").json()
    found = [(o["table"], o["state"]) for o in data["objects"]
             if o["kind"] == "trigger" and o["name"] == "verify_triggers_sp_delete"]
    assert sorted(found) == [("products", "EXTRA"), ("supplier_products", "MISSING")]


def test_a_recorded_revision_whose_objects_were_dropped(installed, capsys):
    head = migrations_api.head_revision()
    with installed.connect() as conn:
        # every revision's objects, newest first, the version table kept
        conn.execute(resources.render("triggers/0002_uninstall.sql", "app"))
        conn.execute(resources.render("triggers/0001_uninstall.sql", "app"))
        for index in manifest.expected(head, "app").indexes:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}.{}").format(sql.Identifier("app"),
                                                                      sql.Identifier(index)))
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 1
    assert result.err_lines == [
        f"verify-triggers: revision {head} is recorded in schema 'app' but none of its objects exists: "
        "reinstall it (verify-triggers downgrade base, then verify-triggers upgrade)"]


def test_an_index_the_application_already_has_is_shown_as_served_by_it(installed, capsys):
    """0002 builds no index of its own on supplier_products (local_product_id) when the
    application has one; status says which index stands in, so nobody looks for ours."""
    with installed.connect() as conn:
        ours = conn.execute("SELECT to_regclass('app.verify_triggers_sp_match_idx')").fetchone()[0]
    assert ours is None
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 0, result.out
    line = next(l for l in result.out.splitlines() if "verify_triggers_sp_match_idx" in l)
    assert line.split()[0] == "INSTALLED"
    assert "not needed: the application's ix_supplier_products_local_product_id serves it" in line
