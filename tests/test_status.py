"""`verify-triggers status`: each object's state, against a real server.

What head installs is written out below, by hand, and the catalog is read with queries written
here: the package's own record of what it installed is what is under test, never the oracle.
Any change to a definition (a cast, a pair of parentheses, a trigger's WHEN, an option) reads
OUTDATED; a dropped object MISSING; a half-built index INVALID; an index the sync did not build
because the application's serves the same key names that index.
"""

import re

import pytest
from psycopg import sql

from clirun import drop_host_indexes, run
from helpers import FIXTURES, load_sql
from verify_triggers import status as status_mod

HEAD = "0009"

# Head's objects in the application's schema: triggers and their tables, functions with their
# identity arguments, tables, and for each index the sync needs the application's index that
# serves the same key in tests/fixtures/schema.sql.
HEAD_TRIGGERS = {
    "verify_triggers_product_delete": "products",
    "verify_triggers_product_renamed": "products",
    "verify_triggers_product_truncate": "products",
    "verify_triggers_sheet_insert": "product_supplier_sheets",
    "verify_triggers_sheet_update": "product_supplier_sheets",
    "verify_triggers_sp_delete": "supplier_products",
    "verify_triggers_sp_insert": "supplier_products",
    "verify_triggers_sp_truncate": "supplier_products",
    "verify_triggers_sp_update": "supplier_products",
    "verify_triggers_supplier_delete": "suppliers",
    "verify_triggers_supplier_renamed": "suppliers",
    "verify_triggers_supplier_truncate": "suppliers",
}
HEAD_FUNCTIONS = {
    "verify_triggers_bucket": "p_sku text, p_supplier_name text",
    "verify_triggers_bump_epoch": "",
    "verify_triggers_confirmation": "p_sku text, p_supplier_name text",
    "verify_triggers_deleted": "",
    "verify_triggers_epoch_key": "",
    "verify_triggers_lock_buckets": "p_skus text[], p_supplier_names text[]",
    "verify_triggers_lock_epoch": "",
    "verify_triggers_name_differs": "o anyelement, n anyelement",
    "verify_triggers_names": "p_product_id bigint, p_supplier_id bigint",
    "verify_triggers_renamed": "",
    "verify_triggers_secret": "",
    "verify_triggers_sheet_insert": "",
    "verify_triggers_sheet_update": "",
    "verify_triggers_sku_differs": "o anyelement, n anyelement",
    "verify_triggers_sp_rows": "",
    "verify_triggers_sp_update": "",
    "verify_triggers_sync": "p_skus text[]",
    "verify_triggers_sync_one": "p_sku text, p_supplier_name text",
    "verify_triggers_sync_pairs": "p_skus text[], p_supplier_names text[]",
    "verify_triggers_sync_token": "",
    "verify_triggers_truncate": "",
}
HEAD_TABLES = {"verify_triggers_lock", "verify_triggers_objects"}
SERVED_BY_THE_APPLICATION = {
    "verify_triggers_products_sku_idx": "products_sku_key",
    "verify_triggers_sheets_sku_idx": "ix_product_supplier_sheets_sku",
    "verify_triggers_sp_match_idx": "ix_supplier_products_local_product_id",
    "verify_triggers_sp_supplier_idx": "ix_supplier_products_supplier_id",
    "verify_triggers_suppliers_name_idx": "ix_suppliers_name",
}

# The sync's objects as the catalog holds them, read independently of the package.
CATALOG_OBJECTS = r"""
SELECT 'trigger', t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND t.tgname LIKE 'verify\_triggers\_%%'
UNION ALL
SELECT 'function', p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proname LIKE 'verify\_triggers\_%%'
UNION ALL
SELECT 'table', c.relname, NULL FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = 'r'
  AND c.relname LIKE 'verify\_triggers\_%%' AND c.relname <> 'verify_triggers_version'
"""


def all_installed_or_served(data: dict) -> bool:
    """Every trigger, function and table INSTALLED; every index INSTALLED, or SERVED by one of
    the application's (then it names that index)."""
    return all(o["state"] == "INSTALLED" or (o["kind"] == "index" and o["state"] == "SERVED"
                                             and "the application's" in o["detail"])
               for o in data["objects"])


