"""`verify-triggers sync --adopt STAMP`: rows an application's own sync code verified (stamped
with its stamp, a user id) become the sync's, so that un-confirming their match un-verifies them.

A row stamped STAMP whose pair is confirmed gets the sync's stamp and keeps its verified_at;
one whose pair is not confirmed is un-verified; a person's verification under any other stamp
is untouched; ``--dry-run`` counts and writes nothing.
"""

import pytest

from clirun import run, sheet_rows
from helpers import match_id, set_confirmed
from rule import SYNC, assert_rule, drift, people_verifications, sheet
from verify_triggers import sync as sync_mod

T_PAREK = "2025-01-01 10:00:00+00"
T_WANKE = "2025-01-02 10:00:00+00"
T_ALICE = "2025-01-03 10:00:00+00"
T_SEVEN = "2025-01-04 10:00:00+00"


@pytest.fixture
def stamped(seeded):
    """What the application's own sync left before the triggers were installed:

    - BMX136 / PAREK (confirmed) verified under stamp '42';
    - AUR516 / WANKE (not confirmed: unmatched since) still verified under '42';
    - BMX136 / KEMEISING (confirmed) verified under '7', another user's id;
    - EMG411 / WANKE verified by alice, a person, with no match at all.
    """
    with seeded.connect() as conn:
        for sku, supplier, stamp, at in (("BMX136", "PAREK", "42", T_PAREK),
                                         ("AUR516", "WANKE", "42", T_WANKE),
                                         ("BMX136", "KEMEISING", "7", T_SEVEN),
                                         ("EMG411", "WANKE", "alice", T_ALICE)):
            conn.execute("UPDATE app.product_supplier_sheets SET is_verified = true, verified_by = %s,"
                         " verified_at = %s WHERE sku = %s AND supplier_name = %s", (stamp, at, sku, supplier))
    seeded.upgrade()
    with seeded.connect() as conn:
        # installed: the stamped rows are people's verifications to the sync, so nothing drifts
        assert drift(conn) == []
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, "42")
        assert sheet(conn, "AUR516", "WANKE")[:2] == (True, "42")
    return seeded


def verification(conn, sku: str, supplier: str) -> tuple:
    """(is_verified, verified_by, verified_at as text in UTC) of one sheet row."""
    return conn.execute(
        "SELECT is_verified, verified_by, to_char(verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'"
        " FROM app.product_supplier_sheets WHERE sku = %s AND supplier_name = %s", (sku, supplier)).fetchone()


def test_a_dry_run_counts_what_it_would_take_over_and_writes_nothing(stamped, capsys):
    with stamped.connect() as conn:
        before = sheet_rows(conn)
    result = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42", "--dry-run")
    assert result.code == 0, result.err
    assert ("would take over 2 verified row(s) stamped '42'; 1 of them no confirmed match backs,"
            " so they would be un-verified") in result.out
    data = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42", "--dry-run",
               "--format", "json").json()
    assert data["dry_run"] is True
    assert data["adopt"] == ["42"] and data["adopted"] == 2 and data["adopted_unverified"] == 1
    with stamped.connect() as conn:
        assert sheet_rows(conn) == before


def test_adopting_gives_confirmed_rows_the_syncs_stamp_and_unverifies_the_others(stamped, capsys):
    with stamped.connect() as conn:
        people = people_verifications(conn)
    result = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42")
    assert result.code == 0, result.err
    assert ("took over 2 verified row(s) stamped '42'; 1 of them no confirmed match backs,"
            " so they were un-verified") in result.out
    with stamped.connect() as conn:
        # confirmed pair: the sync's now, verified when the application verified it
        assert verification(conn, "BMX136", "PAREK") == (True, SYNC, T_PAREK)
        # pair not confirmed: un-verified
        assert sheet(conn, "AUR516", "WANKE") == (False, None, None)
        # other stamps untouched, the person's included
        assert verification(conn, "BMX136", "KEMEISING") == (True, "7", T_SEVEN)
        assert verification(conn, "EMG411", "WANKE") == (True, "alice", T_ALICE)
        taken_over = {k for k, v in people.items() if v[2] == "42"}
        assert_rule(conn, {k: v for k, v in people.items() if k not in taken_over})
        # and from now on un-confirming the match un-verifies the row
        set_confirmed(conn, match_id(conn, "BMX136", "PAREK"), False)
        assert sheet(conn, "BMX136", "PAREK") == (False, None, None)
        assert_rule(conn)
    again = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42", "--format", "json").json()
    assert again["adopted"] == 0 and again["adopted_unverified"] == 0 and again["changed"] == 0


