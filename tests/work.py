"""What a write reads: counters of the four tables, taken inside the write's transaction.

`measure` runs one statement in an open transaction and returns what it read, triggers
included, from ``pg_stat_xact_user_tables``: ``seq_tup_read`` (rows returned by sequential
scans) plus ``idx_tup_fetch`` (live rows fetched through indexes, bitmap scans included),
per table, and the index entries read (``pg_stat_get_xact_tuples_returned`` of the table's
indexes, the ``idx_tup_read`` of ``pg_stat_user_indexes``). Index entries see what the row
counters miss: entries whose rows this transaction deleted or updated (an unconfirm
probing an index of confirmed matches fetches rows that are no longer visible and counts
none of them) and index-only scans. Counters are read before and after the statement in
the same transaction, so what earlier transactions of the session left unflushed cancels
out. They count reads, never time: the same plan gives the same numbers on any machine.

Table counters miss work that reads no table: a nested loop that rescans a transition table,
an unnested array or a materialized CTE once per row of its outer side. So `measure` also
counts the rows every plan node handled, in every statement the write ran (triggers'
statements included): through auto_explain (``log_analyze`` without timing,
``log_nested_statements``, JSON), each node's ``Actual Rows`` plus the rows its filters
removed, times its ``Actual Loops``. Up to revision 0006 a bulk confirm under emptied
statistics read a bounded number of table rows, but its names lookup rescanned the written
rows once per product: 20 million plan rows for 2,000 matches.

The scenario (`DataSize`, `paths`, `Cell`, `Templates`, `run_cell`) is shared by
tests/test_sync_work_is_bounded.py, which asserts bounds on it, and tests/work_report.py
(``python -m tests.work_report``), which prints it as a table for the installed revision.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SCHEMA = "app"
TABLES = ("suppliers", "products", "supplier_products", "product_supplier_sheets")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA_FILES = {"app": FIXTURES / "schema.sql", "lean": FIXTURES / "schema_lean.sql"}
# A measured statement that runs longer than this is cancelled and reported: a quadratic
# plan fails the test in seconds instead of holding the suite for minutes.
STATEMENT_TIMEOUT = "20s"
# How often a path runs in the session before the measured run, in the "warm" cells: past
# five executions PL/pgSQL's plan cache may switch a statement to its generic plan.
WARM_RUNS = 5

COUNTERS = """
SELECT
    t.relname,
    t.seq_tup_read,
    coalesce(t.idx_tup_fetch, 0),
    coalesce((
        SELECT sum(pg_catalog.pg_stat_get_xact_tuples_returned(i.indexrelid))
        FROM pg_catalog.pg_index AS i
        WHERE i.indrelid = t.relid
    ), 0)::bigint
