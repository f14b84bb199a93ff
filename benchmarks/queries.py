"""The SQL the benchmark runs, as constants with bound parameters (no string formatting).

Every benchmark database holds the tables in schema ``app`` (``SCHEMA``), the schema the
migrations install into by default and the pgbench scripts name.
"""

from psycopg import sql

SCHEMA = "app"
# verified_by of the sheet rows a person verified by hand: the sync must never undo them.
HUMAN = "bench-human"
STAMP = "verify-triggers"
SUPPLIERS = 200


def _q(text: str) -> sql.Composed:
    return sql.SQL(text).format(s=sql.Identifier(SCHEMA))


# --- data --------------------------------------------------------------------------------
# N products, N matches (match i: product i, supplier i % 200 + 1, unconfirmed), and 3N sheet
# rows: product i against its matched supplier and the next two suppliers. Every 50th sheet
# row is verified by a person. Ids are explicit so the pgbench scripts can pick matches by id.
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
         supplier_price, confidence_score)
    SELECT g, g %% %(suppliers)s + 1, g, 'Supplier listing for product ' || g,
           'https://detail.example.cn/item/' || g || '.html', (g %% 997) + 0.5, (g %% 100) / 100.0
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
    ORDER BY r.id
    """),
    _q("SELECT setval(pg_get_serial_sequence('{s}.suppliers', 'id'), %(suppliers)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.products', 'id'), %(n)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.supplier_products', 'id'), %(n)s)"),
    _q("SELECT setval(pg_get_serial_sequence('{s}.product_supplier_sheets', 'id'), 3 * %(n)s)"),
]

VACUUM_ANALYZE = _q("VACUUM ANALYZE")
VACUUM_TABLES = [
    _q("VACUUM {s}.supplier_products"),
    _q("VACUUM {s}.product_supplier_sheets"),
]
VACUUM_LOCK_TABLE = _q("VACUUM {s}.verify_triggers_lock")

# --- the rule, judged independently of the triggers ---------------------------------------
# drift = confirmed pairs' rows not verified + rows stamped by the sync whose pair is not
# confirmed. human = person-made verifications still in place. state = an order-independent
# hash of every row's (id, is_verified, verified_by): approaches that end in the same state
# have the same hash.
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
    coalesce(sum(hashtext(sh.id || '/' || sh.is_verified || '/' || coalesce(sh.verified_by, '-'))), 0)
        AS state
FROM {s}.product_supplier_sheets AS sh
LEFT JOIN confirmed AS c ON sh.sku = c.sku AND sh.supplier_name = c.supplier_name
""")

# --- (a) bulk confirm -----------------------------------------------------------------
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
UPDATE {s}.product_supplier_sheets AS sh
SET is_verified = false, verified_by = NULL, verified_at = NULL
WHERE sh.verified_by = %(stamp)s
    AND NOT EXISTS (
        SELECT 1
        FROM {s}.supplier_products AS sp
        INNER JOIN {s}.products AS pr ON sp.local_product_id = pr.id
        INNER JOIN {s}.suppliers AS su ON sp.supplier_id = su.id
        WHERE sp.manual_confirmed AND pr.sku = sh.sku AND su.name = sh.supplier_name
    )
""")

# Confirmed iff id % 100 < pct, the convention the pgbench scripts rely on.
SET_CONFIRMED_SHARE = _q("""
UPDATE {s}.supplier_products
SET manual_confirmed = (id %% 100 < %(pct)s),
    confirmed_by = CASE WHEN id %% 100 < %(pct)s THEN 1 END,
    confirmed_at = CASE WHEN id %% 100 < %(pct)s THEN now() END
WHERE manual_confirmed IS DISTINCT FROM (id %% 100 < %(pct)s)
""")

# --- (b) columns the sync does not depend on -------------------------------------------
SP_PRICE_ONE = _q("UPDATE {s}.supplier_products SET supplier_price = supplier_price WHERE id = 1")
SHEET_PRICE_ONE = _q("UPDATE {s}.product_supplier_sheets SET price_cny = price_cny WHERE id = 1")
SET_STATEMENT_TIMEOUT = sql.SQL("SELECT pg_catalog.set_config('statement_timeout', %(ms)s, false)")
SP_PRICE = _q("UPDATE {s}.supplier_products SET supplier_price = supplier_price * 1.01, updated_at = now()")
SHEET_PRICE = _q("UPDATE {s}.product_supplier_sheets SET price_cny = price_cny * 1.01, updated_at = now()")

# --- (d) check and sync -------------------------------------------------------------------
SYNC_ALL = _q("SELECT {s}.verify_triggers_sync(NULL)")
REPLICA_ROLE = sql.SQL("SET LOCAL session_replication_role = replica")
# After a bulk change, as autovacuum would (this server may run with autovacuum off).
ANALYZE_SP = _q("ANALYZE {s}.supplier_products")
ORIGIN_ROLE = sql.SQL("SET LOCAL session_replication_role = origin")

# What exactly was measured: a fingerprint of the installed trigger functions' definitions.
FUNCTIONS_MD5 = sql.SQL("""
SELECT left(md5(string_agg(pg_catalog.pg_get_functiondef(p.oid), '' ORDER BY p.proname)), 12)
FROM pg_catalog.pg_proc AS p
INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
WHERE n.nspname = %(schema)s AND p.proname LIKE 'verify\\_triggers\\_%%'
""")

# --- locks ---------------------------------------------------------------------------------
OWN_LOCKS = sql.SQL("""
SELECT count(*) AS total,
       count(*) FILTER (WHERE locktype = 'advisory') AS advisory,
       count(*) FILTER (WHERE locktype = 'relation') AS relation
FROM pg_catalog.pg_locks
WHERE pid = pg_catalog.pg_backend_pid()
""")
LOCKS_OF = sql.SQL("SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = %(pid)s")
# Bucket rows this transaction (or a subtransaction of it) updated, each row-locked until
# commit: versions no older than our own xid. Nothing else writes the benchmark's database.
BUCKET_ROWS_LOCKED = _q("""
SELECT count(*) FROM {s}.verify_triggers_lock AS l
WHERE l.bucket >= 0 AND age(l.xmin) <= age(pg_current_xact_id()::xid)
""")

# WAL position, and bytes of WAL written since a position (pgbench runs).
WAL_LSN = "SELECT pg_catalog.pg_current_wal_lsn()"
WAL_SINCE = "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), %(lsn)s::pg_lsn)"