def test_several_stamps_scoped_to_a_sku(stamped, capsys):
    result = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42", "--adopt", "7",
                 "--sku", "BMX136", "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["adopt"] == ["42", "7"] and data["adopted"] == 2 and data["adopted_unverified"] == 0
    with stamped.connect() as conn:
        assert verification(conn, "BMX136", "PAREK") == (True, SYNC, T_PAREK)
        assert verification(conn, "BMX136", "KEMEISING") == (True, SYNC, T_SEVEN)
        # outside the SKU: untouched
        assert verification(conn, "AUR516", "WANKE") == (True, "42", T_WANKE)
        assert verification(conn, "EMG411", "WANKE") == (True, "alice", T_ALICE)


def test_a_row_stamped_but_not_verified_is_not_taken_over(stamped, capsys):
    with stamped.connect() as conn:
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = false, verified_at = NULL"
                     " WHERE sku = 'AUR516' AND supplier_name = 'WANKE'")
        assert sheet(conn, "AUR516", "WANKE") == (False, "42", None)
    data = run(capsys, "--database-url", stamped.url(), "sync", "--adopt", "42", "--format", "json").json()
    assert data["adopted"] == 1 and data["adopted_unverified"] == 0
    with stamped.connect() as conn:
        assert sheet(conn, "AUR516", "WANKE") == (False, "42", None)


def test_python_api_reports_what_it_adopted(stamped):
    with stamped.connect() as conn:
        preview = sync_mod.sync(conn, "app", adopt=["42"], dry_run=True)
        assert (preview.adopted, preview.adopted_unverified) == (2, 1)
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, "42")
        result = sync_mod.sync(conn, "app", adopt=["42", "42"])
        assert result.adopt == ["42"]
        assert (result.adopted, result.adopted_unverified) == (2, 1)
        assert result.to_dict()["adopted"] == 2
        assert sheet(conn, "BMX136", "PAREK")[:2] == (True, SYNC)


def test_the_rows_taken_over_count_as_changed_with_the_drift_repaired(stamped, capsys):
    """Each row taken over changes (re-stamped, or un-verified); with one drifted row beside
    them, the dry run and the run both count all three."""
    with stamped.connect() as conn:
        conn.execute("ALTER TABLE app.product_supplier_sheets DISABLE TRIGGER verify_triggers_sheet_update")
        conn.execute("UPDATE app.product_supplier_sheets SET is_verified = false, verified_by = NULL,"
                     " verified_at = NULL WHERE sku = 'BMX136' AND supplier_name = 'XINRUI'")
        conn.execute("ALTER TABLE app.product_supplier_sheets ENABLE TRIGGER verify_triggers_sheet_update")
        before = sheet_rows(conn)
    url = stamped.url()
    dry = run(capsys, "--database-url", url, "sync", "--adopt", "42", "--dry-run")
    assert dry.code == 0, dry.err
    assert "3 row(s) would change (nothing written; 2 taken over, 1 drifted):" in dry.out
    data = run(capsys, "--database-url", url, "sync", "--adopt", "42", "--dry-run", "--format", "json").json()
    assert (data["changed"], data["adopted"], len(data["would_change"])) == (3, 2, 1)
    with stamped.connect() as conn:
        assert sheet_rows(conn) == before
    done = run(capsys, "--database-url", url, "sync", "--adopt", "42")
    assert done.code == 0, done.err
    assert "3 row(s) changed (2 taken over, 1 drifted)" in done.out
    with stamped.connect() as conn:
        after = sheet_rows(conn)
        assert sum(old != new for old, new in zip(before, after)) == 3  # the rows that differ
        assert sheet(conn, "BMX136", "XINRUI")[:2] == (True, SYNC)


def test_taking_over_alone_is_not_reported_as_nothing_to_change(stamped, capsys):
    url = stamped.url()
    dry = run(capsys, "--database-url", url, "sync", "--adopt", "42", "--dry-run")
    assert "2 row(s) would change (nothing written; 2 taken over, 0 drifted)" in dry.out
    assert "nothing to change" not in dry.out
    done = run(capsys, "--database-url", url, "sync", "--adopt", "42", "--format", "json").json()
    assert (done["changed"], done["adopted"]) == (2, 2)