FROM pg_catalog.pg_stat_xact_user_tables AS t
WHERE t.schemaname = %(schema)s AND t.relname = ANY(%(tables)s)
"""


# auto_explain's settings while a statement is measured: every statement, nested ones too,
# analyzed (rows and loops, no timing), as JSON, sent to the client as a NOTICE.
PLAN_SETTINGS = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_timing": "off",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_format": "json",
    "auto_explain.log_level": "notice",
}
PLAN_SETTINGS_SQL = "SELECT " + ", ".join("pg_catalog.set_config(%s, %s, true)" for _ in PLAN_SETTINGS)
# What a plan node reports of the rows it handled besides those it returned, per loop.
_REMOVED = ("Rows Removed by Filter", "Rows Removed by Join Filter", "Rows Removed by Index Recheck")


def plan_rows(node: dict) -> int:
    """Rows a plan node and its children handled: returned or filtered out, over all loops."""
    loops = node.get("Actual Loops", 0)
    own = (node.get("Actual Rows", 0) + sum(node.get(k, 0) for k in _REMOVED)) * loops
    return round(own) + sum(plan_rows(child) for child in node.get("Plans", ()))


def _plan_of(notice: str) -> dict | None:
    """The plan in an auto_explain notice ("duration: ... plan:\n{json}"), or None."""
    if not notice.startswith("duration:") or "{" not in notice:
        return None
    return json.loads(notice[notice.index("{"):])["Plan"]


class WorkTimeout(AssertionError):
    """A measured statement ran past STATEMENT_TIMEOUT (cancelled by the server)."""


@dataclass(frozen=True)
class TableReads:
    seq_tup_read: int = 0
    idx_tup_fetch: int = 0
    index_entries: int = 0

    @property
    def rows(self) -> int:
        return self.seq_tup_read + self.idx_tup_fetch

    def __sub__(self, other: "TableReads") -> "TableReads":
        return TableReads(self.seq_tup_read - other.seq_tup_read,
                          self.idx_tup_fetch - other.idx_tup_fetch,
                          self.index_entries - other.index_entries)


@dataclass(frozen=True)
class Reads:
    """What one statement read, by table (the four tables only)."""

    tables: dict = field(default_factory=dict)  # relname -> TableReads
    plan_rows: int = 0  # rows handled by the plan nodes of every statement run (see above)
    statements: int = 0  # statements run, the measured one and its triggers' own

    @property
    def rows(self) -> int:
        """seq_tup_read + idx_tup_fetch over the four tables."""
        return sum(t.rows for t in self.tables.values())

    @property
    def index_entries(self) -> int:
        return sum(t.index_entries for t in self.tables.values())

    def table(self, name: str) -> TableReads:
        return self.tables.get(name, TableReads())

    def describe(self) -> str:
        parts = [f"{name} {t.rows} rows/{t.index_entries} index entries"
                 for name, t in self.tables.items() if t.rows or t.index_entries]
        return (f"{self.rows} rows, {self.index_entries} index entries ({'; '.join(parts) or 'nothing'});"
                f" {self.plan_rows} rows handled by the plan nodes of {self.statements} statements")


def counters(conn: psycopg.Connection, schema: str = SCHEMA) -> dict:
    rows = conn.execute(COUNTERS, {"schema": schema, "tables": list(TABLES)}).fetchall()
    return {name: TableReads(seq, fetch, entries) for name, seq, fetch, entries in rows}


def measure(conn: psycopg.Connection, statement, params=None, schema: str = SCHEMA,
            timeout: str = STATEMENT_TIMEOUT, what: str = "statement",
            count_plans: bool = True) -> tuple[Reads, int]:
    """Run `statement` in the connection's open transaction; (what it read, its rowcount).

    The statement runs under SET LOCAL statement_timeout; past it, WorkTimeout. The
    transaction stays open (the caller checks what the statement did, then rolls back).
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise RuntimeError("measure() needs an open transaction: the counters are per transaction")
    before = counters(conn, schema)
    plans: list[dict] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        plan = _plan_of(diagnostic.message_primary or "")
        if plan is not None:
            plans.append(plan)

    if count_plans:
        conn.execute("LOAD 'auto_explain'")
        conn.execute(PLAN_SETTINGS_SQL, [value for pair in PLAN_SETTINGS.items() for value in pair])
        conn.add_notice_handler(collect)
    conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout)))
    started = time.perf_counter()
    try:
        cursor = conn.execute(statement, params)
    except psycopg.errors.QueryCanceled as exc:
        raise WorkTimeout(
            f"{what} was cancelled after statement_timeout = {timeout} ({time.perf_counter() - started:.1f} s):"
            f" its work is not bounded (a plan that rereads a table per row?); in: {_innermost(exc)}") from None
    finally:
        if count_plans:
            conn.remove_notice_handler(collect)
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                conn.execute("SET LOCAL auto_explain.log_min_duration = -1")
    if count_plans and not plans:
        raise RuntimeError(f"auto_explain reported no plan for {what}: its rows handled were not counted")
    rowcount = cursor.rowcount
    conn.execute("SET LOCAL statement_timeout = 0")
    after = counters(conn, schema)
    reads = Reads({name: after.get(name, TableReads()) - before.get(name, TableReads()) for name in TABLES},
                  plan_rows=sum(plan_rows(plan) for plan in plans), statements=len(plans))
    return reads, rowcount


def _innermost(exc: psycopg.Error) -> str:
    """The innermost PL/pgSQL function of the error's context, if any."""
    context = (exc.diag.context or "").strip().splitlines()
    functions = [line for line in context if line.startswith("PL/pgSQL function")]
    return functions[0] if functions else (exc.diag.message_primary or str(exc))


