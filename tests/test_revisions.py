"""What the revisions install, compared catalog against catalog.

The head definitions live once, in sql/triggers/; each revision's frozen scripts are cut from
them by scripts/cut_revision.py; released revisions (0001 to 0008) still
execute the statements they were released with.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg import sql

from verify_triggers import revisions
from verify_triggers.constants import cut_values
from verify_triggers.migrate import commands
from verify_triggers.target import Target

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"

# The catalog as a DBA would compare two installs: every object of the sync, rendered by the
# server, with privileges, firing modes and comments. Written for the tests, independently of
# the package's own record of fingerprints.
CATALOG = """
SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid) || coalesce(' acl=' || p.proacl::text, '')
       || coalesce(' comment=' || obj_description(p.oid, 'pg_proc'), '')
FROM pg_proc p WHERE p.pronamespace = 'app'::regnamespace AND p.proname LIKE 'verify\\_triggers\\_%'
UNION ALL
SELECT 'trigger ' || t.tgname || ' on ' || c.relname, pg_get_triggerdef(t.oid) || ' mode=' || t.tgenabled::text
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'app'::regnamespace AND t.tgname LIKE 'verify\\_triggers\\_%'
UNION ALL
SELECT 'relation ' || c.relname,
       c.relkind::text || ' ' || coalesce(pg_get_indexdef(c.oid), '') || ' '
       || coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                                      || ':' || a.attnotnull, ',' ORDER BY a.attnum)
                    FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                    AND NOT a.attisdropped), '')
       || ' opts=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, '')
       || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
FROM pg_class c
WHERE c.relnamespace = 'app'::regnamespace AND c.relname LIKE 'verify\\_triggers\\_%'
  AND c.relname NOT LIKE 'verify\\_triggers\\_version%'
