"""A rename of a product holds the epoch: a confirm of one of its matches waits for the
rename to commit (on an advisory lock, not a row), then derives its pair from the new name.
"""

import threading
import time

import psycopg
import pytest
from psycopg import errors

from helpers import HANG_GUARD_S, match_id, set_confirmed, verification
from rule import SYNC, assert_rule, sheet


@pytest.fixture
def renaming(installed):
    """BMX136 / XINRUI unconfirmed, and a sheet row waiting for the product's new name."""
    with installed.connect() as conn:
        set_confirmed(conn, match_id(conn, "BMX136", "XINRUI"), False)
        conn.execute("INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny)"
                     " VALUES ('BMX136-R', 'XINRUI', 1)")
        assert sheet(conn, "BMX136", "XINRUI") == (False, None, None)
    return installed


def test_a_confirm_waits_for_an_uncommitted_rename_of_its_product(renaming):
    with renaming.connect(autocommit=False) as renamer, renaming.connect() as writer:
        match = match_id(writer, "BMX136", "XINRUI")
        renamer.execute("UPDATE app.products SET sku = 'BMX136-R' WHERE sku = 'BMX136'")
        writer.execute("SET lock_timeout = '200ms'")
        with pytest.raises(errors.LockNotAvailable) as waited:
            set_confirmed(writer, match, True)
        # it waited for the epoch (verify_triggers_lock_epoch), taken in the trigger
        assert "verify_triggers_lock_epoch()" in (waited.value.diag.context or "")
        assert "verify_triggers_sp_update" in (waited.value.diag.context or "")
        renamer.commit()

        set_confirmed(writer, match, True)
        assert verification(writer, "BMX136-R", "XINRUI") == (True, SYNC)
        assert sheet(writer, "BMX136", "XINRUI") == (False, None, None)
        assert_rule(writer)


def test_a_confirm_blocked_by_a_rename_reads_the_new_name_once_the_rename_commits(renaming):
    with renaming.connect(autocommit=False) as renamer, renaming.connect() as writer, \
            renaming.connect() as observer:
        match = match_id(writer, "BMX136", "XINRUI")
        writer_pid = writer.info.backend_pid
        renamer.execute("UPDATE app.products SET sku = 'BMX136-R' WHERE sku = 'BMX136'")
        failures = []

        def write():
            try:
                set_confirmed(writer, match, True)
            except psycopg.Error as exc:
                failures.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            waiting = None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and waiting != ("Lock", "advisory"):
                time.sleep(0.01)
                waiting = observer.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s",
                    (writer_pid,)).fetchone()
            # the confirm waits for the epoch, taken as an advisory lock, not for a row
            assert waiting == ("Lock", "advisory")
            assert thread.is_alive()
            renamer.commit()
        finally:
            renamer.rollback()  # whatever happened above, never leave the writer waiting
            thread.join(HANG_GUARD_S)
        assert not thread.is_alive() and failures == []
        # the confirm derived its pair from the committed name
        assert verification(writer, "BMX136-R", "XINRUI") == (True, SYNC)
        assert sheet(writer, "BMX136", "XINRUI") == (False, None, None)
        assert_rule(writer)