# --- the scenario ------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSize:
    """The data every cell starts from, loaded before the sync is installed.

    Products 1..matches, each matched once (match id = product id, supplier id % suppliers
    + 1), nothing confirmed. Three sheet rows per product (its matched supplier and the next
    two), except the last `n` products, whose rows the sheet import brings. The bulk paths
    write the `n` matches before those; the single-row paths match 1; the renames product 2
    and supplier 3. The warm-up runs write other rows (see `warm_ups`).
    """

    matches: int = 10_000
    n: int = 2_000
    suppliers: int = 200
    warm_rows: int = 50  # rows a bulk warm-up run writes

    @property
    def import_ids(self) -> tuple[int, int]:
        return self.matches - self.n + 1, self.matches

    @property
    def bulk_ids(self) -> tuple[int, int]:
        return self.matches - 2 * self.n + 1, self.matches - self.n

    def bulk_warm_ids(self, run: int) -> tuple[int, int]:
        top = self.matches - 2 * self.n - run * self.warm_rows
        return top - self.warm_rows + 1, top

    @property
    def sheet_rows_per_supplier(self) -> int:
        return 3 * (self.matches - self.n) // self.suppliers


def sku(expression: str) -> str:
    return f"'SKU' || lpad(({expression})::text, 6, '0')"


def supplier_name(expression: str) -> str:
    return f"'SUP' || lpad(({expression})::text, 3, '0')"


def _load(size: DataSize) -> list[str]:
    m, n, s = size.matches, size.n, size.suppliers
    return [
        f"""INSERT INTO app.suppliers (id, name, country, contact_email)
            SELECT g, {supplier_name('g')}, 'CN', 'sales' || g || '@example.cn'
            FROM generate_series(1, {s}) AS g""",
        f"""INSERT INTO app.products (id, sku, name, stock_quantity, base_price)
            SELECT g, {sku('g')}, 'Product ' || g, g % 50, (g % 1000) + 0.99
            FROM generate_series(1, {m}) AS g""",
        f"""INSERT INTO app.supplier_products
                (id, supplier_id, local_product_id, supplier_product_name, supplier_price, confidence_score)
            SELECT g, g % {s} + 1, g, 'Listing ' || g, (g % 997) + 0.5, (g % 100) / 100.0
            FROM generate_series(1, {m}) AS g""",
        f"""INSERT INTO app.product_supplier_sheets (sku, supplier_name, supplier_id, price_cny, supplier_url)
            SELECT {sku('g')}, {supplier_name(f'(g + k) % {s} + 1')}, (g + k) % {s} + 1, (g % 991) + 0.25,
                   'https://shop.example.cn/p/' || g
            FROM generate_series(1, {m - n}) AS g CROSS JOIN generate_series(0, 2) AS k
            ORDER BY g, k""",
        f"SELECT setval(pg_get_serial_sequence('app.suppliers', 'id'), {s})",
        f"SELECT setval(pg_get_serial_sequence('app.products', 'id'), {m})",
        f"SELECT setval(pg_get_serial_sequence('app.supplier_products', 'id'), {m})",
    ]


# The application's schema has two more indexed columns (the lean one has neither).
LOAD_APP_COLUMNS = """
UPDATE app.supplier_products
SET import_source = CASE WHEN id % 3 = 0 THEN 'manual' ELSE 'google_sheets' END,
    last_price_update = timestamptz '2025-01-01' + id * interval '1 minute'
"""

# Variant "every": the schema's indexes plus a btree on every column of the four tables
# that no index leads with yet.
UNINDEXED_COLUMNS = """
SELECT c.relname, a.attname
FROM pg_catalog.pg_attribute AS a
INNER JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
INNER JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = ANY(%(tables)s) AND a.attnum > 0 AND NOT a.attisdropped
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum)
ORDER BY c.relname, a.attnum
"""


