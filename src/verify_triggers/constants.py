"""Values the SQL and the Python share, each defined here and nowhere else.

SQL files name them as placeholders: ``{stamp}``, ``{last_bucket}`` and ``{bucket_mask}`` are
filled in when a revision is cut (``scripts/cut_revision.py``), so a released script keeps the
values it was cut with; the CLI's queries get them when they are rendered.
"""

DEFAULT_SCHEMA = "app"

# What the sync writes into product_supplier_sheets.verified_by; any other value is a person's.
SYNC_STAMP = "verify-triggers"

# Pairs hash into this many lock rows (a power of two: the hash is folded with a mask).
BUCKETS = 1024

# The application's four tables the sync reads and writes (sql/queries/required.sql names their
# columns), in the order a confirm locks them: the match, the names it reads, the sheet rows it
# writes.
HOST_TABLES = ("supplier_products", "products", "suppliers", "product_supplier_sheets")


def lock_rank(table: str | None) -> int:
    """Where ``table`` comes in a confirm's lock order (any other table after the four)."""
    return HOST_TABLES.index(table) if table in HOST_TABLES else len(HOST_TABLES)

# Every object the sync installs is named with this prefix.
PREFIX = "verify_triggers_"

# Alembic's version table for the sync's own revisions, in the target schema.
VERSION_TABLE = "verify_triggers_version"

# What the installed revision recorded about each object it created (see sql/triggers/record.sql).
RECORD_TABLE = "verify_triggers_objects"

# The sync's own lock rows: buckets 0 and up, row -1 the rename epoch, row -2 the token's secret.
LOCK_TABLE = "verify_triggers_lock"
# What rows -1 and -2 are, where a message names rows of the lock table.
LOCK_ROW_ROLES = {-1: "the rename epoch", -2: "the token's secret"}


def cut_values() -> dict[str, object]:
    """The constants as the cut script fills them into SQL: name -> value."""
    return {"stamp": SYNC_STAMP, "last_bucket": BUCKETS - 1, "bucket_mask": BUCKETS - 1}
