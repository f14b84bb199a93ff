"""Installing and removing the sync on a database that keeps serving writes (issue 6).

A writer confirms and unconfirms matches in a loop while an application transaction
holds a supplier_products row open for several seconds: the upgrade waits for it in
lock_timeout-bounded attempts instead of queueing every write behind its lock.
"""

import random
import threading
import time

import pytest
from psycopg import errors

from rule import drift
from verify_triggers import manifest, migrations_api, resources
from verify_triggers.errors import VerifyTriggersError

MATCHES = 200_000
LOCK_TIMEOUT_S = 1.0
HOLD_S = 4.0
# Scheduling noise on a shared two-core machine, on top of one lock_timeout.
MARGIN_S = 3.0


@pytest.fixture
def large(db):
    with db.connect() as conn:
        conn.execute(
            """
            INSERT INTO app.suppliers (name) SELECT 'SUP' || g FROM generate_series(1, 4) AS g;
            INSERT INTO app.products (sku) SELECT 'SKU' || g FROM generate_series(1, 50000) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id, supplier_price,
                                               manual_confirmed)
            SELECT 1 + g % 4, 1 + g / 4 % 50000, 10, g % 3 = 0
            FROM generate_series(0, %s - 1) AS g;
            INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)
            SELECT 'SKU' || p, 'SUP' || s, 10
            FROM generate_series(1, 50000) AS p, generate_series(1, 4) AS s;
            ANALYZE;
            """.replace("%s", str(MATCHES))
        )
    return db


class Writer(threading.Thread):
    """Confirms and unconfirms matches until stopped, timing every write."""

    def __init__(self, database, ids):
        super().__init__(daemon=True)
        self.database, self.ids = database, ids
        self.stop = threading.Event()
        self.worst = 0.0
        self.writes = 0
        self.failures: list[str] = []

    def run(self):
        rng = random.Random(7)
        with self.database.connect() as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    conn.execute(
                        "UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed"
                        " WHERE id = %s",
                        (rng.choice(self.ids),),
                    )
                except errors.Error as exc:  # any failed write is a finding
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.worst = max(self.worst, time.monotonic() - started)
                self.writes += 1
                time.sleep(0.01)


def _hold_a_match_open(database, seconds, ended: threading.Event):
    """An application transaction that holds a supplier_products row for a while."""
    with database.connect(autocommit=False) as conn:
        conn.execute("UPDATE app.supplier_products SET supplier_price = 11 WHERE id = 1")
        time.sleep(seconds)
        conn.commit()
    ended.set()


def _deploy_under_load(database, migrate):
    writer = Writer(database, ids=list(range(2, 2000)))
    ended = threading.Event()
    holder = threading.Thread(target=_hold_a_match_open, args=(database, HOLD_S, ended))
    writer.start()
    holder.start()
    time.sleep(0.3)
    config = migrations_api.make_config(database.url())
    config.attributes["lock_timeout"] = f"{int(LOCK_TIMEOUT_S * 1000)}ms"
    migrate(config)
    finished_after_holder = ended.is_set()
    time.sleep(0.3)
    writer.stop.set()
    writer.join()
    holder.join()
    return writer, finished_after_holder


def test_upgrade_waits_out_a_long_transaction_without_stalling_writes(large):
    writer, finished_after_holder = _deploy_under_load(large, migrations_api.upgrade)

    assert finished_after_holder, "the triggers cannot be created while the row is held"
    assert writer.failures == []
    assert writer.writes > 50
    assert writer.worst < LOCK_TIMEOUT_S + MARGIN_S, f"a write waited {writer.worst:.2f}s"
    with large.connect() as conn:
        assert drift(conn) == []
        installed = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify_triggers_%'"
        ).fetchone()[0]
        # every trigger of every revision up to the head (0001's twelve, 0002's two marks)
        assert installed == len(manifest.expected(migrations_api.head_revision(), "app").triggers) == 14
        invalid = conn.execute(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE 'verify_triggers_%' AND NOT i.indisvalid"
        ).fetchone()[0]
        assert invalid == 0


def test_downgrade_waits_out_a_long_transaction_without_stalling_writes(large):
    large.upgrade()
    writer, finished_after_holder = _deploy_under_load(
        large, lambda config: migrations_api.downgrade(config, "base")
    )

    assert finished_after_holder
    assert writer.failures == []
    assert writer.worst < LOCK_TIMEOUT_S + MARGIN_S, f"a write waited {writer.worst:.2f}s"
    with large.connect() as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'verify_triggers_%'"
            " AND relname NOT LIKE 'verify_triggers_version%'"
        ).fetchone()[0]
        assert left == 0
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify_triggers_%'").fetchone()[0] == 0


def test_upgrade_gives_up_with_a_clear_message_when_the_lock_never_comes(seeded):
    # The concurrent index builds wait (without blocking writes) for every older
    # transaction; build them first so the holder below meets only the trigger DDL.
    with seeded.connect() as conn:
        for statement in resources.render("triggers/0001_indexes.sql", "app").split(";\n"):
            if "CREATE INDEX" in statement:
                conn.execute(statement)
    with seeded.connect(autocommit=False) as holder:
        holder.execute("UPDATE app.supplier_products SET supplier_price = 11 WHERE id = 1")
        config = migrations_api.make_config(seeded.url())
        config.attributes["lock_timeout"] = "100ms"
        config.attributes["lock_retries"] = 2
        with pytest.raises(VerifyTriggersError) as failure:
            migrations_api.upgrade(config)
        holder.rollback()
    assert "gave up after 2 attempts" in str(failure.value)
    assert "lock_timeout=100ms" in str(failure.value)
    with seeded.connect() as conn:
        triggers = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify_triggers_%'"
        ).fetchone()[0]
        assert triggers == 0