def add_every_index(conn: psycopg.Connection, schema: str = SCHEMA) -> list[str]:
    """An index on every column of the four tables that has none leading with it."""
    made = []
    for table, column in conn.execute(UNINDEXED_COLUMNS, {"schema": schema, "tables": list(TABLES)}).fetchall():
        name = f"ix_every_{table}_{column}"[:63]
        conn.execute(sql.SQL("CREATE INDEX {} ON {}.{} ({})").format(
            sql.Identifier(name), sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)))
        made.append(name)
    return made


@dataclass(frozen=True)
class WritePath:
    """A write: the measured statement, the state before it, how to undo it, how to warm up."""

    name: str
    n: int  # N of the bound: the rows it writes or the sheet rows it syncs
    statement: str
    rowcount: int  # what the statement reports, checked so that the cell measures what it says
    warm_ups: tuple  # WARM_RUNS statements of the same kind on other rows (rolled back)
    prepare: str = ""  # run and committed before (on top of the confirmed share)
    revert: str = ""  # undoes `statement` (statistics taken after the change)
    # stats_after: ANALYZE with the statement's effect (run, analyzed, undone), or, for an
    # unconfirm, in the state before it, while its matches are still confirmed
    analyze_with_statement: bool = True
    share: int = 0  # % of the other matches confirmed (id % 100 < share)
    description: str = ""
    bumps_epoch: bool = False  # takes the epoch exclusively: updates every row of the lock table


def _confirm(where: str) -> str:
    return f"UPDATE app.supplier_products SET manual_confirmed = true, confirmed_by = 1, confirmed_at = now() WHERE {where}"


def _unconfirm(where: str) -> str:
    return f"UPDATE app.supplier_products SET manual_confirmed = false, confirmed_by = NULL, confirmed_at = NULL WHERE {where}"


def _import(products: tuple[int, int], supplier_offset: int, size: DataSize) -> str:
    # supplier_id stays NULL: the sync reads supplier_name, and PostgreSQL's foreign-key
    # check of supplier_id (SELECT ... FOR KEY SHARE, a seq scan of the two-page suppliers
    # table per row) would count reads that are the INSERT's, not the sync's
    return f"""INSERT INTO app.product_supplier_sheets (sku, supplier_name, price_cny, supplier_url)
        SELECT {sku('g')}, {supplier_name(f'(g + {supplier_offset}) % {size.suppliers} + 1')}, 7.5,
               'https://shop.example.cn/import/' || g
        FROM generate_series({products[0]}, {products[1]}) AS g"""


# single-row warm-ups write these matches: id % 100 >= 90, so no share ever confirms them
SINGLE_WARM_IDS = (91, 92, 93, 94, 95)