def catalog_objects(conn, schema: str = "app") -> set[tuple]:
    """(kind, name, table or identity arguments) of the sync's triggers, functions, tables."""
    return set(conn.execute(CATALOG_OBJECTS, {"schema": schema}).fetchall())


def head_objects() -> set[tuple]:
    return ({("trigger", n, t) for n, t in HEAD_TRIGGERS.items()}
            | {("function", n, a) for n, a in HEAD_FUNCTIONS.items()}
            | {("table", n, None) for n in HEAD_TABLES})


def listed(data) -> set[tuple]:
    """The same triple for each trigger, function and table status lists."""
    out = set()
    for o in data["objects"]:
        if o["kind"] == "trigger":
            out.add(("trigger", o["name"], o["table"]))
        elif o["kind"] == "function":
            out.add(("function", o["name"], o["args"]))
        elif o["kind"] == "table":
            out.add(("table", o["name"], None))
    return out


def status_json(capsys, database, schema: str = "app") -> tuple[int, dict]:
    result = run(capsys, "--database-url", database.url(), "--schema", schema, "status", "--format", "json")
    return result.code, result.json()


def lines_of(data, kind: str, name: str) -> list[dict]:
    return [o for o in data["objects"] if o["kind"] == kind and o["name"] == name]


def the(data, kind: str, name: str) -> dict:
    """The one line of ``name``: an object is listed once."""
    found = lines_of(data, kind, name)
    assert len(found) == 1, found
    return found[0]


def states(data, kind: str | None = None) -> dict:
    return {o["name"]: o["state"] for o in data["objects"] if kind is None or o["kind"] == kind}


def only_unhealthy(data) -> dict:
    return {(o["kind"], o["name"]): o["state"] for o in data["objects"] if not o["healthy"]}


def replace_function(conn, signature: str, old: str, new: str) -> None:
    """CREATE OR REPLACE a function with ``old`` replaced by ``new`` in the server's own
    rendering of its definition, and make sure the server renders the result differently."""
    before = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", (signature,)).fetchone()[0]
    assert old in before, before
    conn.execute(before.replace(old, new, 1))
    after = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", (signature,)).fetchone()[0]
    assert after != before


# --- a healthy install ---------------------------------------------------------------------


def test_a_fresh_install_is_healthy_and_lists_exactly_heads_objects(installed, capsys):
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 0, result.out + result.err
    assert result.err == ""
    assert f"revision: {HEAD} applied, head {HEAD}" in result.out
    assert "verify_triggers_sp_update on supplier_products" in result.out
    assert "verify_triggers_sync(p_skus text[])" in result.out
    assert result.out.rstrip().splitlines()[-1] == (
        f"healthy: 12 triggers, 21 functions, 2 tables installed, enabled and current"
        f" at revision {HEAD} (head); 5 lookups served by the application's own indexes")

    code, data = status_json(capsys, installed)
    assert code == 0
    assert data["healthy"] is True and data["installed"] is True
    assert data["applied"] == data["head"] == HEAD
    assert data["problems"] == [] and data["missing"] == []
    assert {o["state"] for o in data["objects"] if o["kind"] != "index"} == {"INSTALLED"}
    assert {o["state"] for o in data["objects"] if o["kind"] == "index"} == {"SERVED"}
    assert listed(data) == head_objects()
    assert len(data["objects"]) == len(HEAD_TRIGGERS) + len(HEAD_FUNCTIONS) + len(HEAD_TABLES) + 5
    assert {o["name"] for o in data["objects"] if o["kind"] == "index"} == set(SERVED_BY_THE_APPLICATION)


def test_status_lists_what_the_catalog_holds(installed, capsys):
    with installed.connect() as conn:
        in_catalog = catalog_objects(conn)
    assert in_catalog == head_objects()
    _, data = status_json(capsys, installed)
    assert listed(data) == in_catalog


def test_an_index_the_sync_never_built_reads_served_by_the_applications_not_installed(installed, capsys):
    """The sync builds no index of its own where the application's serves the same key. Status
    does not call the unbuilt index INSTALLED: it reads SERVED and names the application's
    index that stands in, so nobody looks for the sync's."""
    with installed.connect() as conn:
        ours = conn.execute("SELECT count(*) FROM pg_class WHERE relkind = 'i'"
                            " AND relname LIKE 'verify\\_triggers\\_%\\_idx'").fetchone()[0]
    assert ours == 0
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 0, result.out
    for index, host in SERVED_BY_THE_APPLICATION.items():
        [line] = [line for line in result.out.splitlines() if f" {index} " in f"{line} "]
        assert line.split()[:2] == ["SERVED", "index"], line
        assert f"not built: the application's {host} serves it" in line


