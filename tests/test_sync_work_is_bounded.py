"""Every write path does bounded work per row it syncs, whatever the indexes and statistics.

Counted, never timed (tests/work.py): the rows a statement reads from the four tables,
triggers included (``seq_tup_read + idx_tup_fetch`` in ``pg_stat_xact_user_tables``), and
the index entries it reads, taken before and after the statement in its own transaction.
Each path runs in every cell of a matrix:

- indexes: the application's (tests/fixtures/schema.sql), or those plus an index on every
  other column of the four tables;
- statistics: taken while nothing was confirmed, before the confirmations and the change
  (as after an import, until autovacuum runs), or after them (for an unconfirm: while its
  matches were still confirmed), or taken of emptied tables: every table's rows deleted,
  ANALYZE, the same rows inserted again, as a re-import leaves them until autovacuum runs
  (0 rows counted over the table's pages: the planner estimates each table at one row; an
  import joined with the sheets that way rereads the inserted rows per sheet row, revision
  0005's defect);
- session: a fresh one, or one that ran the same kind of write five times first (on other
  rows, rolled back), so that PL/pgSQL's plan cache may have switched to generic plans.

The data (tests/work.py, DataSize): 10,000 matches, 200 suppliers, three sheet rows per
product; the bulk paths write N = 2,000 rows. A plan that reads every confirmed match once
per synced row reads about N x (confirmed matches), millions here, against a bound in the
tens of thousands; bounded, each cell takes well under a second. A statement past
work.STATEMENT_TIMEOUT (20 s) is cancelled and fails its test with that message.

Table counters miss work that reads no table. So each cell also bounds the rows handled by
the plan nodes of every statement the write ran (tests/work.py, through auto_explain): a
nested loop that rescans the written rows once per product reads each table row once but
handles millions of rows. Revision 0006's bulk writes did that under emptied statistics
(20 million plan rows for N = 2,000); 0007 looks every host table up by key.

Each test also checks that the measured statement wrote the rows it should and that the
sheets agree with the rule after it (inside its transaction): a sync that did nothing
would read little.
"""

import os

import pytest

import work
from verify_triggers.constants import BUCKETS

pytestmark = pytest.mark.workbound

# --- the bounds -----------------------------------------------------------------------------
# N is the number of rows the path writes (matches confirmed or unconfirmed, sheet rows
# imported) or, for a rename, the sheet rows carrying the renamed sku or supplier name.
#
# Rows read from the four tables (and, separately, index entries read) <= READS_PER_ROW * N
# + FIXED. Per synced row, a bounded sync reads under ten rows: the written row, its
# product's and supplier's names, the pair's sheet row, the product's id by sku, the
# product's matches (one here), the sheet row again to update it. A set-based plan may
# instead pass once over a table per statement: here (10,000 products and matches, 24,000
# sheet rows, N = 2,000) one pass over each of the four tables is about 22 rows per row
# written. 0002's bounded cells read at most 17.2 rows per row. READS_PER_ROW = 40 admits
# all of that, and is more than 6 times below the smallest per-row count of a plan that
# rereads the confirmed matches (0002, bulk unconfirm, statistics before: 257 rows per
# row, 2,257 index entries per row).
READS_PER_ROW = 40
# What does not grow with N: the suppliers table (200 rows on two pages, which the planner
# scans rather than probes by index) read once or twice per statement. 0002's single-row
# confirm reads 207 rows, 200 of them suppliers.
FIXED = 500
# Rows (and index entries) of supplier_products <= MATCH_READS_PER_ROW * N + MATCH_READS_FIXED.
# A row written reads the matches of its own product and supplier pair: the written match
# and one more here. 0002's bounded cells read at most 2 rows and 3 index entries per row
# in bulk (bulk unconfirm: 4,000 rows, 6,000 entries for 2,000), and 6 rows, 8 entries for
# one row (unconfirm at 0%, which reads the five other matches its warm-up runs unconfirm,
# confirmed in every session). One pass over supplier_products in a bulk statement is 5
# per row. This is the bound that makes a single
# confirm at 1% confirmed fail when it reads every confirmed match (100 here) instead of
# the one it needs: FIXED alone would hide that behind the suppliers scan.
MATCH_READS_PER_ROW = 10
MATCH_READS_FIXED = 10
# Rows handled by plan nodes (returned or filtered out, times loops), over every statement the
# write ran <= PLAN_ROWS_PER_ROW * N + PLAN_ROWS_FIXED (+ EPOCH_PLAN_ROWS for a rename).
# At 0007 the bulk paths handle at most 36 per row written, the import 17, a rename of a
# supplier 21 per sheet row past its epoch, one confirm or unconfirm 34 in all. A names lookup
# that rescans the written rows per product handles (products) per row: 10,000 here (0006,
# emptied statistics: 20,042 per row).
PLAN_ROWS_PER_ROW = 100
PLAN_ROWS_FIXED = 1_000
# A rename takes the epoch: it updates every row of the lock table in order (a row per bucket
# and two more), a few plan nodes each: 6,200 plan rows at 0007, for any N.
EPOCH_PLAN_ROWS = 8 * (BUCKETS + 2)

SIZE = work.DataSize()