def paths(size: DataSize | None = None) -> dict:
    size = size or DataSize()
    bulk = "id BETWEEN {} AND {}".format(*size.bulk_ids)
    warm_sets = ["id BETWEEN {} AND {}".format(*size.bulk_warm_ids(run)) for run in range(WARM_RUNS)]
    any_warm_set = "id BETWEEN {} AND {}".format(size.bulk_warm_ids(WARM_RUNS - 1)[0], size.bulk_warm_ids(0)[1])
    ilo, ihi = size.import_ids
    w = size.warm_rows
    result = [
        WritePath(
            "bulk_confirm", size.n, _confirm(bulk), size.n,
            warm_ups=tuple(_confirm(s) for s in warm_sets),
            revert=_unconfirm(bulk),
            description=f"one UPDATE confirming {size.n:,} matches, none confirmed before"),
        WritePath(
            "bulk_unconfirm", size.n, _unconfirm(bulk), size.n,
            warm_ups=tuple(_unconfirm(s) for s in warm_sets),
            prepare=_confirm(f"{bulk} OR {any_warm_set}"),
            revert=_confirm(bulk), analyze_with_statement=False,
            description=f"one UPDATE unconfirming the same {size.n:,} matches"),
        WritePath(
            # the INSERT and DELETE trigger (verify_triggers_sp_rows): the same code for both
            "bulk_delete", size.n, f"DELETE FROM app.supplier_products WHERE {bulk}", size.n,
            warm_ups=tuple(f"DELETE FROM app.supplier_products WHERE {s}" for s in warm_sets),
            prepare=_confirm(f"{bulk} OR {any_warm_set}"),
            analyze_with_statement=False,
            description=f"one DELETE of the same {size.n:,} matches, confirmed"),
        WritePath(
            "sheet_import", size.n, _import((ilo, ihi), 0, size), size.n,
            # rows for pairs that have no sheet row yet: a fourth supplier of other products
            warm_ups=tuple(_import((1001 + run * w, 1000 + (run + 1) * w), 3, size) for run in range(WARM_RUNS)),
            prepare=_confirm(f"id BETWEEN {ilo} AND {ihi} AND id % 2 = 1"),
            revert="DELETE FROM app.product_supplier_sheets WHERE supplier_url LIKE 'https://shop.example.cn/import/%'",
            description=f"one INSERT of {size.n:,} sheet rows, half of their pairs confirmed"),
    ]
    for share in (0, 1, 90):
        result += [
            WritePath(
                f"single_confirm_{share}pct", 1, _confirm("id = 1"), 1,
                warm_ups=tuple(_confirm(f"id = {i}") for i in SINGLE_WARM_IDS),
                revert=_unconfirm("id = 1"), share=share,
                description=f"UPDATE confirming one match, {share}% of the others confirmed"),
            WritePath(
                f"single_unconfirm_{share}pct", 1, _unconfirm("id = 1"), 1,
                warm_ups=tuple(_unconfirm(f"id = {i}") for i in SINGLE_WARM_IDS),
                prepare=_confirm("id = 1 OR id IN ({})".format(", ".join(map(str, SINGLE_WARM_IDS)))),
                revert=_confirm("id = 1"), share=share, analyze_with_statement=False,
                description=f"UPDATE unconfirming one match, {share}% of the others confirmed"),
        ]
    result += [
        WritePath(
            "rename_sku", 3, f"UPDATE app.products SET sku = {sku(2)} || '-R' WHERE id = 2", 1,
            warm_ups=tuple(f"UPDATE app.products SET sku = {sku(i)} || '-W' WHERE id = {i}" for i in range(3, 8)),
            revert=f"UPDATE app.products SET sku = {sku(2)} WHERE id = 2", share=90,
            bumps_epoch=True,
            description="UPDATE of one product's sku (3 sheet rows, 1 confirmed), 90% confirmed"),
        WritePath(
            "rename_supplier", size.sheet_rows_per_supplier,
            f"UPDATE app.suppliers SET name = {supplier_name(3)} || '-R' WHERE id = 3", 1,
            warm_ups=tuple(f"UPDATE app.suppliers SET name = {supplier_name(i)} || '-W' WHERE id = {i}"
                           for i in range(4, 9)),
            revert=f"UPDATE app.suppliers SET name = {supplier_name(3)} WHERE id = 3", share=90,
            bumps_epoch=True,
            description=f"UPDATE of one supplier's name ({size.sheet_rows_per_supplier} sheet rows), 90% confirmed"),
    ]
    return {p.name: p for p in result}


INDEXES = {
    "app_indexes": "the schema's own indexes",
    "every_column_indexed": "those plus an index on every other column of the four tables",
}
STATS = {
    "stats_before": "ANALYZE while nothing was confirmed, then the confirmations and the change",
    "stats_after": "ANALYZE after the confirmations and the change (the statement run, committed, analyzed,"
                   " undone; for an unconfirm, analyzed while its matches were still confirmed)",
    "stats_emptied": "every table's rows deleted, ANALYZE (0 rows on its pages), the same rows inserted again"
                     " (as in a re-import, until autovacuum runs): the planner takes each table for empty",
}
SESSIONS = {
    "fresh_session": "a new session runs the statement once",
    "warm_session": f"the session ran the same kind of write {WARM_RUNS} times on other rows first",
}


@dataclass(frozen=True)
class Cell:
    path: str
    indexes: str  # key of INDEXES
    stats: str  # key of STATS
    session: str  # key of SESSIONS

    @property
    def matrix_id(self) -> str:
        return f"{self.indexes}-{self.stats}-{self.session}"

    @property
    def id(self) -> str:
        return f"{self.path}-{self.matrix_id}"


def matrix(path: str) -> list[Cell]:
    return [Cell(path, i, st, se) for i in INDEXES for st in STATS for se in SESSIONS]


