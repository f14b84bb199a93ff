"""Logical replication delivers rows already synced; a partial publication drifts.

On an embedded PostgreSQL of its own with wal_level = logical, database vt_pub has the
sync installed and publishes the four tables; database vt_sub (same cluster) has the sync
installed too and subscribes. The apply worker runs with session_replication_role =
replica, so the subscriber's (ORIGIN-enabled) triggers do not fire: the sheet rows arrive
already synced from the publisher. Asserted: a confirm on the publisher verifies the row
there, the replicated row is verified on the subscriber, the subscriber's bucket
generations did not move (its triggers did not run), and check passes on both.
Then a subscription of supplier_products alone shows what a partial publication leaves:
drift on the subscriber that check reports (docs/operations.md).
"""

import time

import pytest
from psycopg import sql

from helpers import HANG_GUARD_S, SYNC, TABLES, Database, create_database
from rule import assert_rule, drift, sheet


@pytest.fixture
def logical_server(own_server):
    """A server of the test's own, restarted with wal_level = logical."""
    with own_server.connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET wal_level = logical")
    own_server.pg_ctl("-m", "fast", "-w", "stop")
    own_server.start_again()
    with own_server.connect() as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
    return own_server


def subscribe(pub: Database, sub: Database, name: str, tables) -> None:
    table_list = sql.SQL(", ").join(sql.Identifier("app", t) for t in tables)
    with pub.connect() as conn:
        conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), table_list))
        # a subscription to a database of the same cluster needs its slot made beforehand
        conn.execute("SELECT pg_catalog.pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    conninfo = f"host={pub.server.host} port={pub.server.port} user={pub.server.user} dbname={pub.name}"
    with sub.connect() as conn:
        conn.execute(sql.SQL(
            "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (create_slot = false, slot_name = {})"
        ).format(sql.Identifier(name), sql.Literal(conninfo), sql.Identifier(name), sql.Literal(name)))
        wait_for(conn, "SELECT coalesce(bool_and(srsubstate IN ('r', 's')), false) AND count(*) = %s FROM pg_catalog.pg_subscription_rel",
                 (len(tables),))


def wait_for(conn, query, params=()):
    """Poll until the query returns true; the deadline guards a hang, it is not a timing assertion."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not conn.execute(query, params).fetchone()[0]:
        if time.monotonic() > deadline:
            states = conn.execute("SELECT srrelid::regclass::text, srsubstate FROM pg_catalog.pg_subscription_rel").fetchall()
            raise AssertionError(f"never true: {query}; subscription states {states}")
        time.sleep(0.05)


def generations(conn) -> int:
    return conn.execute("SELECT sum(generation) FROM app.verify_triggers_lock").fetchone()[0]


def drop_subscription(sub: Database, name: str) -> None:
    with sub.connect() as conn:
        conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(sql.Identifier(name)))


def test_a_subscriber_receives_rows_already_synced_and_its_triggers_do_not_fire(logical_server, capsys):
    pub = create_database(logical_server, "vt_pub", seed=True, install=True)
    sub = create_database(logical_server, "vt_sub", seed=False, install=True)
    subscribe(pub, sub, "vt_all", TABLES)
    try:
        with pub.connect() as p, sub.connect() as s:
            assert sheet(s, "BMX136", "XINRUI")[:2] == (True, SYNC)  # the initial copy
            before = generations(s)
            p.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE supplier_id ="
                      " (SELECT id FROM app.suppliers WHERE name = 'WANKE')")
            published = sheet(p, "AUR516", "WANKE")
            assert published[:2] == (True, SYNC)
            wait_for(s, "SELECT is_verified FROM app.product_supplier_sheets"
                        " WHERE sku = 'AUR516' AND supplier_name = 'WANKE'")
            assert sheet(s, "AUR516", "WANKE") == published  # the publisher's stamp, replicated
            p.execute("UPDATE app.suppliers SET name = 'PAREK-2' WHERE name = 'PAREK'")
            wait_for(s, "SELECT count(*) = 1 FROM app.suppliers WHERE name = 'PAREK-2'")
            wait_for(s, "SELECT NOT is_verified FROM app.product_supplier_sheets"
                        " WHERE sku = 'BMX136' AND supplier_name = 'PAREK'")
            assert generations(s) == before, "the subscriber's triggers fired"
            assert_rule(p)
            assert_rule(s)
        for database in (pub, sub):
            result = database.cli(capsys, "check", "--format", "json")
            assert result.code == 0 and result.json()["ok"] is True, result.out
    finally:
        drop_subscription(sub, "vt_all")


def test_a_subscriber_of_supplier_products_alone_drifts_and_check_reports_it(logical_server, capsys):
    pub = create_database(logical_server, "vt_pub2", seed=True, install=True)
    sub = create_database(logical_server, "vt_sub2", seed=True, install=True)  # its own copy of the other tables
    with sub.connect() as s:
        s.execute("TRUNCATE app.supplier_products")  # the matches come from the publisher
    subscribe(pub, sub, "vt_matches", ["supplier_products"])
    try:
        # the initial copy ran without triggers too: a sync after it is the baseline
        assert sub.cli(capsys, "sync").code == 0
        with pub.connect() as p, sub.connect() as s:
            assert_rule(s)
            p.execute("UPDATE app.supplier_products SET manual_confirmed = true WHERE supplier_id ="
                      " (SELECT id FROM app.suppliers WHERE name = 'WANKE')")
            wait_for(s, "SELECT bool_and(manual_confirmed) FROM app.supplier_products")
            # the match arrived, the sync did not run: the subscriber's sheet row is not verified
            assert sheet(s, "AUR516", "WANKE")[0] is False
            assert [(r[1], r[2]) for r in drift(s)] == [("AUR516", "WANKE")]
        result = sub.cli(capsys, "check", "--format", "json")
        assert result.code == 1
        assert [(d["sku"], d["supplier_name"]) for d in result.json()["drift"]] == [("AUR516", "WANKE")]
        # the documented remedy on such a subscriber: run sync after the apply (or replicate all four)
        assert sub.cli(capsys, "sync").code == 0
        with sub.connect() as s:
            assert_rule(s)
    finally:
        drop_subscription(sub, "vt_matches")
