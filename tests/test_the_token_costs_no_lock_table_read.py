"""The token that lets the sheets' trigger pass the sync's own writes costs no read of the lock
table (revision 0009): the secret is folded into the plans the owner's functions cache. Once a
session's plans are made, a single-row confirm or unconfirm reads and updates its pair's bucket
row and nothing else of the lock table. Up to 0008 it also read row -2 twice per write, to set
the token and to check it; and had the sheets' trigger not recognised the sync's own write, it
would have recomputed the pair and updated the bucket row a second time.
"""

import psycopg
import pytest
from psycopg import sql

from helpers import match_id, set_confirmed, verification
from rule import SYNC, assert_rule

LOCK_TABLE_WORK = """
SELECT seq_tup_read + coalesce(idx_tup_fetch, 0), n_tup_upd
FROM pg_stat_xact_user_tables
WHERE relid = 'app.verify_triggers_lock'::regclass
"""


def test_a_single_row_confirm_and_unconfirm_touch_one_lock_row_once_the_plans_are_cached(conn):
    conn.autocommit = True
    match = match_id(conn, "AUR516", "WANKE")  # unconfirmed in the seed
    for _ in range(2):  # the session's plans made, the secret folded into them
        set_confirmed(conn, match, True)
        set_confirmed(conn, match, False)
    for confirmed, expected in ((True, (True, SYNC)), (False, (False, None))):
        with conn.transaction():
            # read before and after, in one transaction: what earlier ones left unflushed cancels
            before = conn.execute(LOCK_TABLE_WORK).fetchone()
            set_confirmed(conn, match, confirmed)
            after = conn.execute(LOCK_TABLE_WORK).fetchone()
            # the bucket row, read by its key and updated: nothing else of the lock table
            assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
            assert verification(conn, "AUR516", "WANKE") == expected
    assert_rule(conn)


def test_no_role_but_the_owner_can_compute_the_token_even_when_granted_its_functions(installed, app_role):
    """The secret is evaluated with the rights of whoever plans the statement: the owner, inside
    the owner's functions. A DML role is refused the functions; granted them (GRANT EXECUTE ON
    ALL FUNCTIONS), it is refused the lock table they read."""
    with installed.connect() as owner:
        assert owner.execute(
            "SELECT app.verify_triggers_sync_token() = md5(generation::text || ':'"
            " || pg_current_xact_id()::text) FROM app.verify_triggers_lock WHERE bucket = -2").fetchone()[0]
    calls = ("SELECT app.verify_triggers_secret()", "SELECT app.verify_triggers_sync_token()")
    with psycopg.connect(installed.url(user=app_role)) as app:
        for call in calls:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="function"):
                app.execute(call)
            app.rollback()
    with installed.connect() as owner:
        owner.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO {}").format(
            sql.Identifier(app_role)))
    with psycopg.connect(installed.url(user=app_role)) as app:
        for call in calls:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="verify_triggers_lock"):
                app.execute(call)
            app.rollback()
