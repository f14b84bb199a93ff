"""`alembic` run as a user runs it: a subprocess from the repository root.

The database URL from DATABASE_URL or `-x database_url=...` in each accepted form; errors as one
line without a traceback; VERIFY_TRIGGERS_SCHEMA; four replicas upgrading one database at once.
The offline script (`alembic upgrade head --sql`) is in test_offline_scripts.py.
"""

import subprocess
import time

import pytest

from clirun import (ALEMBIC, ROOT, SUBPROCESS_GUARD_S, VERSION_TABLE, alembic, alembic_env,
                    applied_versions, object_names, reconciliation_reports)
from helpers import FIXTURES, load_sql
from rule import SYNC, assert_rule, drift, sheet

HEAD = "0009"


def assert_one_line_failure(result, *phrases):
    """A non-zero exit and one line of output in all, naming ``phrases``, no traceback."""
    output = result.out + result.err
    assert result.code != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for phrase in phrases:
        assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


# --- the database URL -------------------------------------------------------------------


def test_a_missing_database_url_is_a_one_line_error():
    assert_one_line_failure(alembic("upgrade", "head"), "DATABASE_URL")


def test_a_missing_database_url_names_alembics_own_way_to_give_one():
    line = assert_one_line_failure(alembic("upgrade", "head"),
                                   "pass -x database_url=URL or set DATABASE_URL")
    assert "--database-url" not in line  # the verify-triggers option, which alembic lacks


