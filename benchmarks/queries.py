"""The SQL the benchmark runs: constants with bound parameters, schema names composed by psycopg.sql.

The application's tables live in schema ``app`` (``SCHEMA``), where the migrations install the
sync by default and the pgbench scripts look. The benchmark's own helpers (the rows a sheet
import inserts, pg_walinspect) live in schema ``bench``, which no trigger and no judgement reads.
"""

from psycopg import sql

SCHEMA = "app"
BENCH = "bench"
# verified_by of the sheet rows a person verified by hand: the sync must never undo them.
HUMAN = "bench-human"
STAMP = "verify-triggers"
SUPPLIERS = 200


def _q(text: str) -> sql.Composed:
    return sql.SQL(text).format(s=sql.Identifier(SCHEMA), b=sql.Identifier(BENCH))


# --- data ------------------------------------------------------------------------------------
# N products and N matches (match i: product i, supplier i % 200 + 1, unconfirmed), and up to 3N
# sheet rows (%(sheets)s): product i against its matched supplier (id % 3 = 1) and the next two
# suppliers. Every 50th sheet row is verified by a person. Ids are explicit so the pgbench
# scripts can pick matches by id.
LOAD = [
    _q("""
    INSERT INTO {s}.suppliers (id, name, country, contact_email)
    SELECT g, 'SUP' || lpad(g::text, 4, '0'), 'CN', 'sales' || g || '@example.cn'
    FROM generate_series(1, %(suppliers)s) AS g
    """),
    _q("""
    INSERT INTO {s}.products (id, sku, name, stock_quantity, base_price)
    SELECT g, 'SKU' || lpad(g::text, 8, '0'), 'Product number ' || g, g %% 50, (g %% 1000) + 0.99
    FROM generate_series(1, %(n)s) AS g
    """),
    _q("""
    INSERT INTO {s}.supplier_products
        (id, supplier_id, local_product_id, supplier_product_name, supplier_product_url,
         supplier_price, confidence_score, import_source, last_price_update)
    SELECT g, g %% %(suppliers)s + 1, g, 'Supplier listing for product ' || g,
           'https://detail.example.cn/item/' || g || '.html', (g %% 997) + 0.5, (g %% 100) / 100.0,
           'sheet-' || (g %% 7), timestamptz '2026-01-01' + (g %% 365) * interval '1 day'
    FROM generate_series(1, %(n)s) AS g
    """),
    _q("""
    INSERT INTO {s}.product_supplier_sheets
        (id, sku, supplier_name, supplier_id, price_cny, supplier_url, supplier_contact,
         is_verified, verified_by, verified_at)
    SELECT r.id, 'SKU' || lpad(r.g::text, 8, '0'), su.name, su.id, (r.id %% 991) + 0.25,
           'https://shop.example.cn/p/' || r.id, 'wechat:seller' || su.id,
           r.id %% 50 = 0,
           CASE WHEN r.id %% 50 = 0 THEN %(human)s END,
           CASE WHEN r.id %% 50 = 0 THEN timestamptz '2026-01-01' END
    FROM (
        SELECT g, k, 3 * (g - 1) + k + 1 AS id
        FROM generate_series(1, %(n)s) AS g CROSS JOIN generate_series(0, 2) AS k
    ) AS r
    INNER JOIN {s}.suppliers AS su ON su.id = (r.g + r.k) %% %(suppliers)s + 1
    WHERE r.id <= %(sheets)s
    ORDER BY r.id
    """),
    _q("SELECT setval(pg_get_serial_sequence('{s}.suppliers', 'id'), %(suppliers)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.products', 'id'), %(n)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.supplier_products', 'id'), %(n)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.product_supplier_sheets', 'id'), %(sheets)s)"),
]

# The rows a sheet import inserts: the N rows of the matched pairs, copied aside unverified (as
# a supplier's sheet arrives). Each import run first deletes them from the sheets, untimed, in
# the transaction it then rolls back.
STAGE_IMPORT = [
    _q("CREATE SCHEMA {b}"),
    _q("""
    CREATE TABLE {b}.import_rows AS
    SELECT sh.sku, sh.supplier_name, sh.supplier_id, sh.price_cny, sh.supplier_url,
           sh.supplier_contact
    FROM {s}.product_supplier_sheets AS sh
    WHERE sh.id %% 3 = 1
    ORDER BY sh.id
    """),
]
# Per-transaction WAL records (WAL bytes per confirm), where the server ships the extension.
WALINSPECT_AVAILABLE = sql.SQL(
    "SELECT count(*) > 0 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_walinspect'"
)
CREATE_WALINSPECT = _q("CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA {b}")

VACUUM_ANALYZE = _q("VACUUM ANALYZE")
CHECKPOINT = _q("CHECKPOINT")
ANALYZE = _q("ANALYZE")
VACUUM_TABLES = [
    _q("VACUUM {s}.supplier_products"),
    _q("VACUUM {s}.product_supplier_sheets"),
]
VACUUM_LOCK_TABLE = _q("VACUUM {s}.verify_triggers_lock")

