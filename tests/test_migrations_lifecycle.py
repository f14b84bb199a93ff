"""The migration lifecycle, run in-process through the package's Alembic configuration.

Upgrade installs and reconciles; a second upgrade changes nothing; downgrade removes every
object and keeps all data; upgrade, downgrade, upgrade works; the host application's
alembic_version is never created, read or written; the version table is
verify_triggers_version in the target schema; a schema whose name needs quoting works;
the precheck names what is missing and leaves nothing behind.
"""

import re
import threading
import time

import pytest

from conftest import FIXTURES, load_sql
from rule import assert_rule, drift, people_verifications, sheet
from verify_triggers import migrations_api
from verify_triggers.errors import VerifyTriggersError

SYNC = "verify-triggers"
VERSION_TABLE = "verify_triggers_version"

# Everything named verify_triggers_* in the catalog, in any schema: (kind, schema, name,
# definition, oid). Definitions make "unchanged" mean the same object, not one re-created.
OBJECTS = r"""
SELECT 'function', n.nspname, p.oid::regprocedure::text, pg_catalog.pg_get_functiondef(p.oid), p.oid::bigint
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'verify\_triggers%'
UNION ALL
SELECT 'trigger', n.nspname, c.relname || '.' || t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.oid::bigint
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname LIKE 'verify\_triggers%' AND NOT t.tgisinternal
UNION ALL
SELECT 'relation ' || c.relkind::text, n.nspname, c.relname,
       coalesce(pg_catalog.pg_get_indexdef(c.oid), ''), c.oid::bigint
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'verify\_triggers%'
"""


def objects(conn, schema: str | None = None) -> set[tuple]:
    rows = conn.execute(OBJECTS).fetchall()
    return {r for r in rows if schema is None or r[1] == schema}


def without_oids(found: set[tuple]) -> set[tuple]:
    return {r[:4] for r in found}


def is_version_table(row) -> bool:
    return row[2] in (VERSION_TABLE, f"{VERSION_TABLE}_pkc", f"{VERSION_TABLE}_pkey")


def table_data(conn, schema: str = "app") -> dict[str, list]:
    return {
        table: conn.execute(f"SELECT * FROM {schema}.{table} ORDER BY id").fetchall()
        for table in ("suppliers", "products", "supplier_products", "product_supplier_sheets")
    }


def alembic_version_tables(conn) -> list:
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
        " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'alembic_version'"
    ).fetchall()


def reconciliation_reports(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"reconcil", line, re.IGNORECASE)]


def add_people(conn):
    """Verifications made by people before the sync exists."""
    conn.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = 'alice',"
        " verified_at = '2025-10-15 01:35+03' WHERE sku = 'AUR516' AND supplier_name = 'WANKE'"
    )
    conn.execute(
        "UPDATE app.product_supplier_sheets SET is_verified = true"
        " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'"
    )


def test_upgrade_verifies_the_seeds_confirmed_rows_reports_the_count_and_keeps_peoples(seeded, capsys):
    with seeded.connect() as conn:
        add_people(conn)
        people = people_verifications(conn)
        assert len(drift(conn)) == 4
    capsys.readouterr()
    seeded.upgrade()
    reports = reconciliation_reports(capsys.readouterr().out)
    assert len(reports) == 1 and re.search(r"\b4\b", reports[0]), reports
    with seeded.connect() as conn:
        for supplier_name in ("XINRUI", "PAREK", "KEMEISING"):
            assert sheet(conn, "BMX136", supplier_name)[:2] == (True, SYNC)
        assert sheet(conn, "AUR516", "KEMEISING")[:2] == (True, SYNC)
        assert_rule(conn, people)


def test_reconciliation_unverifies_rows_stamped_by_an_earlier_install_whose_pair_is_unconfirmed(seeded):
    with seeded.connect() as conn:
        conn.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = %s, verified_at = now()"
            " WHERE sku = 'EMG411' AND supplier_name = 'WANKE'",
            (SYNC,),
        )
        add_people(conn)
        people = people_verifications(conn)
    seeded.upgrade()
    with seeded.connect() as conn:
        assert sheet(conn, "EMG411", "WANKE") == (False, None, None)
        assert_rule(conn, people)


def test_the_version_table_is_verify_triggers_version_in_the_target_schema(installed):
    with installed.connect() as conn:
        assert conn.execute(f"SELECT version_num FROM app.{VERSION_TABLE}").fetchall() == [
            (migrations_api.head_revision(),)
        ]
        assert conn.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = %s AND c.relkind = 'r'",
            (VERSION_TABLE,),
        ).fetchall() == [("app",)]


def test_a_second_upgrade_changes_no_object_and_reconciles_nothing(installed, capsys):
    with installed.connect() as conn:
        before = objects(conn)
        # Drift planted behind the triggers' back: a second upgrade must not touch it.
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL"
            " WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'"
        )
        conn.execute("RESET session_replication_role")
    capsys.readouterr()
    installed.upgrade()
    assert reconciliation_reports(capsys.readouterr().out) == []
    with installed.connect() as conn:
        assert objects(conn) == before
        assert [(r[1], r[2]) for r in drift(conn)] == [("BMX136", "XINRUI")]