def test_an_index_the_sync_built_because_the_application_has_none(lean_db, capsys):
    """On the lean schema nothing serves suppliers (name): the sync builds its own index."""
    lean_db.upgrade()
    with lean_db.connect() as conn:
        definition = conn.execute(
            "SELECT pg_get_indexdef('app.verify_triggers_suppliers_name_idx'::regclass)").fetchone()[0]
    assert "ON app.suppliers USING btree (name)" in definition
    code, data = status_json(capsys, lean_db)
    assert code == 0, data
    index = the(data, "index", "verify_triggers_suppliers_name_idx")
    assert index["state"] == "INSTALLED" and "not built" not in index["detail"]
    assert {o["name"] for o in data["objects"] if o["kind"] == "index"} == set(SERVED_BY_THE_APPLICATION)


# --- not installed -------------------------------------------------------------------------


def test_not_installed_is_a_finding_with_one_line_on_stderr(seeded, capsys):
    result = run(capsys, "--database-url", seeded.url(), "status")
    assert result.code == 1
    assert result.err_lines == ["verify-triggers: not installed in schema 'app': run verify-triggers upgrade"]
    assert f"revision: none applied, head {HEAD}" in result.out


def test_after_downgrade_to_base_nothing_is_installed_or_listed(installed, capsys):
    installed.downgrade("base")
    code, data = status_json(capsys, installed)
    assert code == 1
    assert data["installed"] is False and data["applied"] is None
    assert data["objects"] == []
    assert data["summary"] == "not installed in schema 'app': run verify-triggers upgrade"


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_install_whose_triggers_pin_columns_says_what_a_column_change_needs(seeded, capsys, revision):
    seeded.upgrade(revision)
    code, data = status_json(capsys, seeded)
    [note] = data["notes"]
    assert "cannot alter type of a column used in a trigger definition" in note, note
    assert "triggers_lifted()" in note and "upgrade first" in note, note
    text = run(capsys, "--database-url", seeded.url(), "status")
    assert f"note: {note}" in text.out.splitlines()
    seeded.upgrade("head")
    assert status_json(capsys, seeded)[1]["notes"] == []


@pytest.mark.parametrize("revision, counts", [
    ("0001", {"trigger": 12, "function": 15, "table": 1, "index": 2}),
    ("0002", {"trigger": 14, "function": 17, "table": 1, "index": 2}),
])
def test_an_earlier_revision_is_current_and_the_only_finding_is_the_upgrade(seeded, capsys, revision,
                                                                              counts):
    seeded.upgrade(revision)
    code, data = status_json(capsys, seeded)
    assert code == 1
    assert data["applied"] == revision and data["head"] == HEAD
    assert data["problems"] == [f"revision {revision} applied, head is {HEAD}: run verify-triggers upgrade"]
    assert all_installed_or_served(data)
    by_kind: dict[str, int] = {}
    for o in data["objects"]:
        by_kind[o["kind"]] = by_kind.get(o["kind"], 0) + 1
    assert by_kind == counts
    with seeded.connect() as conn:
        assert listed(data) == catalog_objects(conn)
    seeded.upgrade()
    code, data = status_json(capsys, seeded)
    assert code == 0 and data["applied"] == HEAD and listed(data) == head_objects()


# --- what the sync needs is missing ------------------------------------------------------


@pytest.mark.parametrize("damage, named", [
    ("ALTER TABLE app.product_supplier_sheets RENAME COLUMN verified_at TO verified_on",
     "column product_supplier_sheets.verified_at"),
    ("ALTER TABLE app.supplier_products DROP COLUMN manual_confirmed", "column supplier_products.manual_confirmed"),
    ("DROP TABLE app.product_supplier_sheets", "table product_supplier_sheets"),
])
def test_a_missing_table_or_column_is_an_unhealthy_install_with_the_fix(installed, capsys, damage, named):
    with installed.connect() as conn:
        conn.execute(damage)
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 1
    expected = (f"schema 'app' lacks {named}, which the sync needs: restore it (a migration dropped"
                " or renamed it), then run verify-triggers upgrade")
    assert result.err_lines == [f"verify-triggers: {expected}"]
    code, data = status_json(capsys, installed)
    assert code == 1 and data["healthy"] is False
    assert data["missing"] == [named]
    assert expected in data["problems"]


