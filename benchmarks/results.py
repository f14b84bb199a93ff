"""What one run of the benchmark measured, as dataclasses, saved to and loaded from JSON.

The measuring code fills these in, and the verdicts, the report and the chart read only these:
so the report can be rebuilt from ``benchmarks/results/latest.json`` without measuring again
(``python -m benchmarks.run --report-only``), and every figure in it has one source.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def shared_buffers_mb(settings: dict[str, str]) -> int | None:
    """``shared_buffers`` as the benchmark records it (``128MB``), in MB; None if not recorded."""
    value = settings.get("shared_buffers", "")
    return int(value[:-2]) if value.endswith("MB") and value[:-2].isdigit() else None


@dataclass
class RuleState:
    """The rule, judged by an independent query (``queries.DRIFT``), not by the triggers."""

    drift: int
    unverified_confirmed: int
    stale_stamps: int
    human_verified: int
    verified: int
    state_hash: int


@dataclass
class Run:
    """One approach in one case: its repeats, each timed in a transaction then rolled back."""

    seconds: list[float]
    rows: int  # rows the timed statements reported
    rule: RuleState | None  # judged inside the last repeat's transaction; None: timed out
    same_state_every_repeat: bool
    reads: int  # seq_tup_read + idx_tup_fetch of the timed statements, every table
    locks_held: int  # heavyweight locks held after the statements (held to the end)
    timed_out: bool = False  # cancelled at the cap: seconds holds the cap, a lower bound

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Case:
    """One write, done by each approach side by side, interleaved within every repeat."""

    name: str  # bulk_confirm, import, price_sp, price_sheet
    confirmed_pct: int  # share of matches confirmed before the write
    before: dict[str, RuleState]  # by approach, before the write
    approaches: dict[str, Run]

    def ratio(self, approach: str, baseline: str) -> float | None:
        if approach not in self.approaches or baseline not in self.approaches:
            return None
        return self.approaches[approach].median_s / self.approaches[baseline].median_s


@dataclass
class Pgbench:
    """One approach's pgbench runs of a single-row cycle (confirm, then unconfirm)."""

    latency_ms: list[float]  # pgbench's average latency per cycle, one per repeat
    tps: list[float]
    cycles: int
    failed: int

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latency_ms)


@dataclass
class SingleRow:
    """The single-row cycle under pgbench at one confirmed share, statistics state and load."""

    confirmed_pct: int
    statistics: str  # fresh: ANALYZE after the share was set; stale: ANALYZE at 0% confirmed
    clients: int
    approaches: dict[str, Pgbench]
    drift_after: dict[str, int]  # by database

    def ratio(self, approach: str, baseline: str) -> float:
        return self.approaches[approach].median_ms / self.approaches[baseline].median_ms

    def round_ratios(self, approach: str, baseline: str) -> list[float]:
        """The ratio within each repeat: both ran in the same round, so the load they shared cancels."""
        return [a / b for a, b in zip(self.approaches[approach].latency_ms, self.approaches[baseline].latency_ms)]


@dataclass
class PerConfirm:
    """What one confirm costs besides time: its WAL (its own records) and its round trips."""

    approach: str
    confirmed_pct: int
    round_trips: int
    wal_bytes: list[int] = field(default_factory=list)  # one per sample; empty: not measured
    fpi_bytes: list[int] = field(default_factory=list)  # of which full-page images


@dataclass
class CliRun:
    """Wall time of one verb of the installed console script, in a subprocess."""

    verb: str
    state: str  # clean, drifted, or "<pct>% confirmed"
    seconds: list[float]
    exit_codes: list[int]
    drift_before: int
    drift_after: int
    human_verified_after: int


@dataclass
class Size:
    """Everything measured on the databases of one size N (N matches, 3N sheet rows)."""

    n: int
    sheet_rows: int
    repeat: int
    load_s: float
    upgrade_s: float
    functions_md5: str
    revision: str  # the sync's revision the migrations recorded
    initial: dict[str, RuleState]  # by database, after the build
    cases: list[Case] = field(default_factory=list)
    single_row: list[SingleRow] = field(default_factory=list)
    per_confirm: list[PerConfirm] = field(default_factory=list)
    cli: list[CliRun] = field(default_factory=list)
    # MB on disk of the databases the single-row rounds use at once, by database, after the build
    databases_mb: dict[str, float] = field(default_factory=dict)

    def case(self, name: str, pct: int) -> Case | None:
        return next((c for c in self.cases if c.name == name and c.confirmed_pct == pct), None)


@dataclass
class CheckAtScale:
    """``verify-triggers check`` on a database of a fixed number of sheet rows."""

    sheet_rows: int
    matches: int
    runs: list[CliRun] = field(default_factory=list)  # one per confirmed share


@dataclass
class Startup:
    """Start-up of the console script against the floor of any verb that connects."""

    floor_s: list[float]  # python -c 'import psycopg'
    version_s: list[float]  # verify-triggers --version
    check_s: list[float]  # verify-triggers check, on the seed database
    check_exit_codes: list[int]


@dataclass
class Meta:
    command: str
    started: str
    finished: str = ""
    complete: bool = False
    sizes: list[int] = field(default_factory=list)
    repeat: int = 3
    large_repeat: int = 1
    price_repeat: int = 0  # 0: as many as every other case (results from before it was separate)
    single_row_repeat: int = 0  # at the reference size; 0: as many as every other case (older results)
    schema_variant: str = "app"
    pgbench: str | None = None
    pgbench_seconds: int | None = None
    pgbench_transactions: int | None = None
    machine: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    git_commit: str = ""
    migration_head: str = ""
    check_sql_md5: str = ""
    # os.getloadavg() at the start, at every size and step boundary, and at the end
    load_averages: list[list[float]] = field(default_factory=list)


@dataclass
class Results:
    meta: Meta
    sizes: list[Size] = field(default_factory=list)
    check: CheckAtScale | None = None
    startup: Startup | None = None

    def size(self, n: int) -> Size | None:
        return next((s for s in self.sizes if s.n == n), None)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        return _build(cls, json.loads(path.read_text()))


def _build(kind, data):
    """Rebuild a value of type ``kind`` (a dataclass, list, dict, optional or plain) from JSON."""
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _build(hints[f.name], data[f.name])
                       for f in dataclasses.fields(kind) if f.name in data})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return None if data is None else _build(next(a for a in args if a is not type(None)), data)
    if origin is list:
        return [_build(args[0], item) for item in data]
    if origin is dict:
        return {key: _build(args[1], value) for key, value in data.items()}
    return data