# --- the rule, judged independently of the triggers -----------------------------------------
# drift = confirmed pairs' rows not verified + rows stamped by the sync whose pair is not
# confirmed. human = person-made verifications still in place. state = an order-independent
# hash of every row's (sku, supplier_name, is_verified, verified_by): approaches that end in
# the same state have the same hash (ids are left out: an import gives new ones).
DRIFT = _q("""
WITH confirmed AS (
    SELECT DISTINCT pr.sku, su.name AS supplier_name
    FROM {s}.supplier_products AS sp
    INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
    INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
    WHERE sp.manual_confirmed
)
SELECT
    count(*) FILTER (WHERE c.sku IS NOT NULL AND sh.is_verified IS NOT TRUE) AS unverified,
    count(*) FILTER (WHERE c.sku IS NULL AND sh.verified_by = %(stamp)s) AS stale,
    count(*) FILTER (WHERE sh.is_verified AND sh.verified_by = %(human)s) AS human,
    count(*) FILTER (WHERE sh.is_verified) AS verified,
    coalesce(sum(hashtext(sh.sku || '/' || sh.supplier_name || '/' || sh.is_verified || '/'
                          || coalesce(sh.verified_by, '-'))), 0) AS state
FROM {s}.product_supplier_sheets AS sh
LEFT JOIN confirmed AS c ON sh.sku = c.sku AND sh.supplier_name = c.supplier_name
""")

# Rows read by this transaction so far, over every table (seq_tup_read + idx_tup_fetch).
READS = sql.SQL("""
SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::bigint
FROM pg_catalog.pg_stat_xact_user_tables
""")

SET_LOCAL_STATEMENT_TIMEOUT = sql.SQL("SELECT pg_catalog.set_config('statement_timeout', %(ms)s, true)")

# Heavyweight locks this transaction holds (after a bulk statement: held to its end).
OWN_LOCKS = sql.SQL(
    "SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid()"
)

# --- bulk confirm ---------------------------------------------------------------------------
CONFIRM_ALL = _q("""
UPDATE {s}.supplier_products
SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now()
WHERE NOT manual_confirmed
""")

# The hand-written sync a developer would run after CONFIRM_ALL, in the same transaction:
# verify every confirmed pair's row that is not verified yet.
HAND_VERIFY = _q("""
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = true, verified_by = %(stamp)s, verified_at = now()
FROM {s}.supplier_products AS sp
INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
WHERE sp.manual_confirmed
    AND sh.sku = pr.sku
    AND sh.supplier_name = su.name
    AND sh.is_verified IS NOT TRUE
""")

# The other half of the rule, for setting up states in the database without triggers.
HAND_UNVERIFY = _q("""
WITH confirmed AS MATERIALIZED (
    SELECT DISTINCT pr.sku, su.name AS supplier_name
    FROM {s}.supplier_products AS sp
    INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
    INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
    WHERE sp.manual_confirmed
)
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = false, verified_by = NULL, verified_at = NULL
WHERE sh.verified_by = %(stamp)s
    AND NOT EXISTS (
        SELECT 1 FROM confirmed AS c WHERE c.sku = sh.sku AND c.supplier_name = sh.supplier_name
    )
""")

# Every row the sync verified, un-verified behind its back (session_replication_role =
# replica): drift for `verify-triggers sync` to repair again.
HAND_UNVERIFY_ALL_STAMPED = _q("""
UPDATE {s}.product_supplier_sheets
SET is_verified = false, verified_by = NULL, verified_at = NULL
WHERE verified_by = %(stamp)s
""")

# Confirmed iff id % 100 < pct, the convention the pgbench scripts rely on.
SET_CONFIRMED_SHARE = _q("""
UPDATE {s}.supplier_products
SET manual_confirmed = (id %% 100 < %(pct)s),
    confirmed_by = CASE WHEN id %% 100 < %(pct)s THEN 1 END,
    confirmed_at = CASE WHEN id %% 100 < %(pct)s THEN now() END
WHERE manual_confirmed IS DISTINCT FROM (id %% 100 < %(pct)s)
""")

# --- sheet import ---------------------------------------------------------------------------
IMPORT_CLEAR = _q("DELETE FROM {s}.product_supplier_sheets WHERE id %% 3 = 1")
IMPORT = _q("""
INSERT INTO {s}.product_supplier_sheets
    (sku, supplier_name, supplier_id, price_cny, supplier_url, supplier_contact)
SELECT i.sku, i.supplier_name, i.supplier_id, i.price_cny, i.supplier_url, i.supplier_contact
FROM {b}.import_rows AS i
""")
# The hand-written sync after the import, in the same transaction: verify the imported rows
# whose pair a match confirms.
HAND_VERIFY_IMPORTED = _q("""
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = true, verified_by = %(stamp)s, verified_at = now()
FROM {b}.import_rows AS i
INNER JOIN {s}.products AS pr ON pr.sku = i.sku
INNER JOIN {s}.suppliers AS su ON su.name = i.supplier_name
INNER JOIN {s}.supplier_products AS sp ON sp.local_product_id = pr.id AND sp.supplier_id = su.id
WHERE sp.manual_confirmed
    AND sh.sku = i.sku
    AND sh.supplier_name = i.supplier_name
    AND sh.is_verified IS NOT TRUE
""")