def bounds(n: int, bumps_epoch: bool = False) -> dict:
    epoch = EPOCH_PLAN_ROWS if bumps_epoch else 0
    return {"rows read": READS_PER_ROW * n + FIXED,
            "index entries read": READS_PER_ROW * n + FIXED,
            "supplier_products rows read": MATCH_READS_PER_ROW * n + MATCH_READS_FIXED,
            "supplier_products index entries read": MATCH_READS_PER_ROW * n + MATCH_READS_FIXED,
            "rows handled by plan nodes": PLAN_ROWS_PER_ROW * n + PLAN_ROWS_FIXED + epoch}


def over_bounds(measured: work.Measured) -> dict:
    """{what: (read, bound)} for every count above its bound."""
    reads = measured.reads
    counts = {"rows read": reads.rows,
              "index entries read": reads.index_entries,
              "supplier_products rows read": reads.table("supplier_products").rows,
              "supplier_products index entries read": reads.table("supplier_products").index_entries,
              "rows handled by plan nodes": reads.plan_rows}
    limits = bounds(measured.n, work.paths(SIZE)[measured.cell.path].bumps_epoch)
    return {what: (counts[what], limits[what]) for what in counts if counts[what] > limits[what]}


@pytest.fixture(scope="module")
def templates(pg_server):
    made = work.Templates(pg_server, f"vt_work_{os.getpid()}", "app", SIZE)
    yield made
    made.drop()


def assert_bounded(templates, cell: work.Cell) -> None:
    path = work.paths(SIZE)[cell.path]
    measured = work.run_in_copy(templates, cell, f"vt_work_{os.getpid()}_cell")
    where = (f"{path.description}; {work.INDEXES[cell.indexes]}; statistics: {work.STATS[cell.stats]};"
             f" {work.SESSIONS[cell.session]}")
    if measured.timeout:
        pytest.fail(f"{cell.path}: {measured.timeout}\n({where})", pytrace=False)
    assert measured.rowcount == path.rowcount, f"the statement wrote {measured.rowcount} rows, not {path.rowcount}"
    assert measured.drift == 0, f"{measured.drift} sheet row(s) disagree with the rule after the statement"
    over = over_bounds(measured)
    assert not over, (
        f"{cell.path} (N = {measured.n}) read more than c*N + k: "
        + "; ".join(f"{what} {count:,} > {limit:,}" for what, (count, limit) in over.items())
        + f"\nread: {measured.reads.describe()}\n({where})")


def test_plan_rows_count_the_rows_a_rescanned_side_of_a_nested_loop_handles(pg_server):
    """The measure the bounds rest on: a nested loop that rescans a function scan once per
    outer row reads no table, and handles outer x inner rows."""
    with pg_server.connect() as conn:
        conn.execute("SET enable_hashjoin = off")
        conn.execute("SET enable_mergejoin = off")
        conn.execute("SET enable_material = off")
        reads, rowcount = work.measure(
            conn, "SELECT count(*) FROM generate_series(1, 300) AS a (i)"
                  " JOIN generate_series(1, 200) AS b (i) ON a.i = b.i")
        conn.rollback()
    assert rowcount == 1 and reads.rows == 0
    assert reads.statements == 1
    # 300 outer rows, 200 inner rows per loop (199 of them removed by the join filter), 200
    # joined, one aggregate
    assert reads.plan_rows >= 300 * 200


def cells(path: str) -> list:
    return [pytest.param(cell, id=cell.matrix_id) for cell in work.matrix(path)]


@pytest.mark.parametrize("cell", cells("bulk_confirm"))
def test_bulk_confirm_reads_a_bounded_number_of_rows_per_match(templates, cell):
    assert_bounded(templates, cell)


@pytest.mark.parametrize("cell", cells("bulk_unconfirm"))
def test_bulk_unconfirm_reads_a_bounded_number_of_rows_per_match(templates, cell):
    assert_bounded(templates, cell)


@pytest.mark.parametrize("cell", cells("bulk_delete"))
def test_bulk_delete_of_confirmed_matches_reads_a_bounded_number_of_rows_per_match(templates, cell):
    assert_bounded(templates, cell)


@pytest.mark.parametrize("cell", cells("sheet_import"))
def test_sheet_import_reads_a_bounded_number_of_rows_per_imported_row(templates, cell):
    assert_bounded(templates, cell)


@pytest.mark.parametrize("share", [0, 1, 90], ids=["0pct_confirmed", "1pct_confirmed", "90pct_confirmed"])
@pytest.mark.parametrize("cell", cells("single_confirm"))
def test_confirming_one_match_reads_a_constant_number_of_rows_whatever_share_is_confirmed(templates, cell, share):
    assert_bounded(templates, work.Cell(f"single_confirm_{share}pct", cell.indexes, cell.stats, cell.session))


@pytest.mark.parametrize("share", [0, 1, 90], ids=["0pct_confirmed", "1pct_confirmed", "90pct_confirmed"])
@pytest.mark.parametrize("cell", cells("single_unconfirm"))
def test_unconfirming_one_match_reads_a_constant_number_of_rows_whatever_share_is_confirmed(templates, cell, share):
    assert_bounded(templates, work.Cell(f"single_unconfirm_{share}pct", cell.indexes, cell.stats, cell.session))


@pytest.mark.parametrize("cell", cells("rename_sku"))
def test_renaming_a_sku_reads_a_bounded_number_of_rows_per_sheet_row_of_it(templates, cell):
    assert_bounded(templates, cell)


@pytest.mark.parametrize("cell", cells("rename_supplier"))
def test_renaming_a_supplier_reads_a_bounded_number_of_rows_per_sheet_row_of_it(templates, cell):
    assert_bounded(templates, cell)
