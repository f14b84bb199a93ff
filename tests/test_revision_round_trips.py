"""Moving between revisions: each downgrade leaves exactly what a fresh install of the revision
before it leaves, whether or not the application has the indexes the sync looks up with; an
upgrade from any earlier revision rewrites no row and keeps the rule, before, during and after.
"""

import hashlib

import pytest

from clirun import applied_versions, drop_host_indexes, sheet_versions
from helpers import FIXTURES, load_sql, match_id, set_confirmed, verification
from rule import SYNC, assert_rule, people_verifications, sheet

HEAD = "0009"

# The sync's own indexes at each revision, with the application's indexes (tests/fixtures/
# schema.sql) and with none of them (only keys and unique constraints): written out here.
OWN_INDEXES = {
    ("0001", True): {"verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx"},
    ("0001", False): {"verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx"},
    ("0002", True): {"verify_triggers_suppliers_name_idx"},
    ("0002", False): {"verify_triggers_suppliers_name_idx", "verify_triggers_sp_match_idx"},
    ("0003", True): set(),
    ("0003", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0004", True): set(),
    ("0004", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0005", True): set(),
    ("0005", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0006", True): set(),
    ("0006", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0007", True): set(),
    ("0007", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0008", True): set(),
    ("0008", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
    ("0009", True): set(),
    ("0009", False): {"verify_triggers_sp_match_idx", "verify_triggers_sp_supplier_idx",
                      "verify_triggers_suppliers_name_idx"},
}
PREVIOUS = {"0002": "0001", "0003": "0002", "0004": "0003", "0005": "0004", "0006": "0005", "0007": "0006",
            "0008": "0007", "0009": "0008"}


def catalog(conn, schema: str = "app") -> dict:
    """Everything a migration can leave in ``schema``, as the server prints it back."""
    functions = conn.execute(
        """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               p.proacl::text, obj_description(p.oid, 'pg_proc')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s
        ORDER BY 1, 2
        """, (schema,)).fetchall()
    triggers = conn.execute(
        """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal
        ORDER BY 1, 2
        """, (schema,)).fetchall()
    indexes = conn.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s
        ORDER BY 1
        """, (schema,)).fetchall()
    relations = conn.execute(
        """
        SELECT c.relname, c.relkind, c.reloptions, c.relacl::text, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'S', 'v', 'm', 'p')
        ORDER BY 1
        """, (schema,)).fetchall()
    return {"functions": functions, "triggers": triggers, "indexes": indexes, "relations": relations}


def own_indexes(found: dict) -> set[str]:
    return {r[0] for r in found["indexes"] if r[0].startswith("verify_triggers_") and r[0].endswith("_idx")}


@pytest.mark.parametrize("application_indexes", [True, False],
                         ids=["application-indexes", "no-application-indexes"])
@pytest.mark.parametrize("revision", ["0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"])
def test_a_downgrade_leaves_exactly_a_fresh_install_of_the_revision_before(seeded, make_db, revision,
                                                                           application_indexes):
    """Functions, triggers, indexes, tables and their options, ACLs and comments after
    previous -> revision -> previous are those of a database upgraded straight to previous."""
    previous = PREVIOUS[revision]
    fresh = make_db()
    for database in (seeded, fresh):
        with database.connect() as conn:
            if database is fresh:
                load_sql(conn, FIXTURES / "seed.sql")
            if not application_indexes:
                assert drop_host_indexes(conn)
    fresh.upgrade(previous)

    seeded.upgrade(previous)
    with seeded.connect() as conn:
        at_previous = catalog(conn)
    seeded.upgrade(revision)
    with seeded.connect() as conn:
        at_revision = catalog(conn)
        assert applied_versions(conn) == [revision]
    seeded.downgrade(previous)

    with seeded.connect() as conn, fresh.connect() as reference:
        after = catalog(conn)
        assert applied_versions(conn) == [previous]
        expected = catalog(reference)
    # the upgrade did change things, so the comparison below compares something
    assert at_revision != at_previous
    assert own_indexes(at_previous) == OWN_INDEXES[(previous, application_indexes)]
    assert own_indexes(at_revision) == OWN_INDEXES[(revision, application_indexes)]
    for kind in ("functions", "triggers", "indexes", "relations"):
        assert after[kind] == expected[kind], kind
        assert after[kind] == at_previous[kind], kind
    assert all(r[2] and r[3] for r in after["indexes"])  # valid and ready


def test_what_0002_adds_over_0001(seeded):
    seeded.upgrade("0001")
    with seeded.connect() as conn:
        at_0001 = catalog(conn)
    seeded.upgrade("0002")
    with seeded.connect() as conn:
        at_0002 = catalog(conn)
    added = {r[1] for r in at_0002["triggers"]} - {r[1] for r in at_0001["triggers"]}
    assert added == {"verify_triggers_sp_changed", "verify_triggers_sheet_changed"}
    assert {"verify_triggers_sync_one", "verify_triggers_never_called"} <= (
        {r[0] for r in at_0002["functions"]} - {r[0] for r in at_0001["functions"]})


def test_what_0003_adds_over_0002(seeded):
    seeded.upgrade("0002")
    with seeded.connect() as conn:
        at_0002 = catalog(conn)
    seeded.upgrade("0003")
    with seeded.connect() as conn:
        at_0003 = catalog(conn)
    assert {r[0] for r in at_0003["relations"]} - {r[0] for r in at_0002["relations"]} == {
        "verify_triggers_objects"}
    # the same fourteen triggers, redefined
    assert {r[1] for r in at_0003["triggers"]} == {r[1] for r in at_0002["triggers"]}
    assert len(at_0003["triggers"]) == 14
    assert at_0003["triggers"] != at_0002["triggers"]


def test_what_0004_takes_from_0003(seeded):
    seeded.upgrade("0003")
    with seeded.connect() as conn:
        at_0003 = catalog(conn)
    seeded.upgrade("0004")
    with seeded.connect() as conn:
        at_0004 = catalog(conn)
    # the marking row triggers and the functions of their WHEN clauses go; nothing is added
    assert {r[1] for r in at_0003["triggers"]} - {r[1] for r in at_0004["triggers"]} == {
        "verify_triggers_sp_changed", "verify_triggers_sheet_changed"}
    assert {r[1] for r in at_0004["triggers"]} < {r[1] for r in at_0003["triggers"]}
    assert {r[0] for r in at_0003["functions"]} - {r[0] for r in at_0004["functions"]} == {
        "verify_triggers_mark", "verify_triggers_differs", "verify_triggers_sp_differs",
        "verify_triggers_sheet_differs"}
    assert {r[0] for r in at_0004["functions"]} < {r[0] for r in at_0003["functions"]}
    assert at_0004["indexes"] == at_0003["indexes"]
    assert {r[0] for r in at_0004["relations"]} == {r[0] for r in at_0003["relations"]}


def test_what_0005_changes_from_0004(seeded):
    seeded.upgrade("0004")
    with seeded.connect() as conn:
        at_0004 = catalog(conn)
    seeded.upgrade("0005")
    with seeded.connect() as conn:
        at_0005 = catalog(conn)
    before = {(r[0], r[1]): r[2:] for r in at_0004["functions"]}
    after = {(r[0], r[1]): r[2:] for r in at_0005["functions"]}
    # one function added (the bucket lock both multi-pair paths now call), none dropped
    assert set(after) - set(before) == {("verify_triggers_lock_buckets", "p_skus text[], p_supplier_names text[]")}
    assert set(before) < set(after)
    # three redefined: the callers of the bucket lock, and the sheets' UPDATE trigger (hash join)
    assert {key[0] for key in before if before[key] != after[key]} == {
        "verify_triggers_sync_pairs", "verify_triggers_sheet_insert", "verify_triggers_sheet_update"}
    assert "enable_mergejoin TO 'off'" in after[("verify_triggers_sheet_update", "")][0]
    # the same triggers, indexes and tables
    assert at_0005["triggers"] == at_0004["triggers"]
    assert at_0005["indexes"] == at_0004["indexes"]
    assert {r[0] for r in at_0005["relations"]} == {r[0] for r in at_0004["relations"]}


def test_what_0006_changes_from_0005(seeded):
    seeded.upgrade("0005")
    with seeded.connect() as conn:
        at_0005 = catalog(conn)
    seeded.upgrade("0006")
    with seeded.connect() as conn:
        at_0006 = catalog(conn)
    before = {(r[0], r[1]): r[2:] for r in at_0005["functions"]}
    after = {(r[0], r[1]): r[2:] for r in at_0006["functions"]}
    # the same functions; one redefined: the import's, which joins the sheets to nothing
    assert set(after) == set(before)
    assert {key[0] for key in before if before[key] != after[key]} == {"verify_triggers_sheet_insert"}
    assert "sh.id = ANY(to_verify)" in after[("verify_triggers_sheet_insert", "")][0]
    # the same triggers, indexes and tables
    assert at_0006["triggers"] == at_0005["triggers"]
    assert at_0006["indexes"] == at_0005["indexes"]
    assert {r[0] for r in at_0006["relations"]} == {r[0] for r in at_0005["relations"]}


def test_what_0007_changes_from_0006(seeded):
    seeded.upgrade("0006")
    with seeded.connect() as conn:
        at_0006 = catalog(conn)
    seeded.upgrade("0007")
    with seeded.connect() as conn:
        at_0007 = catalog(conn)
    before = {(r[0], r[1]): r[2:] for r in at_0006["functions"]}
    after = {(r[0], r[1]): r[2:] for r in at_0007["functions"]}
    # one function more: the names lookup by key, used by the supplier_products triggers
    assert set(after) - set(before) == {("verify_triggers_names", "p_product_id bigint, p_supplier_id bigint")}
    assert set(before) <= set(after)
    # four redefined: the two that read the written matches' names, the renames, the multi-pair sync
    assert {key[0] for key in before if before[key] != after[key]} == {
        "verify_triggers_sp_rows", "verify_triggers_sp_update", "verify_triggers_renamed",
        "verify_triggers_sync_pairs"}
    for name in ("verify_triggers_sp_rows", "verify_triggers_sp_update"):
        assert 'JOIN LATERAL "app".verify_triggers_names(' in after[(name, "")][0]
        assert 'INNER JOIN "app".products' not in after[(name, "")][0]
    assert "sh.id = ANY(to_verify)" in after[("verify_triggers_sync_pairs", "p_skus text[], p_supplier_names text[]")][0]
    # the same triggers, indexes and tables
    assert at_0007["triggers"] == at_0006["triggers"]
    assert at_0007["indexes"] == at_0006["indexes"]
    assert {r[0] for r in at_0007["relations"]} == {r[0] for r in at_0006["relations"]}


def test_what_0008_changes_from_0007(seeded):
    seeded.upgrade("0007")
    with seeded.connect() as conn:
        at_0007 = catalog(conn)
        token_0007 = conn.execute("SELECT app.verify_triggers_sync_token(), pg_current_xact_id()").fetchone()
        secret = conn.execute("SELECT generation FROM app.verify_triggers_lock WHERE bucket = -2").fetchone()[0]
    seeded.upgrade("0008")
    with seeded.connect() as conn:
        at_0008 = catalog(conn)
        # the same secret, in the same place, the same formula: one token, read two ways
        assert conn.execute("SELECT generation FROM app.verify_triggers_lock WHERE bucket = -2").fetchone()[0] == secret
        token_0008 = conn.execute(
            "SELECT app.verify_triggers_sync_token(), (SELECT t.token FROM app.verify_triggers_token() AS t),"
            " md5(%s::text || ':' || pg_current_xact_id()::text)", (secret,)).fetchone()
        assert token_0008[0] == token_0008[1] == token_0008[2]
    assert token_0007[0] == hashlib.md5(f"{secret}:{token_0007[1]}".encode()).hexdigest()
    before = {(r[0], r[1]): r[2:] for r in at_0007["functions"]}
    after = {(r[0], r[1]): r[2:] for r in at_0008["functions"]}
    # one function more: the token as a row, which the planner inlines where it is read
    assert set(after) - set(before) == {("verify_triggers_token", "")}
    assert set(before) <= set(after)
    token = after[("verify_triggers_token", "")][0]
    assert "LANGUAGE sql" in token and "SECURITY DEFINER" not in token and " SET " not in token
    # five redefined: the token function reads it; the single-row sync reads it in the bucket
    # row's UPDATE and runs with its callers' settings; they pin the plan cache for it; the
    # sheets' trigger checks it with a query instead of a call
    assert {key[0] for key in before if before[key] != after[key]} == {
        "verify_triggers_sync_token", "verify_triggers_sync_one", "verify_triggers_sp_rows",
        "verify_triggers_sp_update", "verify_triggers_sheet_update"}
    sync_one = after[("verify_triggers_sync_one", "p_sku text, p_supplier_name text")][0]
    assert sync_one.split("AS $function$")[0].split("LANGUAGE plpgsql")[1].strip() == ""
    assert 'RETURNING (SELECT t.token FROM "app".verify_triggers_token() AS t) INTO token' in sync_one
    assert "verify_triggers_sync_token()" not in after[("verify_triggers_sheet_update", "")][0]
    for name in ("verify_triggers_sp_rows", "verify_triggers_sp_update"):
        assert "plan_cache_mode TO 'force_generic_plan'" in after[(name, "")][0]
    # the same triggers, indexes and tables
    assert at_0008["triggers"] == at_0007["triggers"]
    assert at_0008["indexes"] == at_0007["indexes"]
    assert at_0008["relations"] == at_0007["relations"]


def test_what_0009_changes_from_0008(seeded):
    seeded.upgrade("0008")
    with seeded.connect() as conn:
        at_0008 = catalog(conn)
        token_0008 = conn.execute("SELECT app.verify_triggers_sync_token(), pg_current_xact_id()").fetchone()
        secret = conn.execute("SELECT generation FROM app.verify_triggers_lock WHERE bucket = -2").fetchone()[0]
    seeded.upgrade("0009")
    with seeded.connect() as conn:
        at_0009 = catalog(conn)
        # the same secret, in the same place, the same formula
        assert conn.execute("SELECT generation FROM app.verify_triggers_lock WHERE bucket = -2").fetchone()[0] == secret
        token_0009 = conn.execute(
            "SELECT app.verify_triggers_sync_token(), app.verify_triggers_secret(),"
            " md5(%s::text || ':' || pg_current_xact_id()::text)", (secret,)).fetchone()
        assert token_0009[0] == token_0009[2] and token_0009[1] == str(secret)
    assert token_0008[0] == hashlib.md5(f"{secret}:{token_0008[1]}".encode()).hexdigest()
    before = {(r[0], r[1]): r[2:] for r in at_0008["functions"]}
    after = {(r[0], r[1]): r[2:] for r in at_0009["functions"]}
    # one function added, the secret; one gone, 0008's token as a row
    assert set(after) - set(before) == {("verify_triggers_secret", "")}
    assert set(before) - set(after) == {("verify_triggers_token", "")}
    secret_fn = after[("verify_triggers_secret", "")][0]
    assert " IMMUTABLE" in secret_fn and "SECURITY DEFINER" not in secret_fn and " SET " not in secret_fn
    # the token an SQL expression the planner inlines: no SECURITY DEFINER, no SET
    token_fn = after[("verify_triggers_sync_token", "")][0]
    assert "LANGUAGE sql" in token_fn and " STABLE" in token_fn
    assert "SECURITY DEFINER" not in token_fn and " SET " not in token_fn
    # three redefined: the token; the single-row sync sets it without reading the lock table;
    # the sheets' trigger checks it with an expression
    assert {key[0] for key in before if key in after and before[key] != after[key]} == {
        "verify_triggers_sync_token", "verify_triggers_sync_one", "verify_triggers_sheet_update"}
    sync_one = after[("verify_triggers_sync_one", "p_sku text, p_supplier_name text")][0]
    assert "RETURNING" not in sync_one and '"app".verify_triggers_sync_token()' in sync_one
    sheet_update = after[("verify_triggers_sheet_update", "")][0]
    assert 'IF syncing = "app".verify_triggers_sync_token() THEN' in sheet_update
    # the same triggers, indexes and tables
    assert at_0009["triggers"] == at_0008["triggers"]
    assert at_0009["indexes"] == at_0008["indexes"]
    assert at_0009["relations"] == at_0008["relations"]


@pytest.mark.parametrize("start", ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"])
def test_the_rule_holds_across_the_upgrade_from_an_earlier_revision_with_data(seeded, start):
    seeded.upgrade(start)
    with seeded.connect() as conn:
        assert_rule(conn)
        # writes at the earlier revision: a confirm, and a verification made by a person
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
                     " verified_at = '2025-10-15 01:35+03' WHERE sku = 'EMG411' AND supplier_name = 'WANKE'")
        assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
        people = people_verifications(conn)
        assert people
        before = conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
        versions_before = sheet_versions(conn)
        assert_rule(conn, people)

    seeded.upgrade()
    with seeded.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        # no row rewritten by the upgrade, every row still right
        assert conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall() == before
        assert sheet_versions(conn) == versions_before
        assert_rule(conn, people)
        # and head's triggers keep it: unconfirm what the earlier revision confirmed, confirm again
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), False)
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
        set_confirmed(conn, match_id(conn, "BMX136", "PAREK"), False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        set_confirmed(conn, match_id(conn, "AUR516", "WANKE"), True)
        assert verification(conn, "AUR516", "WANKE") == (True, SYNC)
        assert_rule(conn, people)

    seeded.downgrade(start)
    with seeded.connect() as conn:  # and the earlier revision's functions work again
        assert applied_versions(conn) == [start]
        set_confirmed(conn, match_id(conn, "BMX136", "PAREK"), True)
        assert verification(conn, "BMX136", "PAREK") == (True, SYNC)
        conn.execute("UPDATE app.products SET sku = 'AUR516-R' WHERE sku = 'AUR516'")
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
        assert_rule(conn, people)