# --- price refresh: columns the sync does not read -------------------------------------------
SP_PRICE = _q("""
UPDATE {s}.supplier_products
SET supplier_price = supplier_price * 1.01, last_price_update = now(), updated_at = now()
""")
SHEET_PRICE = _q("UPDATE {s}.product_supplier_sheets SET price_cny = price_cny * 1.01, updated_at = now()")

# --- one confirm, for WAL bytes and round trips ----------------------------------------------
# Each returns the transaction id, so its WAL records can be picked out of everyone else's.
CONFIRM_ONE = _q("""
UPDATE {s}.supplier_products
SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now()
WHERE id = %(id)s
RETURNING pg_current_xact_id()::xid::text
""")
UNCONFIRM_ONE = _q("""
UPDATE {s}.supplier_products
SET manual_confirmed = false, confirmed_by = NULL, confirmed_at = NULL
WHERE id = %(id)s
RETURNING pg_current_xact_id()::xid::text
""")
# The application's own sync of that match, as benchmarks/pgbench/app_cycle.sql runs it.
APP_VERIFY_ONE = _q("""
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = true, verified_by = %(stamp)s, verified_at = now()
FROM {s}.supplier_products AS sp
INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
WHERE sp.id = %(id)s AND sh.sku = pr.sku AND sh.supplier_name = su.name
    AND sh.is_verified IS NOT TRUE
""")
APP_UNVERIFY_ONE = _q("""
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = false, verified_by = NULL, verified_at = NULL
FROM {s}.supplier_products AS sp
INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
WHERE sp.id = %(id)s AND sh.sku = pr.sku AND sh.supplier_name = su.name
    AND sh.verified_by = %(stamp)s
    AND NOT EXISTS (
        SELECT 1
        FROM {s}.supplier_products AS o
        INNER JOIN {s}.products AS opr ON o.local_product_id = opr.id
        INNER JOIN {s}.suppliers AS osu ON o.supplier_id = osu.id
        WHERE o.manual_confirmed AND opr.sku = sh.sku AND osu.name = sh.supplier_name
    )
""")
BEGIN = sql.SQL("BEGIN")
COMMIT = sql.SQL("COMMIT")
WAL_INSERT_LSN = sql.SQL("SELECT pg_catalog.pg_current_wal_insert_lsn()::text")
WAL_FLUSH_LSN = sql.SQL("SELECT pg_catalog.pg_current_wal_flush_lsn()::text")
WAL_RECORDS = _q("""
SELECT w.xid::text, w.record_type, w.record_length, w.fpi_length, w.description
FROM {b}.pg_get_wal_records_info(%(start)s::pg_lsn, %(end)s::pg_lsn) AS w
WHERE w.xid <> '0'::xid
""")

# --- check and sync -------------------------------------------------------------------------
REPLICA_ROLE = sql.SQL("SET LOCAL session_replication_role = replica")
# For setting up a state by hand under stale statistics (an estimate of one confirmed match
# where there are 90,000 makes a nested loop quadratic): hash joins, one pass over each table.
NO_NESTED_LOOPS = sql.SQL("SET LOCAL enable_nestloop = off")
# After a bulk change, as autovacuum would (this server may run with autovacuum off).
ANALYZE_SP = _q("ANALYZE {s}.supplier_products")

# What exactly was measured: a fingerprint of the installed functions' definitions, and the
# revision the migrations recorded.
FUNCTIONS_MD5 = sql.SQL("""
SELECT left(md5(string_agg(pg_catalog.pg_get_functiondef(p.oid), '' ORDER BY p.proname)), 12)
FROM pg_catalog.pg_proc AS p
INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
WHERE n.nspname = %(schema)s AND p.proname LIKE 'verify\\_triggers\\_%%'
""")
APPLIED_REVISION = _q("SELECT version_num FROM {s}.verify_triggers_version")

SETTINGS = sql.SQL("""
SELECT name, setting, unit FROM pg_catalog.pg_settings WHERE name = ANY(%(names)s) ORDER BY name
""")
VERSION = sql.SQL("SELECT pg_catalog.version()")
# The server's WAL so far: full-page images and bytes (read before and after a run).
WAL_STATS = sql.SQL("SELECT w.wal_fpi, w.wal_bytes FROM pg_catalog.pg_stat_wal AS w")
# What each active client backend of one database is doing now: its wait event, or "CPU" where
# it waits on nothing (running, or ready to run).
ACTIVE_WAITS = sql.SQL("""
SELECT coalesce(a.wait_event_type || ':' || a.wait_event, 'CPU')
FROM pg_catalog.pg_stat_activity AS a
WHERE
    a.datname = %(name)s
    AND a.state = 'active'
    AND a.backend_type = 'client backend'
    AND a.pid <> pg_catalog.pg_backend_pid()
""")
DATABASE_MB = sql.SQL("SELECT pg_catalog.pg_database_size(%(name)s) / 1048576.0")
