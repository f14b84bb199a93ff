"""Installing, upgrading and removing the sync on a database that keeps serving writes.

A writer confirms and unconfirms matches in a loop while an application transaction holds a
supplier_products row open for several seconds: the migration waits for it in
lock_timeout-bounded attempts instead of queueing every write behind its lock, so no write
waits longer than lock_timeout (plus scheduling noise), none fails, and no row drifts. This
holds for a fresh install, for the upgrade to head from each earlier revision, and for the
downgrades to 0002 and to base.
"""

import threading
import time

import pytest

from clirun import applied_versions, object_names
from helpers import Writer
from rule import drift
from verify_triggers import resources
from verify_triggers import target as targets
from verify_triggers.errors import VerifyTriggersError
from verify_triggers.migrate import commands

HEAD = "0009"
# Enough that the install's index builds and its reconcile (25 batches of 1,000 SKUs) run
# under the writer. The writes' waits depend on the migration's locks, not on the table's size:
# 200,000 (until 2026-12-03) only made each test 3 to 5 s longer.
MATCHES = 100_000
PRODUCTS = MATCHES // 4
LOCK_TIMEOUT_S = 1.0
HOLD_S = 4.0
# Scheduling noise on a shared two-core machine, on top of one lock_timeout.
MARGIN_S = 3.0
PAUSE_S = 0.01
TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'verify\\_triggers\\_%'"
INVALID_INDEXES = ("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                   " WHERE c.relname LIKE 'verify\\_triggers\\_%' AND NOT i.indisvalid")


@pytest.fixture
def large(db):
    with db.connect() as conn:
        conn.execute(
            """
            INSERT INTO app.suppliers (name) SELECT 'SUP' || g FROM generate_series(1, 4) AS g;
            INSERT INTO app.products (sku) SELECT 'SKU' || g FROM generate_series(1, %p) AS g;
            INSERT INTO app.supplier_products (supplier_id, local_product_id, supplier_price,
                                               manual_confirmed)
            SELECT 1 + g % 4, 1 + g / 4 % %p, 10, g % 3 = 0
            FROM generate_series(0, %s - 1) AS g;
            INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)
            SELECT 'SKU' || p, 'SUP' || s, 10
            FROM generate_series(1, %p) AS p, generate_series(1, 4) AS s;
            ANALYZE;
            """.replace("%s", str(MATCHES)).replace("%p", str(PRODUCTS)))
    return db


def config(database, **settings):
    return commands.make_config(targets.resolve(database.url(), "app", **settings))


def toggling(ids):
    """A writer's draw: flip one match's manual_confirmed."""
    def draw(rng):
        match = rng.choice(ids)
        return "toggle", lambda conn: conn.execute(
            "UPDATE app.supplier_products SET manual_confirmed = NOT manual_confirmed WHERE id = %s",
            (match,))
    return draw


def hold_a_match_open(database, seconds, ended: threading.Event):
    """An application transaction that holds a supplier_products row for a while."""
    with database.connect(autocommit=False) as conn:
        conn.execute("UPDATE app.supplier_products SET supplier_price = 11 WHERE id = 1")
        time.sleep(seconds)
        conn.commit()
    ended.set()


def deploy_under_load(database, migrate) -> tuple[float, int, bool]:
    """Run ``migrate(config)`` while a writer writes and a transaction holds a row; returns the
    longest any write took, the number of writes, and whether the migration outlasted the
    holder. Every write must succeed: the writer retries nothing."""
    writer = Writer(lambda: database.connect(autocommit=False), toggling(list(range(2, 2000))),
                    seed=7, retry_on=(), pause_s=PAUSE_S)
    ended = threading.Event()
    holder = threading.Thread(target=hold_a_match_open, args=(database, HOLD_S, ended))
    writer.start()
    holder.start()
    time.sleep(0.3)
    migrate(config(database, lock_timeout=f"{int(LOCK_TIMEOUT_S * 1000)}ms"))
    finished_after_holder = ended.is_set()
    time.sleep(0.3)
    writer.stop()  # asserts that no write failed
    holder.join()
    # from one commit to the next: the write itself plus the writer's pause
    worst = max(b - a for a, b in zip(writer.done, writer.done[1:]))
    return worst, writer.committed, finished_after_holder


def assert_head_installed(database):
    with database.connect() as conn:
        assert drift(conn) == []
        assert applied_versions(conn) == [HEAD]
        assert conn.execute(TRIGGERS).fetchone()[0] == 12
        assert conn.execute(INVALID_INDEXES).fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass('app.verify_triggers_objects')").fetchone()[0] is not None


@pytest.mark.slow
@pytest.mark.parametrize("start", [None, "0001", "0002", "0003"],
                         ids=["fresh", "from-0001", "from-0002", "from-0003"])
def test_upgrade_to_head_waits_out_a_long_transaction_without_stalling_writes(large, start):
    if start:
        large.upgrade(start)
    worst, writes, finished_after_holder = deploy_under_load(
        large, lambda cfg: commands.upgrade(cfg, "head"))
    assert finished_after_holder, "the triggers cannot be replaced while the row is held"
    assert writes > 50
    assert worst < LOCK_TIMEOUT_S + MARGIN_S, f"a write waited {worst:.2f}s"
    assert_head_installed(large)


@pytest.mark.slow
def test_downgrade_to_0002_waits_out_a_long_transaction_without_stalling_writes(large):
    large.upgrade()
    worst, writes, finished_after_holder = deploy_under_load(
        large, lambda cfg: commands.downgrade(cfg, "0002"))
    assert finished_after_holder
    assert writes > 50
    assert worst < LOCK_TIMEOUT_S + MARGIN_S, f"a write waited {worst:.2f}s"
    with large.connect() as conn:
        assert drift(conn) == []
        assert applied_versions(conn) == ["0002"]
        assert conn.execute(TRIGGERS).fetchone()[0] == 14
        assert conn.execute(INVALID_INDEXES).fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass('app.verify_triggers_objects')").fetchone()[0] is None


@pytest.mark.slow
def test_downgrade_to_base_waits_out_a_long_transaction_without_stalling_writes(large):
    large.upgrade()
    worst, writes, finished_after_holder = deploy_under_load(
        large, lambda cfg: commands.downgrade(cfg, "base"))
    assert finished_after_holder
    assert writes > 50
    assert worst < LOCK_TIMEOUT_S + MARGIN_S, f"a write waited {worst:.2f}s"
    with large.connect() as conn:
        assert object_names(conn) == set()  # the version table included


def test_upgrade_gives_up_with_a_clear_message_when_the_lock_never_comes(seeded):
    # The concurrent index builds wait (without blocking writes) for every older
    # transaction; build 0001's first so the holder below meets only the trigger DDL.
    with seeded.connect() as conn:
        for index in ("verify_triggers_sp_confirmed_idx", "verify_triggers_suppliers_name_idx"):
            conn.execute(resources.render(resources.revision_path("0001", f"indexes/{index}.sql"), "app"))
    with seeded.connect(autocommit=False) as holder:
        holder.execute("UPDATE app.supplier_products SET supplier_price = 11 WHERE id = 1")
        with pytest.raises(VerifyTriggersError) as failure:
            commands.upgrade(config(seeded, lock_timeout="100ms", lock_retries=2), "head")
        holder.rollback()
    assert "gave up after 2 attempts" in str(failure.value)
    assert "lock_timeout=100ms" in str(failure.value)
    with seeded.connect() as conn:
        assert conn.execute(TRIGGERS).fetchone()[0] == 0


class Migration:
    """A migration running in a thread beside the test's own connections."""

    def __init__(self, migrate):
        self.result: dict = {}
        self.thread = threading.Thread(target=self._run, args=(migrate,))
        self.thread.start()

    def _run(self, migrate) -> None:
        try:
            migrate()
            self.result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - the test reports whatever it was
            self.result["error"] = exc

    def wait_until(self, watcher, query: str, timeout_s: float = 20) -> None:
        """Until ``query`` (one boolean) holds, while the migration still runs."""
        deadline = time.monotonic() + timeout_s
        while not watcher.execute(query).fetchone()[0]:
            assert time.monotonic() < deadline and self.thread.is_alive(), self.result
            time.sleep(0.01)

    def outcome(self) -> dict:
        self.thread.join(60)
        return self.result


@pytest.mark.parametrize("start, migrate", [
    ("0003", lambda cfg: commands.upgrade(cfg, "0004")),
    ("0003", lambda cfg: commands.upgrade(cfg, "head")),
], ids=["0003-to-0004", "0003-to-head"])
def test_an_upgrade_that_drops_triggers_locks_the_tables_in_a_confirms_order(seeded, start, migrate):
    """0004 drops the sheets' marking trigger before the matches'. A writer that holds the
    matches and then writes the sheets (a confirm does, inside its trigger; here a price
    refresh of both, which leaves the window open): an upgrade holding the sheets while it
    waited for the matches would deadlock with it, and one of the two would be aborted. Taking
    the matches first, it waits for the writer, which finishes; the upgrade then goes through
    at its first attempt."""
    seeded.upgrade(start)
    with seeded.connect(autocommit=False) as writer, seeded.connect() as watcher:
        writer.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1"
                        " WHERE id = (SELECT min(id) FROM app.supplier_products)")
        migration = Migration(lambda: migrate(config(seeded, lock_timeout="20s", lock_retries=1)))
        migration.wait_until(watcher, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted"
                                      " AND mode = 'AccessExclusiveLock')")
        writer.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
                        " WHERE id = (SELECT min(id) FROM app.product_supplier_sheets)")
        writer.commit()
    assert migration.outcome() == {"ok": True}
    with seeded.connect() as conn:
        assert drift(conn) == []


