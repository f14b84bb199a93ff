"""How the single-row figures are taken: where the cells repeat more, how their spread is
reported, and what the wait sampler sees.

At 8 clients on two cores one pgbench run of the same code lands anywhere in a band wider than
the target's margin; the verdict must come from enough rounds, the report must show the band,
and ``benchmarks.floor --waits`` says what the backends spend the time on.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark is a package at the root, not installed

from benchmarks.report import _round_range  # noqa: E402
from benchmarks.results import Pgbench, SingleRow  # noqa: E402
from benchmarks.run import parse_args  # noqa: E402
from benchmarks.scenarios import SizeBench  # noqa: E402
from benchmarks.verdicts import REFERENCE_N  # noqa: E402


def bench(n: int, argv: list[str]) -> SizeBench:
    args = parse_args(argv)
    return SizeBench(args, server=None, n=n, log=print)


def test_single_row_cells_repeat_seven_times_where_their_target_is_judged_and_as_often_as_the_rest_elsewhere():
    assert bench(REFERENCE_N, []).single_row_repeat == 7
    assert bench(1000, []).single_row_repeat == 3
    assert bench(1_000_000, ["--large"]).single_row_repeat == 1
    assert bench(REFERENCE_N, ["--single-row-repeat", "11"]).single_row_repeat == 11
    assert bench(REFERENCE_N, ["--repeat", "9"]).single_row_repeat == 9  # never fewer than the rest


def row(triggers: list[float], bare: list[float]) -> SingleRow:
    def runs(ms):
        return Pgbench(latency_ms=ms, tps=[1.0] * len(ms), cycles=1, failed=0)

    return SingleRow(confirmed_pct=1, statistics="fresh", clients=8,
                     approaches={"triggers": runs(triggers), "bare_update": runs(bare), "app_sync": runs(bare)},
                     drift_after={"triggers": 0, "bare": 0})


def test_each_rounds_ratio_pairs_the_runs_made_in_that_round():
    r = row(triggers=[4.0, 6.0, 3.0], bare=[2.0, 2.0, 1.5])
    assert r.round_ratios("triggers", "bare_update") == [2.0, 3.0, 2.0]
    assert r.ratio("triggers", "bare_update") == 2.0  # the verdict: median over median
    assert _round_range(r) == "2.00x to 3.00x (3)"
    assert _round_range(row([4.4], [2.0])) == "2.20x (1)"


def test_the_wait_sampler_sees_what_a_busy_backend_of_its_database_waits_on(pg_server, empty_db):
    """``benchmarks.floor --waits`` explains a ratio by what the backends wait on (at 8 clients
    on this machine: the WAL flush); the sampler must see a backend of the database it watches,
    and only those."""
    from benchmarks import measure

    with empty_db.connect() as sleeper:
        watched = empty_db.name
        with measure.waits(lambda: pg_server.connect("postgres", autocommit=True), watched) as seen:
            sleeper.execute("SELECT pg_sleep(0.6)")
        with measure.waits(lambda: pg_server.connect("postgres", autocommit=True), "no_such_database") as unseen:
            sleeper.execute("SELECT pg_sleep(0.3)")
    assert seen["Timeout:PgSleep"] >= 3, seen
    assert set(seen) == {"Timeout:PgSleep"}, seen  # its own backend, in another database, is not counted
    assert not unseen
    assert measure.wait_shares(seen) == "Timeout:PgSleep 100%"
    assert measure.wait_shares(unseen) == "no active backend sampled"