def test_downgrade_removes_every_object_and_keeps_all_data(installed):
    with installed.connect() as conn:
        installed_objects = objects(conn)
        data = table_data(conn)
    assert {r[0] for r in installed_objects} >= {"function", "trigger", "relation r", "relation i"}
    installed.downgrade()
    with installed.connect() as conn:
        left = objects(conn)
        assert {r for r in left if not is_version_table(r)} == set()
        if any(r[2] == VERSION_TABLE for r in left):  # Alembic keeps its (now empty) table
            assert conn.execute(f"SELECT count(*) FROM app.{VERSION_TABLE}").fetchone() == (0,)
        assert table_data(conn) == data
        # Nothing syncs any more: a confirm leaves its row as it is.
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = true FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)


def test_upgrade_downgrade_upgrade_reinstalls_the_same_objects_and_a_working_sync(installed):
    with installed.connect() as conn:
        first = without_oids(objects(conn))
    installed.downgrade()
    with installed.connect() as conn:
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = true FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
    installed.upgrade()
    with installed.connect() as conn:
        assert without_oids(objects(conn)) == first
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, SYNC)  # reconciled
        conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = false FROM app.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)  # synced
        assert_rule(conn)
    installed.downgrade()
    installed.upgrade()
    with installed.connect() as conn:
        assert without_oids(objects(conn)) == first


def test_the_host_applications_alembic_version_is_never_created(seeded):
    seeded.upgrade()
    with seeded.connect() as conn:
        assert alembic_version_tables(conn) == []
    seeded.downgrade()
    with seeded.connect() as conn:
        assert alembic_version_tables(conn) == []


def test_an_existing_alembic_version_is_never_read_or_written(seeded):
    """The host's alembic_version tables are locked ACCESS EXCLUSIVE while the migrations
    run: any read or write of them would queue behind the lock, which pg_locks shows."""
    with seeded.connect() as conn:
        for schema in ("app", "public"):
            conn.execute(f"CREATE TABLE {schema}.alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute(f"INSERT INTO {schema}.alembic_version VALUES ('host_rev_{schema}')")
        before = {s: conn.execute(f"TABLE {s}.alembic_version").fetchall() for s in ("app", "public")}
    failures = []

    def migrate():
        try:
            seeded.upgrade()
            seeded.downgrade()
            seeded.upgrade()
        except Exception as exc:  # reported below
            failures.append(exc)

    with seeded.connect(autocommit=False) as holder, seeded.connect() as observer:
        holder.execute("LOCK TABLE app.alembic_version, public.alembic_version IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=migrate, daemon=True)
        worker.start()
        touched = False
        while worker.is_alive():
            touched = observer.execute(
                "SELECT count(*) > 0 FROM pg_catalog.pg_locks WHERE NOT granted AND relation IN"
                " ('app.alembic_version'::regclass, 'public.alembic_version'::regclass)"
            ).fetchone()[0]
            if touched:
                break
            time.sleep(0.01)
        holder.rollback()
        worker.join(300)
    assert not touched, "the migrations waited for a lock on the host's alembic_version"
    assert failures == []
    with seeded.connect() as conn:
        assert {s: conn.execute(f"TABLE {s}.alembic_version").fetchall() for s in ("app", "public")} == before
        assert conn.execute(f"SELECT version_num FROM app.{VERSION_TABLE}").fetchall() == [
            (migrations_api.head_revision(),)
        ]


def test_a_target_schema_whose_name_needs_quoting_works(db):
    schema = "Back Office"
    quoted = '"Back Office"'
    with db.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema=schema)
        load_sql(conn, FIXTURES / "seed.sql", schema=schema)
    db.upgrade(schema=schema)
    with db.connect() as conn:
        assert drift(conn, quoted) == []
        assert sheet(conn, "BMX136", "PAREK", schema=quoted)[:2] == (True, SYNC)
        assert objects(conn, "app") == set()
        assert {r[2] for r in objects(conn, schema)} >= {VERSION_TABLE}
        conn.execute(
            f"UPDATE {quoted}.supplier_products SET manual_confirmed = true FROM {quoted}.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
        assert sheet(conn, "AUR516", "WANKE", schema=quoted)[:2] == (True, SYNC)
        assert drift(conn, quoted) == []
    db.downgrade(schema=schema)
    with db.connect() as conn:
        assert {r for r in objects(conn) if not is_version_table(r)} == set()


PRECHECK_CASES = {
    "verified_by_and_verified_at": (
        "ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_by, DROP COLUMN verified_at",
        ["verified_by", "verified_at"],
    ),
    "sheets_table": ("DROP TABLE app.product_supplier_sheets", ["product_supplier_sheets"]),
    "products_table": ("DROP TABLE app.products CASCADE", ["products"]),
    "manual_confirmed": ("ALTER TABLE app.supplier_products DROP COLUMN manual_confirmed", ["manual_confirmed"]),
}


@pytest.mark.parametrize("case", PRECHECK_CASES)
def test_the_precheck_names_what_is_missing_and_installs_nothing(seeded, case):
    statement, names = PRECHECK_CASES[case]
    with seeded.connect() as conn:
        conn.execute(statement)
    with pytest.raises(VerifyTriggersError) as raised:
        seeded.upgrade()
    message = str(raised.value)
    assert len(message.strip().splitlines()) == 1, message
    for name in names:
        assert re.search(rf"\b{name}\b", message), (name, message)
    with seeded.connect() as conn:
        assert objects(conn) == set()
        assert alembic_version_tables(conn) == []
