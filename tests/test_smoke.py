from rule import drift, sheet


def test_upgrade_verifies_the_seeds_confirmed_pairs(conn):
    assert drift(conn) == []
    assert sheet(conn, "BMX136", "PAREK")[:2] == (True, "verify-triggers")
    assert sheet(conn, "AUR516", "WANKE")[:2] == (False, None)