def test_every_object_dropped_with_the_version_row_kept(installed, capsys):
    with installed.connect() as conn:
        for (signature,) in conn.execute(
                "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE 'verify\\_triggers\\_%'"
                " AND pronamespace = 'app'::regnamespace").fetchall():
            conn.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")  # its triggers with it
        conn.execute("DROP TABLE app.verify_triggers_lock, app.verify_triggers_objects")
        assert catalog_objects(conn) == set()
    result = run(capsys, "--database-url", installed.url(), "status", "--format", "json")
    assert result.code == 1
    data = result.json()
    assert data["installed"] is False, "none of the sync's own objects exists"
    assert data["healthy"] is False
    sync_own = {(o["kind"], o["name"]): o["state"] for o in data["objects"]
                if o["state"] != "SERVED"}
    assert set(sync_own.values()) == {"MISSING"}
    assert {name for kind, name in sync_own if kind != "index"} == (
        set(HEAD_TRIGGERS) | set(HEAD_FUNCTIONS) | HEAD_TABLES)
    assert any("run verify-triggers upgrade" in p for p in data["problems"])
    table = run(capsys, "--database-url", installed.url(), "status")
    assert table.code == 1
    assert len(table.err_lines) == 1 and "run verify-triggers upgrade" in table.err_lines[0]