# --- databases ---------------------------------------------------------------------------


def create_database(server, name: str, template: str | None = None) -> None:
    with server.connect("postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))


def drop_database(server, name: str) -> None:
    with server.connect("postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def build_template(server, name: str, schema_variant: str, indexes: str, size: DataSize,
                   revision: str = "head") -> str:
    """A database holding the data and the sync installed at `revision` (returned as
    recorded), autovacuum off on the four tables (no ANALYZE but the cells' own), vacuumed
    and analyzed while nothing is confirmed: the 'stats_before' statistics."""
    from verify_triggers import target as targets
    from verify_triggers.migrate import commands

    create_database(server, name)
    with server.connect(name, autocommit=True) as conn:
        conn.execute(sql.SQL(SCHEMA_FILES[schema_variant].read_text()).format(schema=sql.Identifier(SCHEMA)))
        with conn.transaction():
            for statement in _load(size):
                conn.execute(statement)
            if schema_variant == "app":
                conn.execute(LOAD_APP_COLUMNS)
        for table in TABLES:
            conn.execute(sql.SQL("ALTER TABLE {}.{} SET (autovacuum_enabled = false)").format(
                sql.Identifier(SCHEMA), sql.Identifier(table)))
        if indexes == "every_column_indexed":
            add_every_index(conn)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        commands.upgrade(commands.make_config(targets.resolve(server.url(name), SCHEMA), stdout=quiet),
                         revision)
    with server.connect(name, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        return installed_revision(conn)


def installed_revision(conn: psycopg.Connection) -> str:
    return ",".join(r[0] for r in conn.execute(
        "SELECT version_num FROM app.verify_triggers_version ORDER BY 1").fetchall())


def derive_share_template(server, base: str, name: str, share: int) -> None:
    """A copy of the template `base` with `share`% of the matches confirmed (id % 100 <
    share, match 1 excepted), committed through the sync and vacuumed, not analyzed: its
    statistics are still those taken while nothing was confirmed."""
    create_database(server, name, base)
    with server.connect(name, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300s'")
        if share:
            conn.execute(_confirm(f"id % 100 < {share} AND id <> 1"))
        conn.execute("VACUUM")


def prepare(server, name: str, path: WritePath, stats: str) -> None:
    """The cell's state on top of its template (which holds the path's confirmed share),
    committed: the path's own state, and the statistics: those of the template for
    'stats_before' (taken while nothing was confirmed), for 'stats_after' a fresh ANALYZE
    of the state after the change (of the state before it for an unconfirm: the state in
    which its matches are confirmed). A VACUUM (no ANALYZE) last either way, so that both leave
    the same heap and differ only in pg_statistic. For 'stats_emptied', see `empty_statistics`."""
    with server.connect(name, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300s'")
        if path.prepare:
            conn.execute(path.prepare)
        if stats == "stats_emptied":
            empty_statistics(conn)
            return
        if stats == "stats_after" and path.analyze_with_statement:
            conn.execute(path.statement)
            conn.execute("ANALYZE")
            conn.execute(path.revert)
        elif stats == "stats_after":
            conn.execute("ANALYZE")
        conn.execute("VACUUM")


def empty_statistics(conn: psycopg.Connection, schema: str = SCHEMA) -> None:
    """What a re-import leaves until autovacuum runs, on each of the four tables: its rows
    deleted and committed, ANALYZE (reltuples 0 over relpages > 0: the planner estimates the
    table at one row however many pages it grows to), the same rows inserted again. No
    trigger fires (session_replication_role = replica): the rows, ids included, are the ones
    deleted, so the state keeps the rule as before. Nothing vacuums afterwards (a VACUUM would
    count the rows again); the deleted versions stay as dead tuples, as they would."""
    tables = [sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(t)) for t in TABLES]
    saved = [sql.Identifier(f"work_saved_{t}") for t in TABLES]
    conn.execute("SET session_replication_role = replica")
    with conn.transaction():
        for table, copy in zip(tables, saved):
            conn.execute(sql.SQL("CREATE TEMPORARY TABLE {} AS SELECT * FROM {}").format(copy, table))
            conn.execute(sql.SQL("DELETE FROM {}").format(table))
    for table in tables:
        conn.execute(sql.SQL("ANALYZE {}").format(table))
    with conn.transaction():
        for table, copy in zip(tables, saved):
            conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(table, copy))
            conn.execute(sql.SQL("DROP TABLE {}").format(copy))
    conn.execute("RESET session_replication_role")
    counted = conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = %s::regnamespace AND c.relname = ANY(%s)"
        " AND c.reltuples = 0 AND c.relpages > 0",
        (schema, list(TABLES))).fetchall()
    if len(counted) != len(TABLES):
        raise RuntimeError(f"emptied statistics not in place: only {counted} read as empty")


class Templates:
    """Template databases by (index variant, confirmed share), built on first use: the
    data and the sync (`build_template`), then a copy per share (`derive_share_template`)."""

    def __init__(self, server, prefix: str, schema_variant: str = "app", size: DataSize | None = None,
                 revision: str = "head"):
        self.server, self.prefix, self.schema_variant = server, prefix, schema_variant
        self.size, self.revision = size or DataSize(), revision
        self.names: dict = {}
        self.installed: dict = {}

    def get(self, indexes: str, share: int) -> str:
        key = (indexes, share)
        if key not in self.names:
            base_key = (indexes, None)
            if base_key not in self.names:
                base = f"{self.prefix}_{indexes}"
                self.installed[indexes] = build_template(self.server, base, self.schema_variant, indexes,
                                                         self.size, self.revision)
                self.names[base_key] = base
            name = f"{self.prefix}_{indexes}_{share}"
            derive_share_template(self.server, self.names[base_key], name, share)
            self.names[key] = name
        return self.names[key]

    def drop(self) -> None:
        for name in reversed(list(self.names.values())):
            drop_database(self.server, name)
        self.names.clear()


def run_in_copy(templates: Templates, cell: Cell, name: str, timeout: str = STATEMENT_TIMEOUT) -> "Measured":
    """Copy the cell's template to `name`, measure the cell there, drop the copy."""
    path = paths(templates.size)[cell.path]
    create_database(templates.server, name, templates.get(cell.indexes, path.share))
    try:
        return run_cell(templates.server, name, cell, templates.size, timeout)
    finally:
        drop_database(templates.server, name)


@dataclass
class Measured:
    cell: Cell
    n: int
    reads: Reads | None  # None: cancelled by statement_timeout
    rowcount: int | None = None
    drift: int | None = None  # rows disagreeing with the rule after the statement
    seconds: float = 0.0
    timeout: str | None = None


def run_cell(server, name: str, cell: Cell, size: DataSize, timeout: str = STATEMENT_TIMEOUT) -> Measured:
    """Prepare the database `name` (a copy of the cell's template) and measure the path.

    Fresh: a new session runs the statement once. Warm: the session first runs the
    path's WARM_RUNS warm-ups (the same kind of write on other rows), each rolled back.
    The measured run is rolled back too, after counting, inside it, the rows that
    disagree with the rule (tests/rule.py): a sync that did nothing would read little.
    """
    from rule import drift

    path = paths(size)[cell.path]
    prepare(server, name, path, cell.stats)
    started = time.perf_counter()
    with server.connect(name, autocommit=True) as conn:
        try:
            if cell.session == "warm_session":
                for run, statement in enumerate(path.warm_ups, 1):
                    with conn.transaction(force_rollback=True):
                        measure(conn, statement, timeout=timeout, what=f"warm-up run {run} of {cell.path}",
                                count_plans=False)
            started = time.perf_counter()
            with conn.transaction(force_rollback=True):
                reads, rowcount = measure(conn, path.statement, timeout=timeout, what=cell.path)
                seconds = time.perf_counter() - started
                # the check's own query is planned like any other: counted statistics for it,
                # or under emptied ones it rereads the matches per sheet row (measured already;
                # the cell's copy of the database is dropped after it)
                conn.execute("ANALYZE")
                drifted = len(drift(conn))
        except WorkTimeout as exc:
            return Measured(cell, path.n, None, seconds=time.perf_counter() - started, timeout=str(exc))
    return Measured(cell, path.n, reads, rowcount, drifted, seconds)