ORDER BY 1
"""


def catalog(db) -> dict[str, str]:
    with db.connect() as conn:
        return dict(conn.execute(CATALOG).fetchall())


def differences(left: dict, right: dict) -> dict:
    keys = set(left) | set(right)
    return {k: (left.get(k), right.get(k)) for k in sorted(keys) if left.get(k) != right.get(k)}


def fill(text: str) -> str:
    """A head definition file as an install would run it: constants, then the schema."""
    values = {name: sql.Literal(value) for name, value in cut_values().items()}
    values.update(schema=sql.Identifier("app"), schema_name=sql.Literal("app"),
                  revision=sql.Literal(revisions.head().revision))
    return sql.SQL(text).format(**values).as_string(None)


def test_the_revisions_in_order_install_exactly_what_sql_triggers_defines(make_db):
    chained, direct = make_db(), make_db()
    chained.upgrade("head")
    with direct.connect() as conn:
        conn.execute(fill((ROOT / "sql/triggers/sync.sql").read_text()))
    # the sync's own indexes: those the chained install needed on this schema
    with chained.connect() as conn:
        own_indexes = [row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'i' AND c.relname LIKE"
            " 'verify\\_triggers\\_%\\_idx' AND c.relnamespace = 'app'::regnamespace")]
    index_text = (ROOT / "sql/triggers/indexes.sql").read_text()
    with direct.connect() as conn:
        for chunk in index_text.split("-- object: index ")[1:]:
            name = chunk.split("\n", 1)[0].strip()
            if name in own_indexes:
                conn.execute(fill("-- x\n" + chunk.split("\n", 1)[1]))
    assert differences(catalog(chained), catalog(direct)) == {}


@pytest.mark.parametrize("rev", [r.revision for r in revisions.chain() if r.previous])
def test_each_downgrade_restores_the_revision_before_it(make_db, rev):
    previous = revisions.get(rev).previous
    reference, round_trip = make_db(), make_db()
    reference.upgrade(previous)
    round_trip.upgrade(rev)
    assert differences(catalog(reference), catalog(round_trip)) != {}, \
        f"revision {rev} should change something"
    round_trip.downgrade(previous)
    assert differences(catalog(reference), catalog(round_trip)) == {}


def normalized(script: str, start: str, end: str) -> list[str]:
    """The statements between two markers of an offline script, comments outside
    dollar-quoted bodies and blank lines dropped, whitespace collapsed."""
    body = script[script.index(start):]
    body = body[:body.index(end)] if end in body else body
    out, quoted = [], None
    for line in body.splitlines():
        if quoted is None and line.strip().startswith("--"):
            continue
        for tag in re.findall(r"\$[A-Za-z_]*\$", line):
            quoted = None if quoted == tag else (tag if quoted is None else quoted)
        if line.strip():
            out.append(" ".join(line.split()))
    return out


@pytest.mark.parametrize("golden, command, start, end", [
    ("up_0001.sql", ("upgrade", "0001"), "-- Running upgrade  -> 0001", "INSERT INTO app.verify_triggers_version"),
    ("up_0002.sql", ("upgrade", "0001:0002"), "-- Running upgrade 0001 -> 0002", "UPDATE app.verify_triggers_version"),
    ("down_0002.sql", ("downgrade", "0002:0001"), "-- Running downgrade 0002 -> 0001", "UPDATE app.verify_triggers_version"),
    ("down_0001.sql", ("downgrade", "0001:base"), "-- Running downgrade 0001 -> ", "DELETE FROM app.verify_triggers_version"),
    ("up_0003.sql", ("upgrade", "0002:0003"), "-- Running upgrade 0002 -> 0003", "UPDATE app.verify_triggers_version"),
    ("down_0003.sql", ("downgrade", "0003:0002"), "-- Running downgrade 0003 -> 0002", "UPDATE app.verify_triggers_version"),
    ("up_0004.sql", ("upgrade", "0003:0004"), "-- Running upgrade 0003 -> 0004", "UPDATE app.verify_triggers_version"),
    ("down_0004.sql", ("downgrade", "0004:0003"), "-- Running downgrade 0004 -> 0003", "UPDATE app.verify_triggers_version"),
    ("up_0005.sql", ("upgrade", "0004:0005"), "-- Running upgrade 0004 -> 0005", "UPDATE app.verify_triggers_version"),
    ("down_0005.sql", ("downgrade", "0005:0004"), "-- Running downgrade 0005 -> 0004", "UPDATE app.verify_triggers_version"),
    ("up_0006.sql", ("upgrade", "0005:0006"), "-- Running upgrade 0005 -> 0006", "UPDATE app.verify_triggers_version"),
    ("down_0006.sql", ("downgrade", "0006:0005"), "-- Running downgrade 0006 -> 0005", "UPDATE app.verify_triggers_version"),
    ("up_0007.sql", ("upgrade", "0006:0007"), "-- Running upgrade 0006 -> 0007", "UPDATE app.verify_triggers_version"),
    ("down_0007.sql", ("downgrade", "0007:0006"), "-- Running downgrade 0007 -> 0006", "UPDATE app.verify_triggers_version"),
    ("up_0008.sql", ("upgrade", "0007:0008"), "-- Running upgrade 0007 -> 0008", "UPDATE app.verify_triggers_version"),
    ("down_0008.sql", ("downgrade", "0008:0007"), "-- Running downgrade 0008 -> 0007", "UPDATE app.verify_triggers_version"),
], ids=["upgrade-0001", "upgrade-0002", "downgrade-0002", "downgrade-0001", "upgrade-0003", "downgrade-0003",
        "upgrade-0004", "downgrade-0004", "upgrade-0005", "downgrade-0005", "upgrade-0006", "downgrade-0006",
        "upgrade-0007", "downgrade-0007", "upgrade-0008", "downgrade-0008"])
def test_released_revisions_still_execute_the_statements_they_were_released_with(golden, command, start, end):
    config = commands.make_config(Target(url=None, schema="app"))
    verb, revision = command
    if verb == "upgrade":
        now = commands.offline_script(config, revision)
    else:
        frm, to = revision.split(":")
        now = commands.offline_script(config, to, downgrade_from=frm)
    released = (GOLDEN / golden).read_text()
    assert normalized(now, start, end) == normalized(released, start, end)


def test_the_latest_cut_is_what_sql_triggers_defines():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/cut_revision.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_a_cut_wrote_says_it_was_generated():
    for rev in revisions.chain():
        if not rev.cut:
            continue
        for path in (ROOT / "sql/revisions" / rev.revision).rglob("*.sql"):
            assert path.read_text().startswith("-- Generated by scripts/cut_revision.py"), path


def test_the_package_knows_the_revisions_alembic_runs():
    script = commands.script()
    alembic_chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert [r.revision for r in revisions.chain()] == alembic_chain
    assert revisions.head().revision == script.get_current_head()