def test_objects_without_their_version_table_are_to_be_taken_over(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TABLE app.verify_triggers_version")
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == 1
    assert result.err_lines == [
        "verify-triggers: UNHEALTHY: the sync's objects are in schema 'app' but its version table"
        " (verify_triggers_version) is missing: run verify-triggers upgrade to take them over"]


def test_a_lost_record_of_the_install_is_unhealthy(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TABLE app.verify_triggers_objects")
    code, data = status_json(capsys, installed)
    assert code == 1
    assert the(data, "table", "verify_triggers_objects")["state"] == "MISSING"
    assert any("verify_triggers_objects" in p and "run verify-triggers upgrade" in p for p in data["problems"])


# --- any change reads OUTDATED ---------------------------------------------------------------


# One change per function, each the smallest a reader could miss: a pair of parentheses, a
# cast, a constant, an option.
FUNCTION_EDITS = {
    # PL/pgSQL: one pair of parentheses more
    "verify_triggers_bump_epoch": ("app.verify_triggers_bump_epoch()", "l.generation + 1", "(l.generation + 1)"),
    # a SQL function in a string: one pair of parentheses more
    "verify_triggers_sku_differs": ("app.verify_triggers_sku_differs(anyelement, anyelement)",
                                    "(o.sku OPERATOR(pg_catalog.=) n.sku)",
                                    "((o.sku OPERATOR(pg_catalog.=) n.sku))"),
    # a SQL-standard body: one cast more
    "verify_triggers_bucket": ("app.verify_triggers_bucket(text, text)", "(p_sku || chr(31))",
                               "(p_sku || chr(31))::varchar"),
    # a SQL-standard body: another expression
    "verify_triggers_lock_epoch": ("app.verify_triggers_lock_epoch()", "'-1'::integer",
                                   "(0 - 1)"),
    # another constant
    "verify_triggers_epoch_key": ("app.verify_triggers_epoch_key()", "'verify_triggers.'::text",
                                  "'verify_triggers:'::text"),
}
FUNCTION_OPTIONS = {
    "verify_triggers_truncate": "ALTER FUNCTION app.verify_triggers_truncate() RESET search_path",
    "verify_triggers_sync": "ALTER FUNCTION app.verify_triggers_sync(text[]) SECURITY INVOKER",
    "verify_triggers_sync_one": "ALTER FUNCTION app.verify_triggers_sync_one(text, text) SET statement_timeout = '5s'",
    "verify_triggers_name_differs": "ALTER FUNCTION app.verify_triggers_name_differs(anyelement, anyelement) VOLATILE",
}


def test_any_change_to_a_function_reads_outdated(installed, capsys):
    with installed.connect() as conn:
        for signature, old, new in FUNCTION_EDITS.values():
            replace_function(conn, signature, old, new)
        for statement in FUNCTION_OPTIONS.values():
            conn.execute(statement)
    code, data = status_json(capsys, installed)
    assert code == 1 and data["healthy"] is False
    changed = set(FUNCTION_EDITS) | set(FUNCTION_OPTIONS)
    assert only_unhealthy(data) == {("function", name): "OUTDATED" for name in changed}
    for name in changed:
        line = the(data, "function", name)
        assert f"differs from what revision {HEAD} installed" in line["detail"], line
        assert "run verify-triggers upgrade" in line["detail"], line
    [problem] = data["problems"]
    assert problem.startswith(f"{len(changed)} outdated: "), problem


def recreate_trigger(conn, name: str, table: str, old: str, new: str) -> None:
    """Drop a trigger and create it again from the server's rendering with ``old`` replaced."""
    before = conn.execute("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = %s"
                          " AND tgrelid = %s::regclass", (name, f"app.{table}")).fetchone()[0]
    assert re.search(old, before), before
    conn.execute(f"DROP TRIGGER {name} ON app.{table}")
    conn.execute(re.sub(old, new, before, count=1))


# One change per trigger: its WHEN, its events, the function it runs.
TRIGGER_EDITS = {
    # the WHEN's arguments swapped
    "verify_triggers_product_renamed": ("products", r"\(old\.\*, new\.\*\)", "(new.*, old.*)"),
    # the WHEN with one condition more
    "verify_triggers_supplier_renamed": ("suppliers", r"\(old\.\*, new\.\*\)\)",
                                         "(old.*, new.*) AND new.id IS NOT NULL)"),
    # its transition table renamed
    "verify_triggers_sp_update": ("supplier_products", "OLD TABLE AS old_rows", "OLD TABLE AS previous_rows"),
    # a FOR EACH ROW trigger instead of a statement trigger
    "verify_triggers_sheet_insert": ("product_supplier_sheets", "FOR EACH STATEMENT", "FOR EACH ROW"),
    # another function
    "verify_triggers_sp_insert": ("supplier_products", r"EXECUTE FUNCTION .*$",
                                  "EXECUTE FUNCTION app.verify_triggers_sheet_insert()"),
}


def test_any_change_to_a_trigger_reads_outdated(installed, capsys):
    with installed.connect() as conn:
        for name, (table, old, new) in TRIGGER_EDITS.items():
            recreate_trigger(conn, name, table, old, new)
    code, data = status_json(capsys, installed)
    assert code == 1
    assert only_unhealthy(data) == {("trigger", name): "OUTDATED" for name in TRIGGER_EDITS}
    for name, (table, _, _) in TRIGGER_EDITS.items():
        assert the(data, "trigger", name)["table"] == table


def test_a_dropped_trigger_is_missing(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TRIGGER verify_triggers_supplier_renamed ON app.suppliers")
    assert run(capsys, "--database-url", installed.url(), "status").code == 1
    code, data = status_json(capsys, installed)
    assert only_unhealthy(data) == {("trigger", "verify_triggers_supplier_renamed"): "MISSING"}
    assert the(data, "function", "verify_triggers_renamed")["state"] == "INSTALLED"
    assert data["healthy"] is False
    assert data["problems"] == ["1 missing: verify_triggers_supplier_renamed"]


def test_an_object_the_revision_defines_is_missing_even_when_its_record_lacks_it(installed, capsys):
    """The record holds what the catalog held at install: an upgrade that found an object
    already gone recorded nothing of it. What the revision defines is expected all the same."""
    with installed.connect() as conn:
        conn.execute("DROP TABLE app.verify_triggers_lock")
        conn.execute("DROP FUNCTION app.verify_triggers_sync(text[])")
        conn.execute("DROP TRIGGER verify_triggers_sp_update ON app.supplier_products")
        deleted = conn.execute(
            "DELETE FROM app.verify_triggers_objects WHERE (kind, split_part(name, '(', 1)) IN"
            " (('table', 'verify_triggers_lock'), ('function', 'verify_triggers_sync'),"
            " ('trigger', 'verify_triggers_sp_update'))").rowcount
        assert deleted == 3
    code, data = status_json(capsys, installed)
    assert code == 1
    assert only_unhealthy(data) == {
        ("table", "verify_triggers_lock"): "MISSING",
        ("function", "verify_triggers_sync"): "MISSING",
        ("trigger", "verify_triggers_sp_update"): "MISSING",
    }
    assert the(data, "trigger", "verify_triggers_sp_update")["table"] == "supplier_products"
    assert data["healthy"] is False


def test_a_trigger_on_the_wrong_table_is_missing_there_and_extra_elsewhere(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP TRIGGER verify_triggers_sp_delete ON app.supplier_products")
        conn.execute("CREATE TRIGGER verify_triggers_sp_delete AFTER DELETE ON app.products"
                     " REFERENCING OLD TABLE AS written_rows FOR EACH STATEMENT"
                     " EXECUTE FUNCTION app.verify_triggers_sp_rows()")
    _, data = status_json(capsys, installed)
    found = [(o["table"], o["state"]) for o in lines_of(data, "trigger", "verify_triggers_sp_delete")]
    assert sorted(found) == [("products", "EXTRA"), ("supplier_products", "MISSING")]


def test_an_unknown_verify_triggers_trigger_is_reported_extra(installed, capsys):
    with installed.connect() as conn:
        conn.execute("CREATE TRIGGER verify_triggers_leftover AFTER INSERT ON app.products"
                     " FOR EACH STATEMENT EXECUTE FUNCTION app.verify_triggers_truncate()")
    _, data = status_json(capsys, installed)
    leftover = the(data, "trigger", "verify_triggers_leftover")
    assert leftover["state"] == "EXTRA" and leftover["table"] == "products"
    assert data["healthy"] is False


# --- firing modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("alter, state, meaning, code", [
    ("DISABLE TRIGGER", "DISABLED", "never fires", 1),
    ("ENABLE REPLICA TRIGGER", "REPLICA-ONLY", "fires only in sessions with session_replication_role = replica", 1),
    ("ENABLE ALWAYS TRIGGER", "ALWAYS", "also in session_replication_role = replica", 0),
])
def test_trigger_modes_are_reported(installed, capsys, alter, state, meaning, code):
    with installed.connect() as conn:
        conn.execute(f"ALTER TABLE app.supplier_products {alter} verify_triggers_sp_update")
    result = run(capsys, "--database-url", installed.url(), "status")
    assert result.code == code, result.out
    line = next(l for l in result.out.splitlines() if "verify_triggers_sp_update on" in l)
    assert line.split()[0] == state
    assert meaning in line
    _, data = status_json(capsys, installed)
    others = {n: s for n, s in states(data).items() if n != "verify_triggers_sp_update"}
    assert {s for n, s in others.items() if not n.endswith("_idx")} == {"INSTALLED"}
    assert {s for n, s in others.items() if n.endswith("_idx")} == {"SERVED"}
    if code:
        assert "UNHEALTHY" in result.out and state.lower() in result.out


def test_disable_trigger_all_shows_every_trigger_of_the_table_disabled(installed, capsys):
    with installed.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER ALL")
    code, data = status_json(capsys, installed)
    assert code == 1
    sheet_triggers = {n for n, t in HEAD_TRIGGERS.items() if t == "product_supplier_sheets"}
    assert {(k, n) for k, n in only_unhealthy(data)} == {("trigger", n) for n in sheet_triggers}
    assert {states(data, "trigger")[n] for n in sheet_triggers} == {"DISABLED"}


# --- indexes ----------------------------------------------------------------------------------


def test_an_index_the_application_drops_turns_missing_until_upgrade_builds_the_syncs(installed, capsys):
    with installed.connect() as conn:
        conn.execute("DROP INDEX app.ix_suppliers_name")
    code, data = status_json(capsys, installed)
    assert code == 1
    index = the(data, "index", "verify_triggers_suppliers_name_idx")
    assert index["state"] == "MISSING"
    assert "no index serves the sync's lookups on suppliers" in index["detail"]
    assert only_unhealthy(data) == {("index", "verify_triggers_suppliers_name_idx"): "MISSING"}

    installed.upgrade()
    with installed.connect() as conn:
        definition = conn.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indexrelid = 'app.verify_triggers_suppliers_name_idx'::regclass AND i.indisvalid"
        ).fetchone()[0]
    assert "ON app.suppliers USING btree (name)" in definition
    code, data = status_json(capsys, installed)
    assert code == 0
    index = the(data, "index", "verify_triggers_suppliers_name_idx")
    assert index["state"] == "INSTALLED" and "not built" not in index["detail"]


def test_a_dropped_index_of_the_syncs_is_missing(lean_db, capsys):
    lean_db.upgrade()
    with lean_db.connect() as conn:
        conn.execute("DROP INDEX app.verify_triggers_suppliers_name_idx")
    code, data = status_json(capsys, lean_db)
    assert code == 1
    assert the(data, "index", "verify_triggers_suppliers_name_idx")["state"] == "MISSING"
    assert only_unhealthy(data) == {("index", "verify_triggers_suppliers_name_idx"): "MISSING"}
    assert data["problems"] == ["1 missing: verify_triggers_suppliers_name_idx"]


def test_an_invalid_index_is_reported_invalid(lean_db, capsys):
    lean_db.upgrade()
    with lean_db.connect() as conn:  # what a failed CREATE INDEX CONCURRENTLY leaves
        conn.execute("UPDATE pg_index SET indisvalid = false"
                     " WHERE indexrelid = 'app.verify_triggers_suppliers_name_idx'::regclass")
    code, data = status_json(capsys, lean_db)
    assert code == 1
    index = the(data, "index", "verify_triggers_suppliers_name_idx")
    assert index["state"] == "INVALID"
    assert "run verify-triggers upgrade" in index["detail"]
    assert data["problems"] == ["1 invalid: verify_triggers_suppliers_name_idx"]


def test_an_index_rebuilt_with_another_definition_is_outdated(lean_db, capsys):
    lean_db.upgrade()
    with lean_db.connect() as conn:
        conn.execute("DROP INDEX app.verify_triggers_suppliers_name_idx")
        conn.execute("CREATE INDEX verify_triggers_suppliers_name_idx ON app.suppliers (name, id)")
    code, data = status_json(capsys, lean_db)
    assert code == 1
    assert only_unhealthy(data) == {("index", "verify_triggers_suppliers_name_idx"): "OUTDATED"}


def test_with_none_of_the_applications_indexes_the_sync_builds_its_own(db, capsys):
    with db.connect() as conn:
        dropped = drop_host_indexes(conn)
    assert "ix_suppliers_name" in dropped
    db.upgrade()
    with db.connect() as conn:
        own = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE 'verify\\_triggers\\_%\\_idx' AND i.indisvalid")}
    # products (sku) is unique and the sheets' (sku, supplier_name) unique: those serve
    assert own == {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                   "verify_triggers_suppliers_name_idx"}
    code, data = status_json(capsys, db)
    assert code == 0, data
    details = {o["name"]: o["detail"] for o in data["objects"] if o["kind"] == "index"}
    assert details["verify_triggers_products_sku_idx"] == "not built: the application's products_sku_key serves it"
    assert details["verify_triggers_sheets_sku_idx"] == "not built: the application's uq_sheet_sku_supplier serves it"
    assert all("not built" not in details[name] for name in own)


# --- schemas and sessions -----------------------------------------------------------------------


def test_a_schema_whose_name_needs_quoting(db, capsys):
    schema = 'Shop "Data"'
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema)
        load_sql(conn, FIXTURES / "seed.sql", schema)
    db.upgrade(schema=schema)
    code, data = status_json(capsys, db, schema)
    assert code == 0, data
    assert all_installed_or_served(data)
    with db.connect() as conn:
        assert listed(data) == catalog_objects(conn, schema) == head_objects()
    # the default schema of the same database has the tables but nothing installed
    assert run(capsys, "--database-url", db.url(), "status").code == 1


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
        assert re.search(r"EXECUTE FUNCTION verify_triggers_renamed\(\)", definition)  # unqualified
    code, data = status_json(capsys, installed)
    assert code == 0, data
    assert all_installed_or_served(data)


def test_python_api_returns_data(installed):
    with installed.connect() as conn:
        st = status_mod.status(conn, "app")
    assert st.healthy and st.installed and st.applied == st.head == HEAD
    assert all_installed_or_served(st.to_dict())
    assert {o.state for o in st.objects if o.kind == "index"} == {status_mod.SERVED}
    assert st.to_dict()["summary"].startswith("healthy")