def _deadlocks(conn) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def test_an_upgrade_that_drops_triggers_lets_a_writer_taking_the_tables_the_other_way_go_first(seeded):
    """A writer that holds the sheets and then needs the matches (a sheet import's trigger reads
    them): the step, holding the matches, waits for the sheets only briefly, lets go and tries
    again, so the writer goes first and no deadlock is ever detected (the server's detector
    would stall writes for a second, and might abort the writer)."""
    seeded.upgrade("0003")
    with seeded.connect() as watcher:
        before = _deadlocks(watcher)
        with seeded.connect(autocommit=False) as writer:
            writer.execute("UPDATE app.product_supplier_sheets SET price_cny = price_cny + 1"
                           " WHERE id = (SELECT min(id) FROM app.product_supplier_sheets)")
            migration = Migration(lambda: commands.upgrade(
                config(seeded, lock_timeout="20s", lock_retries=10), "0004"))
            migration.wait_until(watcher, "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c"
                                          " ON c.oid = l.relation WHERE l.mode = 'AccessExclusiveLock'"
                                          " AND l.granted AND c.relname = 'supplier_products')")
            writer.execute("UPDATE app.supplier_products SET supplier_price = supplier_price + 1"
                           " WHERE id = (SELECT min(id) FROM app.supplier_products)")
            writer.commit()
        assert migration.outcome() == {"ok": True}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the server reports its counts within a second
            assert _deadlocks(watcher) == before
            time.sleep(0.5)
    with seeded.connect() as conn:
        assert drift(conn) == []