MALFORMED = {
    "not_a_url": ("not a url", "url"),
    "other_database": ("mysql://app@db.internal/magflow", "url"),
    "not_a_libpq_option": ("postgresql://app:s3cret@127.0.0.1/magflow?frobnicate=1", "libpq"),
    "port_not_a_number": ("postgresql://app:s3cret@127.0.0.1:notaport/magflow", "url"),
    "unbalanced_ipv6_host": ("postgresql://app:s3cret@[::1/magflow", "url"),
    "nothing_listening": ("postgresql://app:s3cret@127.0.0.1:1/magflow", "connect"),
    "space_in_the_password": ("postgresql://app:s3cret PW@127.0.0.1/magflow", "url"),
    "bad_percent_encoding": ("postgresql://app:s3cret%ZZ@127.0.0.1/magflow", "url"),
    "encoded_nul": ("postgresql://app:s3cret%00x@127.0.0.1/magflow", "url"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_or_unusable_database_url_is_a_one_line_error_without_the_password(case):
    url, phrase = MALFORMED[case]
    line = assert_one_line_failure(alembic("upgrade", "head", DATABASE_URL=url), phrase)
    assert "s3cret" not in line


def test_a_target_schema_that_does_not_exist_is_a_one_line_error(seeded):
    line = assert_one_line_failure(
        alembic("upgrade", "head", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop_floor"),
        "shop_floor",
    )
    assert "schema" in line


def test_missing_columns_are_a_one_line_failure_naming_them_and_nothing_is_installed(seeded):
    with seeded.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DROP COLUMN verified_by, DROP COLUMN verified_at")
    line = assert_one_line_failure(alembic("upgrade", "head", DATABASE_URL=seeded.url()), "verified_by", "verified_at")
    assert "product_supplier_sheets" in line
    with seeded.connect() as conn:
        assert object_names(conn) == set()


def test_alembic_upgrade_base_is_refused_and_removes_nothing(seeded):
    assert alembic("upgrade", "head", DATABASE_URL=seeded.url()).code == 0
    with seeded.connect() as conn:
        installed = object_names(conn)
    assert installed  # so the assertion below could fail
    assert_one_line_failure(alembic("upgrade", "base", DATABASE_URL=seeded.url()),
                            "upgrade base", "downgrade base")
    with seeded.connect() as conn:
        assert object_names(conn) == installed
        assert applied_versions(conn) == [HEAD]
    # offline too, and before a script's first line (BEGIN;) is printed
    assert_one_line_failure(alembic("upgrade", "--sql", "base", DATABASE_URL=seeded.url()),
                            "upgrade base installs nothing")


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg", "postgresql+asyncpg"])
def test_upgrade_head_accepts_each_url_form(seeded, driver):
    result = alembic("upgrade", "head", DATABASE_URL=seeded.url(driver))
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)


def test_x_database_url_overrides_DATABASE_URL(seeded):
    result = alembic(
        "-x", f"database_url={seeded.url('postgresql+asyncpg')}", "upgrade", "head",
        DATABASE_URL="postgresql://nobody:s3cret@127.0.0.1:1/elsewhere",
    )
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)


def test_x_database_url_works_without_DATABASE_URL_and_downgrade_too(seeded):
    url = f"database_url={seeded.url()}"
    assert alembic("-x", url, "upgrade", "head").code == 0
    result = alembic("-x", url, "downgrade", "base")
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert object_names(conn) == set()  # the version table included


# --- the target schema -------------------------------------------------------------------


def test_VERIFY_TRIGGERS_SCHEMA_installs_into_that_schema_only(seeded):
    with seeded.connect() as conn:
        load_sql(conn, FIXTURES / "schema.sql", schema="shop")
        load_sql(conn, FIXTURES / "seed.sql", schema="shop")
        app_before = conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall()
    result = alembic("upgrade", "head", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop")
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert object_names(conn, "app") == set()
        assert ("relation r", "shop", VERSION_TABLE) in object_names(conn, "shop")
        assert applied_versions(conn, "shop") == [HEAD]
        assert drift(conn, "shop") == []
        conn.execute(
            "UPDATE shop.supplier_products SET manual_confirmed = true FROM shop.suppliers su"
            " WHERE su.id = supplier_id AND su.name = 'WANKE'"
        )
        assert sheet(conn, "AUR516", "WANKE", schema="shop")[:2] == (True, SYNC)
        # The app schema was neither installed into nor reconciled.
        assert conn.execute("SELECT * FROM app.product_supplier_sheets ORDER BY id").fetchall() == app_before
    result = alembic("downgrade", "base", DATABASE_URL=seeded.url(), VERIFY_TRIGGERS_SCHEMA="shop")
    assert result.code == 0, result.out + result.err
    with seeded.connect() as conn:
        assert object_names(conn) == set()  # the version table included


# --- every replica of a deploy upgrades at once ----------------------------------------------


def test_four_concurrent_upgrades_all_succeed_install_once_and_reconcile_once(seeded, make_db):
    """Four replicas start `alembic upgrade head` together. To make them overlap for
    certain, the matches table is held locked until all four wait on a lock (or a bounded
    while has passed: an implementation that waits without a lock is fine too)."""
    reference = make_db()
    reference.upgrade()
    with reference.connect() as conn:
        expected = object_names(conn)
    env = alembic_env(DATABASE_URL=seeded.url())
    with seeded.connect(autocommit=False) as holder, seeded.connect() as observer:
        holder.execute("LOCK TABLE app.supplier_products IN ACCESS EXCLUSIVE MODE")
        ours = [holder.info.backend_pid, observer.info.backend_pid]
        processes = [
            subprocess.Popen([*ALEMBIC, "upgrade", "head"], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        stop_waiting = time.monotonic() + 20
        while time.monotonic() < stop_waiting and all(p.poll() is None for p in processes):
            waiting = observer.execute(
                "SELECT count(DISTINCT l.pid) FROM pg_catalog.pg_locks l"
                " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
                " WHERE NOT l.granted AND a.datname = current_database() AND NOT l.pid = ANY(%s)",
                (ours,),
            ).fetchone()[0]
            if waiting >= 4:
                break
            time.sleep(0.02)
        holder.rollback()
        outputs = [p.communicate(timeout=SUBPROCESS_GUARD_S) for p in processes]
    outcomes = [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]
    assert [rc for rc, _, _ in outcomes] == [0, 0, 0, 0], outcomes
    reports = [line for _, out, err in outcomes for line in reconciliation_reports(out + err)]
    assert len(reports) == 1, reports
    with seeded.connect() as conn:
        assert object_names(conn) == expected
        assert applied_versions(conn) == [HEAD]
        assert_rule(conn)
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)
